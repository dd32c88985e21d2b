// Dense layer kernels against naive loops and central finite differences.
import CKernels
import Foundation
import Testing

fileprivate func naiveDense(_ n: Int, _ i: Int, _ o: Int, _ x: [Float], _ w: [Float], _ b: [Float]?) -> [Float] {
    var y = [Float](repeating: 0, count: n * o)
    for r in 0..<n {
        for c in 0..<o {
            var s = Double(b?[c] ?? 0)
            for p in 0..<i { s += Double(x[r * i + p]) * Double(w[p * o + c]) }
            y[r * o + c] = Float(s)
        }
    }
    return y
}

fileprivate func act(_ a: ck_activation, _ v: [Float]) -> [Float] {
    switch a {
    case CK_ACT_RELU: return v.map { max($0, 0) }
    case CK_ACT_SIGMOID: return v.map { Float(1 / (1 + exp(-Double($0)))) }
    case CK_ACT_TANH: return v.map { Float(tanh(Double($0))) }
    default: return v
    }
}

fileprivate func denseForward(_ n: Int, _ i: Int, _ o: Int, _ x: [Float], _ w: [Float], _ b: [Float]?,
                              _ a: ck_activation = CK_ACT_NONE) -> [Float] {
    var y = [Float](repeating: .nan, count: n * o)
    let st = ck_dense_forward(Int32(n), Int32(i), Int32(o), x, w, b, Int32(a.rawValue), &y)
    #expect(st == ok)
    return y
}

@Suite struct DenseTests {
    // Small, odd, and large enough to be cut into row blocks (64×400×120) or
    // column blocks (3×50×300); every activation, with and without bias.
    @Test(arguments: [(1, 1, 1), (7, 13, 5), (64, 400, 120), (3, 50, 300), (65, 785, 10)])
    func forwardMatchesNaive(n: Int, i: Int, o: Int) {
        var rng = TestRNG(seed: UInt64(n * 31 + i * 7 + o))
        let x = rng.array(n * i), w = rng.array(i * o, -0.2, 0.2), b = rng.array(o)
        var worst: Float = 0
        for a in [CK_ACT_NONE, CK_ACT_RELU, CK_ACT_SIGMOID, CK_ACT_TANH] {
            for bias in [b, nil] as [[Float]?] {
                let got = denseForward(n, i, o, x, w, bias, a)
                let ref = act(a, naiveDense(n, i, o, x, w, bias))
                let d = maxDiff(got, ref)
                worst = max(worst, d.rel)
                #expect(d.rel < 1e-5, "\(n)x\(i)x\(o) act \(a.rawValue) bias \(bias != nil): \(d)")
            }
        }
        // ReLU must really clip: some outputs are exactly 0, none negative.
        let r = denseForward(n, i, o, x, w, b, CK_ACT_RELU)
        #expect(r.allSatisfy { $0 >= 0 })
        print("dense forward \(n)x\(i)x\(o) vs naive: max rel diff \(worst)")
    }

    @Test(arguments: [(1, 1, 1), (7, 13, 5), (64, 400, 120), (3, 50, 300)])
    func backwardMatchesNaive(n: Int, i: Int, o: Int) {
        var rng = TestRNG(seed: UInt64(n * 17 + i * 5 + o))
        let x = rng.array(n * i), w = rng.array(i * o), dz = rng.array(n * o)
        var dx = [Float](repeating: .nan, count: n * i), dw = [Float](repeating: .nan, count: i * o)
        var db = [Float](repeating: .nan, count: o)
        #expect(ck_dense_backward(Int32(n), Int32(i), Int32(o), x, w, dz, &dx, &dw, &db) == ok)
        var rdx = [Float](repeating: 0, count: n * i), rdw = [Float](repeating: 0, count: i * o)
        var rdb = [Float](repeating: 0, count: o)
        for r in 0..<n {
            for p in 0..<i {
                var s = 0.0
                for c in 0..<o { s += Double(dz[r * o + c]) * Double(w[p * o + c]) }
                rdx[r * i + p] = Float(s)
            }
        }
        for p in 0..<i {
            for c in 0..<o {
                var s = 0.0
                for r in 0..<n { s += Double(x[r * i + p]) * Double(dz[r * o + c]) }
                rdw[p * o + c] = Float(s)
            }
        }
        for c in 0..<o { rdb[c] = Float((0..<n).reduce(0.0) { $0 + Double(dz[$1 * o + c]) }) }
        let e = [maxDiff(dx, rdx).rel, maxDiff(dw, rdw).rel, maxDiff(db, rdb).rel]
        #expect(e.allSatisfy { $0 < 1e-5 }, "\(n)x\(i)x\(o) dx/dw/db: \(e)")
        // dx and db are optional and dw is overwritten, not accumulated.
        var dw2 = [Float](repeating: 1e9, count: i * o)
        #expect(ck_dense_backward(Int32(n), Int32(i), Int32(o), x, w, dz, nil, &dw2, nil) == ok)
        #expect(dw2 == dw)
        print("dense backward \(n)x\(i)x\(o) vs naive: dx/dw/db max rel diff \(e)")
    }

