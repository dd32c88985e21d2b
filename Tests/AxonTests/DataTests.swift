import Foundation
import Testing
import Axon

/// A fresh temporary directory, removed by the caller's defer.
func makeTempDir(_ tag: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("axon-\(tag)-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

/// An IDX file built byte by byte, independently of the reader.
func idxBytes(magic: UInt32, dims: [UInt32], payload: [UInt8]) -> [UInt8] {
    bigEndian(magic) + dims.flatMap(bigEndian) + payload
}

func write(_ bytes: [UInt8], to url: URL) throws { try Data(bytes).write(to: url) }

/// Compresses a file in place with /bin/gzip (leaving `name.gz`).
func gzip(_ url: URL) throws {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/gzip")
    p.arguments = ["-f", url.path]
    try p.run()
    p.waitUntilExit()
    #expect(p.terminationStatus == 0, "gzip failed on \(url.path)")
}

/// Deterministic pseudo-random images and labels for a small synthetic MNIST directory.
struct Synthetic {
    var count: Int, rows: Int, cols: Int
    var pixels: [UInt8] { (0..<(count * rows * cols)).map { UInt8(($0 * 37 + 11) % 256) } }
    var labels: [UInt8] { (0..<count).map { UInt8(($0 * 7 + 3) % 10) } }
    var imageFile: [UInt8] {
        idxBytes(magic: 0x803, dims: [UInt32(count), UInt32(rows), UInt32(cols)], payload: pixels)
    }
    var labelFile: [UInt8] { idxBytes(magic: 0x801, dims: [UInt32(count)], payload: labels) }
}

/// Writes the four standard files (train with `train`, test with `test`).
func writeMNISTDir(_ dir: URL, train: Synthetic, test: Synthetic) throws {
    try write(train.imageFile, to: dir.appendingPathComponent("train-images-idx3-ubyte"))
    try write(train.labelFile, to: dir.appendingPathComponent("train-labels-idx1-ubyte"))
    try write(test.imageFile, to: dir.appendingPathComponent("t10k-images-idx3-ubyte"))
    try write(test.labelFile, to: dir.appendingPathComponent("t10k-labels-idx1-ubyte"))
}

/// The message of the AxonError.file thrown by `body`, checking it names `path`.
func fileError(naming path: String, _ body: () throws -> Void) -> String {
    do {
        try body()
        Issue.record("expected an error naming \(path), got none")
        return ""
    } catch let AxonError.file(errorPath, message) {
        #expect(errorPath == path, "error names \(errorPath), expected \(path): \(message)")
        return message
    } catch {
        Issue.record("expected AxonError.file naming \(path), got \(error)")
        return ""
    }
}

@Suite struct IDXTests {
    @Test func rawAndGzipGiveTheSameNormalisedData() throws {
        let dir = try makeTempDir("idx")
        defer { try? FileManager.default.removeItem(at: dir) }
        let train = Synthetic(count: 7, rows: 4, cols: 3), test = Synthetic(count: 5, rows: 4, cols: 3)
        try writeMNISTDir(dir, train: train, test: test)

        let raw = try MNIST.load(from: dir.path)
        #expect(raw.train.images.shape == [7, 4, 3, 1])
        #expect(raw.test.images.shape == [5, 4, 3, 1])
        #expect(raw.train.labels == train.labels.map { Int32($0) })
        let expected = train.pixels.map { Float($0) / 255 }
        let worst = zip(raw.train.images.scalars, expected).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= 1e-7, "largest pixel difference \(worst)")
        #expect(raw.train.images.scalars.min()! >= 0 && raw.train.images.scalars.max()! <= 1)

        for name in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] {
            try gzip(dir.appendingPathComponent(name))
        }
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("train-images-idx3-ubyte").path))
        let gz = try MNIST.load(from: dir.path)
        #expect(gz.train.images == raw.train.images && gz.train.labels == raw.train.labels)
        #expect(gz.test.images == raw.test.images && gz.test.labels == raw.test.labels)
    }

    @Test func truncatedFileIsRejected() throws {
        let dir = try makeTempDir("idx")
        defer { try? FileManager.default.removeItem(at: dir) }
        let s = Synthetic(count: 3, rows: 28, cols: 28)
        let path = dir.appendingPathComponent("img").path
        try write(Array(s.imageFile.dropLast(10)), to: URL(fileURLWithPath: path))
        let msg = fileError(naming: path) { _ = try IDX.readImages(path) }
        #expect(msg.contains("truncated") && msg.contains("2352") && msg.contains("2342"), "message: \(msg)")

        try write(s.imageFile + [0, 0], to: URL(fileURLWithPath: path))
        let extra = fileError(naming: path) { _ = try IDX.readImages(path) }
        #expect(extra.contains("2 extra bytes"), "message: \(extra)")

        try write(Array(s.imageFile.prefix(9)), to: URL(fileURLWithPath: path))
        let header = fileError(naming: path) { _ = try IDX.readImages(path) }
        #expect(header.contains("truncated header"), "message: \(header)")

        // A gzip stream cut short must fail too, naming the file.
        try write(s.imageFile, to: URL(fileURLWithPath: path))
        try gzip(URL(fileURLWithPath: path))
        let gzPath = path + ".gz"
        let gzBytes = try Data(contentsOf: URL(fileURLWithPath: gzPath))
        try gzBytes.prefix(gzBytes.count / 2).write(to: URL(fileURLWithPath: gzPath))
        let gzMsg = fileError(naming: gzPath) { _ = try IDX.readImages(gzPath) }
        #expect(!gzMsg.isEmpty)
    }

    @Test func wrongMagicIsRejected() throws {
        let dir = try makeTempDir("idx")
        defer { try? FileManager.default.removeItem(at: dir) }
        let s = Synthetic(count: 2, rows: 2, cols: 2)
        let labels = dir.appendingPathComponent("labels").path
        let images = dir.appendingPathComponent("images").path
        try write(s.labelFile, to: URL(fileURLWithPath: labels))
        try write(s.imageFile, to: URL(fileURLWithPath: images))
        // Labels where images are expected, and the other way round.
        let m1 = fileError(naming: labels) { _ = try IDX.readImages(labels) }
        #expect(m1.contains("0x00000801") && m1.contains("0x00000803"), "message: \(m1)")
        let m2 = fileError(naming: images) { _ = try IDX.readLabels(images) }
        #expect(m2.contains("wrong magic"), "message: \(m2)")
        // A text file.
        try write(Array("hello, world\n".utf8), to: URL(fileURLWithPath: images))
        let m3 = fileError(naming: images) { _ = try IDX.readImages(images) }
        #expect(m3.contains("wrong magic"), "message: \(m3)")
    }

    @Test func wrongDimensionsAreRejected() throws {
        let dir = try makeTempDir("idx")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("images").path
        try write(idxBytes(magic: 0x803, dims: [2, 0, 28], payload: []), to: URL(fileURLWithPath: path))
        let m1 = fileError(naming: path) { _ = try IDX.readImages(path) }
        #expect(m1.contains("0×28"), "message: \(m1)")
        // Dimensions whose product overflows must be reported, not trap.
        try write(idxBytes(magic: 0x803, dims: [0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF], payload: [1, 2]),
                  to: URL(fileURLWithPath: path))
        let m2 = fileError(naming: path) { _ = try IDX.readImages(path) }
        #expect(!m2.isEmpty)

        // Test images of another size than the training images.
        let d2 = try makeTempDir("idx")
        defer { try? FileManager.default.removeItem(at: d2) }
        try writeMNISTDir(d2, train: Synthetic(count: 4, rows: 28, cols: 28), test: Synthetic(count: 4, rows: 14, cols: 28))
        let m3 = fileError(naming: d2.appendingPathComponent("t10k-images-idx3-ubyte").path) { _ = try MNIST.load(from: d2.path) }
        #expect(m3.contains("14×28") && m3.contains("28×28"), "message: \(m3)")
    }

    @Test func mismatchedCountsAndBadLabelsAreRejected() throws {
        let dir = try makeTempDir("idx")
        defer { try? FileManager.default.removeItem(at: dir) }
        try writeMNISTDir(dir, train: Synthetic(count: 6, rows: 5, cols: 5), test: Synthetic(count: 4, rows: 5, cols: 5))
        try write(Synthetic(count: 5, rows: 5, cols: 5).labelFile, to: dir.appendingPathComponent("train-labels-idx1-ubyte"))
        let labelsPath = dir.appendingPathComponent("train-labels-idx1-ubyte").path
        let m1 = fileError(naming: labelsPath) { _ = try MNIST.load(from: dir.path) }
        #expect(m1.contains("5 labels") && m1.contains("6 images"), "message: \(m1)")

        try write(idxBytes(magic: 0x801, dims: [6], payload: [0, 1, 2, 10, 4, 5]), to: URL(fileURLWithPath: labelsPath))
        let m2 = fileError(naming: labelsPath) { _ = try MNIST.load(from: dir.path) }
        #expect(m2.contains("label 10 at index 3"), "message: \(m2)")
    }

    @Test func missingDataSaysHowToGetIt() throws {
        let dir = try makeTempDir("idx")
        defer { try? FileManager.default.removeItem(at: dir) }
        let absent = dir.appendingPathComponent("nowhere").path
        let m1 = fileError(naming: absent) { _ = try MNIST.load(from: absent) }
        #expect(m1.contains("apt-get install dataset-fashion-mnist") && m1.contains("--data"), "message: \(m1)")

        try writeMNISTDir(dir, train: Synthetic(count: 2, rows: 2, cols: 2), test: Synthetic(count: 2, rows: 2, cols: 2))
        try FileManager.default.removeItem(at: dir.appendingPathComponent("t10k-labels-idx1-ubyte"))
        let m2 = fileError(naming: dir.appendingPathComponent("t10k-labels-idx1-ubyte").path) { _ = try MNIST.load(from: dir.path) }
        #expect(m2.contains("missing") && m2.contains("dataset-fashion-mnist"), "message: \(m2)")

        let file = dir.appendingPathComponent("train-images-idx3-ubyte").path
        let m3 = fileError(naming: file) { _ = try MNIST.load(from: file) }
        #expect(m3.contains("not a directory"), "message: \(m3)")
    }

    @Test func realFashionMNISTIfInstalled() throws {
        let dir = MNIST.defaultDirectory
        guard FileManager.default.fileExists(atPath: dir) else {
            print("SKIPPED realFashionMNISTIfInstalled: \(dir) absent (sudo apt-get install dataset-fashion-mnist)")
            return
        }
        let data = try MNIST.load(from: dir)
        #expect(data.train.images.shape == [60000, 28, 28, 1])
        #expect(data.test.images.shape == [10000, 28, 28, 1])
        #expect(data.train.labels.count == 60000 && data.test.labels.count == 10000)
        for set in [data.train, data.test] {
            #expect(set.labels.min() == 0 && set.labels.max() == 9)
            // Fashion-MNIST is balanced: every class has exactly count/10 examples.
            var counts = [Int](repeating: 0, count: 10)
            for l in set.labels { counts[Int(l)] += 1 }
            #expect(counts.allSatisfy { $0 == set.count / 10 }, "class counts \(counts)")
            #expect(set.images.scalars.min() == 0 && set.images.scalars.max() == 1)
        }
        // The first training image is an ankle boot (label 9) in Fashion-MNIST.
        #expect(data.train.labels[0] == 9, "first label \(data.train.labels[0])")
        #expect(MNIST.fashionClassNames[9] == "Ankle boot")
        // Recognised by its test labels, not by where it lives.
        #expect(try MNIST.classNames(in: dir, testLabels: data.test.labels) == MNIST.fashionClassNames)
        #expect(try MNIST.classNames(in: "/nonexistent-axon", testLabels: data.test.labels) == MNIST.fashionClassNames)
        var other = data.test.labels
        other.swapAt(0, 1)
        #expect(try MNIST.classNames(in: dir, testLabels: other) == MNIST.digitClassNames)
    }

    /// Other MNIST-format data is named by its classes.txt, else by the digits.
    @Test func classNamesOfADataDirectory() throws {
        let dir = try makeTempDir("classes")
        defer { try? FileManager.default.removeItem(at: dir) }
        let labels = Synthetic(count: 10000, rows: 1, cols: 1).labels.map { Int32($0) }
        #expect(try MNIST.classNames(in: dir.path, testLabels: labels) == (0...9).map { String($0) })
        let file = dir.appendingPathComponent("classes.txt")
        try write(Array((0..<10).map { "  kind \($0) " }.joined(separator: "\n").utf8) + [10, 10], to: file)
        #expect(try MNIST.classNames(in: dir.path, testLabels: labels) == (0..<10).map { "kind \($0)" })
        for (text, needle) in [("a\nb\n", "names 2 classes"), ("a\n\nb\n", "line 2 is blank"), ("\n\n", "holds no class names")] {
            try write(Array(text.utf8), to: file)
            let m = fileError(naming: file.path) { _ = try MNIST.classNames(in: dir.path, testLabels: labels) }
            #expect(m.contains(needle), "\(text.debugDescription): \(m)")
        }
        let names = ["T-shirt/top", "a \"quoted\" name"]
        #expect(try ClassNames.from(metadata: ClassNames.metadata(names), path: "m") == names)
        #expect(ClassNames.metadata(names)[ClassNames.metadataKey]?.contains("T-shirt/top") == true)
        #expect(throws: AxonError.self) { try ClassNames.from(metadata: [ClassNames.metadataKey: "{"], path: "m") }
    }
}

