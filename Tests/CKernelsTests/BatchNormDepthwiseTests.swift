// Batch normalization, depthwise convolution, ReLU6, global average pooling and zero
// padding kernels against their naive references, finite differences, worked examples
// small enough to check by hand, and bad arguments.
import CKernels
import CKernelsReference
import Foundation
import Testing

private let relu6 = Int32(CK_ACT_RELU6.rawValue)

private func bits(_ a: [Float]) -> [UInt32] { a.map(\.bitPattern) }

private func activate(_ act: ck_activation, _ v: [Float]) -> [Float] {
    switch act {
    case CK_ACT_RELU: return v.map { $0 > 0 ? $0 : 0 }
    case CK_ACT_SIGMOID: return v.map { Float(1 / (1 + exp(-Double($0)))) }
    case CK_ACT_TANH: return v.map { Float(tanh(Double($0))) }
    case CK_ACT_RELU6: return v.map { $0 > 0 ? min($0, 6) : 0 }
    default: return v
    }
}

private let allActs = [CK_ACT_NONE, CK_ACT_RELU, CK_ACT_SIGMOID, CK_ACT_TANH, CK_ACT_RELU6]

/// Runs body once per thread count, restoring the caller's count afterwards.
private func withThreads<T>(_ counts: [Int32], _ body: (Int32) -> T) -> [T] {
    let saved = ck_get_num_threads()
    defer { ck_set_num_threads(saved) }
    return counts.map { n in
        ck_set_num_threads(n)
        return body(n)
    }
}

// MARK: - depthwise convolution

/// One depthwise problem (ck_conv2d_params with o == c) and thin wrappers over the C calls.
private struct Depthwise: CustomStringConvertible {
    var p: ck_conv2d_params

    init(n: Int, h: Int, w: Int, c: Int, kh: Int, kw: Int, sh: Int = 1, sw: Int = 1, same: Bool) {
        p = ck_conv2d_params(
            n: Int32(n), h: Int32(h), w: Int32(w), c: Int32(c), kh: Int32(kh), kw: Int32(kw), o: Int32(c),
            sh: Int32(sh), sw: Int32(sw),
            padding: Int32(same ? CK_PAD_SAME.rawValue : CK_PAD_VALID.rawValue))
    }

    var description: String {
        "n\(p.n) \(p.h)x\(p.w)x\(p.c) k\(p.kh)x\(p.kw) s\(p.sh),\(p.sw) \(p.padding == 1 ? "SAME" : "VALID")"
    }

    var outShape: (Int, Int) {
        var p = p
        var oh: Int32 = -1, ow: Int32 = -1
        let st = ck_conv2d_output_shape(&p, &oh, &ow)
        precondition(st == ok, "bad test shape \(self)")
        return (Int(oh), Int(ow))
    }
    var xCount: Int { Int(p.n * p.h * p.w * p.c) }
    var wCount: Int { Int(p.kh * p.kw * p.c) }
    var yCount: Int { let (oh, ow) = outShape; return Int(p.n) * oh * ow * Int(p.c) }

    func forward(_ x: [Float], _ w: [Float], _ b: [Float]?, act: ck_activation = CK_ACT_NONE) -> [Float] {
        var p = p
        var y = [Float](repeating: .nan, count: yCount)
        let st = ck_depthwise_conv2d_forward(&p, x, w, b, Int32(act.rawValue), &y)
        #expect(st == ok, "forward status \(st) for \(self)")
        return y
    }
    func naive(_ x: [Float], _ w: [Float], _ b: [Float]?) -> [Float] {
        var p = p
        var y = [Float](repeating: .nan, count: yCount)
        let st = ck_depthwise_conv2d_forward_naive(&p, x, w, b, &y)
        #expect(st == ok)
        return y
    }
    func backwardData(_ dz: [Float], _ w: [Float]) -> [Float] {
        var p = p
        var dx = [Float](repeating: .nan, count: xCount)
        let st = ck_depthwise_conv2d_backward_data(&p, dz, w, &dx)
        #expect(st == ok, "backward_data status \(st) for \(self)")
        return dx
    }
    func backwardFilter(_ x: [Float], _ dz: [Float]) -> ([Float], [Float]) {
        var p = p
        var dw = [Float](repeating: .nan, count: wCount)
        var db = [Float](repeating: .nan, count: Int(p.c))
        let st = ck_depthwise_conv2d_backward_filter(&p, x, dz, &dw, &db)
        #expect(st == ok, "backward_filter status \(st) for \(self)")
        return (dw, db)
    }
    func naiveBackward(_ x: [Float], _ w: [Float], _ dz: [Float]) -> ([Float], [Float], [Float]) {
        var p = p
        var dx = [Float](repeating: .nan, count: xCount)
        var dw = [Float](repeating: .nan, count: wCount)
        var db = [Float](repeating: .nan, count: Int(p.c))
        let st = ck_depthwise_conv2d_backward_naive(&p, x, w, dz, &dx, &dw, &db)
        #expect(st == ok)
        return (dx, dw, db)
    }
}

/// Odd sizes, strides 1–3 per axis, both paddings, batch 1–3, kernels 3×3, 5×5 and
/// lopsided ones, and channel counts around the 8/16/32/64 vector blocks.
private func depthwiseShapes(count: Int, seed: UInt64) -> [Depthwise] {
    var rng = TestRNG(seed: seed)
    let kernels = [(3, 3), (5, 5), (1, 1), (1, 7), (7, 1), (2, 3), (4, 2), (3, 5)]
    let channels = [1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 40, 63, 64, 65, 72, 100]
    var shapes: [Depthwise] = [
        Depthwise(n: 2, h: 3, w: 4, c: 10, kh: 5, kw: 5, same: true),                // K > H, SAME
        Depthwise(n: 2, h: 7, w: 7, c: 5, kh: 1, kw: 1, sh: 3, sw: 3, same: false),  // s > K: unread pixels
        Depthwise(n: 2, h: 11, w: 12, c: 20, kh: 9, kw: 9, same: true),              // 81 taps: lists in chunks
        Depthwise(n: 1, h: 9, w: 9, c: 300, kh: 7, kw: 7, same: true),               // channel groups, tap chunks
    ]
    while shapes.count < count {
        let (kh, kw) = kernels[rng.int(0...kernels.count - 1)]
        let same = rng.int(0...1) == 1
        let h = rng.int(same ? 1...13 : kh...(kh + 10))
        let w = rng.int(same ? 1...13 : kw...(kw + 10))
        shapes.append(Depthwise(n: rng.int(1...3), h: h, w: w, c: channels[rng.int(0...channels.count - 1)],
                                kh: kh, kw: kw, sh: rng.int(1...3), sw: rng.int(1...3), same: same))
    }
    return shapes
}

// MARK: - batch normalization

/// Wrappers over the batch-normalization calls for x [rows, c].
private struct BatchNorm: CustomStringConvertible {
    let rows: Int, c: Int
    var eps: Float = 1e-3
    var description: String { "rows \(rows) c \(c)" }

    struct Stats { var y, mean, variance, invStd: [Float] }

