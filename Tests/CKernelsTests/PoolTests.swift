// Pooling kernels (spec §2, §3) against naive references written here, the
// spec's worked examples, and finite differences.
import CKernels
import Testing


private let same = Int32(CK_PAD_SAME.rawValue)
private let valid = Int32(CK_PAD_VALID.rawValue)

private func params(_ n: Int, _ h: Int, _ w: Int, _ c: Int, k: (Int, Int), s: (Int, Int), _ pad: Int32)
    -> ck_pool2d_params
{
    ck_pool2d_params(n: Int32(n), h: Int32(h), w: Int32(w), c: Int32(c), kh: Int32(k.0), kw: Int32(k.1),
                     sh: Int32(s.0), sw: Int32(s.1), padding: pad)
}

/// Spec §1.2, written independently of the C code.
private func axis(_ input: Int, _ k: Int, _ s: Int, _ pad: Int32) -> (out: Int, before: Int) {
    if pad == valid { return (k > input ? 0 : (input - k) / s + 1, 0) }
    let out = Int((Double(input) / Double(s)).rounded(.up))
    let total = max((out - 1) * s + k - input, 0)
    return (out, total / 2)
}

/// The in-bounds cells of every window, row-major, as flat spatial positions r*W+t.
private struct NaivePool {
    let p: ck_pool2d_params
    let n, h, w, c, oh, ow: Int
    let windows: [[Int]]  // per (i, j): in-bounds r*w+t, scan order
    init(_ p: ck_pool2d_params) {
        self.p = p
        n = Int(p.n); h = Int(p.h); w = Int(p.w); c = Int(p.c)
        let (oh, pt) = axis(h, Int(p.kh), Int(p.sh), p.padding)
        let (ow, pl) = axis(w, Int(p.kw), Int(p.sw), p.padding)
        self.oh = oh; self.ow = ow
        var ws: [[Int]] = []
        for i in 0..<oh {
            for j in 0..<ow {
                var cells: [Int] = []
                for r in (i * Int(p.sh) - pt)..<(i * Int(p.sh) - pt + Int(p.kh)) where r >= 0 && r < h {
                    for t in (j * Int(p.sw) - pl)..<(j * Int(p.sw) - pl + Int(p.kw)) where t >= 0 && t < w {
                        cells.append(r * w + t)
                    }
                }
                ws.append(cells)
            }
        }
        windows = ws
    }
    var inCount: Int { n * h * w * c }
    var outCount: Int { n * oh * ow * c }
    func xi(_ b: Int, _ cell: Int, _ ch: Int) -> Int { (b * h * w + cell) * c + ch }
    func yi(_ b: Int, _ win: Int, _ ch: Int) -> Int { (b * oh * ow + win) * c + ch }

