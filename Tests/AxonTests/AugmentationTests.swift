import Foundation
import Testing
@testable import Axon

// MARK: augmentation (spec §10)

private func images(_ shape: [Int], seed: UInt64) -> Tensor {
    var g = SeededGenerator(seed: seed)
    return Tensor(uncheckedShape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in g.nextUniform() })
}

private func image(_ t: Tensor, _ i: Int) -> [Float] {
    let s = t.count / t.shape[0]
    return t.withUnsafeBufferPointer { Array($0[(i * s)..<((i + 1) * s)]) }
}

/// Image [h, w, c] shifted so that y[r, t] = x[r + dy, t + dx], zeros outside.
private func shifted(_ x: [Float], h: Int, w: Int, c: Int, dy: Int, dx: Int) -> [Float] {
    var y = [Float](repeating: 0, count: x.count)
    for r in 0..<h { for t in 0..<w where (0..<h).contains(r + dy) && (0..<w).contains(t + dx) {
        for k in 0..<c { y[(r * w + t) * c + k] = x[((r + dy) * w + t + dx) * c + k] }
    } }
    return y
}

private func mirrored(_ x: [Float], h: Int, w: Int, c: Int) -> [Float] {
    var y = x
    for r in 0..<h { for t in 0..<w { for k in 0..<c { y[(r * w + t) * c + k] = x[(r * w + w - 1 - t) * c + k] } } }
    return y
}

@Suite(.serialized) struct AugmentationTests {
    @Test func deterministicPerSeedAndThreadCountFree() throws {
        let x = images([300, 16, 16, 3], seed: 1)  // 230400 floats: the threaded path
        func run(_ seed: UInt64, threads: Int) throws -> Tensor {
            try setThreadCount(threads)
            var a = Augmentation(cropPadding: 3, flip: true, brightness: 0.2, contrast: 0.5..<1.5, saturation: 0.3..<1.7)
            var y = x
            try a.apply(to: &y, seed: seed, counter: 77)
            return y
        }
        defer { try? setThreadCount(0) }
        let a = try run(5, threads: 1), b = try run(5, threads: 2), c = try run(6, threads: 2)
        #expect(a.shape == x.shape)
        #expect(a == b, "same seed, 1 vs 2 threads")
        #expect(a != c, "different seeds must differ")
    }

    @Test func cropIsAShiftedCopyWithIndependentOffsets() throws {
        let (n, h, w, c, pad) = (40, 7, 9, 2, 2)
        let x = images([n, h, w, c], seed: 2)
        var a = Augmentation(cropPadding: pad)
        var y = x
        try a.apply(to: &y, seed: 3)
        var offsets = Set<[Int]>()
        for i in 0..<n {
            let xi = image(x, i), yi = image(y, i)
            var found: [Int]?
            for dy in -pad...pad { for dx in -pad...pad where shifted(xi, h: h, w: w, c: c, dy: dy, dx: dx) == yi { found = [dy, dx] } }
            #expect(found != nil, "image \(i) is not an exact shifted copy of its input")
            if let found { offsets.insert(found) }
        }
        #expect(offsets.count >= 8, "offsets drawn per image: only \(offsets.count) distinct of 25 in 40 images")
    }