    func train(_ x: [Float], _ gamma: [Float]?, _ beta: [Float]?) -> Stats {
        var s = Stats(y: [Float](repeating: .nan, count: rows * c), mean: [Float](repeating: .nan, count: c),
                      variance: [Float](repeating: .nan, count: c), invStd: [Float](repeating: .nan, count: c))
        let st = ck_batchnorm_forward_train(Int32(rows), Int32(c), x, gamma, beta, eps, &s.y, &s.mean,
                                            &s.variance, &s.invStd)
        #expect(st == ok, "train status \(st) for \(self)")
        return s
    }
    func naive(_ x: [Float], _ gamma: [Float]?, _ beta: [Float]?) -> Stats {
        var s = Stats(y: [Float](repeating: .nan, count: rows * c), mean: [Float](repeating: .nan, count: c),
                      variance: [Float](repeating: .nan, count: c), invStd: [Float](repeating: .nan, count: c))
        let st = ck_batchnorm_forward_naive(Int32(rows), Int32(c), x, gamma, beta, eps, &s.y, &s.mean,
                                            &s.variance, &s.invStd)
        #expect(st == ok)
        return s
    }
    func infer(_ x: [Float], _ gamma: [Float]?, _ beta: [Float]?, mean: [Float], variance: [Float]) -> [Float] {
        var y = [Float](repeating: .nan, count: rows * c)
        let st = ck_batchnorm_forward_infer(Int32(rows), Int32(c), x, gamma, beta, mean, variance, eps, &y)
        #expect(st == ok, "infer status \(st) for \(self)")
        return y
    }
    func backward(_ x: [Float], _ gamma: [Float]?, _ s: Stats, _ dy: [Float]) -> (dx: [Float], dg: [Float], db: [Float]) {
        var dx = [Float](repeating: .nan, count: rows * c)
        var dg = [Float](repeating: .nan, count: c), db = [Float](repeating: .nan, count: c)
        let st = ck_batchnorm_backward(Int32(rows), Int32(c), x, gamma, s.mean, s.invStd, dy, &dx, &dg, &db)
        #expect(st == ok, "backward status \(st) for \(self)")
        return (dx, dg, db)
    }
    func naiveBackward(_ x: [Float], _ gamma: [Float]?, _ s: Stats, _ dy: [Float]) -> (dx: [Float], dg: [Float], db: [Float]) {
        var dx = [Float](repeating: .nan, count: rows * c)
        var dg = [Float](repeating: .nan, count: c), db = [Float](repeating: .nan, count: c)
        let st = ck_batchnorm_backward_naive(Int32(rows), Int32(c), x, gamma, s.mean, s.invStd, dy, &dx, &dg, &db)
        #expect(st == ok)
        return (dx, dg, db)
    }
}

/// L = Σ y·r of the training forward pass, all in double (the finite-difference target).
private func batchNormLoss(rows: Int, c: Int, x: [Float], gamma: [Float], beta: [Float], eps: Double,
                           r: [Float]) -> Double {
    var loss = 0.0
    for ch in 0..<c {
        var s = 0.0
        for i in 0..<rows { s += Double(x[i * c + ch]) }
        let mu = s / Double(rows)
        var v = 0.0
        for i in 0..<rows {
            let d = Double(x[i * c + ch]) - mu
            v += d * d
        }
        let inv = 1 / (v / Double(rows) + eps).squareRoot()
        for i in 0..<rows {
            let y = Double(gamma[ch]) * (Double(x[i * c + ch]) - mu) * inv + Double(beta[ch])
            loss += y * Double(r[i * c + ch])
        }
    }
    return loss
}

/// Values on a 1/256 grid: x ± 1/1024 is exact in float, so the finite differences see
/// exactly the step they divide by.
private func gridArray(_ n: Int, _ rng: inout TestRNG, _ lo: Int, _ hi: Int) -> [Float] {
    (0..<n).map { _ in Float(rng.int(lo...hi)) / 256 }
}

@Suite struct BatchNormDepthwiseTests {
    // MARK: depthwise

    // A 3×3 image in two channels, worked by hand: channel 0 has an all-ones kernel (each
    // output is the sum of its in-bounds neighbourhood), channel 1 only the centre tap
    // (the identity), with biases 0 and 1.
    @Test func depthwiseWorkedExample() {
        let image: [Float] = [1, 2, 3, 4, 5, 6, 7, 8, 9]
        let x = image.flatMap { [$0, 10 * $0] }
        var w = [Float](repeating: 0, count: 18)
        for k in 0..<9 { w[2 * k] = 1 }
        w[2 * 4 + 1] = 1
        let b: [Float] = [0, 1]

        let s1 = Depthwise(n: 1, h: 3, w: 3, c: 2, kh: 3, kw: 3, same: true)
        let sums: [Float] = [12, 21, 16, 27, 45, 33, 24, 39, 28]
        let want1 = (0..<9).flatMap { [sums[$0], 10 * image[$0] + 1] }
        #expect(s1.forward(x, w, b) == want1, "SAME stride 1: \(s1.forward(x, w, b))")
        #expect(s1.naive(x, w, b) == want1)

        // SAME stride 2 pads one cell on each side: windows centred on the four corners.
        let s2 = Depthwise(n: 1, h: 3, w: 3, c: 2, kh: 3, kw: 3, sh: 2, sw: 2, same: true)
        #expect(s2.outShape == (2, 2))
        #expect(s2.forward(x, w, b) == [12, 11, 16, 31, 24, 71, 28, 91], "SAME stride 2: \(s2.forward(x, w, b))")

        // VALID: the one full window.
        let v = Depthwise(n: 1, h: 3, w: 3, c: 2, kh: 3, kw: 3, same: false)
        #expect(v.forward(x, w, b) == [45, 51])

        // Backward with dz = 1 everywhere (stride 1 SAME): for the all-ones channel dx
        // counts the windows covering each pixel, and dw[p, q] sums the image shifted by
        // (p − 1, q − 1), the same numbers as the forward sums; the identity channel
        // passes dz straight through. db sums dz: 9 per channel.
        let dz = [Float](repeating: 1, count: 18)
        let counts: [Float] = [4, 6, 4, 6, 9, 6, 4, 6, 4]
        #expect(s1.backwardData(dz, w) == (0..<9).flatMap { [counts[$0], 1] })
        let (dw, db) = s1.backwardFilter(x, dz)
        let shifted: [Float] = [12, 21, 16, 27, 45, 33, 24, 39, 28]
        #expect(dw == (0..<9).flatMap { [shifted[$0], 10 * shifted[$0]] }, "dw \(dw)")
        #expect(db == [9, 9])
    }

    @Test func depthwiseForwardMatchesNaiveOnRandomShapes() {
        var rng = TestRNG(seed: 41)
        var worst: Float = 0
        let shapes = depthwiseShapes(count: 60, seed: 4)
        for (idx, dw) in shapes.enumerated() {
            let act = allActs[idx % allActs.count]
            // Inputs up to ±8 so ReLU6 clips some outputs.
            let x = rng.array(dw.xCount, act == CK_ACT_RELU6 ? -8 : -1, act == CK_ACT_RELU6 ? 8 : 1)
            let w = rng.array(dw.wCount), b = rng.array(Int(dw.p.c))
            let bias: [Float]? = idx % 3 == 0 ? nil : b
            let d = maxDiff(dw.forward(x, w, bias, act: act), activate(act, dw.naive(x, w, bias)))
            worst = max(worst, d.rel)
            #expect(d.rel < 1e-5, "\(dw) act \(act.rawValue): max diff \(d.abs)")
        }
        print("depthwise forward vs naive, \(shapes.count) shapes: max rel diff \(worst)")
    }

    @Test func depthwiseBackwardMatchesNaiveOnRandomShapes() {
        var rng = TestRNG(seed: 42)
        var worst = (dx: Float(0), dw: Float(0), db: Float(0))
        let shapes = depthwiseShapes(count: 50, seed: 5)
        for dw in shapes {
            let x = rng.array(dw.xCount), w = rng.array(dw.wCount), dz = rng.array(dw.yCount)
            let (rdx, rdw, rdb) = dw.naiveBackward(x, w, dz)
            let dx = dw.backwardData(dz, w)
            let (gw, gb) = dw.backwardFilter(x, dz)
            let e = (maxDiff(dx, rdx).rel, maxDiff(gw, rdw).rel, maxDiff(gb, rdb).rel)
            worst = (max(worst.dx, e.0), max(worst.dw, e.1), max(worst.db, e.2))
            // dw and db sum up to a few thousand products in float: 1e-4 relative.
            #expect(e.0 < 1e-5 && e.1 < 1e-4 && e.2 < 1e-4, "\(dw): dx \(e.0) dw \(e.1) db \(e.2)")
        }
        print("depthwise backward vs naive, \(shapes.count) shapes: max rel diff dx \(worst.dx) dw \(worst.dw) db \(worst.db)")
    }

