import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reading and writing the safetensors format (huggingface/safetensors):
///
///     8 bytes   N, little-endian UInt64
///     N bytes   JSON header: {"<name>": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]},
///                             ..., "__metadata__": {"<key>": "<string value>", ...}}
///               padded with spaces so the data starts at a multiple of 8
///     rest      the tensors' bytes, little-endian; offsets count from the start of this section
///
/// Axon stores float32 only. The reader checks the file the way the reference
/// implementation does (header size, JSON, dtypes, shapes against byte counts,
/// offsets inside the data, tensors tiling the data with no gap or overlap)
/// before it copies a single tensor, so a bad file gives an error that names
/// it, never a crash or an allocation larger than the file.
public enum SafeTensors {
    /// Largest header accepted (the reference implementation's limit).
    public static let maxHeaderLength = 100_000_000
    /// Largest file accepted, as a guard against reading something that is not a model at all.
    public static let maxFileLength = 1 << 34

    /// The contents of a safetensors file: tensors in file order (by data offset) and the metadata.
    public struct Contents: Equatable, Sendable {
        public var tensors: [(name: String, value: Tensor)]
        public var metadata: [String: String]

        public init(tensors: [(name: String, value: Tensor)], metadata: [String: String]) {
            self.tensors = tensors
            self.metadata = metadata
        }

        public subscript(name: String) -> Tensor? { tensors.first { $0.name == name }?.value }

        public static func == (a: Contents, b: Contents) -> Bool {
            a.metadata == b.metadata && a.tensors.count == b.tensors.count
                && zip(a.tensors, b.tensors).allSatisfy { $0.name == $1.name && $0.value == $1.value }
        }
    }

    // MARK: Writing

