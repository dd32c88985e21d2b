/// A single-channel image with values in [0, 1], row-major, for feeding a
/// user's own picture to a trained model.
public struct GrayImage: Equatable, Sendable {
    public let width: Int
    public let height: Int
    /// height × width values in [0, 1], row by row.
    public let pixels: [Float]

    public init(width: Int, height: Int, pixels: [Float]) throws {
        guard width > 0, height > 0, pixels.count == width * height else {
            throw AxonError.invalidArgument("GrayImage: \(width)×\(height) needs \(max(0, width * height)) pixels, got \(pixels.count)")
        }
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// Reads a PGM file (binary P5 or ASCII P2, any maxval up to 65535).
    public static func readPGM(_ path: String) throws -> GrayImage {
        try parsePGM(readFileBytes(path, maxLength: 1 << 28), path: path)
    }

    /// Reads a PNG file (any colour type, through libpng); colour is turned
    /// into grey with the ITU-R BT.601 weights, as TensorFlow's rgb_to_grayscale does.
    public static func readPNG(_ path: String) throws -> GrayImage {
        let (w, h, rgb) = try readPNGFile(path)
        var pixels = [Float](repeating: 0, count: w * h)
        for i in pixels.indices {
            let r = Float(rgb[3 * i]), g = Float(rgb[3 * i + 1]), b = Float(rgb[3 * i + 2])
            // A grey pixel stays exact (the weights sum to 0.9999, not 1).
            pixels[i] = (r == g && g == b ? r : 0.2989 * r + 0.5870 * g + 0.1140 * b) / 255
        }
        return try GrayImage(width: w, height: h, pixels: pixels)
    }

    /// Reads a PNG (by its .png name) or a PGM file.
    public static func read(_ path: String) throws -> GrayImage {
        path.lowercased().hasSuffix(".png") ? try readPNG(path) : try readPGM(path)
    }

    /// The image as a batch of one, [1, height, width, 1], after checking its
    /// size (no resizing is done: a model trained on 28×28 needs 28×28).
    public func tensor(expectingWidth w: Int, height h: Int, path: String) throws -> Tensor {
        guard width == w, height == h else {
            throw AxonError.file(path: path, "image is \(width)×\(height) pixels; the model expects \(w)×\(h) (resize it first)")
        }
        return Tensor(uncheckedShape: [1, height, width, 1], scalars: pixels)
    }

    /// Parses PGM bytes (netpbm's format: magic, width, height, maxval as
    /// ASCII decimals separated by whitespace and `#` comments, then one
    /// whitespace byte and the raster).
    static func parsePGM(_ bytes: [UInt8], path: String) throws -> GrayImage {
        func fail(_ message: String) -> AxonError { .file(path: path, "not a valid PGM image: \(message)") }
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "P"), bytes[1] == UInt8(ascii: "5") || bytes[1] == UInt8(ascii: "2") else {
            throw fail("it does not start with P5 (binary) or P2 (ASCII)")
        }
        let binary = bytes[1] == UInt8(ascii: "5")
        var i = 2
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D || b == 0x0B || b == 0x0C }
        func skipSpaceAndComments() {
            while i < bytes.count {
                if isSpace(bytes[i]) { i += 1 }
                else if bytes[i] == UInt8(ascii: "#") { while i < bytes.count && bytes[i] != 0x0A { i += 1 } }
                else { break }
            }
        }
        func number(_ what: String) throws -> Int {
            skipSpaceAndComments()
            let start = i
            var value = 0
            while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") {
                value = value * 10 + Int(bytes[i] - UInt8(ascii: "0"))
                i += 1
                if value > 1 << 24 { throw fail("\(what) is too large") }
            }
            guard i > start else {
                throw fail(i < bytes.count ? "expected the \(what) as a decimal number at byte \(i)" : "file ends before the \(what)")
            }
            return value
        }
        let width = try number("width")
        let height = try number("height")
        let maxval = try number("maximum gray value")
        guard width > 0, height > 0 else { throw fail("size \(width)×\(height); both must be > 0") }
        guard maxval >= 1, maxval <= 65535 else { throw fail("maximum gray value \(maxval); must be in 1...65535") }
        let n = width * height
        guard n <= maxImagePixels else {
            throw fail("\(width)×\(height) pixels, more than the limit of \(maxImagePixels)")
        }
        // The raster must be in the file before anything is allocated for it: at
        // least one byte a pixel in both forms (a digit, or the binary sample).
        let bytesPerPixel = binary && maxval >= 256 ? 2 : 1
        let available = bytes.count - i - 1
        guard available >= n * bytesPerPixel else {
            throw fail("truncated: \(width)×\(height) pixels need \(n * bytesPerPixel) bytes, the file holds \(max(available, 0))")
        }
        var values = [Float]()
        values.reserveCapacity(n)
        let scale = Float(maxval)
        if binary {
            // Exactly one whitespace byte separates the header from the raster.
            guard i < bytes.count, isSpace(bytes[i]) else { throw fail("no whitespace after the maximum gray value") }
            i += 1
            for p in 0..<n {
                let v = bytesPerPixel == 1 ? Int(bytes[i + p]) : Int(bytes[i + 2 * p]) << 8 | Int(bytes[i + 2 * p + 1])
                guard v <= maxval else { throw fail("pixel \(p) has value \(v) > maximum \(maxval)") }
                values.append(Float(v) / scale)
            }
        } else {
            for p in 0..<n {
                let v: Int
                v = try number("pixel \(p) of \(n)")
                guard v <= maxval else { throw fail("pixel \(p) has value \(v) > maximum \(maxval)") }
                values.append(Float(v) / scale)
            }
        }
        return try GrayImage(width: width, height: height, pixels: values)
    }
}
