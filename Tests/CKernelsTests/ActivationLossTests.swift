// Activations, softmax, losses (spec §5) and L1/L2 penalties (spec §7)
// against naive double-precision references, finite differences and the
// spec's check values.
import CKernels
import Foundation
import Testing


private let acts: [(name: String, id: Int32, f: @Sendable (Double) -> Double)] = [
    ("none", Int32(CK_ACT_NONE.rawValue), { $0 }),
    ("relu", Int32(CK_ACT_RELU.rawValue), { max($0, 0) }),
    ("sigmoid", Int32(CK_ACT_SIGMOID.rawValue), { 1 / (1 + exp(-$0)) }),
    ("tanh", Int32(CK_ACT_TANH.rawValue), { tanh($0) }),
]

private func forward(_ act: Int32, _ x: [Float]) -> [Float] {
    var y = [Float](repeating: .nan, count: x.count)
    let st = ck_activation_forward(act, x, &y, x.count)
    precondition(st == ok)
    return y
}
private func softmax(_ rows: Int, _ cols: Int, _ x: [Float]) -> [Float] {
    var y = [Float](repeating: .nan, count: x.count)
    precondition(ck_softmax_forward(Int32(rows), Int32(cols), x, &y) == ok)
    return y
}
private func naiveSoftmax(_ rows: Int, _ cols: Int, _ x: [Float]) -> [Float] {
    var y: [Float] = []
    for r in 0..<rows {
        let row = x[(r * cols)..<((r + 1) * cols)].map(Double.init)
        let m = row.max()!
        let e = row.map { exp($0 - m) }
        let s = e.reduce(0, +)
        y += e.map { Float($0 / s) }
    }
    return y
}
/// Per-row softmax cross-entropy in double: Σ z (LSE − x).
private func naiveSCE(_ rows: Int, _ k: Int, _ x: [Float], _ z: [Float]) -> [Double] {
    (0..<rows).map { r in
        let row = x[(r * k)..<((r + 1) * k)].map(Double.init)
        let m = row.max()!
        let lse = m + log(row.map { exp($0 - m) }.reduce(0, +))
        return (0..<k).map { Double(z[r * k + $0]) * (lse - row[$0]) }.reduce(0, +)
    }
}
private func sce(_ rows: Int, _ k: Int, _ x: [Float], _ z: [Float], scale: Float = 1) -> (Int32, [Float], [Float]) {
    var loss = [Float](repeating: .nan, count: rows), g = [Float](repeating: .nan, count: x.count)
    let st = ck_softmax_cross_entropy(Int32(rows), Int32(k), x, z, &loss, scale, &g)
    return (st, loss, g)
}
private func sparse(_ rows: Int, _ k: Int, _ x: [Float], _ t: [Int32], scale: Float = 1) -> (Int32, [Float], [Float]) {
    var loss = [Float](repeating: .nan, count: rows), g = [Float](repeating: .nan, count: x.count)
    let st = ck_sparse_softmax_cross_entropy(Int32(rows), Int32(k), x, t, &loss, scale, &g)
    return (st, loss, g)
}
private func sigce(_ x: [Float], _ z: [Float], scale: Float = 1) -> (Int32, [Float], [Float]) {
    var loss = [Float](repeating: .nan, count: x.count), g = [Float](repeating: .nan, count: x.count)
    let st = ck_sigmoid_cross_entropy(x.count, x, z, &loss, scale, &g)
    return (st, loss, g)
}
private func quad(_ rows: Int, _ k: Int, _ y: [Float], _ t: [Float], scale: Float = 1) -> (Int32, [Float], [Float]) {
    var loss = [Float](repeating: .nan, count: rows), g = [Float](repeating: .nan, count: y.count)
    let st = ck_quadratic_cost(Int32(rows), Int32(k), y, t, &loss, scale, &g)
    return (st, loss, g)
}
private func sum(_ v: [Float]) -> Double { v.reduce(0) { $0 + Double($1) } }

