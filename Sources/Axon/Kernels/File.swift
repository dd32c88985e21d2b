import CKernels
#if canImport(Glibc)
import Glibc
#endif

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

/// The most pixels an image file may have (the C decoders' limit, checked from
/// the header before the pixels are allocated).
public let maxImagePixels = Int(CK_MAX_IMAGE_PIXELS)

/// Whether `path` exists (following symlinks), and whether it is a directory.
func fileExists(_ path: String, isDirectory: inout Bool) -> Bool {
    var st = stat()
    guard stat(path, &st) == 0 else { return false }
    isDirectory = (st.st_mode & S_IFMT) == S_IFDIR
    return true
}

/// The text of a C character buffer up to its first NUL (all of it if none).
func string(fromNulTerminated chars: [CChar]) -> String {
    String(decoding: chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Writes 8-bit RGB pixels (height × width × 3, row by row) as a PNG file through libpng.
func writePNGFile(_ path: String, width: Int, height: Int, rgb: [UInt8]) throws {
    var message = [CChar](repeating: 0, count: 256)
    let status = rgb.withUnsafeBufferPointer { p in
        ck_png_write_rgb(path, Int32(width), Int32(height), p.baseAddress, &message, message.count)
    }
    guard status == Int32(CK_OK.rawValue) else {
        let why = string(fromNulTerminated: message)
        throw AxonError.file(path: path, "cannot write the PNG file" + (why.isEmpty ? "" : ": \(why)"))
    }
}

/// Reads a PNG file of any colour type as 8-bit RGB: width, height and height × width × 3 bytes.
func readPNGFile(_ path: String) throws -> (width: Int, height: Int, rgb: [UInt8]) {
    try requireRegularFile(path)
    var w: Int32 = 0, h: Int32 = 0
    var data: UnsafeMutablePointer<UInt8>? = nil
    var message = [CChar](repeating: 0, count: 256)
    let status = ck_png_read_rgb(path, &w, &h, &data, &message, message.count)
    defer { if let data { ck_free(data) } }
    guard status == Int32(CK_OK.rawValue), let data else {
        let why = string(fromNulTerminated: message)
        throw AxonError.file(path: path, "is not a readable PNG file" + (why.isEmpty ? "" : ": \(why)"))
    }
    return (Int(w), Int(h), Array(UnsafeBufferPointer(start: data, count: Int(w) * Int(h) * 3)))
}

/// Decodes JPEG bytes as 8-bit RGB through libjpeg-turbo; errors name `path`.
func decodeJPEGBytes(_ bytes: [UInt8], path: String) throws -> (width: Int, height: Int, rgb: [UInt8]) {
    var w: Int32 = 0, h: Int32 = 0
    var data: UnsafeMutablePointer<UInt8>? = nil
    var message = [CChar](repeating: 0, count: 256)
    let status = bytes.withUnsafeBufferPointer { p in
        ck_jpeg_decode_rgb(p.baseAddress, p.count, &w, &h, &data, &message, message.count)
    }
    defer { if let data { ck_free(data) } }
    guard status == Int32(CK_OK.rawValue), let data else {
        let why = string(fromNulTerminated: message)
        throw AxonError.file(path: path, "is not a readable JPEG image" + (why.isEmpty ? "" : ": \(why)"))
    }
    return (Int(w), Int(h), Array(UnsafeBufferPointer(start: data, count: Int(w) * Int(h) * 3)))
}
