// Counter-based random streams and inverted dropout (spec §6, §11).
import CKernels
import Testing


private func uniform(_ seed: UInt64, _ counter: UInt64, _ n: Int) -> [Float] {
    var out = [Float](repeating: .nan, count: n)
    precondition(ck_random_uniform(seed, counter, &out, n) == ok)
    return out
}
private func stats(_ v: [Float]) -> (mean: Double, std: Double) {
    let m = v.reduce(0.0) { $0 + Double($1) } / Double(v.count)
    let s = v.reduce(0.0) { $0 + (Double($1) - m) * (Double($1) - m) } / Double(v.count)
    return (m, s.squareRoot())
}

@Suite struct RandomDropoutTests {
    @Test func uniformIsReproducibleAndInRange() {
        let a = uniform(42, 0, 100_000), b = uniform(42, 0, 100_000)
        #expect(a == b, "same (seed, counter) must give the same values")
        #expect(a != uniform(43, 0, 100_000), "another seed gives another stream")
        #expect(a.allSatisfy { $0 >= 0 && $0 < 1 }, "min \(a.min()!) max \(a.max()!)")
        // 24-bit resolution: every value is k·2^-24.
        #expect(a.allSatisfy { ($0 * 16_777_216).rounded() == $0 * 16_777_216 })
        let (m, s) = stats(a)
        // Standard error of the mean: (1/√12)/√1e5 ≈ 0.0009.
        #expect(abs(m - 0.5) < 0.004, "mean \(m)")
        #expect(abs(s - (1.0 / 12).squareRoot()) < 0.004, "std \(s)")
        // Successive values are not correlated.
        var c = 0.0
        for i in 1..<a.count { c += (Double(a[i]) - 0.5) * (Double(a[i - 1]) - 0.5) }
        c /= Double(a.count - 1) / 12
        #expect(abs(c) < 0.02, "lag-1 correlation \(c)")
    }

    @Test func splittingARangeGivesTheSameNumbers() {
        let whole = uniform(7, 1000, 300_000)
        let parts = uniform(7, 1000, 123_457) + uniform(7, 1000 + 123_457, 300_000 - 123_457)
        #expect(whole == parts)
        // Thread count does not matter either (the large calls run in parallel).
        let saved = ck_get_num_threads()
        defer { ck_set_num_threads(saved) }
        let x = uniform(10, 0, 300_001)
        func drop() -> ([Float], [UInt8]) {
            var y = [Float](repeating: 0, count: x.count), m = [UInt8](repeating: 0, count: x.count)
            _ = ck_dropout_forward(x.count, 0.3, 9, 77, x, &y, &m)
            return (y, m)
        }
        ck_set_num_threads(1)
        let u1 = uniform(9, 0, 300_000), d1 = drop()
        ck_set_num_threads(2)
        let u2 = uniform(9, 0, 300_000), d2 = drop()
        #expect(u1 == u2, "1 and 2 threads give different streams")
        #expect(d1.0 == d2.0 && d1.1 == d2.1, "1 and 2 threads give different dropout masks")
        // Dropout over a split range equals one call.
        var ya = [Float](repeating: 0, count: 1000), ma = [UInt8](repeating: 0, count: 1000)
        var yb = ya, mb = ma
        _ = ck_dropout_forward(1000, 0.5, 4, 0, Array(x[0..<1000]), &ya, &ma)
        _ = ck_dropout_forward(600, 0.5, 4, 0, Array(x[0..<600]), &yb, &mb)
        yb.withUnsafeMutableBufferPointer { yp in
            mb.withUnsafeMutableBufferPointer { mp in
                _ = ck_dropout_forward(400, 0.5, 4, 600, Array(x[600..<1000]), yp.baseAddress! + 600, mp.baseAddress! + 600)
            }
        }
        #expect(ya == yb && ma == mb, "dropout over a split range differs")
    }