@Suite struct ActivationLossTests {
    @Test func activationsMatchNaive() {
        var rng = TestRNG(seed: 1)
        // 1000 runs serially, 200000 above the parallel threshold.
        for n in [1000, 200_000] {
            let x = rng.array(n, -12, 12)
            for a in acts {
                let y = forward(a.id, x)
                let ref = x.map { Float(a.f(Double($0))) }
                let d = maxDiff(y, ref)
                #expect(d.abs < 1e-6, "\(a.name) n=\(n): max |diff| \(d.abs)")
                // In place (one buffer for x and y, not two copies of an array).
                var z = x
                let st = z.withUnsafeMutableBufferPointer { p in ck_activation_forward(a.id, p.baseAddress, p.baseAddress, n) }
                #expect(st == ok)
                #expect(z == y, "\(a.name) in place differs")
            }
        }
        // Saturation: no NaN, exact limits.
        #expect(forward(Int32(CK_ACT_SIGMOID.rawValue), [-200, 200, 0]) == [0, 1, 0.5])
        #expect(forward(Int32(CK_ACT_TANH.rawValue), [-200, 200]) == [-1, 1])
    }

    /// Elementwise kernels that call glibc's vector math give the same bits on
    /// any thread count (each element in the same place of a vector loop): a
    /// length whose shares of 2 and 3 threads end off the vector width.
    @Test func vectorMathIsTheSameOnAnyThreadCount() {
        var rng = TestRNG(seed: 9)
        let n = 200_003
        let x = rng.array(n, -12, 12), z = rng.array(n, 0, 1)
        let saved = ck_get_num_threads()
        defer { ck_set_num_threads(saved) }
        func run(_ threads: Int32) -> [[Float]] {
            ck_set_num_threads(threads)
            var out = acts.map { forward($0.id, x) }
            let (_, loss, g) = sigce(x, z)
            out += [loss, g]
            var w = x, acc = z.map { $0 + 0.1 }, lin = z
            _ = ck_ftrl_update(n, &w, z, &acc, &lin, 0.1, -0.7, 0.01, 0.01, 0, 0)
            return out + [w, acc, lin]
        }
        let one = run(1)
        for t: Int32 in [2, 3] {
            let other = run(t)
            for (i, (a, b)) in zip(one, other).enumerated() { #expect(a == b, "output \(i) differs on \(t) threads") }
        }
    }

    @Test func activationBackwardMatchesFiniteDifferences() {
        var rng = TestRNG(seed: 2)
        // Keep away from relu's kink: |x| >= 0.1 > h.
        let x = rng.array(300, -3, 3).map { abs($0) < 0.1 ? $0 + 0.3 : $0 }
        let dy = rng.array(300)
        for a in acts {
            let y = forward(a.id, x)
            var dx = [Float](repeating: .nan, count: x.count)
            #expect(ck_activation_backward(a.id, y, dy, &dx, x.count) == ok)
            let num = numericGradient(x, h: 1e-2) { dot(forward(a.id, $0), dy) }
            let d = maxDiff(dx, num)
            #expect(d.abs < 2e-3, "\(a.name): dx vs finite differences \(d.abs)")
            // dx may alias dy.
            var g = dy
            #expect(ck_activation_backward(a.id, y, g, &g, x.count) == ok)
            #expect(g == dx)
        }
        // relu'(0) = 0: an output of 0 passes no gradient.
        var dx: [Float] = [9, 9]
        #expect(ck_activation_backward(Int32(CK_ACT_RELU.rawValue), [0, 0.5], [1, 1], &dx, 2) == ok)
        #expect(dx == [0, 1])
    }

    @Test func softmaxForwardAndBackward() {
        #expect(softmax(1, 3, [1000, 0, -1000]) == [1, 0, 0])
        var rng = TestRNG(seed: 3)
        for (rows, cols) in [(1, 1), (5, 10), (7, 33), (3000, 10)] {
            let x = rng.array(rows * cols, -20, 20)
            let y = softmax(rows, cols, x)
            let d = maxDiff(y, naiveSoftmax(rows, cols, x))
            #expect(d.abs < 1e-6, "softmax \(rows)x\(cols): \(d.abs)")
            var z = x
            #expect(ck_softmax_forward(Int32(rows), Int32(cols), z, &z) == ok)
            #expect(z == y)
        }
        for (rows, cols) in [(3, 7), (2, 1)] {
            let x = rng.array(rows * cols, -2, 2), dy = rng.array(rows * cols)
            let y = softmax(rows, cols, x)
            var dx = [Float](repeating: .nan, count: x.count)
            #expect(ck_softmax_backward(Int32(rows), Int32(cols), y, dy, &dx) == ok)
            let num = numericGradient(x, h: 1e-2) { dot(softmax(rows, cols, $0), dy) }
            let d = maxDiff(dx, num)
            #expect(d.abs < 1e-3, "softmax backward \(rows)x\(cols) vs finite differences: \(d.abs)")
        }
    }

    @Test func sigmoidCrossEntropyCheckValues() {
        let (st, loss, g) = sigce([100, -100, 0, 3], [0, 1, 0.5, 1])
        #expect(st == ok)
        let d = maxDiff(loss, [100, 100, 0.6931472, 0.0485874])
        #expect(d.abs < 1e-6, "loss \(loss)")
        let dg = maxDiff(g, [1, -1, 0, -0.0474259])
        #expect(dg.abs < 1e-6, "gradient \(g)")
        // Against the textbook form on moderate logits, and a scaled gradient vs finite differences.
        var rng = TestRNG(seed: 4)
        let x = rng.array(500, -8, 8), z = (0..<500).map { _ in rng.uniform() }
        let (_, l2, g2) = sigce(x, z, scale: 0.25)
        let ref = zip(x, z).map { xv, zv -> Float in
            let s = 1 / (1 + exp(-Double(xv)))
            return Float(-Double(zv) * log(s) - (1 - Double(zv)) * log(1 - s))
        }
        #expect(maxDiff(l2, ref).abs < 1e-5, "textbook form diff \(maxDiff(l2, ref).abs)")
        let num = numericGradient(x, h: 1e-2) { 0.25 * sum(sigce($0, z).1) }
        #expect(maxDiff(g2, num).abs < 1e-3, "gradient vs finite differences \(maxDiff(g2, num).abs)")
    }

    @Test func softmaxCrossEntropyCheckValues() {
        let (s1, l1, _) = sce(1, 3, [100, -100, 0], [0, 1, 0])
        #expect(s1 == ok && l1 == [200], "one-hot loss \(l1)")
        let (s2, l2, g2) = sce(1, 3, [1000, 0, -1000], [0.2, 0.3, 0.5])
        #expect(s2 == ok && abs(l2[0] - 1300) < 1e-6 * 1300, "loss \(l2)")
        #expect(maxDiff(g2, [0.8, -0.3, -0.5]).abs < 1e-6, "gradient \(g2)")
        let (s3, l3, _) = sparse(1, 3, [100, -100, 0], [1])
        #expect(s3 == ok && l3 == [200])
    }

    @Test func softmaxCrossEntropyVsNaiveAndGradients() {
        var rng = TestRNG(seed: 5)
        for (rows, k) in [(4, 10), (3, 1), (4000, 10)] {
            let x = rng.array(rows * k, -10, 10)
            var z = (0..<(rows * k)).map { _ in rng.uniform() }  // soft labels, not normalised
            let (st, loss, g) = sce(rows, k, x, z, scale: 0.5)
            #expect(st == ok)
            let ref = naiveSCE(rows, k, x, z).map(Float.init)
            #expect(maxDiff(loss, ref).rel < 1e-5, "\(rows)x\(k) loss rel diff \(maxDiff(loss, ref).rel)")
            // Gradient: scale·(softmax·Σz − z), row by row.
            let p = naiveSoftmax(rows, k, x)
            var gref = [Float](repeating: 0, count: x.count)
            for r in 0..<rows {
                let zs = (0..<k).reduce(0.0) { $0 + Double(z[r * k + $1]) }
                for j in 0..<k { gref[r * k + j] = Float(0.5 * (Double(p[r * k + j]) * zs - Double(z[r * k + j]))) }
            }
            #expect(maxDiff(g, gref).rel < 2e-6, "gradient rel diff \(maxDiff(g, gref).rel)")
            // Sparse = one-hot dense.
            let t = (0..<rows).map { _ in Int32(rng.int(0...(k - 1))) }
            z = [Float](repeating: 0, count: rows * k)
            for r in 0..<rows { z[r * k + Int(t[r])] = 1 }
            let (s2, ls, gs) = sparse(rows, k, x, t, scale: 0.5)
            let (_, ld, gd) = sce(rows, k, x, z, scale: 0.5)
            #expect(s2 == ok)
            #expect(maxDiff(ls, ld).rel < 1e-5 && maxDiff(gs, gd).abs < 1e-6,
                    "sparse vs dense: loss \(maxDiff(ls, ld).rel), grad \(maxDiff(gs, gd).abs)")
        }
        // Finite differences of Σ loss.
        let x = rng.array(3 * 5, -3, 3), z = (0..<15).map { _ in rng.uniform() }
        let (_, _, g) = sce(3, 5, x, z)
        let num = numericGradient(x, h: 1e-2) { sum(sce(3, 5, $0, z).1) }
        #expect(maxDiff(g, num).abs < 2e-3, "dense gradient vs finite differences \(maxDiff(g, num).abs)")
        let t: [Int32] = [4, 0, 2]
        let (_, _, gs) = sparse(3, 5, x, t)
        let nums = numericGradient(x, h: 1e-2) { sum(sparse(3, 5, $0, t).1) }
        #expect(maxDiff(gs, nums).abs < 2e-3, "sparse gradient vs finite differences \(maxDiff(gs, nums).abs)")
    }

