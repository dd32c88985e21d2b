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

    /// Writes the picture as a PNG file (refusing a directory, or a directory that does not exist).
    public func writePNG(to path: String) throws {
        var isDir = false
        if fileExists(path, isDirectory: &isDir), isDir {
            throw AxonError.file(path: path, "is a directory; give a .png file name")
        }
        let directory = parentDirectory(of: path)
        if !fileExists(directory, isDirectory: &isDir) || !isDir {
            throw AxonError.file(path: path, "cannot write: directory \(directory) does not exist")
        }
        try writePNGFile(path, width: width, height: height, rgb: pixels)
    }

    /// The picture as floats 0…255, [1, height, width, 3].
    public var tensor: Tensor {
        Tensor(uncheckedShape: [1, height, width, 3], scalars: pixels.map(Float.init))
    }
}

/// How a classifier's input is made from a photo: a centred crop of
/// `centralFraction` of the largest region of the input's aspect ratio (a
/// square for a square input), a bilinear resize to `size`×`width`
/// (TensorFlow 2's `tf.image.resize`, half-pixel centres), for one channel a
/// turn to grey (ITU-R BT.601 weights, as `tf.image.rgb_to_grayscale`), then
/// (value − mean) / std per channel on the 0…255 scale.
public struct ImagePreprocessing: Codable, Equatable, Sendable {
    /// The input's height (and its width unless `width` is given).
    public var size: Int
    public var centralFraction: Float
    /// One mean and one standard deviation per channel.
    public var mean: [Float]
    public var std: [Float]
    /// The input's width when it differs from its height.
    public var width: Int?
    /// 3 (RGB, the default when absent) or 1 (grey).
    public var channels: Int?
    /// false: TensorFlow 1.x's ResizeBilinear (source = out·in/out, as the
    /// course's Inception graph resizes); absent or true: half-pixel centres.
    public var halfPixelCenters: Bool?
    /// false: the whole picture is resized to the input, whatever its aspect
    /// ratio (as the course's Inception graph does); absent or true: the centred
    /// region of the input's aspect ratio.
    public var keepAspectRatio: Bool?

    public init(size: Int, centralFraction: Float, mean: [Float], std: [Float], width: Int? = nil, channels: Int? = nil,
                halfPixelCenters: Bool? = nil, keepAspectRatio: Bool? = nil) {
        self.size = size
        self.centralFraction = centralFraction
        self.mean = mean
        self.std = std
        self.width = width
        self.channels = channels
        self.halfPixelCenters = halfPixelCenters
        self.keepAspectRatio = keepAspectRatio
    }

    /// The input of Axon's models trained from image folders: the whole picture
    /// resized to `height`×`width`, values / 255 (what a `Dataset` of bytes holds).
    public static func unitScale(height: Int, width: Int, channels: Int) -> ImagePreprocessing {
        ImagePreprocessing(size: height, centralFraction: 1, mean: [Float](repeating: 0, count: channels),
                           std: [Float](repeating: 255, count: channels), width: width == height ? nil : width,
                           channels: channels == 3 ? nil : channels)
    }

    enum CodingKeys: String, CodingKey {
        case size, mean, std, width, channels
        case centralFraction = "central_fraction", halfPixelCenters = "half_pixel_centers", keepAspectRatio = "keep_aspect_ratio"
    }

    public var height: Int { size }
    public var inputWidth: Int { width ?? size }
    public var channelCount: Int { channels ?? 3 }
    /// [height, width, channels] of one input.
    public var inputShape: [Int] { [size, inputWidth, channelCount] }

    func validate() throws {
        let c = channelCount
        guard size >= 1, size <= 4096, inputWidth >= 1, inputWidth <= 4096, centralFraction > 0, centralFraction <= 1,
              c == 1 || c == 3, mean.count == c, std.count == c,
              std.allSatisfy({ $0 > 0 && $0.isFinite }), mean.allSatisfy(\.isFinite) else {
            throw AxonError.invalidArgument("image preprocessing: sizes 1...4096, central fraction in (0, 1], 1 or 3 channels "
                                            + "with one mean and one positive standard deviation each expected, got \(self)")
        }
    }

    /// The centred crop (top, left, height, width) of `image` that is resized to the input.
    func cropRegion(of image: RGBImage) -> (top: Int, left: Int, height: Int, width: Int) {
        // The largest centred region with the input's aspect ratio, then its central fraction.
        var h = Float(image.height), w = Float(image.width)
        if keepAspectRatio != false {
            if image.width * size >= image.height * inputWidth { w = h * Float(inputWidth) / Float(size) } else { h = w * Float(size) / Float(inputWidth) }
        }
        let ch = min(image.height, max(1, Int(centralFraction * h))), cw = min(image.width, max(1, Int(centralFraction * w)))
        return ((image.height - ch + 1) / 2, (image.width - cw + 1) / 2, ch, cw)
    }

    /// `image`'s region as floats 0…255, [1, height, width, 3].
    static func crop(_ image: RGBImage, top: Int, left: Int, height: Int, width: Int) -> Tensor {
        var crop = [Float](repeating: 0, count: height * width * 3)
        for r in 0..<height {
            let src = ((top + r) * image.width + left) * 3
            for k in 0..<(width * 3) { crop[r * width * 3 + k] = Float(image.pixels[src + k]) }
        }
        return Tensor(uncheckedShape: [1, height, width, 3], scalars: crop)
    }