    func max(_ x: [Float]) -> ([Float], [Int32]) {
        var y = [Float](repeating: 0, count: outCount), a = [Int32](repeating: 0, count: outCount)
        for b in 0..<n { for (wi, cells) in windows.enumerated() { for ch in 0..<c {
            var best = x[xi(b, cells[0], ch)], arg = xi(b, cells[0], ch)
            for cell in cells.dropFirst() where x[xi(b, cell, ch)] > best { best = x[xi(b, cell, ch)]; arg = xi(b, cell, ch) }
            y[yi(b, wi, ch)] = best; a[yi(b, wi, ch)] = Int32(arg)
        } } }
        return (y, a)
    }
    func avg(_ x: [Float]) -> [Float] {
        var y = [Float](repeating: 0, count: outCount)
        for b in 0..<n { for (wi, cells) in windows.enumerated() { for ch in 0..<c {
            var s: Double = 0
            for cell in cells { s += Double(x[xi(b, cell, ch)]) }
            y[yi(b, wi, ch)] = Float(s / Double(cells.count))
        } } }
        return y
    }
    /// Spec §3.1's sampling procedure, literally.
    func stochTrain(_ x: [Float], _ u: [Float]) -> ([Float], [Int32]) {
        var y = [Float](repeating: 0, count: outCount), sw = [Int32](repeating: -1, count: outCount)
        for b in 0..<n { for (wi, cells) in windows.enumerated() { for ch in 0..<c {
            let o = yi(b, wi, ch)
            let a = cells.map { Swift.max(x[xi(b, $0, ch)], 0) }
            var s: Float = 0
            for v in a { s += v }
            guard s > 0 else { y[o] = 0; sw[o] = -1; continue }
            var cum: Float = 0
            var pick = -1
            for (k, v) in a.enumerated() {
                cum += v / s
                if v > 0 && cum > u[o] { pick = k; break }
            }
            if pick < 0 { pick = a.lastIndex { $0 > 0 }! }
            y[o] = x[xi(b, cells[pick], ch)]; sw[o] = Int32(xi(b, cells[pick], ch))
        } } }
        return (y, sw)
    }
    func stochInfer(_ x: [Float]) -> [Float] {
        var y = [Float](repeating: 0, count: outCount)
        for b in 0..<n { for (wi, cells) in windows.enumerated() { for ch in 0..<c {
            let a = cells.map { Double(Swift.max(x[xi(b, $0, ch)], 0)) }
            let s = a.reduce(0, +)
            y[yi(b, wi, ch)] = s > 0 ? Float(a.map { ($0 / s) * $0 }.reduce(0, +)) : 0
        } } }
        return y
    }
    /// dx[idx] += dy for every routed output.
    func route(_ dy: [Float], _ idx: [Int32]) -> [Float] {
        var dx = [Float](repeating: 0, count: inCount)
        for k in idx.indices where idx[k] >= 0 { dx[Int(idx[k])] += dy[k] }
        return dx
    }
}

// C wrappers returning (status, outputs).
private func cMax(_ p: ck_pool2d_params, _ x: [Float]) -> (Int32, [Float], [Int32]) {
    var p = p; let q = NaivePool(p)
    var y = [Float](repeating: .nan, count: q.outCount), a = [Int32](repeating: -7, count: q.outCount)
    let st = ck_maxpool2d_forward(&p, x, &y, &a)
    return (st, y, a)
}
/// Without argmax (inference), which takes other paths for some shapes.
private func cMaxValues(_ p: ck_pool2d_params, _ x: [Float]) -> (Int32, [Float]) {
    var p = p
    var y = [Float](repeating: -7, count: NaivePool(p).outCount)
    let st = ck_maxpool2d_forward(&p, x, &y, nil)
    return (st, y)
}
private func cAvg(_ p: ck_pool2d_params, _ x: [Float]) -> (Int32, [Float]) {
    var p = p; var y = [Float](repeating: .nan, count: NaivePool(p).outCount)
    let st = ck_avgpool2d_forward(&p, x, &y)
    return (st, y)
}
private func cAvgBack(_ p: ck_pool2d_params, _ dy: [Float]) -> (Int32, [Float]) {
    var p = p; var dx = [Float](repeating: .nan, count: NaivePool(p).inCount)
    let st = ck_avgpool2d_backward(&p, dy, &dx)
    return (st, dx)
}
private func cRoute(_ p: ck_pool2d_params, _ dy: [Float], _ idx: [Int32]) -> (Int32, [Float]) {
    var p = p; var dx = [Float](repeating: .nan, count: NaivePool(p).inCount)
    let st = ck_pool2d_route_backward(&p, dy, idx, &dx)
    return (st, dx)
}
private func cStochTrain(_ p: ck_pool2d_params, _ x: [Float], _ u: [Float]) -> (Int32, [Float], [Int32]) {
    var p = p; let q = NaivePool(p)
    var y = [Float](repeating: .nan, count: q.outCount), s = [Int32](repeating: -7, count: q.outCount)
    let st = ck_stochpool2d_forward_train(&p, x, u, &y, &s)
    return (st, y, s)
}
private func cStochInfer(_ p: ck_pool2d_params, _ x: [Float]) -> (Int32, [Float]) {
    var p = p; var y = [Float](repeating: .nan, count: NaivePool(p).outCount)
    let st = ck_stochpool2d_forward_infer(&p, x, &y)
    return (st, y)
}

