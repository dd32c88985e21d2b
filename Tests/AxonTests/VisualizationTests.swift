@testable import Axon
import AxonPlot
import CKernels
import Foundation
import Testing

/// Decodes a PNG with libpng (through ck_png_read_rgb): width, height, RGB bytes.
func decodePNG(_ path: String) throws -> (width: Int, height: Int, rgb: [UInt8]) {
    var w: Int32 = 0, h: Int32 = 0
    var data: UnsafeMutablePointer<UInt8>? = nil
    var msg = [CChar](repeating: 0, count: 256)
    let status = ck_png_read_rgb(path, &w, &h, &data, &msg, msg.count)
    defer { if let data { ck_free(data) } }
    guard status == 0, let data else { throw CLIError("\(path): libpng could not read it (\(status)): \(String(decoding: msg.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))") }
    return (Int(w), Int(h), Array(UnsafeBufferPointer(start: data, count: Int(w) * Int(h) * 3)))
}

/// Number of distinct colours of an RGB image.
func distinctColours(_ rgb: [UInt8]) -> Int {
    var seen = Set<Int>()
    for i in stride(from: 0, to: rgb.count, by: 3) { seen.insert(Int(rgb[i]) << 16 | Int(rgb[i + 1]) << 8 | Int(rgb[i + 2])) }
    return seen.count
}

func sampleHistory(_ n: Int) -> History {
    var records: [EpochRecord] = []
    for e in 1...n {
        let f = Float(e), d = Double(e)
        records.append(EpochRecord(epoch: e, learningRate: 0.01 * f, trainLoss: 1 / f, trainAccuracy: 0.5 + 0.04 * d,
                                   validationLoss: 1.1 / f, validationAccuracy: 0.45 + 0.03 * d,
                                   testLoss: e == n ? 1.2 / f : nil, testAccuracy: e == n ? 0.44 + 0.03 * d : nil,
                                   seconds: 1.5 * d, imagesPerSecond: 100))
    }
    return History(records: records)
}

/// A greyscale PNG (colour type 0, no gAMA/sRGB chunk, as PIL writes them) of
/// 8- or 16-bit big-endian `samples`, built byte by byte: zlib with stored blocks,
/// so the test does not depend on the encoder it checks against.
func greyPNG(width: Int, height: Int, bitDepth: Int, samples: [Int]) -> [UInt8] {
    func be32(_ v: Int) -> [UInt8] { bigEndian(UInt32(v)) }
    let chunk = pngChunk
    var raw: [UInt8] = []
    for r in 0..<height {
        raw.append(0)  // filter: none
        for v in samples[(r * width)..<((r + 1) * width)] {
            raw += bitDepth == 16 ? [UInt8(v >> 8), UInt8(v & 0xFF)] : [UInt8(v)]
        }
    }
    var zlib: [UInt8] = [0x78, 0x01]
    var offset = 0
    repeat {
        let n = min(raw.count - offset, 65535)
        zlib += [offset + n == raw.count ? 1 : 0, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
        zlib += raw[offset..<(offset + n)]
        offset += n
    } while offset < raw.count
    var (a, b): (UInt32, UInt32) = (1, 0)
    for x in raw { a = (a + UInt32(x)) % 65521; b = (b + a) % 65521 }
    zlib += bigEndian(b << 16 | a)
    return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        + chunk("IHDR", be32(width) + be32(height) + [UInt8(bitDepth), 0, 0, 0, 0])
        + chunk("IDAT", zlib) + chunk("IEND", [])
}

/// A PNG chunk: length, type, data and the CRC-32 of type and data.
func pngChunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
    let body = Array(type.utf8) + data
    var c: UInt32 = 0xFFFF_FFFF
    for b in body {
        c ^= UInt32(b)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    }
    return bigEndian(UInt32(data.count)) + body + bigEndian(~c)
}

