import Foundation
import Testing
@testable import Axon
#if canImport(Glibc)
import Glibc
#endif

/// Issue 21, in the library: hostile files and values are refused before
/// anything large is allocated or anything blocks, never by a trap.
@Suite(.serialized) struct RobustnessTests {
    @Test func threadCountIsBounded() throws {
        let before = threadCount()
        #expect(maxThreadCount >= 1 && maxThreadCount <= max(256, ProcessInfo.processInfo.activeProcessorCount))
        #expect(throws: AxonError.self) { try setThreadCount(100_000) }
        #expect(throws: AxonError.self) { try setThreadCount(maxThreadCount + 1) }
        #expect(threadCount() == before, "a refused count changed the setting")
        try setThreadCount(maxThreadCount)
        #expect(threadCount() == maxThreadCount)
        try setThreadCount(before)
    }

    /// A 50×50 VALID kernel on 28×28 gives an empty output: refused on load, naming the layer.
    @Test func emptyOutputShapesAreRefusedOnLoad() throws {
        let dir = try makeTempDir("empty-shape")
        defer { try? FileManager.default.removeItem(at: dir) }
        var model = Sequential { Conv2D(filters: 2, kernelSize: 5, padding: .valid); Flatten(); Dense(3) }
        try model.build(inputShape: [28, 28, 1])
        let good = dir.appendingPathComponent("good.safetensors").path
        try model.save(to: good)
        var contents = try SafeTensors.read(good)
        let arch = contents.metadata[ModelFile.architectureKey]!
        #expect(arch.contains("[5,5]"), "architecture: \(arch)")
        contents.metadata[ModelFile.architectureKey] = arch.replacingOccurrences(of: "[5,5]", with: "[50,50]")
        contents.tensors = contents.tensors.map { t in
            t.name == "layers.0.kernel" ? (t.name, Tensor(uncheckedShape: [50, 50, 1, 2], scalars: [Float](repeating: 0.01, count: 5000))) : t
        }
        let bad = dir.appendingPathComponent("bad.safetensors").path
        try SafeTensors.write(contents.tensors, metadata: contents.metadata, to: bad)
        let message = fileError(naming: bad) { _ = try ModelFile.load(from: bad) }
        #expect(message.contains("layers.0.") && message.contains("empty"), "\(message)")
    }

    /// A tiny file declaring a huge network is refused on load by the memory budget.
    @Test func networksAboveTheMemoryBudgetAreRefused() throws {
        let dir = try makeTempDir("budget")
        defer { try? FileManager.default.removeItem(at: dir) }
        var model = Sequential { Conv2D(filters: 100_000, kernelSize: 1) }
        try model.build(inputShape: [28, 28, 1])
        let file = dir.appendingPathComponent("wide.safetensors").path
        try model.save(to: file)
        let saved = MemoryBudget.bytes
        defer { MemoryBudget.bytes = saved }
        MemoryBudget.bytes = 64 << 20
        let message = fileError(naming: file) { _ = try ModelFile.load(from: file) }
        #expect(message.contains("memory") && message.contains("budget"), "\(message)")
        // Within the budget, a batch is cut to what fits rather than refused.
        MemoryBudget.bytes = 4 << 30
        let loaded = try ModelFile.load(from: file).model
        #expect(try loaded.inferenceBatch(upTo: 1000) < 1000)
        #expect(MemoryBudget.parse("2G") == 2 << 30 && MemoryBudget.parse("512M") == 512 << 20 && MemoryBudget.parse("x") == nil)
    }