/// Random shapes: the common windows and fully independent ones, odd sizes, both paddings.
private func randomShapes(_ count: Int, seed: UInt64) -> [ck_pool2d_params] {
    var rng = TestRNG(seed: seed)
    let fixed: [((Int, Int), (Int, Int))] = [((2, 2), (2, 2)), ((3, 3), (2, 2)), ((3, 3), (1, 1))]
    return (0..<count).map { i in
        let (k, s) = i % 4 < 3 ? fixed[i % 4]
            : ((rng.int(1...5), rng.int(1...5)), (rng.int(1...3), rng.int(1...3)))
        return params(rng.int(1...4), rng.int(1...13), rng.int(1...13), rng.int(1...8), k: k, s: s,
                      i % 2 == 0 ? same : valid)
    }
}

/// Distinct values at least 0.05 apart, so a finite-difference step of 0.01 never changes an argmax.
private func distinct(_ count: Int, rng: inout TestRNG) -> [Float] {
    var v = (0..<count).map { Float($0) * 0.05 - Float(count) * 0.025 }
    for i in stride(from: count - 1, to: 0, by: -1) { v.swapAt(i, rng.int(0...i)) }
    return v
}

@Suite struct PoolTests {
    @Test func outputSizesFromSpec() {
        for (h, w, pad, eh, ew) in [(28, 28, same, 14, 14), (28, 28, valid, 14, 14), (2, 3, same, 1, 2), (2, 3, valid, 1, 1)] {
            var p = params(1, h, w, 1, k: (2, 2), s: (2, 2), pad)
            var oh: Int32 = -1, ow: Int32 = -1
            #expect(ck_pool2d_output_shape(&p, &oh, &ow) == ok)
            #expect((oh, ow) == (Int32(eh), Int32(ew)), "\(h)x\(w) pad \(pad): got \(oh)x\(ow)")
        }
        // VALID window larger than the input: an empty output, not an error and not zeros.
        var p = params(1, 2, 2, 1, k: (3, 3), s: (1, 1), valid)
        var oh: Int32 = -1, ow: Int32 = -1
        #expect(ck_pool2d_output_shape(&p, &oh, &ow) == ok)
        #expect(oh == 0 && ow == 0)
        var y: [Float] = []
        #expect(ck_maxpool2d_forward(&p, [1, 2, 3, 4], &y, nil) == ok)
        let (st, dx) = cRoute(p, [], [])
        #expect(st == ok && dx == [0, 0, 0, 0], "no window reads the input, so dx is zero")
    }

    @Test func averageExampleFromSpec() {
        let p = params(1, 2, 3, 1, k: (2, 2), s: (2, 2), same)
        let (st, y) = cAvg(p, [1, 2, 3, 4, 5, 6])
        #expect(st == ok && y == [3, 4.5], "got \(y)")
        let (st2, dx) = cAvgBack(p, [1, 1])
        #expect(st2 == ok && dx == [0.25, 0.25, 0.5, 0.25, 0.25, 0.5], "got \(dx)")
    }

    @Test func allNegativeMaxIsNegative() {
        // SAME 2x2/2 on 3x3 pads the last row and column; padding must never win.
        let p = params(1, 3, 3, 1, k: (2, 2), s: (2, 2), same)
        let x: [Float] = [-9, -8, -7, -6, -5, -4, -3, -2, -1]
        let (st, y, a) = cMax(p, x)
        #expect(st == ok && y == [-5, -4, -2, -1], "got \(y)")
        #expect(a == [4, 5, 7, 8])
    }

