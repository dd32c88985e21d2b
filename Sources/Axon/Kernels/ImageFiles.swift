import CKernels
#if canImport(Glibc)
import Glibc
#endif

/// The most pixels an image file may have (the C decoders' limit, checked from
/// the header before the pixels are allocated).
public let maxImagePixels = Int(CK_MAX_IMAGE_PIXELS)

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