    /// Both instruction-set versions of the generator (ck_isa: AVX2, and
    /// AVX-512 where the CPU has it) against a plain Swift reference of the
    /// stream (ck_random.h: SplitMix64's finaliser twice), bit for bit, and
    /// dropout's mask against u >= rate, on lengths that end mid-vector.
    @Test(arguments: [CK_ISA_AVX2, CK_ISA_AVX512])
    func everyInstructionSetGivesTheReferenceStream(isa: ck_isa) {
        guard ck_isa_supported(isa.rawValue) != 0 else { return }
        let before = ck_isa_get()
        #expect(ck_isa_set(isa.rawValue) == ok)
        defer { _ = ck_isa_set(before) }
        func mix(_ v: UInt64) -> UInt64 {
            var z = (v ^ (v >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        func reference(_ seed: UInt64, _ counter: UInt64, _ n: Int) -> [Float] {
            let key = mix(seed ^ 0x6A09_E667_F3BC_C909)
            return (0..<n).map { i in
                Float(mix(mix(key &+ (counter &+ UInt64(i)) &* 0x9E37_79B9_7F4A_7C15) ^ key) >> 40) * 0x1p-24
            }
        }
        for (seed, counter, n) in [(UInt64(1), UInt64(0), 1), (42, 5, 37), (7, UInt64.max - 3, 4109), (9, 1 << 40, 70_001)] {
            #expect(uniform(seed, counter, n) == reference(seed, counter, n), "isa \(isa) seed \(seed) n \(n)")
            let x = [Float](repeating: 2, count: n)
            var y = [Float](repeating: .nan, count: n), mask = [UInt8](repeating: 9, count: n)
            #expect(ck_dropout_forward(n, 0.25, seed, counter, x, &y, &mask) == ok)
            let u = reference(seed, counter, n)
            #expect(mask == u.map { $0 >= 0.25 ? 1 : 0 }, "isa \(isa) seed \(seed) n \(n)")
            #expect(y == mask.map { $0 == 1 ? 2 * (1 / Float(0.75)) : 0 })
        }
    }

    @Test func instructionSetSelection() {
        let current = ck_isa_get()
        #expect(ck_isa_supported(current) != 0)
        #expect(ck_isa_supported(CK_ISA_AVX2.rawValue) != 0, "AVX2 is the baseline the library is built for")
        #expect(ck_isa_supported(5) == 0)
        #expect(ck_isa_set(5) == einval)
        #expect(ck_isa_get() == current)
    }

    @Test func uniformRejectsAMissingBuffer() {
        #expect(ck_random_uniform(1, 0, nil, 4) == einval)
        #expect(ck_random_uniform(1, 0, nil, 0) == ok)
    }

    @Test func dropoutForwardAndBackward() {
        var rng = TestRNG(seed: 3)
        let n = 100_000
        let x = rng.array(n, -2, 2)
        for rate: Float in [0, 0.2, 0.5, 0.9] {
            var y = [Float](repeating: .nan, count: n), mask = [UInt8](repeating: 7, count: n)
            #expect(ck_dropout_forward(n, rate, 11, 500, x, &y, &mask) == ok)
            if rate == 0 { #expect(y == x, "rate 0 is the identity") }
            // The mask is exactly u >= rate for the same stream.
            let u = uniform(11, 500, n)
            #expect(mask == u.map { $0 >= rate ? 1 : 0 }, "mask is not u >= rate")
            let scale = 1 / (1 - rate)
            var bad = 0
            for i in 0..<n where y[i] != (mask[i] == 1 ? x[i] * scale : 0) { bad += 1 }
            #expect(bad == 0, "\(bad) values not x/(1-rate) or 0 at rate \(rate)")
            let kept = Double(mask.reduce(0) { $0 + Int($1) }) / Double(n)
            let se = (Double(rate) * Double(1 - rate) / Double(n)).squareRoot()
            #expect(abs(kept - Double(1 - rate)) <= max(4 * se, 1e-9), "kept \(kept) at rate \(rate)")
            // Backward uses the same mask and scale.
            let dy = rng.array(n)
            var dx = [Float](repeating: .nan, count: n)
            #expect(ck_dropout_backward(n, rate, mask, dy, &dx) == ok)
            bad = 0
            for i in 0..<n where dx[i] != (mask[i] == 1 ? dy[i] * scale : 0) { bad += 1 }
            #expect(bad == 0, "\(bad) gradient values wrong at rate \(rate)")
        }
        // keep_prob 0.8 scales kept values by 1.25 (spec §6).
        var y: [Float] = [0, 0, 0, 0], m: [UInt8] = [0, 0, 0, 0]
        #expect(ck_dropout_forward(4, 0.2, 1, 0, [4, 4, 4, 4], &y, &m) == ok)
        for i in 0..<4 { #expect(y[i] == (m[i] == 1 ? 5 : 0)) }
    }

    @Test func dropoutRejectsBadRate() {
        var y: [Float] = [0, 0], m: [UInt8] = [0, 0], dx: [Float] = [0, 0]
        for rate: Float in [1, -0.1, 1.5, .nan] {
            #expect(ck_dropout_forward(2, rate, 1, 0, [1, 2], &y, &m) == einval, "rate \(rate)")
            #expect(ck_dropout_backward(2, rate, m, [1, 2], &dx) == einval, "rate \(rate)")
        }
        #expect(ck_dropout_forward(2, 0.5, 1, 0, nil, &y, &m) == einval)
        #expect(ck_dropout_forward(2, 0.5, 1, 0, [1, 2], &y, nil) == einval)
        #expect(ck_dropout_backward(2, 0.5, nil, [1, 2], &dx) == einval)
    }
}

/// The deterministic forms of flip and brightness (tf.image.flip_left_right,
/// adjust_brightness), in place and out of place, and the random flip agreeing
/// with the deterministic one image by image.
@Suite struct DeterministicAugmentationTests {
    @Test func flipAndBrightness() {
        let (n, h, w, c) = (3, 2, 5, 2)
        let x = uniform(7, 0, n * h * w * c)
        var y = [Float](repeating: .nan, count: x.count)
        #expect(ck_flip_left_right(Int32(n), Int32(h), Int32(w), Int32(c), x, &y) == ok)
        for i in 0..<n { for r in 0..<h { for t in 0..<w { for k in 0..<c {
            #expect(y[((i * h + r) * w + t) * c + k] == x[((i * h + r) * w + (w - 1 - t)) * c + k])
        } } } }
        var inPlace = x
        #expect(inPlace.withUnsafeMutableBufferPointer { p in
            ck_flip_left_right(Int32(n), Int32(h), Int32(w), Int32(c), p.baseAddress, p.baseAddress)
        } == ok)
        #expect(inPlace == y)
        // The random flip flips image i exactly when it chose to: each image equals x or y.
        var r = [Float](repeating: .nan, count: x.count)
        #expect(ck_augment_random_flip(Int32(n), Int32(h), Int32(w), Int32(c), 3, 0, x, &r) == ok)
        let size = h * w * c
        for i in 0..<n {
            let ri = Array(r[(i * size)..<((i + 1) * size)])
            #expect(ri == Array(x[(i * size)..<((i + 1) * size)]) || ri == Array(y[(i * size)..<((i + 1) * size)]))
        }
        let deltas: [Float] = [0.5, -1, 0]
        var b = [Float](repeating: .nan, count: x.count)
        #expect(ck_adjust_brightness(Int32(n), Int32(h), Int32(w), Int32(c), deltas, x, &b) == ok)
        for j in 0..<x.count { #expect(b[j] == x[j] + deltas[j / size]) }
        #expect(ck_adjust_brightness(Int32(n), Int32(h), Int32(w), Int32(c), nil, x, &b) != ok)
        #expect(ck_flip_left_right(Int32(n), 0, Int32(w), Int32(c), x, &b) != ok)
    }
}