@Suite struct DatasetTests {
    /// 5 examples of 2×3×1 bytes with labels 0...4, as bytes and as floats.
    func pair() throws -> (bytes: Dataset, floats: Dataset) {
        let pixels: [UInt8] = (0..<30).map { UInt8(($0 * 37 + 11) % 256) }
        let labels: [Int32] = [0, 1, 2, 3, 4]
        let bytes = try Dataset(bytes: pixels, exampleShape: [2, 3, 1], labels: labels, classCount: 5)
        let floats = try Dataset(images: Tensor(shape: [5, 2, 3, 1], scalars: pixels.map { Float($0) / 255 }),
                                 labels: labels, classCount: 5)
        return (bytes, floats)
    }

    @Test func bytesGiveTheSameBatchesAsFloats() throws {
        let (b, f) = try pair()
        #expect(b.count == 5 && b.exampleShape == [2, 3, 1])
        #expect(b.images == f.images)
        #expect(b.rows(1..<4) == f.rows(1..<4) && b.rows(1..<4).shape == [3, 2, 3, 1])
        let (bi, bl) = b.batch([4, 0, 2]), (fi, fl) = f.batch([4, 0, 2])
        #expect(bi == fi && bl == fl && bl == [4, 0, 2])
        #expect(bi.scalars[0..<6] == f.rows(4..<5).scalars[...], "first row of the batch is example 4")
        var reused = Tensor(zeros: [2, 2, 3, 1])
        #expect(b.batch([3, 1], into: &reused) == [3, 1] && reused == f.batch([3, 1]).images)
        for (x, y) in [(b.prefix(2), f.prefix(2)), (b.slice(2..<5), f.slice(2..<5)), (b.prefix(99), f.prefix(99))] {
            #expect(x.images == y.images && x.labels == y.labels && x.classCount == 5)
        }
        #expect(b.slice(2..<5).labels == [2, 3, 4] && b.prefix(0).count == 0)
    }

