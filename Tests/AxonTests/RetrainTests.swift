import Foundation
import Testing
@testable import Axon

@Suite struct ImageFolderTests {
    /// Percentages from retrain.py's own formula (hashlib.sha1 of the name without
    /// "_nohash_...", int(hex, 16) % 2^27 · 100 / (2^27 − 1)), computed in Python.
    @Test func splitFollowsRetrainPy() {
        let expected: [(String, Double)] = [("dog.jpg", 23.822978316418663), ("cat_nohash_1.jpg", 50.73477067600764),
                                            ("cat_nohash_2.png", 50.73477067600764), ("IMG_0001.JPG", 52.6124727175569),
                                            ("rose (2).jpeg", 31.758880106798408), ("a", 93.2815022266023),
                                            ("img47.jpg", 3.677823421938892), ("img12.jpg", 11.496247436823303)]
        for (name, percentage) in expected {
            #expect(abs(ImageFolder.percentage(of: name) - percentage) < 1e-9, "\(name)")
        }
        #expect(ImageFolder.subset(of: "img47.jpg", validationPercentage: 10, testingPercentage: 10) == .validation)
        #expect(ImageFolder.subset(of: "img12.jpg", validationPercentage: 10, testingPercentage: 10) == .testing)
        #expect(ImageFolder.subset(of: "img0.jpg", validationPercentage: 10, testingPercentage: 10) == .training)
        #expect(SHA1.hex(Array("abc".utf8)) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(SHA1.hex([UInt8]()) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(SHA1.hex(Array(String(repeating: "a", count: 1000).utf8)) == "291e9a6c66994949b57ba5e650361e98fc36b1ba")
    }

    /// Three classes of small coloured squares (red, green, blue with noise) as PNG files.
    static func makeFolder(_ dir: URL, perClass: Int = 12) throws {
        var g = SeededGenerator(seed: 5)
        for (c, folder) in ["Red_Things", "green-things", "BLUE things"].enumerated() {
            let path = dir.appendingPathComponent(folder)
            try FileManager.default.createDirectory(at: path, withIntermediateDirectories: true)
            for i in 0..<perClass {
                let pixels = (0..<(40 * 30 * 3)).map { k -> UInt8 in
                    UInt8(k % 3 == c ? 150 + Int(g.next() % 100) : Int(g.next() % 60))
                }
                try RGBImage(width: 40, height: 30, pixels: pixels).writePNG(to: path.appendingPathComponent("img\(i).png").path)
            }
        }
        _ = FileManager.default.createFile(atPath: dir.appendingPathComponent("Red_Things/notes.txt").path, contents: Data("hi".utf8))
    }

    @Test func foldersBecomeLabelledImagesAndBadFoldersAreRefused() throws {
        let dir = try makeTempDir("folder")
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.makeFolder(dir)
        let f = try ImageFolder(directory: dir.path)
        #expect(f.classNames == ["blue things", "red things", "green things"], "sorted by folder name, bytewise, as retrain.py does")
        #expect(f.images.count == 36 && f.skipped == 1)
        #expect(f.smallClasses.count == 3)
        #expect(f.images.allSatisfy { $0.subset == ImageFolder.subset(of: URL(fileURLWithPath: $0.path).lastPathComponent,
                                                                        validationPercentage: 10, testingPercentage: 10) })
        func message(_ body: () throws -> Void) -> String { do { try body(); return "" } catch { return "\(error)" } }
        #expect(message { _ = try ImageFolder(directory: dir.appendingPathComponent("nope").path) }.contains("is not a directory"))
        #expect(message { _ = try ImageFolder(directory: dir.appendingPathComponent("Red_Things").path) }.contains("at least 2"))
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("empty"), withIntermediateDirectories: true)
        #expect(message { _ = try ImageFolder(directory: dir.path) }.contains("holds no JPEG or PNG image"))
    }
}

@Suite struct RetrainerTests {
    /// The course's kind of backbone: a GraphDef that decodes JPEGs, bottleneck pool_3/_reshape.
    @Test func aGraphDefIsABackboneToo() throws {
        let dir = try makeTempDir("retrain-pb")
        defer { try? FileManager.default.removeItem(at: dir) }
        try ImageFolderTests.makeFolder(dir.appendingPathComponent("images"), perClass: 4)
        let folder = try ImageFolder(directory: dir.appendingPathComponent("images").path)
        var r = try Retrainer(modelFile: GraphDefTests.fixtures.appendingPathComponent("inception2015_small.pb").path)
        #expect(r.bottleneck == "pool_3/_reshape" && r.features == 32 && r.preprocessing.halfPixelCenters == false)
        let x = try r.bottlenecks(of: folder.images)
        var settings = Retrainer.Settings()
        settings.steps = 20
        let head = try Retrainer.trainHead(train: (x, folder.images.map { Int32($0.label) }), validation: nil, classes: 3,
                                           settings: settings)
        let out = dir.appendingPathComponent("r.safetensors").path
        try r.saveRetrainedModel(head: head, classNames: folder.classNames, to: out)
        var model = try #require(try ModelFile.load(from: out).model as? Graph)
        let y = try model(try r.preprocessing.batch([RGBImage.read(folder.images[0].path)]))
        var h = head
        #expect(y.argmaxRows() == (try predict(&h, x.gatheringRows([0]))))
    }