    // L = <x·w + b, g>: the backward pass with dz = g is its exact gradient.
    @Test func backwardMatchesFiniteDifferences() {
        var rng = TestRNG(seed: 21)
        let (n, i, o) = (5, 7, 4)
        let x = rng.array(n * i), w = rng.array(i * o), b = rng.array(o), g = rng.array(n * o)
        let nx = numericGradient(x) { dot(naiveDense(n, i, o, $0, w, b), g) }
        let nw = numericGradient(w) { dot(naiveDense(n, i, o, x, $0, b), g) }
        let nb = numericGradient(b) { dot(naiveDense(n, i, o, x, w, $0), g) }
        // The fast forward through the same loss, too.
        let fx = numericGradient(x) { dot(denseForward(n, i, o, $0, w, b), g) }
        var dx = [Float](repeating: 0, count: n * i), dw = [Float](repeating: 0, count: i * o)
        var db = [Float](repeating: 0, count: o)
        #expect(ck_dense_backward(Int32(n), Int32(i), Int32(o), x, w, g, &dx, &dw, &db) == ok)
        let e = [maxDiff(dx, nx).abs, maxDiff(dw, nw).abs, maxDiff(db, nb).abs, maxDiff(dx, fx).abs]
        #expect(e.allSatisfy { $0 < 2e-3 }, "dx/dw/db/dx(fast fwd) vs FD: \(e)")
        print("dense backward vs finite differences: \(e)")
    }

