// ck_read_file: raw and gzip files, size limit and error statuses.
import CKernels
import Foundation
import Testing

private let eio = Int32(CK_EIO.rawValue)
private let eformat = Int32(CK_EFORMAT.rawValue)
private let fashionImages = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"

/// Reads through the C API; returns the status and the bytes on success.
private func read(_ path: String, max: Int = 1 << 30) -> (Int32, [UInt8]) {
    var data: UnsafeMutablePointer<UInt8>? = nil
    var len = 0
    let st = ck_read_file(path, max, &data, &len)
    guard st == ok, let data else { return (st, []) }
    defer { ck_free(data) }
    return (st, Array(UnsafeBufferPointer(start: data, count: len)))
}

/// A fresh temporary directory per test (tests run concurrently).
private func tempDir() throws -> URL {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("ck-io-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
    return d
}

/// Compresses with the system gzip, so the reader is checked against an independent encoder.
private func gzip(_ bytes: [UInt8], to url: URL) throws {
    let raw = url.deletingPathExtension()
    try Data(bytes).write(to: raw)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/gzip")
    p.arguments = ["-f", "-9", raw.path]
    try p.run()
    p.waitUntilExit()
    #expect(p.terminationStatus == 0)
}

private func pattern(_ n: Int, seed: UInt64) -> [UInt8] {
    var rng = TestRNG(seed: seed)
    // Half random, half repetitive: compressible but not trivially.
    return (0..<n).map { i in i % 2 == 0 ? UInt8(truncatingIfNeeded: rng.next()) : UInt8(i % 7) }
}

@Suite struct IOTests {
    @Test func readsRawAndGzipFiles() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bytes = pattern(3_000_017, seed: 1)
        let raw = dir.appendingPathComponent("raw.bin")
        try Data(bytes).write(to: raw)
        let (s1, r1) = read(raw.path)
        #expect(s1 == ok && r1 == bytes, "raw: status \(s1), \(r1.count) of \(bytes.count) bytes")

        let gz = dir.appendingPathComponent("data.bin.gz")
        try gzip(bytes, to: gz)
        let size = try FileManager.default.attributesOfItem(atPath: gz.path)[.size] as! Int
        #expect(size < bytes.count, "the test file really is compressed")
        let (s2, r2) = read(gz.path)
        #expect(s2 == ok && r2 == bytes, "gzip: status \(s2), \(r2.count) of \(bytes.count) bytes")

        // Empty files, raw and compressed.
        let empty = dir.appendingPathComponent("empty")
        try Data().write(to: empty)
        #expect(read(empty.path) == (ok, []))
        let emptyGz = dir.appendingPathComponent("empty2.gz")
        try gzip([], to: emptyGz)
        #expect(read(emptyGz.path) == (ok, []))
    }

    @Test func sizeLimit() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bytes = pattern(10_000, seed: 2)
        let raw = dir.appendingPathComponent("raw.bin"), gz = dir.appendingPathComponent("c.bin.gz")
        try Data(bytes).write(to: raw)
        try gzip(bytes, to: gz)
        for path in [raw.path, gz.path] {
            #expect(read(path, max: 10_000).1 == bytes, "exactly max_len is allowed")
            #expect(read(path, max: 9_999).0 == eformat, "one byte over max_len")
            #expect(read(path, max: 0).0 == eformat)
        }
    }

    @Test func missingCorruptAndTruncatedFiles() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(read(dir.appendingPathComponent("nope").path).0 == eio)
        #expect(read(dir.path).0 == einval, "a directory is not a regular file")
        // A FIFO would block the reader until a writer came: refused at once (issue 21).
        let fifo = dir.appendingPathComponent("fifo").path
        #expect(mkfifo(fifo, 0o644) == 0)
        #expect(read(fifo).0 == einval, "a FIFO is not a regular file")
        var stream: OpaquePointer?
        #expect(ck_stream_open(fifo, &stream) == einval && stream == nil)

        let bytes = pattern(200_000, seed: 3)
        let gz = dir.appendingPathComponent("good.bin.gz")
        try gzip(bytes, to: gz)
        let good = [UInt8](try Data(contentsOf: gz))

        // Truncated: half the compressed stream, and only the trailer missing.
        for cut in [good.count / 2, good.count - 4] {
            let t = dir.appendingPathComponent("cut\(cut).gz")
            try Data(good[0..<cut]).write(to: t)
            #expect(read(t.path).0 == eformat, "truncated at \(cut) of \(good.count)")
        }
        // Corrupt: flipped bytes in the deflate data, and a wrong CRC.
        var bad = good
        for i in stride(from: 20, to: 60, by: 3) { bad[i] ^= 0x5A }
        let c1 = dir.appendingPathComponent("corrupt.gz")
        try Data(bad).write(to: c1)
        #expect(read(c1.path).0 == eformat, "corrupt deflate data")
        var crc = good
        crc[crc.count - 8] ^= 0xFF
        let c2 = dir.appendingPathComponent("crc.gz")
        try Data(crc).write(to: c2)
        #expect(read(c2.path).0 == eformat, "bad CRC")
    }

    /// The real data set, when Debian's dataset-fashion-mnist is installed: IDX magic 0x803,
    /// 60000 images of 28x28, and the byte count gzip itself reports.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: fashionImages)))
    func readsFashionMNISTTrainingImages() {
        let (st, bytes) = read(fashionImages, max: 64 << 20)
        #expect(st == ok)
        #expect(bytes.count == 16 + 60000 * 28 * 28, "\(bytes.count) bytes")
        #expect(Array(bytes.prefix(16)) == [0, 0, 8, 3, 0, 0, 0xEA, 0x60, 0, 0, 0, 28, 0, 0, 0, 28])
    }

    @Test func badArguments() {
        var data: UnsafeMutablePointer<UInt8>? = nil
        var len = 0
        #expect(ck_read_file(nil, 10, &data, &len) == einval)
        #expect(ck_read_file("/etc/hostname", 10, nil, &len) == einval)
        #expect(ck_read_file("/etc/hostname", 10, &data, nil) == einval)
        ck_free(nil)
    }
}