    @Test func sparseLabelsOutOfRangeAreRejected() {
        var loss: [Float] = [7, 7], g = [Float](repeating: 7, count: 6)
        for bad in [[0, 3], [-1, 0]] as [[Int32]] {
            #expect(ck_sparse_softmax_cross_entropy(2, 3, [1, 2, 3, 4, 5, 6], bad, &loss, 1, &g) == einval)
        }
        #expect(loss == [7, 7] && g.allSatisfy { $0 == 7 }, "outputs touched on error")
    }

    @Test func quadraticCost() {
        var rng = TestRNG(seed: 6)
        let (rows, k) = (6, 4)
        let y = rng.array(rows * k), t = rng.array(rows * k)
        let (st, loss, g) = quad(rows, k, y, t, scale: 1 / Float(rows))
        #expect(st == ok)
        let ref = (0..<rows).map { r in
            Float((0..<k).reduce(0.0) { $0 + 0.5 * pow(Double(t[r * k + $1]) - Double(y[r * k + $1]), 2) })
        }
        #expect(maxDiff(loss, ref).abs < 1e-6, "loss diff \(maxDiff(loss, ref).abs)")
        // C = (1/N) Σ E_n, ∂C/∂y = (y − t)/N.
        let num = numericGradient(y, h: 1e-2) { sum(quad(rows, k, $0, t).1) / Double(rows) }
        #expect(maxDiff(g, num).abs < 1e-4, "gradient vs finite differences \(maxDiff(g, num).abs)")
    }

