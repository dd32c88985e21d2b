import CKernels

// The wrappers of the augmentation kernels (augment.c, spec §10), with the conventions of Kernels.swift.

extension Kernels {
    /// Dimensions of an NHWC batch, as the kernels take them.
    static func nhwc(_ t: Tensor, _ what: String) throws -> (Int32, Int32, Int32, Int32) {
        guard t.rank == 4 else { throw AxonError.shapeMismatch("\(what): images [N, H, W, C]", expected: [-1, -1, -1, -1], got: t.shape) }
        return (Int32(t.shape[0]), Int32(t.shape[1]), Int32(t.shape[2]), Int32(t.shape[3]))
    }

    static func randomCrop(pad: Int, seed: UInt64, counter: UInt64, x: Tensor, y: inout Tensor) throws {
        let (n, h, w, c) = try nhwc(x, "random crop")
        try y.expectShape(x.shape, "random crop output")
        try withPointers([x], &y) { r, yp in
            try check(ck_augment_random_crop(n, h, w, c, Int32(clamping: pad), seed, counter, r[0], yp), "ck_augment_random_crop")
        }
    }

    /// Flips in place.
    static func randomFlip(seed: UInt64, counter: UInt64, x: inout Tensor) throws {
        let (n, h, w, c) = try nhwc(x, "random flip")
        try withPointers([], &x) { _, p in
            try check(ck_augment_random_flip(n, h, w, c, seed, counter, p, p), "ck_augment_random_flip")
        }
    }

    static func randomBrightness(maxDelta: Float, seed: UInt64, counter: UInt64, x: inout Tensor) throws {
        let (n, h, w, c) = try nhwc(x, "random brightness")
        try withPointers([], &x) { _, p in
            try check(ck_augment_random_brightness(n, h, w, c, maxDelta, seed, counter, p, p), "ck_augment_random_brightness")
        }
    }

    /// Flips every image in place.
    static func flipLeftRight(x: inout Tensor) throws {
        let (n, h, w, c) = try nhwc(x, "flip left right")
        try withPointers([], &x) { _, p in try check(ck_flip_left_right(n, h, w, c, p, p), "ck_flip_left_right") }
    }

    static func adjustBrightness(deltas: [Float], x: inout Tensor) throws {
        let (n, h, w, c) = try nhwc(x, "adjust brightness")
        guard deltas.count == Int(n) else { throw AxonError.invalidArgument("adjust brightness: \(deltas.count) deltas for \(n) images") }
        try withPointers([], &x) { _, p in
            try check(ck_adjust_brightness(n, h, w, c, deltas, p, p), "ck_adjust_brightness")
        }
    }

    static func adjustContrast(factors: [Float], x: inout Tensor) throws {
        let (n, h, w, c) = try nhwc(x, "adjust contrast")
        guard factors.count == Int(n) else { throw AxonError.invalidArgument("adjust contrast: \(factors.count) factors for \(n) images") }
        try withPointers([], &x) { _, p in
            try check(ck_adjust_contrast(n, h, w, c, factors, p, p), "ck_adjust_contrast")
        }
    }

    static func adjustSaturation(factors: [Float], x: inout Tensor) throws {
        let (n, h, w, c) = try nhwc(x, "adjust saturation")
        guard factors.count == Int(n) else { throw AxonError.invalidArgument("adjust saturation: \(factors.count) factors for \(n) images") }
        try withPointers([], &x) { _, p in
            try check(ck_adjust_saturation(n, h, w, c, factors, p, p), "ck_adjust_saturation")
        }
    }

    /// Returns the factors drawn.
    @discardableResult
    static func randomContrast(lower: Float, upper: Float, seed: UInt64, counter: UInt64, x: inout Tensor) throws -> [Float] {
        let (n, h, w, c) = try nhwc(x, "random contrast")
        var f = [Float](repeating: 0, count: max(Int(n), 1))
        try withPointers([], &x) { _, p in
            try check(ck_augment_random_contrast(n, h, w, c, lower, upper, seed, counter, &f, p, p), "ck_augment_random_contrast")
        }
        return Array(f.prefix(Int(n)))
    }

    @discardableResult
    static func randomSaturation(lower: Float, upper: Float, seed: UInt64, counter: UInt64, x: inout Tensor) throws -> [Float] {
        let (n, h, w, c) = try nhwc(x, "random saturation")
        var f = [Float](repeating: 0, count: max(Int(n), 1))
        try withPointers([], &x) { _, p in
            try check(ck_augment_random_saturation(n, h, w, c, lower, upper, seed, counter, &f, p, p), "ck_augment_random_saturation")
        }
        return Array(f.prefix(Int(n)))
    }
}