    // L = <depthwise(x, w) + b, g>: its gradients are what backward gives for dz = g.
    @Test func depthwiseBackwardMatchesFiniteDifferences() {
        var rng = TestRNG(seed: 43)
        let shapes = [
            Depthwise(n: 2, h: 5, w: 4, c: 3, kh: 3, kw: 3, same: true),
            Depthwise(n: 1, h: 7, w: 6, c: 9, kh: 3, kw: 2, sh: 2, sw: 2, same: true),
            Depthwise(n: 2, h: 6, w: 7, c: 2, kh: 2, kw: 3, sh: 2, sw: 3, same: false),
            Depthwise(n: 1, h: 3, w: 3, c: 10, kh: 5, kw: 5, same: true),
            Depthwise(n: 1, h: 8, w: 8, c: 17, kh: 5, kw: 5, sh: 2, sw: 2, same: true),
        ]
        var worst: Float = 0
        for dw in shapes {
            let x = rng.array(dw.xCount), w = rng.array(dw.wCount)
            let b = rng.array(Int(dw.p.c)), g = rng.array(dw.yCount)
            let nx = numericGradient(x) { dot(dw.naive($0, w, b), g) }
            let nw = numericGradient(w) { dot(dw.naive(x, $0, b), g) }
            let nb = numericGradient(b) { dot(dw.naive(x, w, $0), g) }
            let dx = dw.backwardData(g, w)
            let (gw, gb) = dw.backwardFilter(x, g)
            let (rdx, rdw, rdb) = dw.naiveBackward(x, w, g)
            let errs = [maxDiff(dx, nx).abs, maxDiff(gw, nw).abs, maxDiff(gb, nb).abs,
                        maxDiff(rdx, nx).abs, maxDiff(rdw, nw).abs, maxDiff(rdb, nb).abs]
            worst = max(worst, errs.max()!)
            #expect(errs.allSatisfy { $0 < 2e-3 }, "\(dw): fast dx/dw/db, naive dx/dw/db vs FD \(errs)")
        }
        print("depthwise backward (fast and naive) vs finite differences: max abs diff \(worst)")
    }

