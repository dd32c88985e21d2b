import Foundation
import Testing
@testable import Axon

/// The repository's root (this file is Tests/AxonTests/PretrainedTests.swift).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// The darknet package's photos that `make photos` unpacks (nil when absent).
func darknetPhoto(_ name: String) -> String? {
    let path = repositoryRoot.appendingPathComponent("build/photos/\(name).jpg").path
    return FileManager.default.fileExists(atPath: path) ? path : nil
}

@Suite struct PhotoTests {
    @Test func jpegAndPngPhotosDecode() throws {
        let dir = try makeTempDir("photos")
        defer { try? FileManager.default.removeItem(at: dir) }
        // PNG through the same entry point, told apart by content.
        let png = dir.appendingPathComponent("p.png").path
        let rgb: [UInt8] = (0..<(5 * 3 * 3)).map { UInt8($0 * 5) }
        try writePNGFile(png, width: 5, height: 3, rgb: rgb)
        let p = try RGBImage.read(png)
        #expect(p.width == 5 && p.height == 3 && p.pixels == rgb)
        guard let dog = darknetPhoto("dog") else { return }
        let image = try RGBImage.read(dog)
        #expect(image.width == 768 && image.height == 576)
        let mean = image.pixels.reduce(0) { $0 + Double($1) } / Double(image.pixels.count)
        #expect(mean > 60 && mean < 200, "mean pixel \(mean)")
    }

    @Test func badImagesGiveOneClearError() throws {
        let dir = try makeTempDir("bad-photos")
        defer { try? FileManager.default.removeItem(at: dir) }
        func message(_ bytes: [UInt8], _ name: String) -> String {
            let path = dir.appendingPathComponent(name).path
            _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
            do { _ = try RGBImage.read(path); return "" } catch { return "\(error)" }
        }
        #expect(message(Array("hello".utf8), "text.jpg").contains("is not a JPEG or PNG image"))
        #expect(message([0xFF, 0xD8, 0xFF, 0xE0] + [UInt8](repeating: 7, count: 100), "junk.jpg").contains("is not a readable JPEG image"))
        #expect(message([], "empty.jpg").contains("is not a JPEG or PNG image"))
        #expect(throws: AxonError.self) { try RGBImage.read(dir.appendingPathComponent("missing.jpg").path) }
        if let dog = darknetPhoto("dog") {
            // A cut-off JPEG: libjpeg fills the missing rows; it must not crash or hang.
            let cut = Array(try Data(contentsOf: URL(fileURLWithPath: dog)).prefix(4000))
            _ = message(cut, "cut.jpg")
        }
    }

    /// TensorFlow's bilinear resize, straight from its definition: positions in
    /// float as TensorFlow's kernel computes them, the interpolation in double.
    static func resizeReference(_ x: Tensor, _ oh: Int, _ ow: Int, align: Bool, half: Bool) -> [Float] {
        let (h, w, c) = (x.shape[1], x.shape[2], x.shape[3])
        func scale(_ i: Int, _ o: Int) -> Float { align && o > 1 ? Float(i - 1) / Float(o - 1) : Float(i) / Float(o) }
        func source(_ i: Int, _ s: Float) -> Float { max(0, half ? (Float(i) + 0.5) * s - 0.5 : Float(i) * s) }
        var out: [Float] = []
        for i in 0..<oh { for j in 0..<ow { for k in 0..<c {
            let fy = source(i, scale(h, oh)), fx = source(j, scale(w, ow))
            let y0 = min(Int(fy), h - 1), x0 = min(Int(fx), w - 1)
            let y1 = min(y0 + 1, h - 1), x1 = min(x0 + 1, w - 1)
            func v(_ r: Int, _ q: Int) -> Double { Double(x[flat: (r * w + q) * c + k]) }
            let dy = Double(fy - fy.rounded(.down)), dx = Double(fx - fx.rounded(.down))
            let top = v(y0, x0) + (v(y0, x1) - v(y0, x0)) * dx, bottom = v(y1, x0) + (v(y1, x1) - v(y1, x0)) * dx
            out.append(Float(top + (bottom - top) * dy))
        } } }
        return out
    }

    @Test(arguments: [(false, false), (true, false), (false, true)])
    func resizeMatchesTensorFlowsDefinition(_ align: Bool, _ half: Bool) throws {
        let x = randomTensor([1, 5, 7, 2], seed: 3)
        for (oh, ow) in [(3, 11), (10, 4), (5, 7), (1, 1)] {
            var y = Tensor.empty
            try Kernels.resizeBilinear(x, height: oh, width: ow, alignCorners: align, halfPixelCenters: half, y: &y)
            let want = Self.resizeReference(x, oh, ow, align: align, half: half)
            #expect(zip(y.scalars, want).map { abs($0 - $1) }.max()! < 1e-5, "\(oh)x\(ow) align \(align) half \(half)")
        }
    }

    @Test func preprocessingCropsTheCentreAndNormalises() throws {
        // A 6×4 picture whose centre 4×4 square is white and the rest black:
        // the crop (fraction 1) keeps the white square only.
        var pixels = [UInt8](repeating: 0, count: 6 * 4 * 3)
        for r in 0..<4 { for c in 1...4 { for k in 0..<3 { pixels[(r * 6 + c) * 3 + k] = 255 } } }
        let image = try RGBImage(width: 6, height: 4, pixels: pixels)
        let p = ImagePreprocessing(size: 2, centralFraction: 1, mean: [127, 127, 127], std: [128, 128, 128])
        let x = try p.batch([image, image])
        #expect(x.shape == [2, 2, 2, 3])
        #expect(x.scalars.allSatisfy { $0 == 1 })
        #expect(throws: AxonError.self) {
            try ImagePreprocessing(size: 0, centralFraction: 1, mean: [0, 0, 0], std: [1, 1, 1]).batch([image])
        }
    }
}

