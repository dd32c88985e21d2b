/// Random augmentation of NHWC image batches (spec §10, `tf.image`), run by the
/// C kernels of augment.c. Every image draws its own crop offset, flip,
/// brightness, contrast and saturation; the draws are a function of
/// (seed, counter) only, so a batch augmented twice with the same pair is
/// bitwise the same, whatever the thread count.
///
/// ```swift
/// trainer.augmentation = Augmentation(cropPadding: 2, flip: true, brightness: 0.1, contrast: 0.8..<1.2)
/// ```
/// Operations run in the order crop, flip, brightness, contrast, saturation.
/// Outputs are not clipped to [0, 1] (TF does not clip float images).
public struct Augmentation: Sendable {
    /// Pad each side with this many zeros, then crop back to the original size.
    public var cropPadding: Int?
    /// Flip left-right with probability ½ per image.
    public var flip: Bool
    /// δ ~ U[−maxDelta, maxDelta) added to every pixel of an image.
    public var brightness: Float?
    /// Contrast factor f ~ U[lower, upper) per image: y = (x − μ_c)·f + μ_c.
    public var contrast: Range<Float>?
    /// Saturation factor ~ U[lower, upper) per image; RGB (C = 3) only.
    public var saturation: Range<Float>?

    private var scratch = Tensor.empty

    public init(cropPadding: Int? = nil, flip: Bool = false, brightness: Float? = nil,
                contrast: Range<Float>? = nil, saturation: Range<Float>? = nil) {
        self.cropPadding = cropPadding
        self.flip = flip
        self.brightness = brightness
        self.contrast = contrast
        self.saturation = saturation
    }

    /// The `--augment` names: "crop" (pad 2), "flip", "jitter" (brightness ±0.1,
    /// contrast [0.8, 1.2), and saturation [0.8, 1.2) when `channels` is 3).
    public init(names: [String], channels: Int) throws {
        self.init()
        for name in names {
            switch name.lowercased() {
            case "crop": cropPadding = 2
            case "flip": flip = true
            case "jitter":
                brightness = 0.1
                contrast = 0.8..<1.2
                if channels == 3 { saturation = 0.8..<1.2 }
            default:
                throw AxonError.invalidArgument("unknown augmentation \"\(name)\"; expected crop, flip or jitter")
            }
        }
    }

    public var isEmpty: Bool { cropPadding == nil && !flip && brightness == nil && contrast == nil && saturation == nil }

    public var summary: String {
        var parts: [String] = []
        if let p = cropPadding { parts.append("crop (pad \(p))") }
        if flip { parts.append("flip") }
        if let b = brightness { parts.append("brightness ±\(b)") }
        if let c = contrast { parts.append("contrast [\(c.lowerBound), \(c.upperBound))") }
        if let s = saturation { parts.append("saturation [\(s.lowerBound), \(s.upperBound))") }
        return parts.isEmpty ? "none" : parts.joined(separator: ", ")
    }

    /// Augments `images` [N, H, W, C] in place. Each operation uses its own
    /// block of 2^18 counters from `counter` (so batches of up to 2^17 images
    /// never share draws between operations), image i the draws of index
    /// `first + i`: a slice of a batch starting at `first` (a data-parallel
    /// rank's shard) is augmented exactly as that part of the whole batch.
    public mutating func apply(to images: inout Tensor, seed: UInt64, counter: UInt64 = 0, first: Int = 0) throws {
        guard images.rank == 4 else {
            throw AxonError.shapeMismatch("augmentation: images [N, H, W, C]", expected: [-1, -1, -1, -1], got: images.shape)
        }
        guard first >= 0, first + images.shape[0] <= 1 << 17 else {
            throw AxonError.invalidArgument("augmentation: batches are limited to 2^17 images")
        }
        let counter = counter &+ UInt64(first)
        if saturation != nil && images.shape[3] != 3 {
            throw AxonError.invalidArgument("augmentation: saturation needs RGB images (C = 3), got C = \(images.shape[3])")
        }
        // Its own stream, apart from the shuffling and dropout streams of the same seed.
        let seed = seed ^ 0x6175_676D_656E_74
        if let pad = cropPadding {
            guard pad >= 0 else { throw AxonError.invalidArgument("augmentation: crop padding must be >= 0, got \(pad)") }
            Tensor.reuse(&scratch, shape: images.shape)
            try Kernels.randomCrop(pad: pad, seed: seed, counter: counter, x: images, y: &scratch)
            swap(&images, &scratch)
        }
        if flip { try Kernels.randomFlip(seed: seed, counter: counter &+ 1 << 18, x: &images) }
        if let b = brightness {
            try Kernels.randomBrightness(maxDelta: b, seed: seed, counter: counter &+ 2 << 18, x: &images)
        }
        if let c = contrast {
            try Kernels.randomContrast(lower: c.lowerBound, upper: c.upperBound, seed: seed, counter: counter &+ 3 << 18, x: &images)
        }
        if let s = saturation {
            try Kernels.randomSaturation(lower: s.lowerBound, upper: s.upperBound, seed: seed, counter: counter &+ 4 << 18, x: &images)
        }
    }
}

/// The deterministic `tf.image` adjustments behind the random jitter.
public enum ImageAdjust {
    /// adjust_contrast with one factor per image of `images` [N, H, W, C].
    public static func contrast(_ images: Tensor, factors: [Float]) throws -> Tensor {
        var y = images
        try Kernels.adjustContrast(factors: factors, x: &y)
        return y
    }

    /// adjust_brightness: adds `deltas[i]` to every value of image i (no clipping).
    public static func brightness(_ images: Tensor, deltas: [Float]) throws -> Tensor {
        var y = images
        try Kernels.adjustBrightness(deltas: deltas, x: &y)
        return y
    }

    /// flip_left_right: every image with its width axis reversed.
    public static func flipLeftRight(_ images: Tensor) throws -> Tensor {
        var y = images
        try Kernels.flipLeftRight(x: &y)
        return y
    }

    /// adjust_saturation with one factor per image; C must be 3.
    public static func saturation(_ images: Tensor, factors: [Float]) throws -> Tensor {
        var y = images
        try Kernels.adjustSaturation(factors: factors, x: &y)
        return y
    }
}