    /// PGM and PNG headers declaring huge pictures are refused before the pixels are allocated.
    @Test func hugeImageHeadersAreRefusedFirst() throws {
        let dir = try makeTempDir("huge-image")
        defer { try? FileManager.default.removeItem(at: dir) }
        let pgm = dir.appendingPathComponent("x.pgm")
        try write(Array("P5\n100000 100000\n255\n".utf8), to: pgm)
        let m1 = fileError(naming: pgm.path) { _ = try GrayImage.readPGM(pgm.path) }
        #expect(m1.contains("100000×100000") && m1.contains("limit"), "\(m1)")
        let small = dir.appendingPathComponent("y.pgm")
        try write(Array("P5\n3000 3000\n255\n".utf8) + [1, 2, 3], to: small)
        let m2 = fileError(naming: small.path) { _ = try GrayImage.readPGM(small.path) }
        #expect(m2.contains("truncated"), "\(m2)")
        let png = dir.appendingPathComponent("z.png")
        try write(pngHeader(width: 20000, height: 20000), to: png)
        let m3 = fileError(naming: png.path) { _ = try RGBImage.read(png.path) }
        #expect(m3.contains("20000x20000") && m3.contains("limit"), "\(m3)")
        // A real JPEG whose frame header (SOF) is patched to 20000×20000.
        var jpeg = try [UInt8](Data(contentsOf: repositoryRoot.appendingPathComponent("Tests/Fixtures/graphdef/small.jpg")))
        let sof = try #require((0..<jpeg.count - 9).first { jpeg[$0] == 0xFF && (0xC0...0xC2).contains(jpeg[$0 + 1]) })
        jpeg.replaceSubrange(sof + 5..<sof + 9, with: [0x4E, 0x20, 0x4E, 0x20])  // height, width (big-endian)
        let big = dir.appendingPathComponent("big.jpg")
        try write(jpeg, to: big)
        let m4 = fileError(naming: big.path) { _ = try RGBImage.read(big.path) }
        #expect(m4.contains("20000x20000") && m4.contains("limit"), "\(m4)")
    }

    /// A 3 GiB (sparse) file whose header length is already wrong is refused
    /// from its first 8 bytes, without reading the rest.
    @Test func bigFileWithABadHeaderIsNotReadWhole() throws {
        let dir = try makeTempDir("big-bad")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("big.safetensors").path
        let fd = open(path, O_WRONLY | O_CREAT, 0o644)
        #expect(fd >= 0)
        var length = UInt64(1) << 40
        _ = write(fd, &length, 8)
        #expect(ftruncate(fd, 3 << 30) == 0)
        close(fd)
        let start = Date()
        let message = fileError(naming: path) { _ = try ModelFile.load(from: path) }
        #expect(message.contains("header length"), "\(message)")
        #expect(Date().timeIntervalSince(start) < 1, "took \(Date().timeIntervalSince(start)) s: the file was read")
    }

    /// FIFOs are refused at once by every reader (they would block forever).
    @Test func fifosAreRefusedWithoutBlocking() throws {
        let dir = try makeTempDir("fifo")
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in ["m.safetensors", "i.png", "i.pgm", "train-images-idx3-ubyte", "h.csv"] {
            let path = dir.appendingPathComponent(name).path
            #expect(mkfifo(path, 0o644) == 0)
            let message = fileError(naming: path) {
                switch name {
                case "m.safetensors": _ = try ModelFile.load(from: path)
                case "i.png": _ = try GrayImage.read(path)
                case "i.pgm": _ = try RGBImage.read(path)
                case "h.csv": _ = try History.read(from: path)
                default: _ = try IDX.readImages(path)
                }
            }
            #expect(message.contains("FIFO") || message.contains("not a regular file"), "\(name): \(message)")
        }
    }