@Suite struct PretrainedTests {
    /// A weights file like the fetch script's, from an untrained network.
    static func writeWeights(_ net: Graph, to path: String, drop: String? = nil, nan: String? = nil) throws {
        var tensors = (net.parameters + net.state).filter { $0.name != drop }
        if let nan, let i = tensors.firstIndex(where: { $0.name == nan }) { tensors[i].value[flat: 0] = .nan }
        try writeFileAtomically(SafeTensors.encode(tensors, metadata: ClassNames.metadata((0..<1000).map { "class \($0)" })),
                                        to: path)
    }

    @Test func modelFileFromWeightsKeepsEveryTensorAndRefusesBadOnes() throws {
        var net = try Models.efficientNetLite0(seed: 9)
        try net.build(inputShapes: [[224, 224, 3]])
        #expect(net.parameterCount + net.stateCount == 4_694_024, "the fetch script writes 4,694,024 floats")
        let dir = try makeTempDir("pretrained")
        defer { try? FileManager.default.removeItem(at: dir) }
        let weights = dir.appendingPathComponent("w.safetensors").path, model = dir.appendingPathComponent("m.safetensors").path
        try Self.writeWeights(net, to: weights)
        try Pretrained.makeModelFile("efficientnet-lite0", weights: weights, output: model)
        let loaded = try ModelFile.load(from: model)
        #expect(try ClassNames.from(metadata: loaded.metadata, path: model)?[7] == "class 7")
        #expect(try Pretrained.preprocessing(in: loaded.metadata) == .efficientNetLite)
        var a = try #require(loaded.model as? Graph)
        let x = randomTensor([1, 224, 224, 3], seed: 4)
        #expect(try a(x) == net(x))

        func failure(drop: String? = nil, nan: String? = nil) -> String {
            do {
                try Self.writeWeights(net, to: weights, drop: drop, nan: nan)
                try Pretrained.makeModelFile("efficientnet-lite0", weights: weights, output: model)
                return ""
            } catch { return "\(error)" }
        }
        #expect(failure(drop: "block3/depthwise/bn.moving_mean").contains("\"block3/depthwise/bn.moving_mean\" (shape [144]) is missing"))
        #expect(failure(nan: "logits.bias").contains("\"logits.bias\" holds NaN"))
        #expect(try ModelFile.load(from: model).metadata[ClassNames.metadataKey] != nil, "a failed conversion left the old file")
    }

    static var cachedModel: String? {
        let path = Pretrained.modelPath("efficientnet-lite0")
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// Logits of the converted weights against an independent NumPy reference of
    /// the same network (tools/pretrained/reference_efficientnet_lite0.py).
    @Test func logitsMatchTheNumPyReference() throws {
        let fixture = repositoryRoot.appendingPathComponent("Tests/Fixtures/pretrained/efficientnet-lite0-reference.json")
        guard let path = Self.cachedModel, let data = try? Data(contentsOf: fixture) else { return }
        struct Reference: Decodable { var logits: [[Double]] }
        let reference = try JSONDecoder().decode(Reference.self, from: data)
        var net = try #require(try ModelFile.load(from: path).model as? Graph)
        var folded = try net.foldedForInference()
        for (k, want) in reference.logits.enumerated() {
            var scalars = [Float](repeating: 0, count: 224 * 224 * 3)
            for h in 0..<224 { for w in 0..<224 { for c in 0..<3 {
                scalars[(h * 224 + w) * 3 + c] = Float(0.9 * sin(0.021 * Double(k + 1) * Double(h) + 0.013 * Double(c + 1) * Double(w)
                                                             + 0.7 * Double(c) + 0.3 * Double(k)))
            } } }
            let x = try Tensor(shape: [1, 224, 224, 3], scalars: scalars)
            for (name, logits) in [("graph", try net.forward([x], outputs: ["logits"])[0]), ("folded", try folded.forward([x], outputs: ["logits"])[0])] {
                let worst = zip(logits.scalars, want).map { abs(Double($0) - $1) }.max()!
                #expect(worst < 1e-4, "input \(k), \(name): largest difference from the reference \(worst)")
            }
        }
    }

    @Test func realPhotosGetSensibleLabels() throws {
        guard let path = Self.cachedModel, let dog = darknetPhoto("dog"), let eagle = darknetPhoto("eagle") else { return }
        let loaded = try ModelFile.load(from: path)
        var net = try loaded.model.foldedForInference()
        let p = try #require(try Pretrained.preprocessing(in: loaded.metadata))
        let y = try net(p.batch([RGBImage.read(dog), RGBImage.read(eagle)]))
        let top = y.argmaxRows()
        #expect((151...268).contains(top[0]), "dog.jpg: a dog breed (ImageNet 151-268), got class \(top[0])")
        #expect([21, 22, 23].contains(top[1]), "eagle.jpg: kite, bald eagle or vulture, got class \(top[1])")
    }
}