@Suite struct PNGTests {
    /// The same picture saved as 8-bit and 16-bit grey reads back the same: 16-bit
    /// samples are linear in the sample value (v / 65535), not put through a gamma curve.
    @Test func sixteenBitGreyReadsLikeEightBit() throws {
        let dir = try makeTempDir("png16")
        defer { try? FileManager.default.removeItem(at: dir) }
        let bytes = (0..<256).map { ($0 * 97 + 13) % 256 }
        let p8 = dir.appendingPathComponent("g8.png"), p16 = dir.appendingPathComponent("g16.png")
        try write(greyPNG(width: 16, height: 16, bitDepth: 8, samples: bytes), to: p8)
        try write(greyPNG(width: 16, height: 16, bitDepth: 16, samples: bytes.map { $0 * 257 }), to: p16)
        let a = try GrayImage.readPNG(p8.path), b = try GrayImage.readPNG(p16.path)
        #expect(a.pixels == bytes.map { Float($0) / 255 }, "8-bit grey must read as byte / 255")
        let worst = zip(a.pixels, b.pixels).map { abs($0 - $1) }.max()!
        #expect(worst == 0, "8-bit and 16-bit versions of one picture differ by up to \(worst)")
        // A 16-bit sample between two 8-bit levels lands on the nearest one.
        let mid = dir.appendingPathComponent("mid.png")
        try write(greyPNG(width: 3, height: 1, bitDepth: 16, samples: [0x4000, 0x8000, 0xC000]), to: mid)
        let m = try GrayImage.readPNG(mid.path).pixels
        #expect(zip(m, [0x4000, 0x8000, 0xC000]).allSatisfy { abs($0 - Float($1) / 65535) <= 0.5 / 255 + 1e-6 }, "\(m)")
    }

    @Test func canvasRoundTripsThroughLibpng() throws {
        let dir = try makeTempDir("png")
        defer { try? FileManager.default.removeItem(at: dir) }
        var c = Canvas(width: 37, height: 23)
        c.fill(x: 3, y: 4, width: 10, height: 5, .blue)
        c.line(0, 22, 36, 0, .orange, thickness: 2)
        c.text("Ab1%", x: 12, y: 12)
        let path = dir.appendingPathComponent("c.png").path
        try c.writePNG(to: path)
        let d = try decodePNG(path)
        #expect(d.width == 37 && d.height == 23, "decoded \(d.width)×\(d.height)")
        let diff = zip(d.rgb, c.pixels).filter { $0 != $1 }.count
        #expect(diff == 0, "\(diff) bytes differ after the PNG round trip")
        #expect(distinctColours(d.rgb) >= 4, "colours \(distinctColours(d.rgb))")
        #expect(c.pixel(5, 6) == .blue && c.pixel(0, 0) == .white)
    }

    @Test func curvesChartDecodes() throws {
        let dir = try makeTempDir("png")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("curves.png").path
        try Chart.curves(sampleHistory(6)).writePNG(to: path)
        let d = try decodePNG(path)
        #expect(d.width == 960 && d.height == 400)
        // The train, validation and test colours are present (the curves and the last epoch's test marker).
        let colours = Set(stride(from: 0, to: d.rgb.count, by: 3).map { RGB(d.rgb[$0], d.rgb[$0 + 1], d.rgb[$0 + 2]) }.map { "\($0)" })
        #expect([RGB.blue, .green, .orange].allSatisfy { colours.contains("\($0)") }, "\(colours.count) colours")
    }

    @Test func badPNGPathsGiveClearErrors() throws {
        let c = Canvas(width: 4, height: 4)
        #expect { try c.writePNG(to: "/nonexistent-axon-dir/x.png") } throws: { "\($0)".contains("directory /nonexistent-axon-dir does not exist") }
        #expect { try c.writePNG(to: "/tmp") } throws: { "\($0)".contains("is a directory") }
        #expect { _ = try Canvas.read("/etc/hostname") } throws: { "\($0)".contains("is not a JPEG or PNG image") }
        #expect { _ = try Canvas.read("/nonexistent-axon.png") } throws: { "\($0)".contains("does not exist") }
    }

    @Test func featureMapsShowEveryConvAndPoolChannel() throws {
        var model = Sequential(seed: 3) {
            Conv2D(filters: 4, kernelSize: 3, padding: .same, activation: .relu)
            MaxPool2D(poolSize: 2)
            Flatten()
            Dense(units: 10)
        }
        var g = SeededGenerator(seed: 5)
        let x = try Tensor(shape: [1, 12, 12, 1], scalars: (0..<144).map { _ in Float(g.next() % 1000) / 1000 })
        let outs = try model.forwardCollecting(x)
        #expect(outs.map(\.shape) == [[1, 12, 12, 4], [1, 6, 6, 4], [1, 144], [1, 10]])
        let direct = try model(x)
        #expect(outs.last == direct, "the last collected output is the model's output")
        let c = try Chart.featureMaps(&model, image: x)
        #expect(distinctColours(c.pixels) > 20, "feature-map picture has only \(distinctColours(c.pixels)) colours")
    }
}