    /// IDX files are streamed: with a limit, only the kept examples are allocated,
    /// the rest still read and its length checked.
    @Test func idxLimitKeepsOnlyThePrefix() throws {
        let dir = try makeTempDir("idx-limit")
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = Synthetic(count: 50, rows: 4, cols: 3)
        let url = dir.appendingPathComponent("train-images-idx3-ubyte")
        try write(data.imageFile, to: url)
        try gzip(url)
        let images = try IDX.readImages(url.path + ".gz", limit: 7)
        #expect(images.count == 7 && images.fileCount == 50 && images.pixels == Array(data.pixels.prefix(7 * 12)))
        try write(Array(data.imageFile.dropLast()), to: url)
        let message = fileError(naming: url.path) { _ = try IDX.readImages(url.path, limit: 7) }
        #expect(message.contains("truncated"), "\(message)")
        let saved = MemoryBudget.bytes
        defer { MemoryBudget.bytes = saved }
        MemoryBudget.bytes = 100
        try write(data.imageFile, to: url)
        #expect(throws: AxonError.self) { _ = try IDX.readImages(url.path) }
        #expect(try IDX.readImages(url.path, limit: 2).count == 2)
        try write(idxBytes(magic: 0x801, dims: [0], payload: []), to: url)
        #expect(try IDX.readLabels(url.path) == [] && IDX.readLabels(url.path, limit: 0) == [])
        // No images of 0xBABABABA × 0xBABABABA pixels: the total is 0 but one
        // image's size overflows Int (make fuzz found this trap).
        try write([0, 0, 8, 3, 0, 0, 0, 0] + [UInt8](repeating: 0xBA, count: 8), to: url)
        let huge = fileError(naming: url.path) { _ = try IDX.readImages(url.path, limit: 10) }
        #expect(huge.contains("impossibly large"), "\(huge)")
    }

    /// One writer per checkpoint directory: a second lock names the holder; a
    /// stale lock file (its process gone) does not block.
    @Test func checkpointDirectoryLock() throws {
        let dir = try makeTempDir("lock")
        defer { try? FileManager.default.removeItem(at: dir) }
        let runs = dir.appendingPathComponent("runs").path
        var first: DirectoryLock? = try CheckpointDirectory.lock(runs)
        do {
            _ = try CheckpointDirectory.lock(runs)
            Issue.record("a second lock was granted")
        } catch {
            #expect("\(error)".contains("in use by another run (process \(getpid()))"), "\(error)")
        }
        _ = first
        first = nil
        try write(Array("999999999\n".utf8), to: URL(fileURLWithPath: runs + "/" + CheckpointDirectory.lockFileName))
        _ = try CheckpointDirectory.lock(runs)
    }