    @Test func flipPerImageAndTwiceIsIdentity() throws {
        let (n, h, w, c) = (64, 5, 7, 3)
        let x = images([n, h, w, c], seed: 4)
        var a = Augmentation(flip: true)
        var y = x
        try a.apply(to: &y, seed: 9, counter: 100)
        var flipped = 0
        for i in 0..<n {
            let xi = image(x, i), yi = image(y, i)
            if yi == mirrored(xi, h: h, w: w, c: c) { flipped += 1 } else { #expect(yi == xi, "image \(i) neither kept nor mirrored") }
        }
        #expect(flipped > 16 && flipped < 48, "\(flipped) of 64 flipped; expected about half")
        try a.apply(to: &y, seed: 9, counter: 100)
        #expect(y == x, "the same flips twice must give back the input exactly")
    }

    @Test func brightnessAddsOneDeltaPerImage() throws {
        let x = images([20, 4, 4, 1], seed: 5)
        var a = Augmentation(brightness: 0.25)
        var y = x
        try a.apply(to: &y, seed: 1)
        var deltas = Set<Float>()
        for i in 0..<20 {
            let d = zip(image(y, i), image(x, i)).map { $0 - $1 }
            let spread = d.max()! - d.min()!
            #expect(spread < 1e-6, "image \(i): delta varies by \(spread)")
            #expect(d[0] >= -0.25 - 1e-6 && d[0] < 0.25 + 1e-6, "delta \(d[0]) outside [-0.25, 0.25)")
            deltas.insert(d[0])
        }
        #expect(deltas.count > 15)
    }

    /// adjust_contrast against the spec's formula in double, for C = 1 and C = 3.
    @Test(arguments: [1, 3]) func contrastMatchesTheFormula(channels: Int) throws {
        let (n, h, w) = (4, 6, 5)
        let x = images([n, h, w, channels], seed: 6)
        let factors: [Float] = [0, 0.5, 1, 1.7]
        let y = try ImageAdjust.contrast(x, factors: factors)
        var worst = 0.0
        for i in 0..<n {
            let xi = image(x, i), yi = image(y, i)
            for k in 0..<channels {
                let mu = stride(from: k, to: xi.count, by: channels).reduce(0.0) { $0 + Double(xi[$1]) } / Double(h * w)
                for p in stride(from: k, to: xi.count, by: channels) {
                    worst = max(worst, abs((Double(xi[p]) - mu) * Double(factors[i]) + mu - Double(yi[p])))
                }
            }
        }
        #expect(worst < 1e-6, "largest difference from (x − μ)·f + μ: \(worst)")
    }

    /// adjust_saturation against the spec's HSV definition (naive, double).
    @Test func saturationMatchesTheFormula() throws {
        let n = 5
        var x = images([n, 4, 4, 3], seed: 7)
        x[flat: 0] = 0.3; x[flat: 1] = 0.3; x[flat: 2] = 0.3  // a grey pixel (S = 0)
        let factors: [Float] = [0, 0.4, 1, 2.5, 10]
        let y = try ImageAdjust.saturation(x, factors: factors)
        var worst = 0.0
        for i in 0..<n {
            let xi = image(x, i).map(Double.init), yi = image(y, i)
            for p in 0..<16 {
                let rgb = Array(xi[(3 * p)..<(3 * p + 3)])
                let v = rgb.max()!, s = v > 0 ? (v - rgb.min()!) / v : 0
                let s2 = min(max(s * Double(factors[i]), 0), 1)
                for k in 0..<3 {
                    let expected = s > 0 ? v - (s2 / s) * (v - rgb[k]) : v
                    worst = max(worst, abs(expected - Double(yi[3 * p + k])))
                }
            }
        }
        #expect(worst < 1e-6, "largest difference from V − (S'/S)·(V − x): \(worst)")
        let identity = zip(image(y, 2), image(x, 2)).map { abs($0 - $1) }.max()!
        #expect(identity < 1e-6, "f = 1 must be the identity; largest change \(identity)")
    }

    @Test func saturationRejectsGrayscale() throws {
        let x = images([2, 4, 4, 1], seed: 8)
        #expect(throws: AxonError.self) { _ = try ImageAdjust.saturation(x, factors: [1, 1]) }
        var a = Augmentation(saturation: 0.5..<1.5)
        var y = x
        #expect(throws: AxonError.self) { try a.apply(to: &y, seed: 1) }
        // And the C kernel itself answers CK_EINVAL for C = 1.
        var z = x
        #expect(throws: AxonError.self) { try Kernels.randomSaturation(lower: 0.5, upper: 1.5, seed: 1, counter: 0, x: &z) }
    }

    @Test func randomContrastKeepsMeansAndDrawsFactorsInRange() throws {
        var x = images([30, 5, 5, 1], seed: 10)
        let original = x
        let f = try Kernels.randomContrast(lower: 0.2, upper: 0.6, seed: 3, counter: 0, x: &x)
        #expect(f.allSatisfy { $0 >= 0.2 && $0 < 0.6 }, "factors \(f)")
        #expect(Set(f).count == 30)
        let expected = try ImageAdjust.contrast(original, factors: f)
        #expect(x == expected)
    }
}