    @Test func badBytesAreRejected() throws {
        for (pixels, shape) in [([UInt8](repeating: 0, count: 29), [2, 3, 1]), ([UInt8](repeating: 0, count: 30), [2, 0, 1]),
                                ([UInt8](repeating: 0, count: 30), []), ([UInt8](repeating: 0, count: 30), [Int.max, 3])] {
            #expect(throws: AxonError.self, "\(pixels.count) bytes, shape \(shape)") {
                try Dataset(bytes: pixels, exampleShape: shape, labels: [0, 1, 2, 3, 4])
            }
        }
        #expect(throws: AxonError.self) { try Dataset(bytes: [UInt8](repeating: 0, count: 6), exampleShape: [6], labels: [10]) }
    }

    @Test func mnistLoadsBytes() throws {
        // A byte dataset's batches are exactly byte / 255, as the float loader gave.
        let dir = try makeTempDir("idx")
        defer { try? FileManager.default.removeItem(at: dir) }
        let train = Synthetic(count: 7, rows: 4, cols: 3), test = Synthetic(count: 5, rows: 4, cols: 3)
        try writeMNISTDir(dir, train: train, test: test)
        let data = try MNIST.load(from: dir.path)
        #expect(data.train.batch([6, 2]).images.scalars == (train.pixels[72..<84] + train.pixels[24..<36]).map { Float($0) / 255 })
    }
}

