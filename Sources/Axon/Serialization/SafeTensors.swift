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

    /// Writes `tensors` and `metadata` to `path` atomically (see `writeAtomically`).
    public static func write(_ tensors: [(name: String, value: Tensor)], metadata: [String: String] = [:],
                             to path: String) throws {
        try writeAtomically(encode(tensors, metadata: metadata), to: path)
    }

    /// Replaces `path` by `bytes` so that a crash at any moment leaves either the
    /// old file or the new one: the bytes go to a temporary file in the same
    /// directory, which is fsync'ed, renamed over `path`, and the directory is
    /// fsync'ed so the rename itself is durable. On any failure the temporary
    /// file is removed and `path` is untouched.
    ///
    /// A process killed mid-save cannot remove its temporary file, so it leaves
    /// none: the bytes are written to an unnamed file (Linux `O_TMPFILE`) that
    /// gets its name `.NAME.tmp-PID-XXXX` only once complete, just before the
    /// rename. Where the file system has no unnamed files the named one is
    /// written directly; either way temporaries of processes that no longer
    /// run are removed whenever their directory is next written.
    ///
    /// The file gets the permissions of any new file (0666 less the umask, e.g.
    /// 0644), or keeps those of the file it replaces; mkstemp's 0600 would make
    /// every model private.
    ///
    /// `failAfterBytes` (tests only) makes the write fail once that many bytes are written.
    static func writeAtomically(_ bytes: [UInt8], to path: String, failAfterBytes: Int? = nil) throws {
        let directory = parentDirectory(of: path)
        let base = path.split(separator: "/").last.map(String.init) ?? path
        var old = stat()
        let exists = stat(path, &old) == 0
        if exists, (old.st_mode & S_IFMT) == S_IFDIR {
            throw AxonError.file(path: path, "is a directory, cannot write a model file there")
        }
        removeStaleTemporaries(in: directory)
        var random = SystemRandomNumberGenerator()
        func temporaryName() -> String { "\(directory)/.\(base).tmp-\(getpid())-\(String(random.next(), radix: 36))" }
        var temp = "", named = false
        var fd = unnamedFileFlags >= 0 ? open(directory, unnamedFileFlags, 0o666) : -1
        for _ in 0..<100 where fd < 0 {
            temp = temporaryName()
            fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
            if fd >= 0 { named = true } else if errno != EEXIST { break }
        }
        guard fd >= 0 else {
            throw AxonError.file(path: path, "cannot create a temporary file in \(directory): \(errnoText())")
        }
        if exists { _ = fchmod(fd, old.st_mode & 0o7777) }
        var closed = false
        var committed = false
        defer {
            if !closed { close(fd) }
            if named && !committed { unlink(temp) }
        }
        var written = 0
        try bytes.withUnsafeBytes { raw in
            while written < raw.count {
                var chunk = min(raw.count - written, 1 << 20)
                if let limit = failAfterBytes {
                    if written >= limit {
                        throw AxonError.file(path: path, "write failed after \(written) bytes (injected failure)")
                    }
                    chunk = min(chunk, limit - written)
                }
                let n = Glibc.write(fd, raw.baseAddress! + written, chunk)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw AxonError.file(path: path, "write failed after \(written) of \(raw.count) bytes: \(errnoText())")
                }
                written += n
            }
        }
        guard fsync(fd) == 0 else { throw AxonError.file(path: path, "fsync failed: \(errnoText())") }
        if !named {
            // The unnamed file gets a name through its /proc link; it cannot be renamed directly.
            for _ in 0..<100 where !named {
                temp = temporaryName()
                if linkat(AT_FDCWD, "/proc/self/fd/\(fd)", AT_FDCWD, temp, AT_SYMLINK_FOLLOW) == 0 { named = true }
                else if errno != EEXIST { break }
            }
            guard named else { throw AxonError.file(path: path, "cannot name the temporary file in \(directory): \(errnoText())") }
        }
        closed = true
        guard close(fd) == 0 else { throw AxonError.file(path: path, "close failed: \(errnoText())") }
        guard rename(temp, path) == 0 else {
            throw AxonError.file(path: path, "cannot rename the temporary file \(temp) over it: \(errnoText())")
        }
        committed = true
        // Make the rename durable; failing here leaves the new file in place, so it is not an error.
        let dfd = open(directory, O_RDONLY | O_DIRECTORY)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }

    /// Linux's O_TMPFILE (__O_TMPFILE | O_DIRECTORY; not imported into Swift as a
    /// macro): an unnamed file in the directory opened. -1 (never used) where
    /// /proc is absent, since the file is named through /proc/self/fd.
    private static let unnamedFileFlags: Int32 = access("/proc/self/fd", F_OK) == 0
        ? 0o20000000 | O_DIRECTORY | O_WRONLY | O_CLOEXEC : -1

    /// Removes the temporary files `.NAME.tmp-PID-XXXX` in `directory` whose
    /// process no longer runs, and those of the older form `.NAME.tmp-XXXX`
    /// (which name no process) untouched for a day.
    static func removeStaleTemporaries(in directory: String) {
        guard let dir = opendir(directory) else { return }
        defer { closedir(dir) }
        let now = time(nil)
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name.hasPrefix("."), let r = name.range(of: ".tmp-", options: .backwards) else { continue }
            let parts = name[r.upperBound...].split(separator: "-")
            let path = directory + "/" + name
            if parts.count == 2, let pid = Int32(parts[0]), pid > 0 {
                if pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH { unlink(path) }
            } else if parts.count == 1 {
                var st = stat()
                if lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, now - st.st_mtim.tv_sec > 86_400 { unlink(path) }
            }
        }
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

    /// Reads `path` whole, refusing directories, FIFOs, devices, unreadable and
    /// implausibly large files (above the limit or the memory budget). With
    /// `checkingFirst`, the first bytes are read and given to `check` (with the
    /// file's size) before anything else is read or allocated.
    static func readWholeFile(_ path: String, checkingFirst prefixLength: Int = 0,
                              _ check: (([UInt8], Int) throws -> Void)? = nil) throws -> [UInt8] {
        // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below.
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            throw AxonError.file(path: path, errno == ENOENT ? "does not exist" : "cannot be opened: \(errnoText())")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw AxonError.file(path: path, "cannot be examined: \(errnoText())") }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw AxonError.file(path: path, (st.st_mode & S_IFMT) == S_IFDIR ? "is a directory, expected a file"
                                 : "is not a regular file (a FIFO, device or socket), expected a file")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        let size = Int(st.st_size)
        guard size <= maxFileLength else {
            throw AxonError.file(path: path, "is \(size) bytes, larger than the \(maxFileLength)-byte limit for model files")
        }
        var bytes = [UInt8](repeating: 0, count: min(size, prefixLength))
        var got = 0
        if let check {
            try readFully(fd, into: &bytes, from: 0, path: path)
            try check(bytes, size)
            got = bytes.count
        }
        try MemoryBudget.check(size, for: "reading \(path) (\(size) bytes)")
        bytes += [UInt8](repeating: 0, count: size - bytes.count)
        got += try readFully(fd, into: &bytes, from: got, path: path)
        guard got == size else { throw AxonError.file(path: path, "changed size while being read") }
        return bytes
    }

    /// Reads into `bytes[from...]` until it is full or the file ends; returns the count read.
    @discardableResult
    private static func readFully(_ fd: Int32, into bytes: inout [UInt8], from start: Int, path: String) throws -> Int {
        let size = bytes.count
        var got = start
        try bytes.withUnsafeMutableBytes { raw in
            while got < size {
                let n = Glibc.read(fd, raw.baseAddress! + got, size - got)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw AxonError.file(path: path, "read failed: \(errnoText())")
                }
                if n == 0 { break }
                got += n
            }
        }
        return got - start
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

func parentDirectory(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    let dir = String(path[..<slash])
    return dir.isEmpty ? "/" : dir
}

func errnoText() -> String { String(cString: strerror(errno)) }