    @Test func tiesGoToTopLeftInBoundsCell() {
        // 5x5 with 3x3/2 SAME pads 1/1: the first window's top-left in-bounds cell is (0,0).
        let p = params(1, 5, 5, 2, k: (3, 3), s: (2, 2), same)
        let q = NaivePool(p)
        let (st, y, a) = cMax(p, [Float](repeating: 7, count: q.inCount))
        #expect(st == ok && y.allSatisfy { $0 == 7 })
        let expected = q.windows.flatMap { cells in (0..<2).map { Int32(cells[0] * 2 + $0) } }
        #expect(a == expected, "argmax \(a) vs first cells \(expected)")
        // A later equal value does not replace an earlier maximum.
        let (_, _, a2) = cMax(params(1, 2, 2, 1, k: (2, 2), s: (2, 2), valid), [1, 3, 3, 2])
        #expect(a2 == [1])
    }

    // Values from {0, 1, 2}: most windows hold tied maxima, in every position.
    // Covers the 2x2 tournament (few channels), the lane-wise path (8+ channels)
    // and SAME edge windows, each against the naive first-maximal-cell rule.
    // Every 2x2 form (whole rows under 8 channels; whole windows across channel lanes from 8,
    // with the edge windows of odd sizes cell by cell) on every ISA the machine has.
    @Test func tiedMaximaMatchNaiveOnEveryPath() {
        var rng = TestRNG(seed: 21)
        var mismatches: [String] = []
        let before = ck_isa_get()
        defer { _ = ck_isa_set(before) }
        for c in [1, 3, 6, 8, 9, 16, 32, 37] {
            for (h, pad) in [(8, valid), (7, same), (6, same), (7, valid)] {
                let p = params(3, h, h + 1, c, k: (2, 2), s: (2, 2), pad)
                let q = NaivePool(p)
                let x = (0..<q.inCount).map { _ in Float(rng.int(0...2)) }
                let (ry, ra) = q.max(x)
                for isa in [CK_ISA_AVX2, CK_ISA_AVX512].map(\.rawValue) where ck_isa_supported(isa) != 0 {
                    #expect(ck_isa_set(isa) == ok)
                    let (st, y, a) = cMax(p, x)
                    if st != ok || y != ry || a != ra { mismatches.append("c \(c) h \(h) pad \(pad) ISA \(isa)") }
                    let (st2, y2) = cMaxValues(p, x)
                    if st2 != ok || y2 != ry { mismatches.append("no argmax: c \(c) h \(h) pad \(pad) ISA \(isa)") }
                }
            }
        }
        #expect(mismatches.isEmpty, "max pool with ties differs from naive for \(mismatches)")
    }

    // NaN cells: with and without argmax the same bits (a NaN that a window's tournament
    // keeps stays NaN), on the whole-row 2x2 form (fewer than 8 channels) and the others.
    @Test func maxWithoutArgmaxMatchesWithArgmaxIncludingNaN() {
        var rng = TestRNG(seed: 31)
        for c in [1, 5, 6, 7, 8, 12, 32] {
            for (h, w, pad) in [(28, 28, valid), (9, 12, same), (6, 7, same), (4, 8, valid)] {
                let p = params(2, h, w, c, k: (2, 2), s: (2, 2), pad)
                var x = rng.array(NaivePool(p).inCount, -1, 1)
                for k in stride(from: 3, to: x.count, by: 13) { x[k] = .nan }
                let (_, y, _) = cMax(p, x)
                let (st, y2) = cMaxValues(p, x)
                #expect(st == ok)
                #expect(y.map(\.bitPattern) == y2.map(\.bitPattern), "c \(c) \(h)x\(w) \(pad)")
            }
        }
    }