    @Test func oneAndTwoThreadsAgree() {
        var rng = TestRNG(seed: 7)
        let n = 300_000, rows = 30_000, k = 10
        let x = rng.array(n, -6, 6), z = (0..<n).map { _ in rng.uniform() }, dy = rng.array(n)
        let t = (0..<rows).map { _ in Int32(rng.int(0...(k - 1))) }
        let saved = ck_get_num_threads()
        defer { ck_set_num_threads(saved) }
        var runs: [[[Float]]] = []
        for threads in [Int32(1), 2] {
            ck_set_num_threads(threads)
            var out: [[Float]] = []
            for a in acts {
                let y = forward(a.id, x)
                var dx = [Float](repeating: 0, count: n)
                _ = ck_activation_backward(a.id, y, dy, &dx, n)
                out += [y, dx]
            }
            let sm = softmax(rows, k, x)
            var dsm = [Float](repeating: 0, count: n)
            _ = ck_softmax_backward(Int32(rows), Int32(k), sm, dy, &dsm)
            out += [sm, dsm]
            let a = sce(rows, k, x, z), b = sparse(rows, k, x, t), c = sigce(x, z), d = quad(rows, k, x, z)
            out += [a.1, a.2, b.1, b.2, c.1, c.2, d.1, d.2]
            runs.append(out)
        }
        #expect(runs[0] == runs[1], "1 and 2 threads differ")
    }

