import CKernels
#if canImport(Glibc)
import Glibc
#endif

// Axon's file helpers, one of each: whole-file reads (gunzipping, or checked
// against a format's header first), a streamed read, the atomic write every
// saved file goes through, and the checks and names they share.

// MARK: Reading

/// Reads a whole file into memory through `ck_read_file`, which gunzips it
/// when it starts with the gzip magic. Errors name the file; `maxLength`
/// bounds the (decompressed) size so a corrupt or hostile file cannot make us
/// allocate without limit.
func readFileBytes(_ path: String, maxLength: Int) throws -> [UInt8] {
    try requireRegularFile(path)
    var data: UnsafeMutablePointer<UInt8>? = nil
    var length = 0
    let status = ck_read_file(path, maxLength, &data, &length)
    defer { if let data { ck_free(data) } }
    switch status {
    case Int32(CK_OK.rawValue):
        guard let data else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: length))
    case Int32(CK_EFORMAT.rawValue):
        throw AxonError.file(path: path,
            "is corrupt: invalid or truncated gzip data, or larger than \(maxLength) bytes once decompressed")
    case Int32(CK_EIO.rawValue):
        throw AxonError.file(path: path, "could not be read (input/output error)")
    case Int32(CK_EINVAL.rawValue):
        throw AxonError.file(path: path, "is not a regular file, expected a file")
    default:
        throw AxonError.file(path: path, "could not be read: \(String(cString: ck_status_string(status)))")
    }
}

/// Throws unless `path` is a readable regular file: a FIFO would block a reader
/// forever and a device never ends, so neither is ever opened for reading.
func requireRegularFile(_ path: String) throws {
    var st = stat()
    guard stat(path, &st) == 0 else {
        throw AxonError.file(path: path, errno == ENOENT ? "does not exist" : "cannot be examined: \(errnoText())")
    }
    switch st.st_mode & S_IFMT {
    case S_IFREG: break
    case S_IFDIR: throw AxonError.file(path: path, "is a directory, expected a file")
    case S_IFIFO: throw AxonError.file(path: path, "is a FIFO (named pipe), expected a regular file")
    default: throw AxonError.file(path: path, "is not a regular file (a device or socket), expected a file")
    }
    if access(path, R_OK) != 0 {
        throw AxonError.file(path: path, "is not readable (permission denied)")
    }
}

/// A file read piece by piece (gunzipped if it is gzip data) through `ck_stream`.
final class FileStream {
    let path: String
    private var stream: OpaquePointer?

    init(_ path: String) throws {
        try requireRegularFile(path)
        self.path = path
        let status = ck_stream_open(path, &stream)
        guard status == Int32(CK_OK.rawValue) else {
            throw AxonError.file(path: path, "cannot be opened: \(String(cString: ck_status_string(status)))")
        }
    }

    deinit { ck_stream_close(stream) }

    /// Up to `count` bytes into `buffer` from `offset`; fewer only at the end of the data.
    func read(into buffer: inout [UInt8], at offset: Int = 0, count: Int) throws -> Int {
        precondition(offset >= 0 && count >= 0 && offset + count <= buffer.count)
        guard count > 0 else { return 0 }  // an empty buffer may have no address
        var got = 0
        let status = buffer.withUnsafeMutableBufferPointer { p in ck_stream_read(stream, p.baseAddress! + offset, count, &got) }
        guard status == Int32(CK_OK.rawValue) else {
            throw AxonError.file(path: path, status == Int32(CK_EFORMAT.rawValue)
                                 ? "is corrupt: invalid or truncated gzip data" : "could not be read (input/output error)")
        }
        return got
    }

    /// Reads and drops what is left, returning its length (counting stops past `limit`).
    func skipToEnd(limit: Int) throws -> Int {
        var scratch = [UInt8](repeating: 0, count: 1 << 16)
        var total = 0
        while total <= limit {
            let n = try read(into: &scratch, count: scratch.count)
            total += n
            if n < scratch.count { break }
        }
        return total
    }
}

/// Reads `path` whole, refusing directories, FIFOs, devices, unreadable and
/// implausibly large files (above the limit or the memory budget). With
/// `checkingFirst`, the first bytes are read and given to `check` (with the
/// file's size) before anything else is read or allocated.
func readWholeFile(_ path: String, checkingFirst prefixLength: Int = 0,
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
    guard size <= SafeTensors.maxFileLength else {
        throw AxonError.file(path: path, "is \(size) bytes, larger than the \(SafeTensors.maxFileLength)-byte limit for model files")
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
private func readFully(_ fd: Int32, into bytes: inout [UInt8], from start: Int, path: String) throws -> Int {
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

// MARK: Writing

/// Replaces `path` by `bytes` atomically (see `writeFileAtomically(_:to:failAfterBytes:)`):
/// a reader sees the old file or the new one, never half of one.
public func writeFileAtomically(_ bytes: [UInt8], to path: String) throws {
    try writeFileAtomically(bytes, to: path, failAfterBytes: nil)
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
func writeFileAtomically(_ bytes: [UInt8], to path: String, failAfterBytes: Int?) throws {
    let directory = parentDirectory(of: path)
    let base = path.split(separator: "/").last.map(String.init) ?? path
    var old = stat()
    let exists = stat(path, &old) == 0
    if exists, (old.st_mode & S_IFMT) == S_IFDIR {
        throw AxonError.file(path: path, "is a directory, cannot write a file there")
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
private let unnamedFileFlags: Int32 = access("/proc/self/fd", F_OK) == 0
    ? 0o20000000 | O_DIRECTORY | O_WRONLY | O_CLOEXEC : -1

/// Removes the temporary files `.NAME.tmp-PID-XXXX` in `directory` whose
/// process no longer runs, and those of the older form `.NAME.tmp-XXXX`
/// (which name no process) untouched for a day.
func removeStaleTemporaries(in directory: String) {
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

// MARK: Paths

/// Whether `path` exists (following symlinks), and whether it is a directory.
func fileExists(_ path: String, isDirectory: inout Bool) -> Bool {
    var st = stat()
    guard stat(path, &st) == 0 else { return false }
    isDirectory = (st.st_mode & S_IFMT) == S_IFDIR
    return true
}

func parentDirectory(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    let dir = String(path[..<slash])
    return dir.isEmpty ? "/" : dir
}

func errnoText() -> String { String(cString: strerror(errno)) }