    @Test func forwardKernelsMatchNaiveOnRandomShapes() {
        var rng = TestRNG(seed: 11)
        var worst: (max: Float, avg: Float, infer: Float) = (0, 0, 0)
        var mismatches = 0
        for p in randomShapes(64, seed: 1) {
            let q = NaivePool(p)
            let x = rng.array(q.inCount, -1, 2)
            let (s1, y, a) = cMax(p, x)
            let (ry, ra) = q.max(x)
            #expect(s1 == ok)
            if y != ry || a != ra { mismatches += 1 }
            if q.outCount > 0 { worst.max = Swift.max(worst.max, maxDiff(y, ry).abs) }

            let (s2, ya) = cAvg(p, x)
            #expect(s2 == ok)
            if q.outCount > 0 { worst.avg = Swift.max(worst.avg, maxDiff(ya, q.avg(x)).rel) }

            let u = (0..<q.outCount).map { _ in rng.uniform() }
            let (s3, ys, sw) = cStochTrain(p, x, u)
            let (rys, rsw) = q.stochTrain(x, u)
            #expect(s3 == ok)
            #expect(ys == rys && sw == rsw, "stochastic train differs for \(p)")

            let (s4, yi) = cStochInfer(p, x)
            #expect(s4 == ok)
            if q.outCount > 0 { worst.infer = Swift.max(worst.infer, maxDiff(yi, q.stochInfer(x)).rel) }
        }
        #expect(mismatches == 0, "max pooling differs from naive on \(mismatches) shapes (max |dy| \(worst.max))")
        #expect(worst.avg < 1e-6, "avg pooling max rel diff \(worst.avg)")
        #expect(worst.infer < 1e-5, "stochastic inference max rel diff \(worst.infer)")
    }

    @Test func largeInputsUseThreadsAndAgree() {
        // 4x28x28x32 = 100352 inputs: above the parallel threshold.
        var rng = TestRNG(seed: 5)
        for p in [params(4, 28, 28, 32, k: (2, 2), s: (2, 2), same), params(3, 27, 25, 16, k: (3, 3), s: (2, 1), valid)] {
            let q = NaivePool(p)
            let x = rng.array(q.inCount, -1, 1)
            let u = (0..<q.outCount).map { _ in rng.uniform() }
            let dy = rng.array(q.outCount)
            var runs: [[[Float]]] = []
            let saved = ck_get_num_threads()
            defer { ck_set_num_threads(saved) }
            for threads in [Int32(1), 2] {
                ck_set_num_threads(threads)
                let (_, y, a) = cMax(p, x)
                let (_, ya) = cAvg(p, x)
                let (_, ys, sw) = cStochTrain(p, x, u)
                let (_, yi) = cStochInfer(p, x)
                let (_, dxm) = cRoute(p, dy, a)
                let (_, dxs) = cRoute(p, dy, sw)
                let (_, dxa) = cAvgBack(p, dy)
                runs.append([y, a.map(Float.init), ya, ys, sw.map(Float.init), yi, dxm, dxs, dxa])
            }
            #expect(runs[0] == runs[1], "1 and 2 threads differ for \(p)")
            let (ry, ra) = q.max(x)
            #expect(runs[1][0] == ry && runs[1][1] == ra.map(Float.init))
            #expect(maxDiff(runs[1][2], q.avg(x)).rel < 1e-6)
            #expect(maxDiff(runs[1][6], q.route(dy, ra)).abs < 1e-6)
        }
    }

    @Test func backwardMatchesFiniteDifferences() {
        var rng = TestRNG(seed: 21)
        var worstMax: Float = 0, worstAvg: Float = 0
        for p in randomShapes(24, seed: 2) {
            var p = p; p.n = min(p.n, 2); p.c = min(p.c, 3)
            let q = NaivePool(p)
            if q.outCount == 0 { continue }
            let x = distinct(q.inCount, rng: &rng)
            let dy = rng.array(q.outCount)
            let (_, _, a) = cMax(p, x)
            let (s1, dx) = cRoute(p, dy, a)
            #expect(s1 == ok)
            let num = numericGradient(x) { dot(cMax(p, $0).1, dy) }
            worstMax = max(worstMax, maxDiff(dx, num).abs)

            let (s2, dxa) = cAvgBack(p, dy)
            #expect(s2 == ok)
            let numa = numericGradient(x) { dot(cAvg(p, $0).1, dy) }
            worstAvg = max(worstAvg, maxDiff(dxa, numa).abs)
        }
        #expect(worstMax < 1e-3, "max pool dx vs finite differences: \(worstMax)")
        #expect(worstAvg < 1e-3, "avg pool dx vs finite differences: \(worstAvg)")
    }

