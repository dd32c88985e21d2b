/// An 8-bit RGB picture read from a JPEG or PNG file: what a user gives a
/// pretrained classifier.
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// height × width × 3 bytes, row by row, R G B.
    public let pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) throws {
        guard width > 0, height > 0, pixels.count == width * height * 3 else {
            throw AxonError.invalidArgument("RGBImage: \(width)×\(height) needs \(max(0, width * height * 3)) bytes, got \(pixels.count)")
        }
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// Reads a JPEG or PNG file, told apart by their first bytes (not by the name).
    public static func read(_ path: String) throws -> RGBImage {
        let bytes = try readFileBytes(path, maxLength: 1 << 28)
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return try decodeJPEG(bytes, path: path) }
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) {
            let (w, h, rgb) = try readPNGFile(path)
            return try RGBImage(width: w, height: h, pixels: rgb)
        }
        throw AxonError.file(path: path, "is not a JPEG or PNG image (its first bytes are neither format's signature)")
    }

    /// Decodes the bytes of a JPEG file; `path` names it in errors.
    public static func decodeJPEG(_ bytes: [UInt8], path: String = "JPEG data") throws -> RGBImage {
        let (w, h, rgb) = try decodeJPEGBytes(bytes, path: path)
        return try RGBImage(width: w, height: h, pixels: rgb)
    }

    /// Writes the picture as a PNG file.
    public func writePNG(to path: String) throws {
        try writePNGFile(path, width: width, height: height, rgb: pixels)
    }

    /// The picture as floats 0…255, [1, height, width, 3].
    public var tensor: Tensor {
        Tensor(uncheckedShape: [1, height, width, 3], scalars: pixels.map(Float.init))
    }
}

/// How a classifier's input is made from a photo: a centred square crop of
/// `centralFraction` of the shorter side, a bilinear resize to `size`×`size`
/// (TensorFlow 2's `tf.image.resize`, half-pixel centres), then
/// (value − mean) / std per channel on the 0…255 scale.
public struct ImagePreprocessing: Codable, Equatable, Sendable {
    public var size: Int
    public var centralFraction: Float
    public var mean: [Float]
    public var std: [Float]

    public init(size: Int, centralFraction: Float, mean: [Float], std: [Float]) {
        self.size = size
        self.centralFraction = centralFraction
        self.mean = mean
        self.std = std
    }

    enum CodingKeys: String, CodingKey {
        case size, mean, std
        case centralFraction = "central_fraction"
    }

    func validate() throws {
        guard size >= 1, size <= 4096, centralFraction > 0, centralFraction <= 1, mean.count == 3, std.count == 3,
              std.allSatisfy({ $0 > 0 && $0.isFinite }), mean.allSatisfy(\.isFinite) else {
            throw AxonError.invalidArgument("image preprocessing: size 1...4096, central fraction in (0, 1], three means and "
                                            + "three positive standard deviations expected, got \(self)")
        }
    }

    /// One batch [n, size, size, 3] from the pictures.
    public func batch(_ images: [RGBImage]) throws -> Tensor {
        try validate()
        var scalars: [Float] = []
        scalars.reserveCapacity(images.count * size * size * 3)
        var resized = Tensor.empty
        for image in images {
            let side = max(1, Int(centralFraction * Float(min(image.width, image.height))))
            let top = (image.height - side + 1) / 2, left = (image.width - side + 1) / 2
            var crop = [Float](repeating: 0, count: side * side * 3)
            for r in 0..<side {
                let src = ((top + r) * image.width + left) * 3
                for k in 0..<(side * 3) { crop[r * side * 3 + k] = Float(image.pixels[src + k]) }
            }
            try Kernels.resizeBilinear(Tensor(uncheckedShape: [1, side, side, 3], scalars: crop), height: size, width: size,
                                       y: &resized)
            for (i, v) in resized.scalars.enumerated() { scalars.append((v - mean[i % 3]) / std[i % 3]) }
        }
        return Tensor(uncheckedShape: [images.count, size, size, 3], scalars: scalars)
    }
}