@Suite struct PGMTests {
    @Test func binaryAndAsciiPGM() throws {
        let dir = try makeTempDir("pgm")
        defer { try? FileManager.default.removeItem(at: dir) }
        let p5 = dir.appendingPathComponent("a.pgm")
        try write(Array("P5\n# a comment\n3 2\n255\n".utf8) + [0, 51, 255, 102, 204, 1], to: p5)
        let img = try GrayImage.readPGM(p5.path)
        #expect(img.width == 3 && img.height == 2)
        #expect(img.pixels == [0, 51, 255, 102, 204, 1].map { Float($0) / 255 })

        let p2 = dir.appendingPathComponent("b.pgm")
        try write(Array("P2 3 2 15 # max 15\n0 3 15\n6 12\n1\n".utf8), to: p2)
        let ascii = try GrayImage.readPGM(p2.path)
        #expect(ascii.pixels == [0, 3, 15, 6, 12, 1].map { Float($0) / 15 })

        // 16-bit binary PGM: big-endian samples.
        let p16 = dir.appendingPathComponent("c.pgm")
        try write(Array("P5 2 1 65535\n".utf8) + [0xFF, 0xFF, 0x80, 0x00], to: p16)
        let wide = try GrayImage.readPGM(p16.path)
        #expect(wide.pixels == [1, Float(0x8000) / 65535])

        // A 28×28 image becomes a [1, 28, 28, 1] batch; another size is refused, naming the file.
        let p28 = dir.appendingPathComponent("d.pgm")
        try write(Array("P5 28 28 255\n".utf8) + [UInt8](repeating: 128, count: 784), to: p28)
        let t = try GrayImage.readPGM(p28.path).tensor(expectingWidth: 28, height: 28, path: p28.path)
        #expect(t.shape == [1, 28, 28, 1])
        let m = fileError(naming: p5.path) { _ = try img.tensor(expectingWidth: 28, height: 28, path: p5.path) }
        #expect(m.contains("3×2") && m.contains("28×28"), "message: \(m)")
    }

