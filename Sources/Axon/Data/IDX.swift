/// Reader for the IDX format of the MNIST files (raw or gzip-compressed).
///
/// An IDX file is a 4-byte magic number — two zero bytes, a type byte (0x08:
/// unsigned bytes) and the number of dimensions — then each dimension as a
/// big-endian UInt32, then the data. Images are 0x00000803 (N, rows, cols),
/// labels 0x00000801 (N). The byte count must match the header exactly: a
/// truncated download and a file with trailing garbage are both rejected.
public enum IDX {
    public static let imagesMagic: UInt32 = 0x0000_0803
    public static let labelsMagic: UInt32 = 0x0000_0801

    /// Largest (decompressed) file accepted: 1 GiB, 20× the MNIST training images.
    static let maxFileSize = 1 << 30

    /// Images from an IDX3 file: raw bytes 0...255, row-major [count, rows, cols].
    public struct Images: Sendable {
        public let count: Int
        public let rows: Int
        public let cols: Int
        public let pixels: [UInt8]
        /// How many images the file holds (more than `count` when a limit was given).
        public var fileCount: Int = 0
    }

    /// Reads an image file (magic 0x00000803); with `limit`, only the first
    /// `limit` images are kept in memory (the rest is read and checked, not stored).
    public static func readImages(_ path: String, limit: Int? = nil) throws -> Images {
        let (dims, total, payload) = try read(path, magic: imagesMagic, what: "images", limit: limit)
        guard dims[1] > 0, dims[2] > 0 else {
            throw AxonError.file(path: path, "image size \(dims[1])×\(dims[2]) in the header; rows and columns must be > 0")
        }
        return Images(count: dims[0], rows: dims[1], cols: dims[2], pixels: payload, fileCount: total)
    }

    /// Reads a label file (magic 0x00000801): one byte per example (the first `limit` with a limit).
    public static func readLabels(_ path: String, limit: Int? = nil) throws -> [UInt8] {
        try readLabelFile(path, limit: limit).labels
    }

    /// The labels kept and how many the file holds.
    static func readLabelFile(_ path: String, limit: Int?) throws -> (labels: [UInt8], fileCount: Int) {
        let r = try read(path, magic: labelsMagic, what: "labels", limit: limit)
        return (r.data, r.fileCount)
    }

    /// Streams an IDX file: the header first (checked before anything is
    /// allocated), then the first `limit` examples, then the rest read and
    /// counted but not kept. So a small .gz that expands to gigabytes costs only
    /// what is kept. Returns the dimensions (the first cut to the limit), the
    /// file's own first dimension, and the kept bytes.
    static func read(_ path: String, magic: UInt32, what: String, limit: Int?) throws -> (dims: [Int], fileCount: Int, data: [UInt8]) {
        let stream = try FileStream(path)
        let headerSize = 4 + 4 * Int(magic & 0xFF)
        var header = [UInt8](repeating: 0, count: headerSize)
        header.removeLast(headerSize - (try stream.read(into: &header, count: headerSize)))
        let (dims, expected) = try parseHeader(header, path: path, magic: magic, what: what)
        guard expected <= maxFileSize else {
            throw AxonError.file(path: path, "the header declares \(dims.map(String.init).joined(separator: "×")) = \(expected) bytes of \(what), more than the \(maxFileSize)-byte limit")
        }
        let rowBytes = dims.dropFirst().reduce(1, *)
        let kept = min(dims[0], max(limit ?? dims[0], 0))
        let keptBytes = kept * rowBytes
        try MemoryBudget.check(keptBytes, for: "reading \(kept) \(what) of \(path)")
        // Grown as the data arrives (doubling from 64 KiB, at most 64 MiB at a time),
        // so a short file whose header declares a gigabyte costs what it holds, not
        // what it claims (make fuzz).
        var data: [UInt8] = []
        var actual = 0
        while actual < keptBytes {
            let chunk = min(keptBytes - actual, min(max(actual, 1 << 16), 1 << 26))
            data.append(contentsOf: repeatElement(0, count: chunk))
            let got = try stream.read(into: &data, at: actual, count: chunk)
            actual += got
            if got < chunk { data.removeLast(chunk - got); break }
        }
        if actual == keptBytes { actual += try stream.skipToEnd(limit: expected - keptBytes) }
        try checkPayload(actual: actual, expected: expected, dims: dims, path: path, what: what)
        return ([kept] + dims.dropFirst(), dims[0], data)
    }

    /// The payload must be exactly what the header declares.
    static func checkPayload(actual: Int, expected: Int, dims: [Int], path: String, what: String) throws {
        guard actual == expected else {
            let dimText = dims.map(String.init).joined(separator: "×")
            let problem = actual < expected ? "truncated" : "has \(actual - expected) extra bytes"
            throw AxonError.file(path: path,
                "\(problem): the header declares \(dimText) = \(expected) bytes of \(what), the file holds \(actual)")
        }
    }

    /// Checks the header at the start of `bytes` against `magic`; returns the dimensions and the payload size they declare.
    static func parseHeader(_ bytes: [UInt8], path: String, magic: UInt32, what: String) throws -> (dims: [Int], payload: Int) {
        func hex(_ v: UInt32) -> String {
            let s = String(v, radix: 16)
            return "0x" + String(repeating: "0", count: max(0, 8 - s.count)) + s
        }
        func u32(_ at: Int) -> UInt32 {
            UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
        }
        let rank = Int(magic & 0xFF)
        let headerSize = 4 + 4 * rank
        guard bytes.count >= 4 else {
            throw AxonError.file(path: path, "is \(bytes.count) bytes long, too short for an IDX header (expected IDX \(what), magic \(hex(magic)))")
        }
        let found = u32(0)
        guard found == magic else {
            let hint: String
            if found == imagesMagic { hint = " (this is an IDX images file)" }
            else if found == labelsMagic { hint = " (this is an IDX labels file)" }
            else if found >> 8 == 0x08 { hint = " (an IDX file of unsigned bytes with \(found & 0xFF) dimensions)" }
            else { hint = " (not an IDX file of unsigned bytes)" }
            throw AxonError.file(path: path, "wrong magic number \(hex(found))\(hint); expected \(hex(magic)) for IDX \(what)")
        }
        guard bytes.count >= headerSize else {
            throw AxonError.file(path: path, "truncated header: \(bytes.count) bytes, the IDX \(what) header needs \(headerSize)")
        }
        let dims = (0..<rank).map { Int(u32(4 + 4 * $0)) }
        // Three dimensions below 2^32 can overflow Int64; a corrupt header must not
        // trap. The size of one example is checked on its own too: with no examples
        // the whole product is 0 whatever the others are (found by make fuzz).
        var expected = 1, example = 1
        for (k, d) in dims.enumerated() {
            let (p, overflow) = expected.multipliedReportingOverflow(by: d)
            let (e, exampleOverflow) = k == 0 ? (example, false) : example.multipliedReportingOverflow(by: d)
            guard !overflow, !exampleOverflow, e <= maxFileSize else {
                throw AxonError.file(path: path, "header dimensions \(dims) are impossibly large")
            }
            (expected, example) = (p, e)
        }
        return (dims, expected)
    }
}