    /// A model file of EfficientNet-Lite0 with its preprocessing: the real pretrained
    /// one when `make pretrained` has run, else untrained weights (same shapes).
    static func backbone(_ dir: URL) throws -> (path: String, pretrained: Bool) {
        let real = Pretrained.modelPath("efficientnet-lite0")
        if FileManager.default.fileExists(atPath: real) { return (real, true) }
        var net = try Models.efficientNetLite0(seed: 3)
        try net.build(inputShapes: [[224, 224, 3]])
        let weights = dir.appendingPathComponent("w.safetensors").path, model = dir.appendingPathComponent("m.safetensors").path
        try PretrainedTests.writeWeights(net, to: weights)
        try Pretrained.makeModelFile("efficientnet-lite0", weights: weights, output: model)
        return (model, false)
    }

    @Test func bottlenecksAreCachedRetrainedAndTheModelClassifies() throws {
        let dir = try makeTempDir("retrain")
        defer { try? FileManager.default.removeItem(at: dir) }
        let images = dir.appendingPathComponent("images"), cache = dir.appendingPathComponent("cache").path
        try ImageFolderTests.makeFolder(images)
        let folder = try ImageFolder(directory: images.path, validationPercentage: 0, testingPercentage: 25)
        let (path, pretrained) = try Self.backbone(dir)
        var r = try Retrainer(modelFile: path)
        #expect(r.features == 1280)
        var calls: [(Int, Int)] = []
        let x = try r.bottlenecks(of: folder.images, cache: cache) { calls.append(($0, $1)) }
        #expect(x.shape == [36, 1280] && calls.last! == (36, 36))
        // Cached: one file per image under the model's fingerprint, read back instead of recomputed.
        let file = "\(cache)/\(r.fingerprint)/Red_Things/img0.png.f32"
        #expect(try readWholeFile(file).count == 1280 * 4)
        try writeFileAtomically([UInt8](repeating: 0, count: 1280 * 4), to: file)
        let again = try r.bottlenecks(of: folder.images, cache: cache)
        let row = folder.images.firstIndex { $0.path.hasSuffix("Red_Things/img0.png") }!
        #expect(again.scalars[(row * 1280)..<((row + 1) * 1280)].allSatisfy { $0 == 0 }, "the cached file was used")
        #expect(again.scalars[0..<1280] == x.scalars[0..<1280] || row == 0)

        let rows = folder.images.indices.filter { folder.images[$0].subset == .training }
        let test = folder.images.indices.filter { folder.images[$0].subset == .testing }
        var settings = Retrainer.Settings()
        settings.steps = 300
        settings.batchSize = 16
        settings.evalInterval = 100
        var reports: [Retrainer.Evaluation] = []
        var head = try Retrainer.trainHead(train: (x.gatheringRows(rows), rows.map { Int32(folder.images[$0].label) }),
                                           validation: nil, classes: 3, settings: settings) { reports.append($0) }
        #expect(reports.map(\.step) == [100, 200, 300])
        let output = dir.appendingPathComponent("retrained.safetensors").path
        try r.saveRetrainedModel(head: head, classNames: folder.classNames, to: output)
        let loaded = try ModelFile.load(from: output)
        #expect(try ClassNames.from(metadata: loaded.metadata, path: output) == folder.classNames)
        var model = try #require(loaded.model as? Graph)
        #expect(model.outputNames == ["final_result"] && model.outputsProbabilities)
        // The saved model gives the head's answers on the photos themselves.
        let photos = try test.map { try RGBImage.read(folder.images[$0].path) }
        let p = try model(try r.preprocessing.batch(photos))
        let viaHead = try predict(&head, x.gatheringRows(test))
        #expect(p.argmaxRows() == viaHead)
        if pretrained {
            #expect(zip(viaHead, test.map { folder.images[$0].label }).allSatisfy { $0 == $1 }, "colours are told apart")
        }
    }

    /// With distortions each step's images are distorted and run through the
    /// backbone afresh (nothing cached for them); a seed repeats the run exactly.
    @Test func distortedTrainingIsReproducibleAndBypassesTheCache() throws {
        let dir = try makeTempDir("retrain-distort")
        defer { try? FileManager.default.removeItem(at: dir) }
        let images = dir.appendingPathComponent("images")
        try ImageFolderTests.makeFolder(images, perClass: 3)
        let folder = try ImageFolder(directory: images.path)
        let train = folder.images(in: .training)
        var r = try Retrainer(modelFile: try Self.backbone(dir).path)
        var settings = Retrainer.Settings()
        settings.steps = 2
        settings.batchSize = 2
        let d = Distortions(flipLeftRight: true, randomCrop: 10, randomScale: 10, randomBrightness: 10)
        func run(_ seed: UInt64) throws -> [Float] {
            var g = SeededGenerator(seed: seed)
            settings.seed = seed
            let head = try Retrainer.trainHead(labels: train.map { Int32($0.label) }, features: r.features, validation: nil,
                                               classes: 3, settings: settings,
                                               batch: { try r.distortedBottlenecks(of: $0.map { train[$0] }, distortions: d, generator: &g) })
            return head.parameters.flatMap(\.value.scalars)
        }
        let a = try run(7)
        #expect(a == (try run(7)))
        #expect(a != (try run(8)))
        var g = SeededGenerator(seed: 1)
        let plain = try r.distortedBottlenecks(of: [train[0]], distortions: Distortions(), generator: &g)
        #expect(plain == (try r.bottlenecks(of: [train[0]])), "no distortion: the cached path's bottleneck")
    }
}