    // Through a fused activation: d/dx <act(xw+b), g> = backward(dz = g ⊙ act'(y)).
    @Test(arguments: [CK_ACT_SIGMOID, CK_ACT_TANH, CK_ACT_RELU])
    func fusedActivationGradient(a: ck_activation) {
        var rng = TestRNG(seed: 22 + UInt64(a.rawValue))
        let (n, i, o) = (3, 6, 5)
        let x = rng.array(n * i), w = rng.array(i * o), b = rng.array(o), g = rng.array(n * o)
        let y = denseForward(n, i, o, x, w, b, a)
        let pre = naiveDense(n, i, o, x, w, b)
        // Keep ReLU away from its kink so finite differences are meaningful.
        if a == CK_ACT_RELU { #expect(pre.allSatisfy { abs($0) > 0.02 }, "a pre-activation sits on the kink") }
        let dz: [Float] = (0..<(n * o)).map { k in
            switch a {
            case CK_ACT_SIGMOID: return g[k] * y[k] * (1 - y[k])
            case CK_ACT_TANH: return g[k] * (1 - y[k] * y[k])
            default: return y[k] > 0 ? g[k] : 0
            }
        }
        var dx = [Float](repeating: 0, count: n * i), dw = [Float](repeating: 0, count: i * o)
        #expect(ck_dense_backward(Int32(n), Int32(i), Int32(o), x, w, dz, &dx, &dw, nil) == ok)
        let nx = numericGradient(x, h: 1e-3) { dot(denseForward(n, i, o, $0, w, b, a), g) }
        let d = maxDiff(dx, nx).abs
        #expect(d < 5e-3, "act \(a.rawValue): dx vs FD \(d)")
    }

    @Test func threadCountDoesNotChangeBits() {
        var rng = TestRNG(seed: 23)
        let before = ck_get_num_threads()
        defer { ck_set_num_threads(before) }
        let (n, i, o) = (64, 400, 120)
        let x = rng.array(n * i), w = rng.array(i * o), b = rng.array(o), dz = rng.array(n * o)
        func run(_ t: Int32) -> [[UInt32]] {
            ck_set_num_threads(t)
            var dx = [Float](repeating: 0, count: n * i), dw = [Float](repeating: 0, count: i * o)
            var db = [Float](repeating: 0, count: o)
            #expect(ck_dense_backward(Int32(n), Int32(i), Int32(o), x, w, dz, &dx, &dw, &db) == ok)
            return [denseForward(n, i, o, x, w, b, CK_ACT_SIGMOID), dx, dw, db].map { $0.map(\.bitPattern) }
        }
        let one = run(1), two = run(2), again = run(2)
        #expect(one == two && two == again)
    }

    @Test func badArgumentsAreRejected() {
        let x = [Float](repeating: 1, count: 16), w = [Float](repeating: 1, count: 16)
        var y = [Float](repeating: 0, count: 16), dw = [Float](repeating: 0, count: 16)
        for (n, i, o) in [(0, 2, 2), (2, 0, 2), (2, 2, 0), (-1, 2, 2), (2, -3, 2), (2, 2, -1)] as [(Int32, Int32, Int32)] {
            #expect(ck_dense_forward(n, i, o, x, w, nil, 0, &y) == einval)
            #expect(ck_dense_backward(n, i, o, x, w, y, nil, &dw, nil) == einval)
        }
        #expect(ck_dense_forward(2, 2, 2, nil, w, nil, 0, &y) == einval)
        #expect(ck_dense_forward(2, 2, 2, x, nil, nil, 0, &y) == einval)
        #expect(ck_dense_forward(2, 2, 2, x, w, nil, 0, nil) == einval)
        #expect(ck_dense_forward(2, 2, 2, x, w, nil, 9, &y) == einval)
        #expect(ck_dense_backward(2, 2, 2, nil, w, x, nil, &dw, nil) == einval)
        #expect(ck_dense_backward(2, 2, 2, x, nil, x, nil, &dw, nil) == einval)
        #expect(ck_dense_backward(2, 2, 2, x, w, nil, nil, &dw, nil) == einval)
        // dx, dw and db are each optional: with none, nothing is computed.
        #expect(ck_dense_backward(2, 2, 2, x, w, x, nil, nil, nil) == ok)
    }

    /// A training batch of 8 to 64 rows takes the products transposed on
    /// Axon's GEMM (yᵀ = wᵀ·xᵀ, dxᵀ = w·dzᵀ: w read in place, not packed):
    /// the same bits as the same rows in a batch of 80, which does not, on
    /// both micro-kernels (8 rows: the AVX2 one, 16 wide) and 1 or 2 threads.
    @Test(arguments: [8, 40, 64])
    func smallBatchesGiveTheRowsOfALargerOne(n: Int) {
        let i = 300, o = 200, big = 80
        var rng = TestRNG(seed: UInt64(n))
        let x = rng.array(big * i), w = rng.array(i * o), b = rng.array(o), dz = rng.array(big * o)
        let saved = ck_get_num_threads()
        defer { ck_set_num_threads(saved); _ = ck_gemm_set_path(CK_GEMM_AUTO.rawValue) }
        for path in [CK_GEMM_AVX2, CK_GEMM_AVX512].map(\.rawValue) where ck_gemm_path_supported(path) != 0 {
            #expect(ck_gemm_set_path(path) == ok)
            for threads in [1, 2] as [Int32] {
                ck_set_num_threads(threads)
                func run(_ rows: Int) -> (y: [UInt32], dx: [UInt32]) {
                    let y = denseForward(rows, i, o, Array(x[..<(rows * i)]), w, b, CK_ACT_RELU)
                    var dx = [Float](repeating: .nan, count: rows * i)
                    #expect(ck_dense_backward(Int32(rows), Int32(i), Int32(o), x, w, dz, &dx, nil, nil) == ok)
                    return (y.map(\.bitPattern), dx.map(\.bitPattern))
                }
                let small = run(n), large = run(big)
                #expect(small.y == Array(large.y[..<(n * o)]), "forward, \(n) rows, path \(path), \(threads) threads")
                #expect(small.dx == Array(large.dx[..<(n * i)]), "dx, \(n) rows, path \(path), \(threads) threads")
            }
        }
    }

    /// Every optimizer rule applied where the kernel's gradient is made
    /// (ck_dense_update_kernel) gives the same bits, weights and slots, as the
    /// stored gradient of ck_dense_backward then ck_update_apply, on one
    /// thread and two: shapes of one chunk, of several chunks per row block
    /// (300 rows by 256), and of 8-row chunks (2000 columns).
    @Test(arguments: [(5, 13, 3), (50, 300, 64), (7, 100, 2000)])
    func updateKernelMatchesGradientThenUpdate(n: Int, i: Int, o: Int) {
        let rules: [(kind: Int, flag: Int32, h: [Float], slots: Int)] = [
            (CK_RULE_SGD, 0, [0.1], 0), (CK_RULE_MOMENTUM, 0, [0.1, 0.9], 1), (CK_RULE_MOMENTUM, 1, [0.1, 0.9], 1),
            (CK_RULE_ADAM, 0, [1e-3, 0.9, 0.999, 1e-8], 2), (CK_RULE_ADAGRAD, 0, [0.1], 1),
            (CK_RULE_ADADELTA, 0, [1, 0.95, 1e-6], 2), (CK_RULE_RMSPROP, 0, [0.01, 0.9, 0.5, 1e-10], 2),
            (CK_RULE_RMSPROP, 1, [0.01, 0.9, 0.5, 1e-10], 3), (CK_RULE_PROXIMAL_SGD, 0, [0.1, 0.01, 0.02], 0),
            (CK_RULE_PROXIMAL_ADAGRAD, 0, [0.1, 0.01, 0.02], 1), (CK_RULE_ADAGRAD_DA, 0, [0.1, 0.01, 0.02], 2),
            (CK_RULE_FTRL, 0, [0.1, -0.5, 0.01, 0.02, 0.1, 0.5], 2),
        ]
        var rng = TestRNG(seed: UInt64(n * 13 + i * 3 + o))
        let x = rng.array(n * i), dz = rng.array(n * o), w0 = rng.array(i * o, -0.2, 0.2)
        // The first slot (accumulators, second moments) well above 0, the others small.
        let slots0 = (0..<3).map { k in (0..<(i * o)).map { _ in k == 0 ? rng.uniform(0.5, 1) : rng.uniform(0.01, 0.1) } }
        let saved = ck_get_num_threads()
        defer { ck_set_num_threads(saved) }
        for threads in [1, 2] as [Int32] {
            ck_set_num_threads(threads)
            for r in rules {
                // Returns w and the slots after one update, fused or not.
                func run(fused: Bool) -> [[Float]] {
                    var w = w0, (a, b, c) = (slots0[0], slots0[1], slots0[2])
                    a.withUnsafeMutableBufferPointer { s0 in
                        b.withUnsafeMutableBufferPointer { s1 in
                            c.withUnsafeMutableBufferPointer { s2 in
                                let h = r.h + [Float](repeating: 0, count: 6 - r.h.count)
                                var rule = ck_update_rule(kind: Int32(r.kind), flag: r.flag, step: 3,
                                                          h: (h[0], h[1], h[2], h[3], h[4], h[5]),
                                                          slot: (s0.baseAddress, s1.baseAddress, s2.baseAddress))
                                if fused {
                                    #expect(ck_dense_update_kernel(Int32(n), Int32(i), Int32(o), x, dz, &w, &rule) == ok)
                                } else {
                                    var dw = [Float](repeating: .nan, count: i * o)
                                    #expect(ck_dense_backward(Int32(n), Int32(i), Int32(o), x, w0, dz, nil, &dw, nil) == ok)
                                    #expect(ck_update_apply(&rule, 0, i * o, &w, dw) == ok)
                                }
                            }
                        }
                    }
                    return [w] + [a, b, c][..<r.slots]
                }
                let fused = run(fused: true), stored = run(fused: false)
                #expect(fused[0] != w0, "rule \(r.kind) changed nothing")
                #expect(fused.map { $0.map(\.bitPattern) } == stored.map { $0.map(\.bitPattern) },
                        "rule \(r.kind) flag \(r.flag), \(n)x\(i)x\(o), \(threads) threads")
            }
        }
    }