    /// The bytes of a safetensors file holding `tensors` (in this order) and `metadata`.
    public static func encode(_ tensors: [(name: String, value: Tensor)], metadata: [String: String] = [:]) throws -> [UInt8] {
        var seen = Set<String>()
        for (name, _) in tensors {
            guard !name.isEmpty, name != "__metadata__", seen.insert(name).inserted else {
                throw AxonError.invalidArgument("safetensors: tensor name \"\(name)\" is empty, reserved or repeated")
            }
        }
        var header = "{"
        var offset = 0
        var parts: [String] = []
        if !metadata.isEmpty {
            let entries = metadata.sorted { $0.key < $1.key }.map { "\(jsonString($0.key)):\(jsonString($0.value))" }
            parts.append("\"__metadata__\":{\(entries.joined(separator: ","))}")
        }
        for (name, t) in tensors {
            let bytes = t.count * 4
            parts.append("\(jsonString(name)):{\"dtype\":\"F32\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],"
                         + "\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        header += parts.joined(separator: ",") + "}"
        var headerBytes = Array(header.utf8)
        while (8 + headerBytes.count) % 8 != 0 { headerBytes.append(0x20) }
        var out = [UInt8]()
        out.reserveCapacity(8 + headerBytes.count + offset)
        var n = UInt64(headerBytes.count).littleEndian
        withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
        out.append(contentsOf: headerBytes)
        for (_, t) in tensors {
            t.withUnsafeBufferPointer { p in
                #if _endian(big)
                for v in p { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
                #else
                out.append(contentsOf: UnsafeRawBufferPointer(p))
                #endif
            }
        }
        return out
    }

    /// Writes `tensors` and `metadata` to `path` atomically (see `writeFileAtomically`).
    public static func write(_ tensors: [(name: String, value: Tensor)], metadata: [String: String] = [:],
                             to path: String) throws {
        try writeFileAtomically(encode(tensors, metadata: metadata), to: path)
    }

    // MARK: Reading

    /// Reads and validates the safetensors file at `path`.
    public static func read(_ path: String) throws -> Contents {
        try decode(readModelFile(path), path: path)
    }

    /// Reads a safetensors file whole after checking its 8-byte header length
    /// against the file's size: a large file that is not one is refused before
    /// it is read.
    static func readModelFile(_ path: String) throws -> [UInt8] {
        try readWholeFile(path, checkingFirst: 8) { prefix, size in
            _ = try headerLength(prefix, fileSize: size, path: path)
        }
    }

    /// The header length of a file starting with `bytes` (at least its first 8 bytes), checked against `fileSize`.
    static func headerLength(_ bytes: [UInt8], fileSize: Int, path: String) throws -> Int {
        func fail(_ message: String) -> AxonError { .file(path: path, "not a valid safetensors file: \(message)") }
        guard bytes.count >= 8, fileSize >= 8 else {
            throw fail("\(min(bytes.count, fileSize)) bytes, too short for the 8-byte header length")
        }
        var n: UInt64 = 0
        for i in (0..<8).reversed() { n = n << 8 | UInt64(bytes[i]) }
        guard n <= UInt64(maxHeaderLength) else {
            throw fail("header length \(n) exceeds the limit of \(maxHeaderLength) bytes")
        }
        guard Int(n) <= fileSize - 8 else {
            throw fail("header length \(n) runs past the end of the file (\(fileSize) bytes; truncated?)")
        }
        return Int(n)
    }

    /// Parses and validates safetensors bytes; errors name `path`.
    public static func decode(_ bytes: [UInt8], path: String) throws -> Contents {
        func fail(_ message: String) -> AxonError { .file(path: path, "not a valid safetensors file: \(message)") }
        let headerLength = try headerLength(bytes, fileSize: bytes.count, path: path)
        guard headerLength >= 2, bytes[8] == UInt8(ascii: "{") else {
            throw fail("the header does not start with '{'")
        }
        let headerData = Data(bytes[8..<(8 + headerLength)])
        let dataStart = 8 + headerLength
        let dataLength = bytes.count - dataStart
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: headerData)
        } catch let error as AxonError {
            throw fail("\(error)")
        } catch let DecodingError.dataCorrupted(context) where context.codingPath.isEmpty {
            throw fail("the header is not well-formed JSON")
        } catch let error as DecodingError {
            throw fail("bad header entry: \(describe(error))")
        } catch {
            throw fail("the header is not well-formed JSON")
        }

        // JSONDecoder keeps one of two equal keys silently: a repeated name (with another shape, say) is refused.
        var names = Set<String>()
        if let repeated = topLevelKeys(bytes[8..<dataStart]).first(where: { !names.insert($0).inserted }) {
            throw fail("\"\(repeated)\" appears more than once in the header")
        }

        // Validate every entry before copying anything.
        var entries: [(name: String, shape: [Int], begin: Int, end: Int)] = []
        for (name, e) in header.tensors {
            guard e.dtype == "F32" else {
                throw fail("tensor \"\(name)\" has dtype \(e.dtype); Axon reads F32 only")
            }
            guard e.dataOffsets.count == 2 else {
                throw fail("tensor \"\(name)\": data_offsets must be [begin, end], got \(e.dataOffsets)")
            }
            let (begin, end) = (e.dataOffsets[0], e.dataOffsets[1])
            guard begin >= 0, begin <= end, end <= dataLength else {
                throw fail("tensor \"\(name)\": data_offsets [\(begin), \(end)] lie outside the \(dataLength) data bytes")
            }
            var count = 1
            for d in e.shape {
                guard d >= 0 else { throw fail("tensor \"\(name)\": negative dimension in shape \(e.shape)") }
                let (p, overflow) = count.multipliedReportingOverflow(by: d)
                guard !overflow, p <= dataLength / 4 + 1 else {
                    throw fail("tensor \"\(name)\": shape \(e.shape) holds more elements than the file has bytes")
                }
                count = p
            }
            guard count * 4 == end - begin else {
                throw fail("tensor \"\(name)\": shape \(e.shape) needs \(count * 4) bytes but data_offsets [\(begin), \(end)] span \(end - begin)")
            }
            entries.append((name, e.shape, begin, end))
        }
        entries.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var covered = 0
        for e in entries {
            if e.begin < covered {
                throw fail("tensor \"\(e.name)\": data_offsets [\(e.begin), \(e.end)] overlap the previous tensor (which ends at \(covered))")
            }
            if e.begin > covered {
                throw fail("data bytes [\(covered), \(e.begin)) belong to no tensor")
            }
            covered = e.end
        }
        guard covered == dataLength else {
            throw fail("data bytes [\(covered), \(dataLength)) belong to no tensor (\(dataLength) data bytes, tensors cover \(covered))")
        }

        var tensors: [(name: String, value: Tensor)] = []
        tensors.reserveCapacity(entries.count)
        bytes.withUnsafeBytes { raw in
            for e in entries {
                let count = (e.end - e.begin) / 4
                let scalars = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                    let src = raw.baseAddress! + dataStart + e.begin
                    for i in 0..<count {
                        buffer[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                    }
                    initialized = count
                }
                tensors.append((e.name, Tensor(uncheckedShape: e.shape, scalars: scalars)))
            }
        }
        return Contents(tensors: tensors, metadata: header.metadata)
    }