@Suite struct HistoryFileTests {
    @Test(arguments: ["h.csv", "h.json"]) func roundTrip(name: String) throws {
        let dir = try makeTempDir("hist")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent(name).path
        let h = sampleHistory(4)
        try h.write(to: path)
        let back = try History.read(from: path)
        #expect(back.epochs.count == 4)
        for (a, b) in zip(h.epochs, back.epochs) {
            #expect(a.epoch == b.epoch && a.trainLoss == b.trainLoss && a.trainAccuracy == b.trainAccuracy
                    && a.validationLoss == b.validationLoss && a.validationAccuracy == b.validationAccuracy
                    && a.testLoss == b.testLoss && a.testAccuracy == b.testAccuracy
                    && a.learningRate == b.learningRate && a.seconds == b.seconds, "\(a) vs \(b)")
        }
    }

    @Test func badHistoryFiles() throws {
        #expect { _ = try History.read(from: "/nonexistent-axon/h.csv") } throws: { "\($0)".contains("does not exist") }
        #expect { _ = try History.read(from: "/tmp/h.txt") } throws: { "\($0)".contains(".csv or .json") }
        let dir = try makeTempDir("hist")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("bad.csv")
        try write(Array("epoch,train_loss,train_accuracy\n1,abc,0.5\n".utf8), to: path)
        #expect { _ = try History.read(from: path.path) } throws: { "\($0)".contains("not a number") }
    }
}