    @Test func updateKernelRejectsBadRules() {
        var w = [Float](repeating: 1, count: 4), m = [Float](repeating: 0, count: 4)
        let x = [Float](repeating: 1, count: 4)
        var adam = ck_update_rule(kind: Int32(CK_RULE_ADAM), flag: 0, step: 0, h: (1e-3, 0.9, 0.999, 1e-8, 0, 0),
                                  slot: (nil, nil, nil))
        m.withUnsafeMutableBufferPointer { mp in
            adam.slot.0 = mp.baseAddress  // v missing
            #expect(ck_dense_update_kernel(2, 2, 2, x, x, &w, &adam) == einval)
            #expect(ck_update_apply(&adam, 0, 0, &w, x) == einval)
        }
        var sgd = ck_update_rule(kind: Int32(CK_RULE_SGD), flag: 0, step: 0, h: (.nan, 0, 0, 0, 0, 0), slot: (nil, nil, nil))
        #expect(ck_dense_update_kernel(2, 2, 2, x, x, &w, &sgd) == einval)  // a NaN learning rate
        sgd.kind = 99
        sgd.h.0 = 0.1
        #expect(ck_update_apply(&sgd, 0, 4, &w, x) == einval)
        #expect(ck_dense_update_kernel(2, 2, 2, x, x, &w, nil) == einval)
        #expect(w == [Float](repeating: 1, count: 4), "a rejected update changed the weights")
    }
}
