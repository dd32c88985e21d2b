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
    }

    /// Reads an image file (magic 0x00000803).
    public static func readImages(_ path: String) throws -> Images {
        let (dims, payload) = try parse(readFileBytes(path, maxLength: maxFileSize),
                                        path: path, magic: imagesMagic, what: "images")
        guard dims[1] > 0, dims[2] > 0 else {
            throw AxonError.file(path: path, "image size \(dims[1])×\(dims[2]) in the header; rows and columns must be > 0")
        }
        return Images(count: dims[0], rows: dims[1], cols: dims[2], pixels: payload)
    }

    /// Reads a label file (magic 0x00000801): one byte per example.
    public static func readLabels(_ path: String) throws -> [UInt8] {
        try parse(readFileBytes(path, maxLength: maxFileSize), path: path, magic: labelsMagic, what: "labels").data
    }

    /// Checks the header of `bytes` against `magic` and returns the dimensions and the payload.
    static func parse(_ bytes: [UInt8], path: String, magic: UInt32, what: String) throws -> (dims: [Int], data: [UInt8]) {
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
        // Three dimensions below 2^32 can overflow Int64; a corrupt header must not trap.
        var expected = 1
        for d in dims {
            let (p, overflow) = expected.multipliedReportingOverflow(by: d)
            guard !overflow else {
                throw AxonError.file(path: path, "header dimensions \(dims) are impossibly large")
            }
            expected = p
        }
        let actual = bytes.count - headerSize
        guard actual == expected else {
            let dimText = dims.map(String.init).joined(separator: "×")
            let problem = actual < expected ? "truncated" : "has \(actual - expected) extra bytes"
            throw AxonError.file(path: path,
                "\(problem): the header declares \(dimText) = \(expected) bytes of \(what), the file holds \(actual)")
        }
        return (dims, Array(bytes[headerSize...]))
    }
}