@Suite(.serialized) struct VisualizationCLITests {
    @Test func trainPlotVisualizeConfusion() throws {
        let dir = try makeTempDir("viz-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        try CLITrainingTests().writeBandsDataset(dir, train: 600, test: 200)
        let csv = dir.appendingPathComponent("h.csv").path, json = dir.appendingPathComponent("h.json").path
        let model = dir.appendingPathComponent("m.safetensors").path
        let r = try runAxon(["train", "--model", "lenet5", "--epochs", "2", "--data", dir.path, "--threads", "2",
                             "--history", csv, "--save", model])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        // Not a terminal: plain lines, no carriage returns or escape sequences.
        #expect(!r.stdout.contains("\u{1B}") && !r.stdout.contains("\r"), "control characters in: \(r.stdout.debugDescription)")
        #expect(r.stdout.split(separator: "\n").filter { $0.hasPrefix("epoch ") }.count == 2, "stdout: \(r.stdout)")
        let rows = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n")
        #expect(rows.count == 3 && rows[0] == "epoch,train_loss,train_accuracy,validation_loss,validation_accuracy,"
                + "test_loss,test_accuracy,learning_rate,seconds", "history: \(rows)")
        // No validation set without --early-stopping: the test figures are in the test columns.
        #expect(rows.dropFirst().allSatisfy { $0.split(separator: ",", omittingEmptySubsequences: false).count == 9
                                              && $0.split(separator: ",").count == 7 }, "history: \(rows)")

        let q = try runAxon(["train", "--model", "mlp", "--epochs", "2", "--data", dir.path, "--quiet", "--history", json])
        #expect(q.status == 0 && q.stdout.split(separator: "\n").count == 1 && q.stdout.hasPrefix("test accuracy "),
                "--quiet printed: \(q.stdout)")
        #expect(try History.read(from: json).epochs.count == 2)

        let curves = dir.appendingPathComponent("curves.png").path
        let p = try runAxon(["plot", csv, "--out", curves])
        #expect(p.status == 0, "stderr: \(p.stderr)")
        let c = try decodePNG(curves)
        #expect(c.width == 960 && c.height == 400 && distinctColours(c.rgb) > 3)

        let maps = dir.appendingPathComponent("maps.png").path
        let v = try runAxon(["visualize", "--model", model, "--index", "3", "--data", dir.path, "--out", maps])
        #expect(v.status == 0, "stderr: \(v.stderr)")
        let m = try decodePNG(maps)
        #expect(m.width > 100 && m.height > 100 && distinctColours(m.rgb) > 20, "\(m.width)×\(m.height)")
        // --image is a file, as in predict: the same test image as a PNG gives the same picture.
        let shape = try ModelFile.load(from: model).inputShape
        let grey = try MNIST.load(from: dir.path).test.rows(3..<4).scalars.map { UInt8(($0 * 255).rounded()) }
        let png = dir.appendingPathComponent("three.png").path
        try writePNGFile(png, width: shape[1], height: shape[0], rgb: grey.flatMap { [$0, $0, $0] })
        let fromFile = dir.appendingPathComponent("maps-file.png").path
        let f = try runAxon(["visualize", "--model", model, "--image", png, "--out", fromFile])
        #expect(f.status == 0, "stderr: \(f.stderr)")
        #expect(try decodePNG(fromFile).rgb == m.rgb, "the file and the test image give the same maps")

        let conf = dir.appendingPathComponent("conf.png").path
        let e = try runAxon(["eval", "--model", model, "--data", dir.path, "--confusion", conf])
        #expect(e.status == 0, "stderr: \(e.stderr)")
        // The text table: a header and one row per class whose counts sum to the test set.
        let table = e.stdout.split(separator: "\n").filter { $0.first == " " || $0.first?.isNumber == true }
        let total = table.map { $0.split(separator: " ").compactMap { Int($0) }.dropFirst().reduce(0, +) }.reduce(0, +)
        #expect(table.count == 10 && total == 200, "table rows \(table.count), counts sum \(total): \(e.stdout)")
        let k = try decodePNG(conf)
        // At least background, cell colour and text (a perfect model leaves only diagonal cells coloured).
        #expect(k.width > 400 && k.height > 400 && distinctColours(k.rgb) >= 3, "\(distinctColours(k.rgb)) colours")
    }

    /// With --early-stopping the per-epoch figures come from held-out training images:
    /// the epoch lines and the history call them validation figures, and the test
    /// set's figures (of the weights kept, those of the best epoch) stand apart.
    @Test func earlyStoppingHistoryKeepsValidationAndTestApart() throws {
        let dir = try makeTempDir("viz-early")
        defer { try? FileManager.default.removeItem(at: dir) }
        try CLITrainingTests().writeBandsDataset(dir, train: 600, test: 200)
        let csv = dir.appendingPathComponent("h.csv").path
        let r = try runAxon(["train", "--model", "mlp", "--epochs", "3", "--early-stopping", "2", "--data", dir.path,
                             "--threads", "2", "--seed", "5", "--history", csv])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let epochLines = r.stdout.split(separator: "\n").filter { $0.hasPrefix("epoch ") }
        #expect(epochLines.count == 3 && epochLines.allSatisfy { $0.contains("val acc") && !$0.contains("test acc") },
                "stdout: \(r.stdout)")
        let lines = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n")
        let header = lines.first.map { $0.split(separator: ",").map(String.init) } ?? []
        #expect(header == ["epoch", "train_loss", "train_accuracy", "validation_loss", "validation_accuracy",
                           "test_loss", "test_accuracy", "learning_rate", "seconds"], "header \(header)")
        let rows = lines.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        func column(_ name: String) -> [Double?] {
            guard let i = header.firstIndex(of: name) else { return [] }
            return rows.map { i < $0.count ? Double($0[i]) : nil }
        }
        #expect(column("validation_accuracy").count == 3 && column("validation_accuracy").allSatisfy { $0 != nil })
        let tested = column("test_accuracy").compactMap { $0 }
        let final = finalAccuracy(r.stdout)
        #expect(tested.count == 1 && final != nil && abs(tested[0] * 100 - final!) < 0.01,
                "test figures \(tested) (only the kept epoch's), final test accuracy \(String(describing: final))%")
    }

    @Test(arguments: [
        (["plot", "/nonexistent-axon/h.csv", "--out", "/tmp/axon-test-c.png"], "/nonexistent-axon/h.csv: does not exist"),
        (["plot", "/etc/hostname", "--out", "/tmp/axon-test-c.png"], ".csv or .json"),
        (["plot", "/tmp/h.csv", "--out", "/nonexistent-axon/c.png"], "directory /nonexistent-axon does not exist"),
        (["train", "--model", "mlp", "--history", "/nonexistent-axon/h.csv"], "--history"),
        (["train", "--model", "mlp", "--history", "/tmp/h.txt"], "must end in .csv or .json"),
        (["visualize", "--model", "/nonexistent-axon/m.safetensors", "--out", "/tmp/axon-test-m.png"], "/nonexistent-axon/m.safetensors"),
        (["visualize", "--model", "m.safetensors", "--out", "/nonexistent-axon/m.png"], "directory /nonexistent-axon does not exist"),
        (["eval", "--model", "m.safetensors", "--confusion", "/nonexistent-axon/c.png"], "--confusion"),
    ])
    func badPathsFailWithOneLine(arguments: [String], expected: String) throws {
        let r = try runAxon(arguments)
        #expect(r.status != 0, "exited 0: \(r.stdout)")
        #expect(r.stderr.hasPrefix("axon: ") && r.stderr.split(separator: "\n").count == 1 && r.stderr.contains(expected),
                "stderr: \(r.stderr)")
    }
}