    /// RGB values [h·w·3] to this preprocessing's channels (grey by BT.601 for one).
    func toChannels(_ rgb: [Float]) -> [Float] {
        guard channelCount == 1 else { return rgb }
        return (0..<(rgb.count / 3)).map { i in
            let r = rgb[3 * i], g = rgb[3 * i + 1], b = rgb[3 * i + 2]
            // A grey pixel stays exact (the weights sum to 0.9999, not 1), as GrayImage.readPNG does.
            return r == g && g == b ? r : 0.2989 * r + 0.5870 * g + 0.1140 * b
        }
    }

    /// The picture cropped, resized and turned to the input's channels, values 0…255
    /// (not yet normalised), height × width × channels.
    public func resized(_ image: RGBImage) throws -> [Float] {
        try validate()
        let r = cropRegion(of: image)
        var out = Tensor.empty
        try Kernels.resizeBilinear(Self.crop(image, top: r.top, left: r.left, height: r.height, width: r.width),
                                   height: size, width: inputWidth, halfPixelCenters: halfPixelCenters ?? true, y: &out)
        return toChannels(out.scalars)
    }

    /// (value − mean) / std of 0…255 values laid out height × width × channels.
    func normalise(_ values: [Float]) -> [Float] {
        let c = channelCount
        return values.enumerated().map { i, v in (v - mean[i % c]) / std[i % c] }
    }

    /// One batch [n, height, width, channels] from the pictures.
    public func batch(_ images: [RGBImage]) throws -> Tensor {
        try validate()
        var scalars: [Float] = []
        scalars.reserveCapacity(images.count * size * inputWidth * channelCount)
        for image in images { scalars += normalise(try resized(image)) }
        return Tensor(uncheckedShape: [images.count] + inputShape, scalars: scalars)
    }
}

/// Random distortions of training photos as TensorFlow's `retrain.py` makes them
/// (`add_input_distortions`), in percent: the picture (after the preprocessing's
/// centred crop) is resized to `scale` times the input size, where
/// scale = (1 + randomCrop/100) · U[1, 1 + randomScale/100), a window of the
/// input size is cut at a uniformly random place, mirrored left-right with
/// probability ½ when `flipLeftRight`, and multiplied by
/// U[1 − randomBrightness/100, 1 + randomBrightness/100) before normalisation.
/// With all of them zero the result is the plain preprocessing.
public struct Distortions: Sendable, Equatable {
    public var flipLeftRight: Bool
    public var randomCrop: Float
    public var randomScale: Float
    public var randomBrightness: Float

    public init(flipLeftRight: Bool = false, randomCrop: Float = 0, randomScale: Float = 0, randomBrightness: Float = 0) {
        self.flipLeftRight = flipLeftRight
        self.randomCrop = randomCrop
        self.randomScale = randomScale
        self.randomBrightness = randomBrightness
    }

    public var isEmpty: Bool { !flipLeftRight && randomCrop == 0 && randomScale == 0 && randomBrightness == 0 }

    public func validate() throws {
        for (name, v) in [("random crop", randomCrop), ("random scale", randomScale)] where !(v >= 0 && v <= 1000) {
            throw AxonError.invalidArgument("distortions: \(name) must be a percentage in [0, 1000], got \(v)")
        }
        guard randomBrightness >= 0, randomBrightness <= 100 else {
            throw AxonError.invalidArgument("distortions: random brightness must be a percentage in [0, 100], got \(randomBrightness)")
        }
    }

    public var summary: String {
        var parts: [String] = []
        if flipLeftRight { parts.append("flip left-right") }
        if randomCrop > 0 { parts.append("random crop \(randomCrop)%") }
        if randomScale > 0 { parts.append("random scale \(randomScale)%") }
        if randomBrightness > 0 { parts.append("random brightness \(randomBrightness)%") }
        return parts.isEmpty ? "none" : parts.joined(separator: ", ")
    }

    /// One batch [n, height, width, channels] of `images`, each distorted with
    /// draws from `generator` (so a run is repeatable from its seed).
    public func batch(_ images: [RGBImage], preprocessing p: ImagePreprocessing,
                      generator g: inout SeededGenerator) throws -> Tensor {
        try validate()
        try p.validate()
        let h = p.height, w = p.inputWidth
        var scalars: [Float] = []
        scalars.reserveCapacity(images.count * h * w * p.channelCount)
        func uniform(_ lower: Float, _ upper: Float) -> Float {
            lower + (upper - lower) * Float(g.next() >> 40) / Float(1 << 24)
        }
        var resized = Tensor.empty
        for image in images {
            let r = p.cropRegion(of: image)
            let scale = (1 + randomCrop / 100) * uniform(1, 1 + randomScale / 100)
            // retrain.py casts the scaled size to int (truncation).
            let ph = max(h, Int(scale * Float(h))), pw = max(w, Int(scale * Float(w)))
            try Kernels.resizeBilinear(ImagePreprocessing.crop(image, top: r.top, left: r.left, height: r.height, width: r.width),
                                       height: ph, width: pw, y: &resized)
            let top = Int(g.next() % UInt64(ph - h + 1)), left = Int(g.next() % UInt64(pw - w + 1))
            let flip = flipLeftRight && g.next() >> 63 == 1
            let brightness = uniform(1 - randomBrightness / 100, 1 + randomBrightness / 100)
            var window = [Float](repeating: 0, count: h * w * 3)
            resized.withUnsafeBufferPointer { src in
                for y in 0..<h {
                    for x in 0..<w {
                        let sx = flip ? w - 1 - x : x
                        for c in 0..<3 { window[(y * w + x) * 3 + c] = src[((top + y) * pw + left + sx) * 3 + c] * brightness }
                    }
                }
            }
            scalars += p.normalise(p.toChannels(window))
        }
        return Tensor(uncheckedShape: [images.count] + p.inputShape, scalars: scalars)
    }
}