    /// The keys of the outermost JSON object in `json` as written (escapes left
    /// as they are), repeats included.
    static func topLevelKeys(_ json: ArraySlice<UInt8>) -> [String] {
        var keys: [String] = []
        var depth = 0, expectKey = false, i = json.startIndex
        while i < json.endIndex {
            switch json[i] {
            case UInt8(ascii: "\""):
                var j = i + 1
                while j < json.endIndex && json[j] != UInt8(ascii: "\"") { j += json[j] == UInt8(ascii: "\\") ? 2 : 1 }
                if depth == 1 && expectKey { keys.append(String(decoding: json[(i + 1)..<min(j, json.endIndex)], as: UTF8.self)) }
                expectKey = false
                i = j
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                expectKey = depth == 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
            case UInt8(ascii: ","): expectKey = depth == 1
            default: break
            }
            i += 1
        }
        return keys
    }

    // MARK: Header model

    struct Entry: Decodable {
        var dtype: String
        var shape: [Int]
        var dataOffsets: [Int]
        enum CodingKeys: String, CodingKey { case dtype, shape, dataOffsets = "data_offsets" }

        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            dtype = try c.decode(String.self, forKey: .dtype)
            shape = try Self.integers(c, .shape)
            dataOffsets = try Self.integers(c, .dataOffsets)
        }

        /// A list of integers; numbers that are not whole or do not fit an Int say so (not "not well-formed JSON").
        static func integers(_ c: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws -> [Int] {
            if let v = try? c.decode([Int].self, forKey: key) { return v }
            let numbers = try c.decode([Double].self, forKey: key)
            throw AxonError.invalidArgument("\(key.stringValue) must hold whole numbers below 2^63, got \(numbers)")
        }
    }

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    struct Header: Decodable {
        var tensors: [(String, Entry)] = []
        var metadata: [String: String] = [:]

        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: AnyKey.self)
            for key in c.allKeys {
                if key.stringValue == "__metadata__" {
                    metadata = try c.decode([String: String].self, forKey: key)
                } else {
                    do { tensors.append((key.stringValue, try c.decode(Entry.self, forKey: key))) } catch let error as AxonError {
                        throw AxonError.invalidArgument("tensor \"\(key.stringValue)\": \(error)")
                    }
                }
            }
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ c: DecodingError.Context) -> String {
            c.codingPath.map(\.stringValue).joined(separator: ".")
        }
        switch error {
        case let .keyNotFound(key, c): return "\"\(path(c))\" has no \"\(key.stringValue)\""
        case let .typeMismatch(type, c): return "\"\(path(c))\" is not a \(type)"
        case let .valueNotFound(type, c): return "\"\(path(c))\" is null, expected \(type)"
        case let .dataCorrupted(c): return "\"\(path(c))\": \(c.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}

/// `s` as a JSON string literal.
func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where u.value < 0x20:
            let hex = String(u.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(u)
        }
    }
    return out + "\""
}