    /// Saves leave no temporary file, and remove those of processes that died mid-save.
    @Test func staleTemporariesAreRemoved() throws {
        let dir = try makeTempDir("temporaries")
        defer { try? FileManager.default.removeItem(at: dir) }
        let dead = Process()
        dead.executableURL = URL(fileURLWithPath: "/bin/true")
        try dead.run()
        dead.waitUntilExit()
        let stale = ".m.safetensors.tmp-\(dead.processIdentifier)-abc"
        let live = ".m.safetensors.tmp-\(getpid())-def"
        let legacy = ".other.safetensors.tmp-xyz"
        for name in [stale, live, legacy] { try write([1, 2, 3], to: dir.appendingPathComponent(name)) }
        var old = [timespec(tv_sec: 1_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, dir.appendingPathComponent(legacy).path, &old, 0) == 0)
        var model = Sequential { Dense(2) }
        try model.build(inputShape: [3])
        try model.save(to: dir.appendingPathComponent("m.safetensors").path)
        let names = Set(try FileManager.default.contentsOfDirectory(atPath: dir.path))
        #expect(names == ["m.safetensors", live], "\(names.sorted())")
        #expect(throws: AxonError.self) {
            try writeFileAtomically([UInt8](repeating: 7, count: 1000), to: dir.appendingPathComponent("m.safetensors").path,
                                            failAfterBytes: 100)
        }
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: dir.path)) == ["m.safetensors", live])
    }

    /// NaN and infinities in a history read back as written, in both formats.
    @Test func historyRoundTripsNonFiniteValues() throws {
        let dir = try makeTempDir("history-nan")
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = EpochRecord(epoch: 1, learningRate: .infinity, trainLoss: .nan, trainAccuracy: 0.1, validationLoss: -.infinity,
                            validationAccuracy: nil, seconds: 1, imagesPerSecond: 0)
        for ext in ["csv", "json"] {
            let path = dir.appendingPathComponent("h.\(ext)").path
            try History(records: [r]).write(to: path)
            let back = try History.read(from: path).epochs[0]
            #expect(back.trainLoss.isNaN && back.learningRate == .infinity && back.validationLoss == -.infinity
                    && back.validationAccuracy == nil && back.trainAccuracy == 0.1, "\(ext): \(back)")
        }
    }

    /// A batch size up to Int.max trains (one batch) instead of overflowing.
    @Test func hugeBatchSizeDoesNotOverflow() throws {
        var model = Sequential { Flatten(); Dense(3) }
        let data = try Dataset(bytes: (0..<40).map { UInt8($0) }, exampleShape: [2, 2, 1], labels: (0..<10).map { Int32($0 % 3) })
        let h = try Trainer(optimizer: GradientDescent(learningRate: 0.1)).fit(&model, on: data, epochs: 1, batchSize: .max)
        #expect(h.epochs.count == 1)
    }

    /// Repeated tensor names and out-of-range numbers are refused with what is wrong.
    @Test func headerProblemsAreNamed() throws {
        func file(_ header: String, data: Int) -> [UInt8] {
            var h = Array(header.utf8)
            while h.count % 8 != 0 { h.append(0x20) }
            var n = UInt64(h.count).littleEndian
            return withUnsafeBytes(of: &n) { Array($0) } + h + [UInt8](repeating: 0, count: data)
        }
        let repeated = file(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: 8)
        let m1 = "\(String(describing: try? SafeTensors.decode(repeated, path: "r")))"
        #expect(m1 == "nil")
        #expect(throws: AxonError.file(path: "r", "not a valid safetensors file: \"a\" appears more than once in the header")) {
            _ = try SafeTensors.decode(repeated, path: "r")
        }
        let offsets = file(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551615]}}"#, data: 4)
        do { _ = try SafeTensors.decode(offsets, path: "o"); Issue.record("accepted") } catch {
            #expect("\(error)".contains("data_offsets") && !"\(error)".contains("well-formed"), "\(error)")
        }
        var model = Sequential { Flatten(); Dense(3) }
        try model.build(inputShape: [2])
        let bytes = try ModelFile.encode(model)
        var contents = try SafeTensors.decode(bytes, path: "m")
        contents.metadata[ModelFile.architectureKey] = contents.metadata[ModelFile.architectureKey]!
            .replacingOccurrences(of: "\"units\":3", with: "\"units\":1e300")
        let edited = try SafeTensors.encode(contents.tensors, metadata: contents.metadata)
        do { _ = try ModelFile.decode(edited, path: "m"); Issue.record("accepted") } catch {
            #expect("\(error)".contains("units") && !"\(error)".contains("well-formed"), "\(error)")
        }
    }
}

/// A PNG signature and IHDR chunk (8-bit RGB) declaring `width`×`height`, then
/// an IDAT holding one black row of a 20000-pixel-wide image, and IEND.
func pngHeader(width: UInt32, height: UInt32) -> [UInt8] {
    let chunk = pngChunk
    // zlib.compress(bytes(60001), 9): the filter byte and 20000 black RGB pixels.
    let oneBlackRow: [UInt8] = [0x78, 0xDA, 0xED, 0xC1, 0x31, 0x01, 0x00, 0x00, 0x00, 0xC2, 0xA0, 0xF5, 0x4F, 0x6D, 0x0D, 0x0F, 0xA0]
        + [UInt8](repeating: 0, count: 58) + [0xCE, 0x0C, 0xEA, 0x61, 0x00, 0x01]
    return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        + chunk("IHDR", bigEndian(width) + bigEndian(height) + [8, 2, 0, 0, 0]) + chunk("IDAT", oneBlackRow) + chunk("IEND", [])
}