    @Test func stochasticBackwardRoutesThroughSwitches() {
        var rng = TestRNG(seed: 31)
        var worst: Float = 0
        for p in randomShapes(30, seed: 3) {
            let q = NaivePool(p)
            // ReLU-like input: many exact zeros, so some windows are all-zero.
            let x = (0..<q.inCount).map { _ in Swift.max(rng.uniform(-1, 1), 0) }
            let u = (0..<q.outCount).map { _ in rng.uniform() }
            let dy = rng.array(q.outCount)
            let (_, _, sw) = cStochTrain(p, x, u)
            let (st, dx) = cRoute(p, dy, sw)
            #expect(st == ok)
            worst = max(worst, q.inCount > 0 ? maxDiff(dx, q.route(dy, sw)).abs : 0)
            // Every switch points at a positive input of its own window.
            for k in sw.indices where sw[k] >= 0 { #expect(x[Int(sw[k])] > 0) }
        }
        #expect(worst < 1e-6, "route backward vs naive scatter: \(worst)")
    }

    @Test func stochasticSamplingFrequencies() {
        // One 2x2 window a = [1, 2, 0, 3] repeated over N images: p = [1/6, 2/6, 0, 3/6].
        let n = 20000
        let p = params(n, 2, 2, 1, k: (2, 2), s: (2, 2), valid)
        let x = Array([[Float]](repeating: [1, 2, 0, 3], count: n).joined())
        var rng = TestRNG(seed: 99)
        let u = (0..<n).map { _ in rng.uniform() }
        let (st, y, sw) = cStochTrain(p, x, u)
        #expect(st == ok)
        var counts = [0, 0, 0, 0]
        for b in 0..<n { counts[Int(sw[b]) - 4 * b] += 1 }
        let probs: [Double] = [1.0 / 6, 2.0 / 6, 0, 3.0 / 6]
        for k in 0..<4 {
            let f = Double(counts[k]) / Double(n)
            let se = (probs[k] * (1 - probs[k]) / Double(n)).squareRoot()
            #expect(abs(f - probs[k]) <= 4 * se, "cell \(k): frequency \(f) vs p \(probs[k]) (4 SE = \(4 * se))")
        }
        #expect(counts[2] == 0, "a zero cell was sampled \(counts[2]) times")
        for b in 0..<n { #expect(y[b] == x[Int(sw[b])]) }

        let (st2, yi) = cStochInfer(params(1, 2, 2, 1, k: (2, 2), s: (2, 2), valid), [1, 2, 0, 3])
        #expect(st2 == ok && abs(yi[0] - Float(14.0 / 6.0)) < 1e-6, "Σ p_i a_i = 14/6, got \(yi[0])")
    }

    @Test func sampledCellIsFirstWhoseCumulativeProbabilityExceedsU() {
        // a = [1, 0, 3]: cumulative p = [0.25, 0.25, 1] (exact in float). u = 0.25 is not
        // exceeded by cell 0 (strictly greater is required) and the zero cell is skipped.
        let p = params(1, 1, 3, 1, k: (1, 3), s: (1, 1), valid)
        for (u, expected) in [(Float(0), Int32(0)), (0.2499, 0), (0.25, 2), (0.9999, 2)] {
            let (st, y, sw) = cStochTrain(p, [1, 0, 3], [u])
            #expect(st == ok && sw == [expected] && y == [expected == 0 ? 1 : 3], "u \(u): switch \(sw)")
        }
    }

    @Test func allZeroWindowHasNoSwitchAndNoGradient() {
        let p = params(1, 2, 4, 1, k: (2, 2), s: (2, 2), valid)
        let x: [Float] = [0, 0, 0, 5, 0, 0, 0, 0]  // window 0 all zero, window 1 has one positive cell
        let (st, y, sw) = cStochTrain(p, x, [0.999, 0.999])
        #expect(st == ok && y == [0, 5] && sw == [-1, 3], "y \(y) switches \(sw)")
        let (_, yi) = cStochInfer(p, x)
        #expect(yi == [0, 5])
        let (st2, dx) = cRoute(p, [10, 20], sw)
        #expect(st2 == ok && dx == [0, 0, 0, 20, 0, 0, 0, 0], "dx \(dx)")
        // u just below 1 with rounding in the cumulative sum: still a positive cell.
        let (_, y3, sw3) = cStochTrain(params(1, 1, 3, 1, k: (1, 3), s: (1, 1), valid), [0.1, 0.7, 0], [Float(1).nextDown])
        #expect(sw3 == [1] && y3 == [0.7], "switch \(sw3)")
    }

    @Test func badArgumentsAreRejected() {
        var x = [Float](repeating: 1, count: 16), y = [Float](repeating: 0, count: 16)
        var idx = [Int32](repeating: 0, count: 16)
        let u = [Float](repeating: 0.5, count: 16)
        var oh: Int32 = 0, ow: Int32 = 0
        let bad = [params(0, 4, 4, 1, k: (2, 2), s: (2, 2), same), params(1, 4, 4, 1, k: (0, 2), s: (2, 2), same),
                   params(1, 4, 4, 1, k: (2, 2), s: (2, 0), same), params(1, 4, -4, 1, k: (2, 2), s: (2, 2), same),
                   params(1, 4, 4, 1, k: (2, 2), s: (2, 2), 7), params(70000, 200, 200, 1, k: (2, 2), s: (2, 2), same),
                   params(70000, 70000, 70000, 70000, k: (2, 2), s: (2, 2), same)]
        for var p in bad {
            #expect(ck_pool2d_output_shape(&p, &oh, &ow) == einval)
            #expect(ck_maxpool2d_forward(&p, x, &y, &idx) == einval)
            #expect(ck_avgpool2d_forward(&p, x, &y) == einval)
            #expect(ck_avgpool2d_backward(&p, y, &x) == einval)
            #expect(ck_stochpool2d_forward_infer(&p, x, &y) == einval)
            #expect(ck_stochpool2d_forward_train(&p, x, u, &y, &idx) == einval)
            #expect(ck_pool2d_route_backward(&p, y, idx, &x) == einval)
        }
        var p = params(2, 2, 2, 1, k: (2, 2), s: (2, 2), valid)
        #expect(ck_pool2d_output_shape(nil, &oh, &ow) == einval)
        #expect(ck_maxpool2d_forward(&p, nil, &y, nil) == einval)
        #expect(ck_maxpool2d_forward(&p, x, nil, nil) == einval)
        #expect(ck_avgpool2d_backward(&p, nil, &x) == einval)
        #expect(ck_stochpool2d_forward_train(&p, x, nil, &y, &idx) == einval)
        // Indices outside their own image are refused, and dx is left untouched.
        var dx: [Float] = [9, 9, 9, 9, 9, 9, 9, 9]
        #expect(ck_pool2d_route_backward(&p, [1, 1], [4, 0], &dx) == einval)
        #expect(ck_pool2d_route_backward(&p, [1, 1], [0, 8], &dx) == einval)
        #expect(dx == [9, 9, 9, 9, 9, 9, 9, 9])
        #expect(ck_pool2d_route_backward(&p, [1, 2], [3, 4], &dx) == ok)
        #expect(dx == [0, 0, 0, 1, 2, 0, 0, 0])
    }
}