    @Test func badArgumentsAreRejected() {
        var y = [Float](repeating: 0, count: 4)
        let x: [Float] = [1, 2, 3, 4]
        #expect(ck_activation_forward(5, x, &y, 4) == einval)  // 4 is CK_ACT_RELU6
        #expect(ck_activation_forward(-1, x, &y, 4) == einval)
        #expect(ck_activation_forward(1, nil, &y, 4) == einval)
        #expect(ck_activation_backward(9, x, x, &y, 4) == einval)
        #expect(ck_activation_backward(1, x, nil, &y, 4) == einval)
        #expect(ck_softmax_forward(2, 0, x, &y) == einval)
        #expect(ck_softmax_forward(-1, 2, x, &y) == einval)
        #expect(ck_softmax_backward(2, 2, x, nil, &y) == einval)
        var l: [Float] = [0, 0]
        #expect(ck_softmax_cross_entropy(2, 0, x, x, &l, 1, &y) == einval)
        #expect(ck_softmax_cross_entropy(2, 2, x, nil, &l, 1, &y) == einval)
        #expect(ck_sparse_softmax_cross_entropy(2, 2, nil, [0, 1], &l, 1, &y) == einval)
        #expect(ck_sigmoid_cross_entropy(4, x, nil, &y, 1, nil) == einval)
        #expect(ck_quadratic_cost(-2, 2, x, x, &l, 1, &y) == einval)
        #expect(ck_quadratic_cost(2, 2, x, nil, &l, 1, &y) == einval)
    }
}

@Suite struct PenaltyTests {
    @Test func penaltiesMatchNaiveAndFiniteDifferences() {
        var rng = TestRNG(seed: 8)
        for n in [1, 7, 1000, 200_003] {
            var w = rng.array(n, -2, 2)
            w[0] = 0  // sign(0) = 0
            let coef: Float = 0.3
            let g0 = rng.array(n)
            var p2: Float = .nan, g2 = g0
            #expect(ck_l2_penalty(n, w, coef, &p2, &g2) == ok)
            let ref2 = 0.5 * Double(coef) * w.reduce(0.0) { $0 + Double($1) * Double($1) }
            #expect(abs(Double(p2) - ref2) <= 1e-6 * max(1, ref2), "L2 \(p2) vs \(ref2)")
            #expect(maxDiff(g2, zip(g0, w).map { $0 + coef * $1 }).abs < 1e-6, "L2 grad accumulates coef·w")

            var p1: Float = .nan, g1 = g0
            #expect(ck_l1_penalty(n, w, coef, &p1, &g1) == ok)
            let ref1 = Double(coef) * w.reduce(0.0) { $0 + abs(Double($1)) }
            #expect(abs(Double(p1) - ref1) <= 1e-6 * max(1, ref1), "L1 \(p1) vs \(ref1)")
            let sgn = w.map { $0 > 0 ? Float(1) : ($0 < 0 ? -1 : 0) }
            #expect(maxDiff(g1, zip(g0, sgn).map { $0 + coef * $1 }).abs < 1e-6)
            #expect(g1[0] == g0[0], "sign(0) = 0 adds nothing")
        }
        // Finite differences of the penalty itself (away from 0 for L1).
        let w = rng.array(40, -2, 2).map { abs($0) < 0.05 ? $0 + 0.2 : $0 }
        for (name, fn) in [("L2", ck_l2_penalty), ("L1", ck_l1_penalty)] {
            var g = [Float](repeating: 0, count: w.count), pen: Float = 0
            #expect(fn(w.count, w, 0.7, &pen, &g) == ok)
            let num = numericGradient(w, h: 1e-2) { v in
                var p: Float = 0
                _ = fn(v.count, v, 0.7, &p, nil)
                return Double(p)
            }
            #expect(maxDiff(g, num).abs < 1e-3, "\(name) gradient vs finite differences \(maxDiff(g, num).abs)")
        }
    }

    @Test func penaltyThreadCountAndArguments() {
        var rng = TestRNG(seed: 9)
        let w = rng.array(500_000)
        let saved = ck_get_num_threads()
        defer { ck_set_num_threads(saved) }
        var values: [[Float]] = []
        for threads in [Int32(1), 2] {
            ck_set_num_threads(threads)
            var p1: Float = 0, p2: Float = 0
            var g = [Float](repeating: 0, count: w.count)
            _ = ck_l1_penalty(w.count, w, 0.1, &p1, &g)
            _ = ck_l2_penalty(w.count, w, 0.1, &p2, &g)
            values.append([p1, p2] + g)
        }
        #expect(values[0] == values[1], "1 and 2 threads differ")
        var p: Float = 0
        #expect(ck_l2_penalty(3, nil, 1, &p, nil) == einval)
        #expect(ck_l1_penalty(3, [1, 2, 3], 1, nil, nil) == einval)
    }
}