    // Every pass gives the same bits on 1, 2 and 3 threads (the filter gradient's channel
    // groups change with the thread count; each channel's sum order does not).
    @Test func depthwiseThreadCountDoesNotChangeBits() {
        var rng = TestRNG(seed: 44)
        let shapes = [
            Depthwise(n: 2, h: 28, w: 28, c: 32, kh: 3, kw: 3, same: true),
            Depthwise(n: 2, h: 14, w: 14, c: 144, kh: 5, kw: 5, sh: 2, sw: 2, same: true),
            Depthwise(n: 1, h: 7, w: 7, c: 1152, kh: 5, kw: 5, same: true),
            Depthwise(n: 3, h: 9, w: 10, c: 13, kh: 3, kw: 3, sh: 1, sw: 2, same: false),
        ]
        for dw in shapes {
            let x = rng.array(dw.xCount), w = rng.array(dw.wCount), b = rng.array(Int(dw.p.c))
            let dz = rng.array(dw.yCount)
            let runs = withThreads([1, 2, 3]) { _ -> [[Float]] in
                let (gw, gb) = dw.backwardFilter(x, dz)
                return [dw.forward(x, w, b, act: CK_ACT_RELU6), dw.backwardData(dz, w), gw, gb]
            }
            for k in 0..<4 {
                #expect(bits(runs[1][k]) == bits(runs[0][k]) && bits(runs[2][k]) == bits(runs[0][k]),
                        "\(dw) output \(k) differs across thread counts")
            }
            let (rdx, rdw, rdb) = dw.naiveBackward(x, w, dz)
            let e = [maxDiff(runs[0][0], activate(CK_ACT_RELU6, dw.naive(x, w, b))).rel,
                     maxDiff(runs[0][1], rdx).rel, maxDiff(runs[0][2], rdw).rel, maxDiff(runs[0][3], rdb).rel]
            #expect(e[0] < 1e-5 && e[1] < 1e-5 && e[2] < 1e-4 && e[3] < 1e-4, "\(dw): y/dx/dw/db vs naive \(e)")
        }
    }

    @Test func depthwiseValidWithKernelLargerThanInputIsEmpty() {
        var dw = Depthwise(n: 2, h: 3, w: 6, c: 2, kh: 5, kw: 3, same: false)
        #expect(dw.outShape == (0, 4) && dw.yCount == 0)
        let x = [Float](repeating: 1, count: dw.xCount), w = [Float](repeating: 1, count: dw.wCount)
        var y: [Float] = [42]
        #expect(ck_depthwise_conv2d_forward(&dw.p, x, w, nil, 0, &y) == ok)
        #expect(y == [42], "nothing written")
        var dx = [Float](repeating: .nan, count: dw.xCount)
        var gw = [Float](repeating: .nan, count: dw.wCount), gb: [Float] = [.nan, .nan]
        #expect(ck_depthwise_conv2d_backward_data(&dw.p, [0], w, &dx) == ok)
        #expect(ck_depthwise_conv2d_backward_filter(&dw.p, x, [0], &gw, &gb) == ok)
        #expect(dx.allSatisfy { $0 == 0 } && gw.allSatisfy { $0 == 0 } && gb == [0, 0])
    }

    @Test func depthwiseBadArgumentsAreRejected() {
        let good = Depthwise(n: 2, h: 6, w: 5, c: 3, kh: 3, kw: 3, same: true)
        let x = [Float](repeating: 1, count: good.xCount), w = [Float](repeating: 1, count: good.wCount)
        var y = [Float](repeating: 0, count: good.yCount), dx = [Float](repeating: 0, count: good.xCount)
        var dw = [Float](repeating: 0, count: good.wCount), db: [Float] = [0, 0, 0]
        var bad: [ck_conv2d_params] = []
        for field in 0..<10 {
            for value: Int32 in [0, -1] {
                var p = good.p
                switch field {
                case 0: p.n = value
                case 1: p.h = value
                case 2: p.w = value
                case 3: p.c = value
                case 4: p.kh = value
                case 5: p.kw = value
                case 6: p.o = value
                case 7: p.sh = value
                case 8: p.sw = value
                default: p.padding = value == 0 ? 2 : -1
                }
                bad.append(p)
            }
        }
        var other = good.p
        other.o = 4  // o must equal c
        bad.append(other)
        for var p in bad {
            #expect(ck_depthwise_conv2d_forward(&p, x, w, nil, 0, &y) == einval, "\(p)")
            #expect(ck_depthwise_conv2d_backward_data(&p, y, w, &dx) == einval, "\(p)")
            #expect(ck_depthwise_conv2d_backward_filter(&p, x, y, &dw, &db) == einval, "\(p)")
            #expect(ck_depthwise_conv2d_forward_naive(&p, x, w, nil, &y) == einval, "\(p)")
            #expect(ck_depthwise_conv2d_backward_naive(&p, x, w, y, &dx, &dw, &db) == einval, "\(p)")
        }
        var p = good.p
        #expect(ck_depthwise_conv2d_forward(nil, x, w, nil, 0, &y) == einval)
        #expect(ck_depthwise_conv2d_forward(&p, nil, w, nil, 0, &y) == einval)
        #expect(ck_depthwise_conv2d_forward(&p, x, nil, nil, 0, &y) == einval)
        #expect(ck_depthwise_conv2d_forward(&p, x, w, nil, 0, nil) == einval)
        #expect(ck_depthwise_conv2d_forward(&p, x, w, nil, 5, &y) == einval, "bad activation")
        #expect(ck_depthwise_conv2d_forward(&p, x, w, nil, -1, &y) == einval, "bad activation")
        #expect(ck_depthwise_conv2d_forward(&p, x, w, nil, relu6, &y) == ok)
        #expect(ck_depthwise_conv2d_backward_data(&p, nil, w, &dx) == einval)
        #expect(ck_depthwise_conv2d_backward_data(&p, y, nil, &dx) == einval)
        #expect(ck_depthwise_conv2d_backward_data(&p, y, w, nil) == einval)
        #expect(ck_depthwise_conv2d_backward_filter(&p, nil, y, &dw, &db) == einval)
        #expect(ck_depthwise_conv2d_backward_filter(&p, x, nil, &dw, &db) == einval)
        #expect(ck_depthwise_conv2d_backward_filter(&p, x, y, nil, &db) == einval)
        #expect(ck_depthwise_conv2d_backward_filter(&p, x, y, &dw, nil) == ok, "db may be NULL")
        #expect(ck_depthwise_conv2d_backward_naive(&p, x, nil, y, &dx, nil, nil) == einval, "dx needs w")
        #expect(ck_depthwise_conv2d_backward_naive(&p, nil, w, y, nil, &dw, nil) == einval, "dw needs x")
        #expect(ck_depthwise_conv2d_backward_naive(&p, x, w, nil, &dx, nil, nil) == einval, "dz")
        // Sizes whose element counts overflow are refused, not multiplied out.
        var huge = good.p
        huge.n = 1 << 30; huge.h = 1 << 30; huge.w = 1 << 30
        #expect(ck_depthwise_conv2d_forward(&huge, x, w, nil, 0, &y) == einval)
    }

    // MARK: batch normalization

    // Four rows 1, 2, 3, 4: mean 2.5 and the BIASED variance 1.25 (not 5/3).
    @Test func batchNormWorkedExample() {
        let bn = BatchNorm(rows: 4, c: 1, eps: 0)
        let s = bn.train([1, 2, 3, 4], nil, nil)
        #expect(s.mean == [2.5] && s.variance == [1.25], "mean \(s.mean) var \(s.variance)")
        let r = Float(1 / 1.25.squareRoot())
        #expect(abs(s.invStd[0] - r) <= 1e-7, "inv_std \(s.invStd)")
        let want: [Float] = [-1.5 * r, -0.5 * r, 0.5 * r, 1.5 * r]
        #expect(maxDiff(s.y, want).abs < 1e-6, "y \(s.y)")
        // gamma 2, beta 1; epsilon 0.25 makes inv_std exactly 1/√1.5.
        let bn2 = BatchNorm(rows: 4, c: 1, eps: 0.25)
        let s2 = bn2.train([1, 2, 3, 4], [2], [1])
        let r2 = Float(1 / 1.5.squareRoot())
        #expect(maxDiff(s2.y, [1 - 3 * r2, 1 - r2, 1 + r2, 1 + 3 * r2]).abs < 1e-6, "y \(s2.y)")
        // A constant channel: variance 0, y = beta.
        let s3 = BatchNorm(rows: 3, c: 2).train([2, 5, 2, 5, 2, 5], nil, [0.5, -1])
        #expect(s3.variance == [0, 0] && s3.mean == [2, 5] && s3.y == [0.5, -1, 0.5, -1, 0.5, -1])
    }

    // Few channels (rows flattened into periods), exactly 32, one wave, several waves of
    // 256 channels, one row, batches over the parallel threshold; gamma/beta NULL or not;
    // 1 and 2 threads give the same bits.
    @Test func batchNormMatchesNaive() {
        var rng = TestRNG(seed: 51)
        var worst = (y: Float(0), stats: Float(0), dx: Float(0), dgb: Float(0))
        let shapes = [(1, 1), (3, 1), (7, 2), (64, 3), (65, 7), (1001, 5), (5, 31), (100, 32), (33, 33),
                      (9, 64), (17, 100), (40, 256), (13, 257), (6, 600), (3, 2048), (1, 40),
                      (100_000, 1), (30_000, 3), (4_000, 70), (700, 300)]
        for (idx, (rows, c)) in shapes.enumerated() {
            let bn = BatchNorm(rows: rows, c: c)
            let x = rng.array(rows * c, -1, 2), dy = rng.array(rows * c)
            let gamma: [Float]? = idx % 2 == 0 ? rng.array(c, 0.5, 1.5) : nil
            let beta: [Float]? = idx % 3 == 0 ? nil : rng.array(c)
            let runs = withThreads([1, 2]) { _ in bn.train(x, gamma, beta) }
            #expect(bits(runs[0].y) == bits(runs[1].y) && bits(runs[0].variance) == bits(runs[1].variance),
                    "\(bn): 1 and 2 threads differ")
            let s = runs[1], ref = bn.naive(x, gamma, beta)
            let dStats = max(maxDiff(s.mean, ref.mean).rel, maxDiff(s.variance, ref.variance).rel,
                             maxDiff(s.invStd, ref.invStd).rel)
            let dy0 = maxDiff(s.y, ref.y).rel
            worst.y = max(worst.y, dy0)
            worst.stats = max(worst.stats, dStats)
            #expect(dy0 < 1e-5 && dStats < 1e-5, "\(bn): y \(dy0) stats \(dStats)")

            let back = withThreads([1, 2]) { _ in bn.backward(x, gamma, s, dy) }
            #expect(bits(back[0].dx) == bits(back[1].dx) && bits(back[0].dg) == bits(back[1].dg),
                    "\(bn): backward 1 and 2 threads differ")
            let rb = bn.naiveBackward(x, gamma, s, dy)
            // dx relative to the size of its terms (gamma·inv_std·|dy|), dγ and dβ to √rows.
            let scale = zip(gamma ?? [Float](repeating: 1, count: c), s.invStd).map { abs($0 * $1) }.max()!
            let ex = maxDiff(back[1].dx, rb.dx).abs / max(1, scale)
            let eg = max(maxDiff(back[1].dg, rb.dg).abs, maxDiff(back[1].db, rb.db).abs) / Float(rows).squareRoot()
            worst.dx = max(worst.dx, ex)
            worst.dgb = max(worst.dgb, eg)
            #expect(ex < 1e-5 && eg < 1e-5, "\(bn): dx \(ex) dgamma/dbeta \(eg)")
        }
        print("batchnorm vs naive: y max rel \(worst.y), mean/var/inv_std \(worst.stats); backward dx \(worst.dx), dgamma/dbeta \(worst.dgb)")
    }

    // Synchronized BatchNorm's pieces: each shard's moments (ck_batchnorm_moments), the
    // normalising pass with given statistics (ck_batchnorm_normalize) and dx from given sums
    // (ck_batchnorm_backward_dx) against their naive references; and, combined over three
    // shards as the ranks do, the whole batch's y, statistics and dx (two shapes with a mean
    // 500 times the spread: the mean's low part keeps y's digits).
    @Test func batchNormShardPiecesMatchNaiveAndTheWholeBatch() {
        var rng = TestRNG(seed: 53)
        var worst = (moments: Float(0), normalize: Float(0), y: Float(0), dx: Float(0))
        for (rows, c, offset) in [(3, 1, 0), (9, 2, 0), (65, 7, 500), (30, 32, 0), (24, 257, 0), (12, 600, 0),
                                  (30_000, 3, 0), (3_000, 70, 500)] as [(Int, Int, Float)] {
            let bn = BatchNorm(rows: rows, c: c)
            let x = rng.array(rows * c, -1, 2).map { $0 + offset }, dy = rng.array(rows * c)
            let gamma = rng.array(c, 0.5, 1.5), beta = rng.array(c)
            let cuts = [0, rows / 3, rows * 2 / 3, rows].map { $0 * c }
            let shards = (0..<3).map { Array(x[cuts[$0]..<cuts[$0 + 1]]) }
            let dys = (0..<3).map { Array(dy[cuts[$0]..<cuts[$0 + 1]]) }
            let n = shards.map { $0.count / c }
            // Moments of each shard, then Chan's combination in double.
            var parts: [(mean: [Double], m2: [Float])] = []
            for (k, part) in shards.enumerated() {
                let none = [Float](repeating: .nan, count: c)
                let runs = withThreads([1, 2]) { _ in
                    var m = none, lo = none, q = none
                    #expect(ck_batchnorm_moments(Int32(n[k]), Int32(c), part, &m, &lo, &q) == ok)
                    return m + lo + q
                }
                #expect(bits(runs[0]) == bits(runs[1]), "\(bn) shard \(k): 1 and 2 threads differ")
                var rm = none, rlo = none, rq = none
                #expect(ck_batchnorm_moments_naive(Int32(n[k]), Int32(c), part, &rm, &rlo, &rq) == ok)
                let m = Array(runs[1][0..<c]), lo = Array(runs[1][c..<2 * c]), q = Array(runs[1][(2 * c)...])
                let mean = (0..<c).map { Double(m[$0]) + Double(lo[$0]) }
                let naiveMean = (0..<c).map { Double(rm[$0]) + Double(rlo[$0]) }
                // The mean against the spread (√(m2/rows)), m2 relative.
                let d = (0..<c).map { j in
                    max(Float(abs(mean[j] - naiveMean[j]) / max(1e-3, (Double(rq[j]) / Double(n[k])).squareRoot())),
                        abs(q[j] - rq[j]) / max(1, rq[j]))
                }.max()!
                worst.moments = max(worst.moments, d)
                #expect(d < 1e-5, "\(bn) shard \(k): moments \(d)")
                parts.append((mean, q))
            }
            let mu = (0..<c).map { j in (0..<3).reduce(0.0) { $0 + Double(n[$1]) * parts[$1].mean[j] } / Double(rows) }
            let variance = (0..<c).map { j in
                Float((0..<3).reduce(0.0) { a, k in
                    let d = parts[k].mean[j] - mu[j]
                    return a + Double(parts[k].m2[j]) + Double(n[k]) * d * d
                } / Double(rows))
            }
            let mean = mu.map { Float($0) }, meanLo = (0..<c).map { Float(mu[$0] - Double(mean[$0])) }
            let whole = bn.naive(x, gamma, beta)
            var y: [Float] = [], inv = [Float](repeating: .nan, count: c)
            for (k, part) in shards.enumerated() {
                var yk = [Float](repeating: .nan, count: part.count), ry = yk, rinv = inv
                let runs = withThreads([1, 2]) { _ in
                    var out = yk
                    #expect(ck_batchnorm_normalize(Int32(n[k]), Int32(c), part, gamma, beta, mean, meanLo, variance,
                                                   bn.eps, &out, &inv) == ok)
                    return out
                }
                #expect(bits(runs[0]) == bits(runs[1]), "\(bn) shard \(k): normalize 1 and 2 threads differ")
                yk = runs[1]
                #expect(ck_batchnorm_normalize_naive(Int32(n[k]), Int32(c), part, gamma, beta, mean, meanLo, variance,
                                                     bn.eps, &ry, &rinv) == ok)
                let dn = max(maxDiff(yk, ry).rel, maxDiff(inv, rinv).rel)
                worst.normalize = max(worst.normalize, dn)
                #expect(dn < 1e-5, "\(bn) shard \(k): normalize vs naive \(dn)")
                var alias = part
                let st = alias.withUnsafeMutableBufferPointer { a in
                    ck_batchnorm_normalize(Int32(n[k]), Int32(c), a.baseAddress, gamma, beta, mean, meanLo, variance,
                                           bn.eps, a.baseAddress, nil)
                }
                #expect(st == ok && bits(alias) == bits(yk), "\(bn) shard \(k): normalize in place")
                y += yk
            }
            let dy0 = max(maxDiff(y, whole.y).rel, maxDiff(inv, whole.invStd).rel, maxDiff(mean, whole.mean).rel,
                          maxDiff(variance, whole.variance).rel)
            worst.y = max(worst.y, dy0)
            #expect(dy0 < 1e-5, "\(bn): sharded forward vs whole \(dy0)")
            // Backward: each shard's sums (ck_batchnorm_backward without dx), added, then dx per shard.
            var dg = [Float](repeating: 0, count: c), db = dg
            for (k, part) in shards.enumerated() {
                var g = [Float](repeating: .nan, count: c), b = g
                #expect(ck_batchnorm_backward(Int32(n[k]), Int32(c), part, gamma, mean, inv, dys[k], nil, &g, &b) == ok)
                for j in 0..<c { dg[j] += g[j]; db[j] += b[j] }
            }
            var dx: [Float] = []
            for (k, part) in shards.enumerated() {
                var dxk = [Float](repeating: .nan, count: part.count), ref = dxk
                let runs = withThreads([1, 2]) { _ in
                    var out = dxk
                    #expect(ck_batchnorm_backward_dx(Int32(n[k]), Int32(c), Double(rows), part, gamma, mean, inv, dg, db,
                                                     dys[k], &out) == ok)
                    return out
                }
                #expect(bits(runs[0]) == bits(runs[1]), "\(bn) shard \(k): dx 1 and 2 threads differ")
                dxk = runs[1]
                #expect(ck_batchnorm_backward_dx_naive(Int32(n[k]), Int32(c), Double(rows), part, gamma, mean, inv, dg, db,
                                                       dys[k], &ref) == ok)
                #expect(maxDiff(dxk, ref).abs < 1e-5 * 2, "\(bn) shard \(k): dx vs naive \(maxDiff(dxk, ref).abs)")
                var alias = dys[k]
                let st = alias.withUnsafeMutableBufferPointer { a in
                    ck_batchnorm_backward_dx(Int32(n[k]), Int32(c), Double(rows), part, gamma, mean, inv, dg, db,
                                             a.baseAddress, a.baseAddress)
                }
                #expect(st == ok && bits(alias) == bits(dxk), "\(bn) shard \(k): dx in place over dy")
                dx += dxk
            }
            let rb = bn.naiveBackward(x, gamma, whole, dy)
            let scale = zip(gamma, whole.invStd).map { abs($0 * $1) }.max()!
            let ex = maxDiff(dx, rb.dx).abs / max(1, scale)
            worst.dx = max(worst.dx, ex)
            #expect(ex < 1e-5, "\(bn): sharded dx vs whole \(ex)")
        }
        print("batchnorm shards vs naive: moments \(worst.moments), normalize \(worst.normalize); "
              + "combined over 3 shards vs the whole batch: y/stats \(worst.y), dx \(worst.dx)")
    }

    // A channel whose mean is a thousand times its spread keeps its digits: the variance
    // comes from shifted sums, and y subtracts the mean to twice float precision.
    @Test func batchNormLargeMeanSmallSpread() {
        var rng = TestRNG(seed: 52)
        for (rows, c, offset, spread) in [(50_000, 5, Float(1000), Float(1)), (8_000, 70, -300, 0.01)] {
            let bn = BatchNorm(rows: rows, c: c)
            let x = rng.array(rows * c, offset - spread, offset + spread)
            let s = bn.train(x, nil, nil), ref = bn.naive(x, nil, nil)
            let e = (maxDiff(s.y, ref.y).rel, maxDiff(s.variance, ref.variance).rel, maxDiff(s.mean, ref.mean).rel)
            #expect(e.0 < 1e-5 && e.1 < 1e-5 && e.2 < 1e-6, "\(bn) offset \(offset): y \(e.0) var \(e.1) mean \(e.2)")
        }
    }

    // Training backward against central differences of L = Σ y·r computed in double.
    @Test func batchNormBackwardMatchesFiniteDifferences() {
        var rng = TestRNG(seed: 53)
        let h: Float = 1.0 / 1024
        var worst: Float = 0
        for (rows, c, useGamma) in [(5, 3, true), (7, 2, false), (1, 4, true), (20, 33, true), (9, 1, true)] {
            let bn = BatchNorm(rows: rows, c: c)
            let x = gridArray(rows * c, &rng, -256, 512), r = gridArray(rows * c, &rng, -256, 256)
            let gamma = useGamma ? gridArray(c, &rng, 128, 384) : [Float](repeating: 1, count: c)
            let beta = gridArray(c, &rng, -256, 256)
            let eps = Double(bn.eps)
            let s = bn.train(x, useGamma ? gamma : nil, beta)
            let g = bn.backward(x, useGamma ? gamma : nil, s, r)
            let nx = numericGradient(x, h: h) { batchNormLoss(rows: rows, c: c, x: $0, gamma: gamma, beta: beta, eps: eps, r: r) }
            let ng = numericGradient(gamma, h: h) { batchNormLoss(rows: rows, c: c, x: x, gamma: $0, beta: beta, eps: eps, r: r) }
            let nb = numericGradient(beta, h: h) { batchNormLoss(rows: rows, c: c, x: x, gamma: gamma, beta: $0, eps: eps, r: r) }
            let naive = bn.naiveBackward(x, useGamma ? gamma : nil, s, r)
            let errs = [maxDiff(g.dx, nx).abs, maxDiff(g.dg, ng).abs, maxDiff(g.db, nb).abs,
                        maxDiff(naive.dx, nx).abs, maxDiff(naive.dg, ng).abs, maxDiff(naive.db, nb).abs]
            worst = max(worst, errs.max()!)
            #expect(errs.allSatisfy { $0 < 1e-4 }, "\(bn): fast dx/dγ/dβ, naive dx/dγ/dβ vs FD \(errs)")
        }
        print("batchnorm backward (fast and naive) vs finite differences: max abs diff \(worst)")
    }

    // Inference with given statistics; y may alias x (train and infer), dx may alias dy,
    // and outputs left NULL are skipped without changing the others.
    @Test func batchNormInferenceAndAliasing() {
        var rng = TestRNG(seed: 54)
        for (rows, c) in [(37, 3), (50, 40), (9, 300)] {
            let bn = BatchNorm(rows: rows, c: c)
            let x = rng.array(rows * c, -1, 2), dy = rng.array(rows * c)
            let gamma = rng.array(c, 0.5, 1.5), beta = rng.array(c)
            let mean = rng.array(c), variance = rng.array(c, 0.1, 2)
            let y = bn.infer(x, gamma, beta, mean: mean, variance: variance)
            var want = [Float](repeating: 0, count: rows * c)
            for i in 0..<rows {
                for ch in 0..<c {
                    let inv = 1 / (Double(variance[ch]) + Double(bn.eps)).squareRoot()
                    let v = Double(gamma[ch]) * (Double(x[i * c + ch]) - Double(mean[ch])) * inv + Double(beta[ch])
                    want[i * c + ch] = Float(v)
                }
            }
            let d = maxDiff(y, want).rel
            #expect(d < 1e-5, "\(bn): infer vs formula \(d)")

            var z = x
            let st1 = z.withUnsafeMutableBufferPointer { zb in
                ck_batchnorm_forward_infer(Int32(rows), Int32(c), zb.baseAddress, gamma, beta, mean, variance,
                                           bn.eps, zb.baseAddress)
            }
            #expect(st1 == ok && bits(z) == bits(y), "\(bn): infer in place")

            let s = bn.train(x, gamma, beta)
            var m = [Float](repeating: 0, count: c), v = [Float](repeating: 0, count: c)
            var inv = [Float](repeating: 0, count: c)
            z = x
            let st2 = z.withUnsafeMutableBufferPointer { zb in
                ck_batchnorm_forward_train(Int32(rows), Int32(c), zb.baseAddress, gamma, beta, bn.eps,
                                           zb.baseAddress, &m, &v, &inv)
            }
            #expect(st2 == ok && bits(z) == bits(s.y) && bits(v) == bits(s.variance), "\(bn): train in place")

            let g = bn.backward(x, gamma, s, dy)
            var dz = dy
            let st3 = dz.withUnsafeMutableBufferPointer { db in
                ck_batchnorm_backward(Int32(rows), Int32(c), x, gamma, s.mean, s.invStd, db.baseAddress,
                                      db.baseAddress, nil, nil)
            }
            #expect(st3 == ok && bits(dz) == bits(g.dx), "\(bn): dx in place over dy")
            var dgOnly = [Float](repeating: .nan, count: c)
            let st4 = ck_batchnorm_backward(Int32(rows), Int32(c), x, gamma, s.mean, s.invStd, dy, nil, &dgOnly, nil)
            #expect(st4 == ok && bits(dgOnly) == bits(g.dg), "\(bn): dgamma alone")
        }
    }

    @Test func batchNormBadArgumentsAreRejected() {
        let x: [Float] = [1, 2, 3, 4, 5, 6, 7, 8]
        var y = [Float](repeating: 0, count: 8)
        var m: [Float] = [0, 0], v: [Float] = [1, 1], s: [Float] = [1, 1]
        #expect(ck_batchnorm_forward_train(0, 2, x, nil, nil, 1e-3, &y, &m, &v, &s) == einval)
        #expect(ck_batchnorm_forward_train(4, 0, x, nil, nil, 1e-3, &y, &m, &v, &s) == einval)
        #expect(ck_batchnorm_forward_train(-4, 2, x, nil, nil, 1e-3, &y, &m, &v, &s) == einval)
        #expect(ck_batchnorm_forward_train(4, 2, x, nil, nil, -1e-3, &y, &m, &v, &s) == einval, "epsilon < 0")
        #expect(ck_batchnorm_forward_train(4, 2, x, nil, nil, .nan, &y, &m, &v, &s) == einval, "epsilon NaN")
        #expect(ck_batchnorm_forward_train(4, 2, x, nil, nil, .infinity, &y, &m, &v, &s) == einval, "epsilon inf")
        #expect(ck_batchnorm_forward_train(4, 2, nil, nil, nil, 1e-3, &y, &m, &v, &s) == einval)
        #expect(ck_batchnorm_forward_train(4, 2, x, nil, nil, 1e-3, nil, &m, &v, &s) == einval)
        #expect(ck_batchnorm_forward_train(4, 2, x, nil, nil, 1e-3, &y, nil, &v, &s) == einval)
        #expect(ck_batchnorm_forward_train(4, 2, x, nil, nil, 1e-3, &y, &m, nil, &s) == einval)
        #expect(ck_batchnorm_forward_train(4, 2, x, nil, nil, 1e-3, &y, &m, &v, nil) == einval)
        #expect(ck_batchnorm_forward_naive(0, 2, x, nil, nil, 1e-3, &y, &m, &v, &s) == einval)
        #expect(ck_batchnorm_forward_naive(4, 2, x, nil, nil, -1, &y, &m, &v, &s) == einval)
        #expect(ck_batchnorm_forward_naive(4, 2, x, nil, nil, 1e-3, &y, &m, nil, &s) == einval)
        #expect(ck_batchnorm_forward_infer(0, 2, x, nil, nil, m, v, 1e-3, &y) == einval)
        #expect(ck_batchnorm_forward_infer(4, 2, x, nil, nil, m, v, -1e-3, &y) == einval)
        #expect(ck_batchnorm_forward_infer(4, 2, nil, nil, nil, m, v, 1e-3, &y) == einval)
        #expect(ck_batchnorm_forward_infer(4, 2, x, nil, nil, nil, v, 1e-3, &y) == einval)
        #expect(ck_batchnorm_forward_infer(4, 2, x, nil, nil, m, nil, 1e-3, &y) == einval)
        #expect(ck_batchnorm_forward_infer(4, 2, x, nil, nil, m, v, 1e-3, nil) == einval)
        var dx = [Float](repeating: 0, count: 8), dg: [Float] = [0, 0], db: [Float] = [0, 0]
        #expect(ck_batchnorm_backward(0, 2, x, nil, m, s, x, &dx, &dg, &db) == einval)
        #expect(ck_batchnorm_backward(4, -2, x, nil, m, s, x, &dx, &dg, &db) == einval)
        #expect(ck_batchnorm_backward(4, 2, nil, nil, m, s, x, &dx, &dg, &db) == einval)
        #expect(ck_batchnorm_backward(4, 2, x, nil, nil, s, x, &dx, &dg, &db) == einval)
        #expect(ck_batchnorm_backward(4, 2, x, nil, m, nil, x, &dx, &dg, &db) == einval)
        #expect(ck_batchnorm_backward(4, 2, x, nil, m, s, nil, &dx, &dg, &db) == einval)
        #expect(ck_batchnorm_backward(4, 2, x, nil, m, s, x, nil, nil, nil) == ok, "every output skipped")
        #expect(ck_batchnorm_backward_naive(4, 2, x, nil, m, s, nil, &dx, &dg, &db) == einval)
        #expect(ck_batchnorm_moments(4, 2, x, &m, nil, &v) == ok, "no low part")
        #expect(ck_batchnorm_moments(0, 2, x, &m, &s, &v) == einval)
        #expect(ck_batchnorm_moments(4, -1, x, &m, &s, &v) == einval)
        #expect(ck_batchnorm_moments(4, 2, nil, &m, &s, &v) == einval)
        #expect(ck_batchnorm_moments(4, 2, x, nil, &s, &v) == einval)
        #expect(ck_batchnorm_moments(4, 2, x, &m, &s, nil) == einval)
        #expect(ck_batchnorm_moments_naive(0, 2, x, &m, &s, &v) == einval)
        m = [0, 0]; v = [1, 1]
        #expect(ck_batchnorm_normalize(4, 2, x, nil, nil, m, nil, v, 1e-3, &y, nil) == ok, "no low part or inv_std")
        #expect(ck_batchnorm_normalize(0, 2, x, nil, nil, m, m, v, 1e-3, &y, &s) == einval)
        #expect(ck_batchnorm_normalize(4, 2, x, nil, nil, m, m, v, -1, &y, &s) == einval)
        #expect(ck_batchnorm_normalize(4, 2, x, nil, nil, m, m, v, .nan, &y, &s) == einval)
        #expect(ck_batchnorm_normalize(4, 2, nil, nil, nil, m, m, v, 1e-3, &y, &s) == einval)
        #expect(ck_batchnorm_normalize(4, 2, x, nil, nil, nil, m, v, 1e-3, &y, &s) == einval)
        #expect(ck_batchnorm_normalize(4, 2, x, nil, nil, m, m, nil, 1e-3, &y, &s) == einval)
        #expect(ck_batchnorm_normalize(4, 2, x, nil, nil, m, m, v, 1e-3, nil, &s) == einval)
        #expect(ck_batchnorm_normalize_naive(4, 2, x, nil, nil, m, m, v, -1, &y, &s) == einval)
        s = [1, 1]
        #expect(ck_batchnorm_backward_dx(4, 2, 8, x, nil, m, s, m, m, x, &dx) == ok)
        #expect(ck_batchnorm_backward_dx(0, 2, 8, x, nil, m, s, m, m, x, &dx) == einval)
        #expect(ck_batchnorm_backward_dx(4, 2, 3, x, nil, m, s, m, m, x, &dx) == einval, "n < rows")
        #expect(ck_batchnorm_backward_dx(4, 2, .nan, x, nil, m, s, m, m, x, &dx) == einval, "n NaN")
        #expect(ck_batchnorm_backward_dx(4, 2, .infinity, x, nil, m, s, m, m, x, &dx) == einval, "n inf")
        #expect(ck_batchnorm_backward_dx(4, 2, 8, nil, nil, m, s, m, m, x, &dx) == einval)
        #expect(ck_batchnorm_backward_dx(4, 2, 8, x, nil, nil, s, m, m, x, &dx) == einval)
        #expect(ck_batchnorm_backward_dx(4, 2, 8, x, nil, m, nil, m, m, x, &dx) == einval)
        #expect(ck_batchnorm_backward_dx(4, 2, 8, x, nil, m, s, nil, m, x, &dx) == einval)
        #expect(ck_batchnorm_backward_dx(4, 2, 8, x, nil, m, s, m, nil, x, &dx) == einval)
        #expect(ck_batchnorm_backward_dx(4, 2, 8, x, nil, m, s, m, m, nil, &dx) == einval)
        #expect(ck_batchnorm_backward_dx(4, 2, 8, x, nil, m, s, m, m, x, nil) == einval)
        #expect(ck_batchnorm_backward_dx_naive(4, 2, 3, x, nil, m, s, m, m, x, &dx) == einval)
        #expect(ck_batchnorm_backward_naive(0, 2, x, nil, m, s, x, &dx, &dg, &db) == einval)
    }

    // MARK: ReLU6

    @Test func relu6ValuesAndDerivative() {
        let x: [Float] = [-1, 0, 0.5, 5.999, 6, 6.5, 100, -.infinity, .infinity]
        var y = [Float](repeating: .nan, count: x.count)
        #expect(ck_activation_forward(relu6, x, &y, x.count) == ok)
        #expect(y == [0, 0, 0.5, 5.999, 6, 6, 6, 0, 6], "relu6 \(y)")
        // The derivative from the output: 1 strictly between 0 and 6, 0 at and beyond both kinks.
        var dx = [Float](repeating: .nan, count: x.count)
        let dy = [Float](repeating: 2, count: x.count)
        #expect(ck_activation_backward(relu6, y, dy, &dx, x.count) == ok)
        #expect(dx == [0, 0, 2, 2, 0, 0, 0, 0, 0], "relu6' \(dx)")
        // Above the parallel threshold, in place.
        var rng = TestRNG(seed: 61)
        let big = rng.array(200_001, -10, 10)
        var z = big
        #expect(ck_activation_forward(relu6, z, &z, z.count) == ok)
        #expect(z == activate(CK_ACT_RELU6, big))
    }

    // Conv2D and Dense fuse the activation after the bias: with ReLU6 they equal the naive
    // product clipped to [0, 6].
    @Test func relu6FusedInConvAndDense() {
        var rng = TestRNG(seed: 62)
        var worst: Float = 0
        for k in 0..<20 {
            let c = rng.int(1...6), o = rng.int(1...20)
            var p = ck_conv2d_params(n: Int32(rng.int(1...3)), h: Int32(rng.int(3...12)), w: Int32(rng.int(3...12)),
                                     c: Int32(c), kh: 3, kw: 3, o: Int32(o), sh: Int32(rng.int(1...2)),
                                     sw: Int32(rng.int(1...2)), padding: Int32(k % 2))
            var oh: Int32 = 0, ow: Int32 = 0
            #expect(ck_conv2d_output_shape(&p, &oh, &ow) == ok)
            let x = rng.array(Int(p.n * p.h * p.w) * c, -4, 4), w = rng.array(9 * c * o), b = rng.array(o)
            let bias: [Float]? = k % 3 == 0 ? nil : b
            let yCount = Int(p.n * oh * ow) * o
            var y = [Float](repeating: .nan, count: yCount), ref = [Float](repeating: .nan, count: yCount)
            let wsLen = ck_conv2d_scratch_size(&p)
            var ws = [Float](repeating: 0, count: max(1, wsLen))
            #expect(ck_conv2d_forward(&p, x, w, bias, relu6, &y, &ws, wsLen) == ok)
            #expect(ck_conv2d_forward_naive(&p, x, w, bias, &ref) == ok)
            worst = max(worst, maxDiff(y, activate(CK_ACT_RELU6, ref)).rel)
        }
        for k in 0..<10 {
            let n = rng.int(1...70), i = rng.int(1...40), o = rng.int(1...70)
            let x = rng.array(n * i, -3, 3), w = rng.array(i * o), b = rng.array(o)
            let bias: [Float]? = k % 2 == 0 ? nil : b
            var y = [Float](repeating: .nan, count: n * o)
            #expect(ck_dense_forward(Int32(n), Int32(i), Int32(o), x, w, bias, relu6, &y) == ok)
            var ref = [Float](repeating: 0, count: n * o)
            for r in 0..<n {
                for col in 0..<o {
                    var s = Double(bias?[col] ?? 0)
                    for j in 0..<i { s += Double(x[r * i + j]) * Double(w[j * o + col]) }
                    ref[r * o + col] = Float(s)
                }
            }
            worst = max(worst, maxDiff(y, activate(CK_ACT_RELU6, ref)).rel)
        }
        #expect(worst < 1e-5, "conv2d/dense with ReLU6 vs naive clipped: \(worst)")
        print("conv2d and dense with fused ReLU6 vs naive clipped: max rel diff \(worst)")
    }

    // MARK: global average pooling

    @Test func globalAveragePooling() {
        var y = [Float](repeating: .nan, count: 2)
        #expect(ck_global_avgpool_forward(1, 2, 2, [1, 2, 3, 4], &y) == ok)
        #expect(y == [2, 3])
        var dx = [Float](repeating: .nan, count: 4)
        #expect(ck_global_avgpool_backward(1, 2, 2, [1, -4], &dx) == ok)
        #expect(dx == [0.5, -2, 0.5, -2])

        var rng = TestRNG(seed: 71)
        var worst: Float = 0
        for (n, hw, c) in [(1, 1, 1), (3, 7, 5), (2, 49, 1280), (4, 9, 130), (1, 12_544, 32), (32, 49, 64)] {
            let x = rng.array(n * hw * c), dy = rng.array(n * c)
            let runs = withThreads([1, 2]) { _ -> ([Float], [Float]) in
                var y = [Float](repeating: .nan, count: n * c), dx = [Float](repeating: .nan, count: n * hw * c)
                #expect(ck_global_avgpool_forward(Int32(n), Int32(hw), Int32(c), x, &y) == ok)
                #expect(ck_global_avgpool_backward(Int32(n), Int32(hw), Int32(c), dy, &dx) == ok)
                return (y, dx)
            }
            #expect(bits(runs[0].0) == bits(runs[1].0) && bits(runs[0].1) == bits(runs[1].1))
            var want = [Float](repeating: 0, count: n * c), wantDx = [Float](repeating: 0, count: n * hw * c)
            for b in 0..<n {
                for ch in 0..<c {
                    var s = 0.0
                    for k in 0..<hw { s += Double(x[(b * hw + k) * c + ch]) }
                    want[b * c + ch] = Float(s / Double(hw))
                    for k in 0..<hw { wantDx[(b * hw + k) * c + ch] = dy[b * c + ch] / Float(hw) }
                }
            }
            worst = max(worst, maxDiff(runs[1].0, want).abs)
            #expect(runs[1].1 == wantDx, "n \(n) hw \(hw) c \(c): backward is dy/hw")
            // The backward is the adjoint of the forward: <gap(x), dy> == <x, gap'(dy)>.
            let lhs = dot(runs[1].0, dy), rhs = dot(x, runs[1].1)
            #expect(abs(lhs - rhs) <= 1e-5 * max(1, abs(lhs)), "adjoint \(lhs) vs \(rhs)")
        }
        #expect(worst < 1e-6, "global average pooling vs double mean: \(worst)")
        print("global average pooling vs double mean: max abs diff \(worst)")

        #expect(ck_global_avgpool_forward(0, 2, 2, [1, 2, 3, 4], &y) == einval)
        #expect(ck_global_avgpool_forward(1, 0, 2, [1, 2, 3, 4], &y) == einval)
        #expect(ck_global_avgpool_forward(1, 2, 0, [1, 2, 3, 4], &y) == einval)
        #expect(ck_global_avgpool_forward(1, 2, 2, nil, &y) == einval)
        #expect(ck_global_avgpool_forward(1, 2, 2, [1, 2, 3, 4], nil) == einval)
        #expect(ck_global_avgpool_backward(1, -2, 2, [1, 1], &dx) == einval)
        #expect(ck_global_avgpool_backward(1, 2, 2, nil, &dx) == einval)
        #expect(ck_global_avgpool_backward(1, 2, 2, [1, 1], nil) == einval)
    }

    // MARK: zero padding

    @Test func zeroPaddingRoundTrip() {
        // One 1×2 image padded one row on top and one column on the right.
        var y = [Float](repeating: .nan, count: 6)
        #expect(ck_pad2d_forward(1, 1, 2, 1, 1, 0, 0, 1, [1, 2], &y) == ok)
        #expect(y == [0, 0, 0, 1, 2, 0])

        var rng = TestRNG(seed: 81)
        var cases: [(Int, Int, Int, Int, Int, Int, Int, Int)] = [(4, 112, 112, 32, 0, 1, 0, 1)]  // MobileNet's correct_pad
        for _ in 0..<40 {
            cases.append((rng.int(1...3), rng.int(1...9), rng.int(1...9), rng.int(1...5),
                          rng.int(0...3), rng.int(0...3), rng.int(0...3), rng.int(0...3)))
        }
        for (n, h, w, c, top, bottom, left, right) in cases {
            let oh = h + top + bottom, ow = w + left + right
            let x = rng.array(n * h * w * c), g = rng.array(n * oh * ow * c)
            var padded = [Float](repeating: .nan, count: n * oh * ow * c)
            var back = [Float](repeating: .nan, count: n * h * w * c)
            #expect(ck_pad2d_forward(Int32(n), Int32(h), Int32(w), Int32(c), Int32(top), Int32(bottom),
                                     Int32(left), Int32(right), x, &padded) == ok)
            var want = [Float](repeating: 0, count: n * oh * ow * c)
            for b in 0..<n {
                for r in 0..<h {
                    for t in 0..<w {
                        for ch in 0..<c {
                            want[((b * oh + r + top) * ow + t + left) * c + ch] = x[((b * h + r) * w + t) * c + ch]
                        }
                    }
                }
            }
            #expect(bits(padded) == bits(want), "pad \(n)x\(h)x\(w)x\(c) by \(top),\(bottom),\(left),\(right)")
            #expect(ck_pad2d_backward(Int32(n), Int32(h), Int32(w), Int32(c), Int32(top), Int32(bottom),
                                      Int32(left), Int32(right), padded, &back) == ok)
            #expect(bits(back) == bits(x), "the interior of the padded image is the image")
            // Adjoint: <pad(x), g> == <x, crop(g)>.
            #expect(ck_pad2d_backward(Int32(n), Int32(h), Int32(w), Int32(c), Int32(top), Int32(bottom),
                                      Int32(left), Int32(right), g, &back) == ok)
            let lhs = dot(padded, g), rhs = dot(x, back)
            #expect(abs(lhs - rhs) <= 1e-9 * max(1, abs(lhs)), "adjoint \(lhs) vs \(rhs)")
        }

        let x: [Float] = [1, 2]
        var dx: [Float] = [0, 0]
        for pads in [(-1, 0, 0, 1), (0, -1, 0, 1), (0, 0, -1, 1), (0, 0, 0, -1)] {
            #expect(ck_pad2d_forward(1, 1, 2, 1, Int32(pads.0), Int32(pads.1), Int32(pads.2), Int32(pads.3), x, &y) == einval)
            #expect(ck_pad2d_backward(1, 1, 2, 1, Int32(pads.0), Int32(pads.1), Int32(pads.2), Int32(pads.3), y, &dx) == einval)
        }
        #expect(ck_pad2d_forward(0, 1, 2, 1, 0, 0, 0, 1, x, &y) == einval)
        #expect(ck_pad2d_forward(1, 0, 2, 1, 0, 0, 0, 1, x, &y) == einval)
        #expect(ck_pad2d_forward(1, 1, 0, 1, 0, 0, 0, 1, x, &y) == einval)
        #expect(ck_pad2d_forward(1, 1, 2, 0, 0, 0, 0, 1, x, &y) == einval)
        #expect(ck_pad2d_forward(1, 1, 2, 1, 0, 0, 0, 1, nil, &y) == einval)
        #expect(ck_pad2d_forward(1, 1, 2, 1, 0, 0, 0, 1, x, nil) == einval)
        #expect(ck_pad2d_forward(1, 1, 2, 1, Int32.max, 1, 0, 1, x, &y) == einval, "padded height overflows")
        #expect(ck_pad2d_backward(1, 1, 2, 1, 0, 0, 0, 1, nil, &dx) == einval)
        #expect(ck_pad2d_backward(1, 1, 2, 1, 0, 0, 0, 1, y, nil) == einval)
    }

    /// Concatenate's strided row copy: every row's block lands in its columns, nothing else is
    /// written, on 1–3 threads (the large case runs in parallel), and bad sizes are refused.
    @Test func rowCopiesFillTheirColumnsOnly() {
        var rng = TestRNG(seed: 82)
        for (rows, width, lds, ldd, at) in [(3, 2, 2, 5, 1), (1225, 96, 96, 288, 192), (4, 7, 9, 7, 0)] {
            let src = rng.array(rows * lds)
            var want = [Float](repeating: -1, count: rows * ldd)
            for r in 0..<rows { for q in 0..<width { want[r * ldd + at + q] = src[r * lds + q] } }
            let runs = withThreads([1, 2, 3]) { _ -> [Float] in
                var dst = [Float](repeating: -1, count: rows * ldd)
                let st = dst.withUnsafeMutableBufferPointer {
                    ck_copy_rows(rows, width, src, lds, $0.baseAddress! + at, ldd)
                }
                #expect(st == ok)
                return dst
            }
            for dst in runs { #expect(bits(dst) == bits(want), "\(rows)×\(width) from \(lds) to \(ldd) at \(at)") }
        }
        var dst = [Float](repeating: 0, count: 8)
        #expect(ck_copy_rows(2, 3, [1, 2, 3, 4, 5, 6], 2, &dst, 4) == einval, "source rows narrower than the width")
        #expect(ck_copy_rows(2, 3, [1, 2, 3, 4, 5, 6], 3, &dst, 2) == einval, "destination rows narrower")
        #expect(ck_copy_rows(-1, 3, [1, 2, 3], 3, &dst, 3) == einval)
        #expect(ck_copy_rows(1, 3, nil, 3, &dst, 3) == einval)
        #expect(ck_copy_rows(0, 3, nil, 3, nil, 3) == ok, "nothing to copy")
    }
}