    @Test func badPGMsAreRejected() throws {
        let dir = try makeTempDir("pgm")
        defer { try? FileManager.default.removeItem(at: dir) }
        let cases: [(String, [UInt8], String)] = [
            ("P6 colour", Array("P6 2 2 255\n".utf8) + [UInt8](repeating: 0, count: 12), "P5"),
            ("truncated raster", Array("P5 4 4 255\n".utf8) + [UInt8](repeating: 0, count: 10), "truncated"),
            ("zero width", Array("P5 0 4 255\n".utf8), "0×4"),
            ("maxval 0", Array("P5 1 1 0\n".utf8) + [0], "maximum gray value 0"),
            ("pixel above maxval", Array("P2 2 1 10\n3 11\n".utf8), "value 11"),
            ("missing height", Array("P5 4".utf8), "height"),
            ("ascii cut short", Array("P2 2 2 255\n1 2 3".utf8), "pixel 3"),
            ("empty", [], "P5"),
        ]
        for (i, (name, bytes, needle)) in cases.enumerated() {
            let url = dir.appendingPathComponent("bad\(i).pgm")
            try write(bytes, to: url)
            let m = fileError(naming: url.path) { _ = try GrayImage.readPGM(url.path) }
            #expect(m.contains(needle), "\(name): message \(m)")
        }
        let missing = dir.appendingPathComponent("absent.pgm").path
        let m = fileError(naming: missing) { _ = try GrayImage.readPGM(missing) }
        #expect(m.contains("does not exist"), "message: \(m)")
    }
}
