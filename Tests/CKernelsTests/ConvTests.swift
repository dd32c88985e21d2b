// conv2d kernels against the spec's worked examples, the naive direct-loop
// reference, and central finite differences.
import CKernels
import CKernelsReference
import Foundation
import Testing

/// One convolution problem and thin wrappers over the C calls.
fileprivate struct Conv: CustomStringConvertible {
    var p: ck_conv2d_params

    init(n: Int, h: Int, w: Int, c: Int, kh: Int, kw: Int, o: Int, sh: Int = 1, sw: Int = 1, same: Bool) {
        p = ck_conv2d_params(
            n: Int32(n), h: Int32(h), w: Int32(w), c: Int32(c), kh: Int32(kh), kw: Int32(kw), o: Int32(o),
            sh: Int32(sh), sw: Int32(sw),
            padding: Int32(same ? CK_PAD_SAME.rawValue : CK_PAD_VALID.rawValue))
    }

    var description: String {
        "n\(p.n) \(p.h)x\(p.w)x\(p.c) k\(p.kh)x\(p.kw)→\(p.o) s\(p.sh),\(p.sw) \(p.padding == 1 ? "SAME" : "VALID")"
    }

    var outShape: (Int, Int) {
        var p = p
        var oh: Int32 = -1, ow: Int32 = -1
        let st = ck_conv2d_output_shape(&p, &oh, &ow)
        precondition(st == ok, "bad test shape \(self)")
        return (Int(oh), Int(ow))
    }
    var xCount: Int { Int(p.n * p.h * p.w * p.c) }
    var wCount: Int { Int(p.kh * p.kw * p.c * p.o) }
    var yCount: Int { let (oh, ow) = outShape; return Int(p.n) * oh * ow * Int(p.o) }
    /// The whole batch's im2col matrix, n·oh·ow·kh·kw·c floats: the most workspace
    /// any pass can use (0 when none is needed: an empty output, or 1×1 stride 1).
    var workspace: Int {
        let pointwise = p.kh == 1 && p.kw == 1 && p.sh == 1 && p.sw == 1
        return pointwise || yCount == 0 ? 0 : yCount / Int(p.o) * Int(p.kh * p.kw * p.c)
    }

    func forward(_ x: [Float], _ w: [Float], _ b: [Float]?, act: ck_activation = CK_ACT_NONE,
                 workspace wsLen: Int? = nil) -> [Float] {
        var p = p
        var y = [Float](repeating: .nan, count: yCount)
        var ws = [Float](repeating: 0, count: max(1, wsLen ?? workspace))
        let st = ck_conv2d_forward(&p, x, w, b, Int32(act.rawValue), &y, &ws, wsLen ?? workspace)
        #expect(st == ok, "forward status \(st) for \(self)")
        return y
    }
    func naive(_ x: [Float], _ w: [Float], _ b: [Float]?) -> [Float] {
        var p = p
        var y = [Float](repeating: .nan, count: yCount)
        let st = ck_conv2d_forward_naive(&p, x, w, b, &y)
        #expect(st == ok)
        return y
    }
    func backwardData(_ dz: [Float], _ w: [Float], workspace wsLen: Int? = nil) -> [Float] {
        var p = p
        var dx = [Float](repeating: .nan, count: xCount)
        var ws = [Float](repeating: 0, count: max(1, wsLen ?? workspace))
        let st = ck_conv2d_backward_data(&p, dz, w, &dx, &ws, wsLen ?? workspace)
        #expect(st == ok, "backward_data status \(st) for \(self)")
        return dx
    }
    func backwardFilter(_ x: [Float], _ dz: [Float], workspace wsLen: Int? = nil) -> ([Float], [Float]) {
        var p = p
        var dw = [Float](repeating: .nan, count: wCount)
        var db = [Float](repeating: .nan, count: Int(p.o))
        var ws = [Float](repeating: 0, count: max(1, wsLen ?? workspace))
        let st = ck_conv2d_backward_filter(&p, x, dz, &dw, &db, &ws, wsLen ?? workspace)
        #expect(st == ok, "backward_filter status \(st) for \(self)")
        return (dw, db)
    }
    func naiveBackward(_ x: [Float], _ w: [Float], _ dy: [Float]) -> ([Float], [Float], [Float]) {
        var p = p
        var dx = [Float](repeating: .nan, count: xCount)
        var dw = [Float](repeating: .nan, count: wCount)
        var db = [Float](repeating: .nan, count: Int(p.o))
        let st = ck_conv2d_backward_naive(&p, x, w, dy, &dx, &dw, &db)
        #expect(st == ok)
        return (dx, dw, db)
    }
}

fileprivate func applyAct(_ act: ck_activation, _ v: [Float]) -> [Float] {
    switch act {
    case CK_ACT_RELU: return v.map { max($0, 0) }
    case CK_ACT_SIGMOID: return v.map { Float(1 / (1 + exp(-Double($0)))) }
    case CK_ACT_TANH: return v.map { Float(tanh(Double($0))) }
    default: return v
    }
}

fileprivate let acts = [CK_ACT_NONE, CK_ACT_RELU, CK_ACT_SIGMOID, CK_ACT_TANH]

/// The shapes the brief asks for: odd sizes, strides 1–3 per axis, both
/// paddings, batch 1–4, channels 1–8, kernels 1×7, 7×1, 3×3, 5×5 and K > H.
fileprivate func randomShapes(count: Int, seed: UInt64, maxHW: Int = 11) -> [Conv] {
    var rng = TestRNG(seed: seed)
    let kernels = [(1, 7), (7, 1), (3, 3), (5, 5), (1, 1), (2, 3), (4, 2)]
    var shapes: [Conv] = [
        Conv(n: 2, h: 3, w: 4, c: 2, kh: 5, kw: 5, o: 3, same: true),          // K > H, SAME
        Conv(n: 1, h: 2, w: 9, c: 3, kh: 7, kw: 1, o: 2, sh: 2, sw: 1, same: true),
        Conv(n: 3, h: 7, w: 9, c: 1, kh: 3, kw: 3, o: 4, sh: 2, sw: 3, same: false),
        Conv(n: 2, h: 7, w: 7, c: 2, kh: 2, kw: 2, o: 3, sh: 2, sw: 2, same: false), // last column unread
        Conv(n: 1, h: 5, w: 5, c: 2, kh: 1, kw: 1, o: 3, sh: 3, sw: 3, same: false), // s > K
    ]
    while shapes.count < count {
        let (kh, kw) = kernels[rng.int(0...kernels.count - 1)]
        let same = rng.int(0...1) == 1
        let h = rng.int(same ? 1...maxHW : kh...max(kh, maxHW))
        let w = rng.int(same ? 1...maxHW : kw...max(kw, maxHW))
        shapes.append(Conv(n: rng.int(1...4), h: h, w: w, c: rng.int(1...8), kh: kh, kw: kw,
                           o: rng.int(1...8), sh: rng.int(1...3), sw: rng.int(1...3), same: same))
    }
    return shapes
}

/// Forward with random inputs and an activation per shape (cycling through `acts`) against
/// the naive loops, within 1e-5 relative.
private func expectForwardMatchesNaive(_ shapes: [Conv], seed: UInt64, _ what: String) {
    var rng = TestRNG(seed: seed)
    var worst: Float = 0
    for (idx, conv) in shapes.enumerated() {
        let x = rng.array(conv.xCount), w = rng.array(conv.wCount), b = rng.array(Int(conv.p.o))
        let act = acts[idx % acts.count]
        let y = conv.forward(x, w, b, act: act)
        let d = maxDiff(y, applyAct(act, conv.naive(x, w, b)))
        worst = max(worst, d.rel)
        #expect(d.rel < 1e-5, "\(conv): max diff \(d.abs)")
        // The direct forms' AVX-512 versions add the same taps in the same order: the same bits.
        let before = ck_isa_get()
        for isa in [CK_ISA_AVX2, CK_ISA_AVX512].map(\.rawValue) where ck_isa_supported(isa) != 0 {
            #expect(ck_isa_set(isa) == ok)
            #expect(conv.forward(x, w, b, act: act) == y, "\(conv): ISA \(isa) gives other bits")
        }
        #expect(ck_isa_set(before) == ok)
    }
    print("\(what) vs naive: max rel diff \(worst)")
}

@Suite struct ConvTests {
    // Spec §1.4: the 5×5 image and the X-shaped kernel, four ways.
    @Test(arguments: [
        (false, 1, [[4, 3, 4], [2, 4, 3], [2, 3, 4]]),
        (false, 2, [[4, 4], [2, 4]]),
        (true, 1, [[2, 2, 3, 1, 1], [1, 4, 3, 4, 1], [1, 2, 4, 3, 3], [1, 2, 3, 4, 1], [0, 2, 2, 1, 1]]),
        (true, 2, [[2, 3, 1], [1, 4, 3], [0, 2, 1]]),
    ] as [(Bool, Int, [[Float]])])
    func workedExample(same: Bool, stride: Int, expected: [[Float]]) {
        let image: [Float] = [1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0]
        let kernel: [Float] = [1, 0, 1, 0, 1, 0, 1, 0, 1]
        let conv = Conv(n: 1, h: 5, w: 5, c: 1, kh: 3, kw: 3, o: 1, sh: stride, sw: stride, same: same)
        let (oh, ow) = conv.outShape
        #expect(oh == expected.count && ow == expected[0].count)
        let want = expected.flatMap { $0 }
        let fast = conv.forward(image, kernel, [0])
        let naive = conv.naive(image, kernel, nil)
        #expect(fast == want, "\(conv): got \(fast)")
        #expect(naive == want, "\(conv): naive got \(naive)")
    }

    // Spec §1.2's padding table, plus K > H with SAME and VALID.
    @Test(arguments: [
        // (in, k, s, same, out, pad_before)
        (5, 3, 1, true, 5, 1), (5, 3, 2, true, 3, 1), (6, 3, 2, true, 3, 0), (4, 2, 1, true, 4, 0),
        (5, 4, 1, true, 5, 1), (3, 5, 1, true, 3, 2), (28, 5, 1, true, 28, 2), (28, 2, 2, true, 14, 0),
        (5, 3, 1, false, 3, 0), (5, 3, 2, false, 2, 0), (7, 2, 2, false, 3, 0), (3, 5, 1, false, 0, 0),
        (14, 5, 1, false, 10, 0), (1, 1, 3, true, 1, 0), (1, 1, 3, false, 1, 0),
    ] as [(Int, Int, Int, Bool, Int, Int)])
    func paddingTable(input: Int, k: Int, s: Int, same: Bool, out: Int, pad: Int) {
        var o: Int32 = -1, pb: Int32 = -1
        let st = ck_output_size(Int32(input), Int32(k), Int32(s),
                                Int32(same ? CK_PAD_SAME.rawValue : CK_PAD_VALID.rawValue), &o, &pb)
        #expect(st == ok)
        #expect(o == Int32(out) && pb == Int32(pad), "in \(input) k \(k) s \(s): out \(o) pad \(pb)")
        // pad_before may be NULL.
        #expect(ck_output_size(Int32(input), Int32(k), Int32(s), 1, &o, nil) == ok)
    }

    // An edge detector (8 centre, −1 around) sees nothing on a constant image
    // away from the border; at a SAME corner 3 of the 8 neighbours are padding.
    @Test func edgeKernelOnConstantImage() {
        let conv = Conv(n: 1, h: 8, w: 9, c: 1, kh: 3, kw: 3, o: 1, same: true)
        let x = [Float](repeating: 3, count: conv.xCount)
        let k: [Float] = [-1, -1, -1, -1, 8, -1, -1, -1, -1]
        let y = conv.forward(x, k, nil)
        var interiorMax: Float = 0
        for i in 1..<7 { for j in 1..<8 { interiorMax = max(interiorMax, abs(y[i * 9 + j])) } }
        #expect(interiorMax == 0, "interior max |y| \(interiorMax)")
        #expect(y[0] == 15 && y[8] == 15 && y[63] == 15 && y[71] == 15, "corners \(y[0]) \(y[8]) \(y[63]) \(y[71])")
        #expect(y[4] == 9, "top edge \(y[4])") // 5 of 8 neighbours in bounds: 24 − 15
    }

    @Test func forwardMatchesNaiveOnRandomShapes() {
        var rng = TestRNG(seed: 11)
        var worst: Float = 0
        let shapes = randomShapes(count: 60, seed: 1)
        for (idx, conv) in shapes.enumerated() {
            let x = rng.array(conv.xCount), w = rng.array(conv.wCount), b = rng.array(Int(conv.p.o))
            let act = acts[idx % acts.count]
            let ref = applyAct(act, conv.naive(x, w, b))
            let got = conv.forward(x, w, b, act: act)
            let d = maxDiff(got, ref)
            worst = max(worst, d.rel)
            #expect(d.rel < 1e-5, "\(conv) act \(act.rawValue): max diff \(d.abs)")
        }
        #expect(worst < 1e-5, "forward vs naive over \(shapes.count) shapes: max rel diff \(worst)")
        print("conv forward vs naive, \(shapes.count) shapes: max rel diff \(worst)")
    }

    @Test func validWithKernelLargerThanInputIsEmpty() {
        var conv = Conv(n: 2, h: 3, w: 6, c: 2, kh: 5, kw: 3, o: 3, same: false)
        #expect(conv.outShape == (0, 4))
        #expect(conv.yCount == 0 && conv.workspace == 0)
        let x = [Float](repeating: 1, count: conv.xCount), w = [Float](repeating: 1, count: conv.wCount)
        var y: [Float] = [42]
        #expect(ck_conv2d_forward(&conv.p, x, w, nil, 0, &y, nil, 0) == ok)
        #expect(y == [42], "nothing written")
        var dx = [Float](repeating: .nan, count: conv.xCount)
        var dw = [Float](repeating: .nan, count: conv.wCount), db: [Float] = [.nan, .nan, .nan]
        #expect(ck_conv2d_backward_data(&conv.p, [0], w, &dx, nil, 0) == ok)
        #expect(ck_conv2d_backward_filter(&conv.p, x, [0], &dw, &db, nil, 0) == ok)
        #expect(dx.allSatisfy { $0 == 0 } && dw.allSatisfy { $0 == 0 } && db == [0, 0, 0])
    }

    // The direct filter gradients on every ISA: one channel (LeNet-5's first convolution;
    // AVX-512: 16 pixels a register, two output rows at a time), odd row counts and a filter
    // width that takes the general case included; and with AVX-512, 9 to 16 filters without
    // padding at any channel count (LeNet-5's second: 15 taps' sums in registers at a time,
    // a last chunk of fewer, fewer than 16 filters, strides).
    @Test func directFilterGradientsMatchNaiveOnEveryISA() {
        let shapes = [
            Conv(n: 2, h: 28, w: 28, c: 1, kh: 5, kw: 5, o: 6, same: true),
            Conv(n: 3, h: 9, w: 20, c: 1, kh: 3, kw: 3, o: 5, same: true),
            Conv(n: 1, h: 7, w: 33, c: 1, kh: 3, kw: 7, o: 4, sh: 2, sw: 1, same: true),
            Conv(n: 3, h: 14, w: 14, c: 6, kh: 5, kw: 5, o: 16, same: false),
            Conv(n: 3, h: 9, w: 11, c: 5, kh: 3, kw: 3, o: 9, same: false),
            Conv(n: 1, h: 8, w: 13, c: 16, kh: 3, kw: 3, o: 16, sh: 2, sw: 2, same: false),
            Conv(n: 2, h: 7, w: 6, c: 3, kh: 2, kw: 2, o: 10, same: false),
        ]
        var rng = TestRNG(seed: 29)
        let before = ck_isa_get()
        defer { _ = ck_isa_set(before) }
        for conv in shapes {
            let x = rng.array(conv.xCount), w = rng.array(conv.wCount), dz = rng.array(conv.yCount)
            let (_, rdw, rdb) = conv.naiveBackward(x, w, dz)
            for isa in [CK_ISA_AVX2, CK_ISA_AVX512].map(\.rawValue) where ck_isa_supported(isa) != 0 {
                #expect(ck_isa_set(isa) == ok)
                let (dw, db) = conv.backwardFilter(x, dz)
                #expect(maxDiff(dw, rdw).rel < 1e-5 && maxDiff(db, rdb).rel < 1e-5, "\(conv), ISA \(isa)")
            }
        }
    }

    @Test func backwardMatchesNaiveOnRandomShapes() {
        var rng = TestRNG(seed: 12)
        var worst = (dx: Float(0), dw: Float(0), db: Float(0))
        let shapes = randomShapes(count: 50, seed: 2)
        for conv in shapes {
            let x = rng.array(conv.xCount), w = rng.array(conv.wCount), dz = rng.array(conv.yCount)
            let (rdx, rdw, rdb) = conv.naiveBackward(x, w, dz)
            let dx = conv.backwardData(dz, w)
            let (dw, db) = conv.backwardFilter(x, dz)
            let e = (maxDiff(dx, rdx).rel, maxDiff(dw, rdw).rel, maxDiff(db, rdb).rel)
            worst = (max(worst.dx, e.0), max(worst.dw, e.1), max(worst.db, e.2))
            #expect(e.0 < 1e-5 && e.1 < 1e-5 && e.2 < 1e-5, "\(conv): dx \(e.0) dw \(e.1) db \(e.2)")
        }
        print("conv backward vs naive, \(shapes.count) shapes: max rel diff dx \(worst.dx) dw \(worst.dw) db \(worst.db)")
    }

    // L = <conv(x, w) + b, g>: its gradients are exactly what backward gives for dz = g.
    @Test func backwardMatchesFiniteDifferences() {
        var rng = TestRNG(seed: 13)
        let shapes = [
            Conv(n: 2, h: 5, w: 4, c: 2, kh: 3, kw: 2, o: 2, sh: 2, sw: 1, same: true),
            Conv(n: 1, h: 7, w: 5, c: 1, kh: 2, kw: 2, o: 3, sh: 2, sw: 2, same: false),
            Conv(n: 2, h: 3, w: 3, c: 2, kh: 5, kw: 4, o: 2, same: true),
            Conv(n: 1, h: 6, w: 7, c: 3, kh: 1, kw: 3, o: 2, sh: 1, sw: 3, same: true),
            Conv(n: 2, h: 4, w: 4, c: 2, kh: 1, kw: 1, o: 3, same: false),
        ]
        var worst: Float = 0
        for conv in shapes {
            let x = rng.array(conv.xCount), w = rng.array(conv.wCount)
            let b = rng.array(Int(conv.p.o)), g = rng.array(conv.yCount)
            let nx = numericGradient(x) { dot(conv.naive($0, w, b), g) }
            let nw = numericGradient(w) { dot(conv.naive(x, $0, b), g) }
            let nb = numericGradient(b) { dot(conv.naive(x, w, $0), g) }
            let dx = conv.backwardData(g, w)
            let (dw, db) = conv.backwardFilter(x, g)
            let (rdx, rdw, rdb) = conv.naiveBackward(x, w, g)
            let errs = [maxDiff(dx, nx).abs, maxDiff(dw, nw).abs, maxDiff(db, nb).abs,
                        maxDiff(rdx, nx).abs, maxDiff(rdw, nw).abs, maxDiff(rdb, nb).abs]
            worst = max(worst, errs.max()!)
            #expect(errs.allSatisfy { $0 < 2e-3 }, "\(conv): fast dx/dw/db, naive dx/dw/db vs FD \(errs)")
        }
        print("conv backward (fast and naive) vs finite differences: max abs diff \(worst)")
    }

    // col2im is the adjoint of im2col: <im2col(x), c> == <x, col2im(c)>.
    @Test func col2imIsAdjointOfIm2col() {
        var rng = TestRNG(seed: 14)
        for var conv in randomShapes(count: 12, seed: 3) {
            let (oh, ow) = conv.outShape
            let colsCount = Int(conv.p.n) * oh * ow * Int(conv.p.kh * conv.p.kw * conv.p.c)
            let x = rng.array(conv.xCount), c = rng.array(colsCount)
            var cols = [Float](repeating: .nan, count: colsCount)
            var dx = [Float](repeating: .nan, count: conv.xCount)
            #expect(ck_im2col(&conv.p, x, &cols) == ok)
            #expect(ck_col2im(&conv.p, c, &dx) == ok)
            let lhs = dot(cols, c), rhs = dot(x, dx)
            #expect(abs(lhs - rhs) <= 1e-4 * max(1, abs(lhs)), "\(conv): \(lhs) vs \(rhs)")
        }
    }

    // A workspace holding only some images processes the batch in chunks.
    @Test func smallWorkspaceChunksTheBatch() {
        var rng = TestRNG(seed: 15)
        let conv = Conv(n: 5, h: 9, w: 7, c: 3, kh: 3, kw: 3, o: 4, sh: 2, sw: 1, same: true)
        let perImage = conv.workspace / 5
        let x = rng.array(conv.xCount), w = rng.array(conv.wCount), b = rng.array(4), dz = rng.array(conv.yCount)
        let (rdx, rdw, rdb) = conv.naiveBackward(x, w, dz)
        for len in [perImage, 2 * perImage + 3] {
            let y = conv.forward(x, w, b, act: CK_ACT_TANH, workspace: len)
            let dx = conv.backwardData(dz, w, workspace: len)
            let (dw, db) = conv.backwardFilter(x, dz, workspace: len)
            let e = [maxDiff(y, applyAct(CK_ACT_TANH, conv.naive(x, w, b))).rel, maxDiff(dx, rdx).rel,
                     maxDiff(dw, rdw).rel, maxDiff(db, rdb).rel]
            #expect(e.allSatisfy { $0 < 1e-5 }, "workspace \(len): y/dx/dw/db diffs \(e)")
        }
    }

    @Test func threadCountDoesNotChangeResults() {
        var rng = TestRNG(seed: 16)
        let before = ck_get_num_threads()
        defer { ck_set_num_threads(before) }
        for conv in [Conv(n: 4, h: 16, w: 15, c: 8, kh: 3, kw: 3, o: 16, same: true),
                     Conv(n: 8, h: 28, w: 28, c: 1, kh: 5, kw: 5, o: 6, same: true)] {
            let x = rng.array(conv.xCount), w = rng.array(conv.wCount), b = rng.array(Int(conv.p.o))
            let dz = rng.array(conv.yCount)
            func run() -> [[Float]] {
                let (dw, db) = conv.backwardFilter(x, dz)
                return [conv.forward(x, w, b, act: CK_ACT_RELU), conv.backwardData(dz, w), dw, db]
            }
            ck_set_num_threads(1)
            let one = run()
            ck_set_num_threads(2)
            let two = run(), again = run()
            for k in 0..<4 {
                let d = maxDiff(two[k], one[k])
                #expect(d.rel <= 1e-5, "\(conv) output \(k): 1 vs 2 threads differ by \(d.rel)")
                #expect(two[k].map(\.bitPattern) == again[k].map(\.bitPattern), "\(conv) output \(k) not reproducible")
            }
        }
    }

    @Test func imageGroupsMatchNaiveWithIdenticalBitsOnAnyThreadCountAndScratch() {
        // One image per group (7 groups), and two groups of 6 and 7 images; one image
        // (fewer images than cores: one GEMM cut into blocks over the threads), with
        // patches (15 filters: fewer than Winograd takes) and pointwise.
        var rng = TestRNG(seed: 17)
        let before = ck_get_num_threads()
        defer { ck_set_num_threads(before) }
        for conv in [Conv(n: 7, h: 20, w: 20, c: 16, kh: 5, kw: 5, o: 8, same: true),
                     Conv(n: 13, h: 6, w: 6, c: 4, kh: 3, kw: 3, o: 8, sh: 2, sw: 1, same: false),
                     Conv(n: 1, h: 41, w: 37, c: 16, kh: 3, kw: 3, o: 15, same: true),
                     Conv(n: 1, h: 35, w: 35, c: 64, kh: 1, kw: 1, o: 48, same: true)] {
            let x = rng.array(conv.xCount), w = rng.array(conv.wCount), b = rng.array(Int(conv.p.o))
            let dz = rng.array(conv.yCount)
            let (rdx, _, _) = conv.naiveBackward(x, w, dz)
            var runs: [[[Float]]] = []
            for threads: Int32 in [1, 2, 3] {
                ck_set_num_threads(threads)
                let y = conv.forward(x, w, b, act: CK_ACT_NONE), dx = conv.backwardData(dz, w)
                #expect(maxDiff(y, conv.naive(x, w, b)).rel < 1e-5, "\(conv) forward, \(threads) threads")
                #expect(maxDiff(dx, rdx).rel < 1e-5, "\(conv) backward data, \(threads) threads")
                runs.append([y, dx])
            }
            // The scratch size (one group per core): the same bits.
            var p = conv.p
            let scratch = ck_conv2d_scratch_size(&p)
            #expect((scratch > 0) == (conv.p.kh > 1) && scratch <= conv.workspace, "\(conv) scratch \(scratch) of \(conv.workspace)")
            ck_set_num_threads(2)
            runs.append([conv.forward(x, w, b, act: CK_ACT_NONE, workspace: scratch),
                         conv.backwardData(dz, w, workspace: scratch)])
            for r in runs.dropFirst() {
                #expect(r[0].map(\.bitPattern) == runs[0][0].map(\.bitPattern), "\(conv) forward bits")
                #expect(r[1].map(\.bitPattern) == runs[0][1].map(\.bitPattern), "\(conv) backward-data bits")
            }
        }
    }

    @Test func badArgumentsAreRejected() {
        let good = Conv(n: 2, h: 6, w: 5, c: 2, kh: 3, kw: 3, o: 2, same: true)
        let x = [Float](repeating: 1, count: good.xCount), w = [Float](repeating: 1, count: good.wCount)
        var y = [Float](repeating: 0, count: good.yCount), dx = [Float](repeating: 0, count: good.xCount)
        var dw = [Float](repeating: 0, count: good.wCount), db: [Float] = [0, 0]
        var ws = [Float](repeating: 0, count: good.workspace)
        let wsLen = good.workspace
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
        for var p in bad {
            var oh: Int32 = 0, ow: Int32 = 0
            #expect(ck_conv2d_output_shape(&p, &oh, &ow) == einval, "\(p)")
            #expect(ck_conv2d_scratch_size(&p) == 0)
            #expect(ck_conv2d_forward(&p, x, w, nil, 0, &y, &ws, wsLen) == einval, "\(p)")
            #expect(ck_conv2d_backward_data(&p, y, w, &dx, &ws, wsLen) == einval, "\(p)")
            #expect(ck_conv2d_backward_filter(&p, x, y, &dw, &db, &ws, wsLen) == einval, "\(p)")
            #expect(ck_conv2d_forward_naive(&p, x, w, nil, &y) == einval, "\(p)")
            #expect(ck_conv2d_backward_naive(&p, x, w, y, &dx, &dw, &db) == einval, "\(p)")
            #expect(ck_im2col(&p, x, &ws) == einval && ck_col2im(&p, ws, &dx) == einval, "\(p)")
        }
        var p = good.p
        var oh: Int32 = 0, ow: Int32 = 0
        #expect(ck_conv2d_output_shape(nil, &oh, &ow) == einval)
        #expect(ck_conv2d_output_shape(&p, nil, &oh) == einval)
        #expect(ck_conv2d_scratch_size(nil) == 0)
        #expect(ck_conv2d_forward(nil, x, w, nil, 0, &y, &ws, wsLen) == einval)
        #expect(ck_conv2d_forward(&p, nil, w, nil, 0, &y, &ws, wsLen) == einval)
        #expect(ck_conv2d_forward(&p, x, nil, nil, 0, &y, &ws, wsLen) == einval)
        #expect(ck_conv2d_forward(&p, x, w, nil, 0, nil, &ws, wsLen) == einval)
        #expect(ck_conv2d_forward(&p, x, w, nil, 0, &y, nil, wsLen) == einval)
        #expect(ck_conv2d_forward(&p, x, w, nil, 5, &y, &ws, wsLen) == einval, "bad activation")  // 4 is RELU6
        #expect(ck_conv2d_forward(&p, x, w, nil, -1, &y, &ws, wsLen) == einval, "bad activation")
        #expect(ck_conv2d_backward_data(&p, nil, w, &dx, &ws, wsLen) == einval)
        #expect(ck_conv2d_backward_data(&p, y, nil, &dx, &ws, wsLen) == einval)
        #expect(ck_conv2d_backward_data(&p, y, w, nil, &ws, wsLen) == einval)
        #expect(ck_conv2d_backward_filter(&p, nil, y, &dw, &db, &ws, wsLen) == einval)
        #expect(ck_conv2d_backward_filter(&p, x, nil, &dw, &db, &ws, wsLen) == einval)
        #expect(ck_conv2d_backward_filter(&p, x, y, nil, &db, &ws, wsLen) == einval)
        #expect(ck_im2col(&p, nil, &ws) == einval && ck_col2im(&p, nil, &dx) == einval)
        #expect(ck_conv2d_forward_naive(&p, x, w, nil, nil) == einval)
        // Output size helper.
        #expect(ck_output_size(0, 3, 1, 0, &oh, nil) == einval)
        #expect(ck_output_size(5, 0, 1, 0, &oh, nil) == einval)
        #expect(ck_output_size(5, 3, 0, 0, &oh, nil) == einval)
        #expect(ck_output_size(5, 3, 1, 2, &oh, nil) == einval)
        #expect(ck_output_size(5, 3, 1, 0, nil, nil) == einval)
        // Too small a workspace (less than one image's im2col matrix).
        let perImage = wsLen / 2
        #expect(ck_conv2d_forward(&p, x, w, nil, 0, &y, &ws, perImage - 1) == enospc)
        #expect(ck_conv2d_backward_data(&p, y, w, &dx, &ws, perImage - 1) == enospc)
        #expect(ck_conv2d_backward_filter(&p, x, y, &dw, &db, &ws, 0) == enospc)
        // Sizes beyond BLAS's int range are refused, not overflowed.
        var huge = good.p
        huge.n = 1 << 20; huge.h = 1 << 12; huge.w = 1 << 12
        #expect(ck_conv2d_forward(&huge, x, w, nil, 0, &y, &ws, wsLen) == einval)
        #expect(ck_conv2d_scratch_size(&huge) == 0)
    }

    // 1×1 stride-1 convolutions use x directly and need no workspace.
    @Test func pointwiseNeedsNoWorkspace() {
        var rng = TestRNG(seed: 17)
        let conv = Conv(n: 3, h: 5, w: 7, c: 6, kh: 1, kw: 1, o: 4, same: true)
        #expect(conv.workspace == 0)
        let x = rng.array(conv.xCount), w = rng.array(conv.wCount), b = rng.array(4), dz = rng.array(conv.yCount)
        let (rdx, rdw, rdb) = conv.naiveBackward(x, w, dz)
        let (dw, db) = conv.backwardFilter(x, dz)
        let e = [maxDiff(conv.forward(x, w, b), conv.naive(x, w, b)).rel, maxDiff(conv.backwardData(dz, w), rdx).rel,
                 maxDiff(dw, rdw).rel, maxDiff(db, rdb).rel]
        #expect(e.allSatisfy { $0 < 1e-5 }, "y/dx/dw/db diffs \(e)")
    }

    // One input channel, stride 1, up to 8 filters: rows wide enough for the 8-pixel register
    // blocks of the direct forward (LeNet conv1 among them), against the naive loops.
    @Test func singleChannelWideRowsMatchNaive() {
        let shapes = [
            Conv(n: 2, h: 28, w: 28, c: 1, kh: 5, kw: 5, o: 6, same: true),
            Conv(n: 1, h: 9, w: 31, c: 1, kh: 3, kw: 4, o: 8, same: true),
            Conv(n: 2, h: 6, w: 23, c: 1, kh: 5, kw: 2, o: 1, sh: 2, sw: 1, same: false),
            Conv(n: 1, h: 7, w: 17, c: 1, kh: 1, kw: 5, o: 7, same: true),
            // The bordered-image form (one channel, at most 6 filters): row stride 3,
            // a width that is no multiple of 16; then an image too large for it.
            Conv(n: 3, h: 11, w: 45, c: 1, kh: 3, kw: 7, o: 3, sh: 3, sw: 1, same: true),
            Conv(n: 2, h: 9, w: 20, c: 1, kh: 3, kw: 3, o: 5, same: true),  // an odd row count
            Conv(n: 1, h: 5, w: 12, c: 1, kh: 5, kw: 5, o: 6, same: false),  // one row, 8 pixels
            Conv(n: 1, h: 100, w: 100, c: 1, kh: 5, kw: 5, o: 6, same: true),
        ]
        expectForwardMatchesNaive(shapes, seed: 19, "single-channel wide rows")
    }

    // Without padding the forward pass is direct up to 16 channels: both halves of 9 to 16
    // filters at once, four pixels at a time, a row's last four pixels overlapping the previous
    // four when the width is no multiple of 4, and rows narrower than four pixels.
    @Test func severalChannelsValidMatchNaive() {
        let shapes = [
            Conv(n: 2, h: 14, w: 14, c: 6, kh: 5, kw: 5, o: 16, same: false),  // LeNet conv2
            Conv(n: 1, h: 14, w: 14, c: 6, kh: 5, kw: 5, o: 16, same: false),
            Conv(n: 3, h: 9, w: 11, c: 5, kh: 3, kw: 3, o: 9, same: false),
            Conv(n: 1, h: 8, w: 13, c: 16, kh: 3, kw: 3, o: 16, sh: 2, sw: 2, same: false),
            Conv(n: 2, h: 6, w: 6, c: 7, kh: 4, kw: 4, o: 12, sh: 1, sw: 3, same: false),
            Conv(n: 2, h: 10, w: 9, c: 12, kh: 2, kw: 3, o: 5, sh: 2, sw: 1, same: false),
            // AVX-512's pairs of rows of five pixels: one row, a width of exactly five.
            Conv(n: 2, h: 3, w: 7, c: 4, kh: 3, kw: 3, o: 14, same: false),
            Conv(n: 3, h: 7, w: 6, c: 3, kh: 2, kw: 2, o: 10, same: false),
        ]
        expectForwardMatchesNaive(shapes, seed: 23, "several channels, VALID")
    }

    // Stride 1 with at least 16 channels and filters goes through Winograd (conv_winograd.c):
    // F(4×4, 3×3) (F(2×2, 3×3) on fewer than 64 tiles), F(3×3, 5×5), F(3, 7) for 1×7 and 7×1,
    // F(4, 3) for 1×3 and 3×1; the forward pass on any number of tiles, the data gradient (a
    // Winograd forward of dz with the turned filter, padded by k − 1 − p) on 64 or more. Sizes
    // no multiple of the tile leave part tiles at the right and bottom edges; images smaller
    // than one tile; more tiles than one block; every
    // activation; deep-MNIST's second convolution and Inception-v3's 5×5 and 1×7. The
    // transforms mix a tile's pixels, so an output near 0 carries the rounding of its larger
    // neighbours: the bound is on the error over the largest output, 1e-5 (measured: up to
    // 5e-6 for 3×3 on 448 channels, 2.8e-6 for 5×5, against 5e-7 for im2col + GEMM). The
    // same bits on 1, 2 and 3 threads.
    @Test func winogradShapesMatchNaiveWithIdenticalBitsOnAnyThreadCount() {
        let shapes = [
            Conv(n: 4, h: 17, w: 15, c: 16, kh: 3, kw: 3, o: 24, same: true),
            Conv(n: 3, h: 30, w: 30, c: 16, kh: 3, kw: 3, o: 17, same: true),
            Conv(n: 12, h: 13, w: 10, c: 33, kh: 3, kw: 3, o: 40, same: false),
            Conv(n: 64, h: 3, w: 5, c: 20, kh: 3, kw: 3, o: 16, same: true),
            Conv(n: 8, h: 9, w: 7, c: 16, kh: 5, kw: 5, o: 24, same: true),
            Conv(n: 8, h: 11, w: 8, c: 17, kh: 5, kw: 5, o: 20, same: false),
            Conv(n: 3, h: 14, w: 14, c: 32, kh: 5, kw: 5, o: 64, same: true),  // deep-MNIST conv2
            Conv(n: 1, h: 35, w: 35, c: 48, kh: 5, kw: 5, o: 64, same: true),  // Inception-v3 5×5
            Conv(n: 2, h: 9, w: 7, c: 16, kh: 1, kw: 7, o: 24, same: true),
            Conv(n: 3, h: 11, w: 9, c: 17, kh: 7, kw: 1, o: 20, same: false),
            Conv(n: 1, h: 17, w: 17, c: 160, kh: 1, kw: 7, o: 160, same: true),  // Inception-v3 1×7
            Conv(n: 8, h: 5, w: 6, c: 16, kh: 1, kw: 3, o: 16, same: true),
            Conv(n: 8, h: 9, w: 6, c: 16, kh: 3, kw: 1, o: 17, same: false),
            // Fewer than 64 tiles: the forward pass still takes Winograd (3×3 as F(2×2, 3×3)),
            // the data gradient im2col + GEMM. Inception-v3's 8×8 layers at batch 1; the first
            // and the 1×3 one with work enough for the cores to share out the α² products.
            Conv(n: 1, h: 8, w: 8, c: 48, kh: 3, kw: 3, o: 40, same: true),
            Conv(n: 2, h: 7, w: 9, c: 17, kh: 3, kw: 3, o: 20, same: false),
            Conv(n: 1, h: 8, w: 8, c: 64, kh: 1, kw: 3, o: 48, same: true),
            Conv(n: 1, h: 8, w: 8, c: 24, kh: 3, kw: 1, o: 32, same: true),
            Conv(n: 1, h: 6, w: 6, c: 16, kh: 5, kw: 5, o: 16, same: true),
        ]
        var rng = TestRNG(seed: 31)
        var worst = (y: Float(0), dx: Float(0))
        let before = ck_get_num_threads()
        defer { ck_set_num_threads(before) }
        func largest(_ v: [Float]) -> Float { v.map { abs($0) }.max()! }
        for (idx, conv) in shapes.enumerated() {
            let x = rng.array(conv.xCount), w = rng.array(conv.wCount), b = rng.array(Int(conv.p.o))
            let dz = rng.array(conv.yCount)
            let act = acts[idx % acts.count]
            // The activations have slopes of at most 1: the bound is over the largest output
            // before them.
            let naive = conv.naive(x, w, b), rdx = conv.naiveBackward(x, w, dz).0
            let ey = maxDiff(conv.forward(x, w, b, act: act), applyAct(act, naive)).abs / largest(naive)
            let edx = maxDiff(conv.backwardData(dz, w), rdx).abs / largest(rdx)
            worst = (max(worst.y, ey), max(worst.dx, edx))
            #expect(ey < 1e-5 && edx < 1e-5, "\(conv): forward \(ey), data gradient \(edx) of the largest")
            let runs = [Int32(1), 2, 3].map { threads -> [UInt32] in
                ck_set_num_threads(threads)
                return (conv.forward(x, w, b, act: CK_ACT_RELU) + conv.backwardData(dz, w)).map(\.bitPattern)
            }
            #expect(runs[1] == runs[0] && runs[2] == runs[0], "\(conv): bits differ across thread counts")
            // The transforms' AVX-512 versions (16 channels a vector) do each lane's operations
            // in the same order: the same bits. (The ISA is process-wide: make test runs one
            // test at a time.)
            let isa = ck_isa_get()
            for other in [CK_ISA_AVX2, CK_ISA_AVX512].map(\.rawValue) where ck_isa_supported(other) != 0 {
                #expect(ck_isa_set(other) == ok)
                let y = conv.forward(x, w, b, act: CK_ACT_RELU).map(\.bitPattern)
                #expect(y == Array(runs[0].prefix(y.count)), "\(conv): ISA \(other) gives other bits")
            }
            #expect(ck_isa_set(isa) == ok)
        }
        print("Winograd vs naive, error over the largest output: forward \(worst.y), data gradient \(worst.dx)")
    }

    // ck_conv2d_forward_cached keeps the prepared filter (Winograd's U, or the GEMM's packed
    // copy) between calls: the same bits as ck_conv2d_forward on every path (Winograd at batch 1
    // and 16, a batch-1 GEMM cut over the threads by rows or by columns, pointwise, image groups,
    // direct), calls after the first included; a changed filter is used once the cache is cleared.
    @Test func cachedForwardMatchesUncachedBits() {
        var rng = TestRNG(seed: 43)
        let shapes = [
            Conv(n: 1, h: 17, w: 17, c: 32, kh: 1, kw: 7, o: 24, same: true),
            Conv(n: 16, h: 8, w: 8, c: 32, kh: 3, kw: 3, o: 24, same: true),
            Conv(n: 1, h: 9, w: 9, c: 40, kh: 3, kw: 3, o: 48, sh: 2, sw: 2, same: false),
            Conv(n: 1, h: 12, w: 12, c: 48, kh: 1, kw: 1, o: 16, same: true),
            Conv(n: 5, h: 9, w: 9, c: 20, kh: 3, kw: 3, o: 40, sh: 2, sw: 1, same: true),
            Conv(n: 2, h: 12, w: 12, c: 1, kh: 5, kw: 5, o: 6, same: true),
            // Fewer pixels than filters: blocks of columns of the packed filter (a ragged last one).
            Conv(n: 1, h: 7, w: 7, c: 24, kh: 3, kw: 3, o: 100, sh: 2, sw: 2, same: true),
            Conv(n: 1, h: 3, w: 3, c: 40, kh: 1, kw: 1, o: 72, same: true),
            // Winograd on few tiles (F(2×2, 3×3) on 16; F(4, 3) on 16).
            Conv(n: 1, h: 8, w: 8, c: 32, kh: 3, kw: 3, o: 40, same: true),
            Conv(n: 1, h: 8, w: 8, c: 32, kh: 3, kw: 1, o: 40, same: true),
        ]
        var cache = ck_conv2d_cache()
        defer { ck_conv2d_cache_clear(&cache) }
        for conv in shapes {
            ck_conv2d_cache_clear(&cache)
            var p = conv.p
            var w = rng.array(conv.wCount)
            let x = rng.array(conv.xCount), b = rng.array(Int(p.o))
            var ws = [Float](repeating: 0, count: max(1, conv.workspace))
            func cached() -> [UInt32] {
                var y = [Float](repeating: .nan, count: conv.yCount)
                #expect(ck_conv2d_forward_cached(&p, x, w, b, 1, &y, &ws, conv.workspace, &cache) == ok)
                return y.map(\.bitPattern)
            }
            let want = conv.forward(x, w, b, act: CK_ACT_RELU).map(\.bitPattern)
            let first = cached() == want, again = cached() == want
            #expect(first && again, "\(conv): cached forward differs")
            w = w.map { $0 * 0.5 + 0.1 }
            if cache.data != nil {  // the direct forms prepare nothing
                let stale = cached() == want
                #expect(stale, "\(conv): the cache keeps the filter it was made from until cleared")
            }
            ck_conv2d_cache_clear(&cache)
            #expect(cache.data == nil)
            let cleared = cached() == conv.forward(x, w, b, act: CK_ACT_RELU).map(\.bitPattern)
            #expect(cleared, "\(conv): after clearing")
        }
    }

    // The filter gradient sums fixed spans of patch rows per block of dw, whatever the
    // workspace (one image's patches, the scratch size, the whole batch's) and the thread
    // count: the same bits every time, within rounding of naive. Shapes with several spans per
    // block, blocks of dw's rows and (few patch columns, many filters) of its columns.
    @Test func backwardFilterBitsDoNotDependOnWorkspaceOrThreads() {
        var rng = TestRNG(seed: 20)
        var worst: Float = 0
        let before = ck_get_num_threads()
        defer { ck_set_num_threads(before) }
        let shapes = [
            Conv(n: 6, h: 14, w: 14, c: 32, kh: 5, kw: 5, o: 64, same: true),  // deep-MNIST conv2
            Conv(n: 9, h: 14, w: 14, c: 6, kh: 5, kw: 5, o: 16, same: false),  // LeNet conv2
            Conv(n: 5, h: 28, w: 28, c: 1, kh: 5, kw: 5, o: 32, same: true),   // deep-MNIST conv1
            Conv(n: 7, h: 9, w: 11, c: 20, kh: 3, kw: 2, o: 8, sh: 2, sw: 1, same: true),
            Conv(n: 8, h: 12, w: 13, c: 5, kh: 3, kw: 3, o: 64, same: true),   // blocks of filters
            Conv(n: 3, h: 17, w: 17, c: 48, kh: 1, kw: 7, o: 40, same: true),  // Inception 1×7
            Conv(n: 1, h: 2, w: 2, c: 64, kh: 2, kw: 2, o: 1024, same: false), // 1 patch row, 2 blocks
        ]
        for conv in shapes {
            var p = conv.p
            let scratch = ck_conv2d_scratch_size(&p)
            let x = rng.array(conv.xCount), w = rng.array(conv.wCount), dz = rng.array(conv.yCount)
            var results: [[Float]] = []
            for (len, threads) in [(scratch, 2), (conv.workspace, 2), (conv.workspace / Int(p.n), 2),
                                   (scratch, 1), (conv.workspace, 3)] {
                ck_set_num_threads(Int32(threads))
                var ws = [Float](repeating: .nan, count: len)
                var dw = [Float](repeating: .nan, count: conv.wCount), db = [Float](repeating: .nan, count: Int(p.o))
                #expect(ck_conv2d_backward_filter(&p, x, dz, &dw, &db, &ws, len) == ok)
                results.append(dw + db)
            }
            for r in results.dropFirst() {
                #expect(r.map(\.bitPattern) == results[0].map(\.bitPattern), "\(conv): workspace or threads changed the bits")
            }
            let (_, ndw, ndb) = conv.naiveBackward(x, w, dz)
            let e = maxDiff(results[0], ndw + ndb).rel
            worst = max(worst, e)
            // Sums of 1000-4000 products in float: 1e-4 relative (measured up to 4e-5).
            #expect(e < 1e-4, "\(conv): vs naive \(e)")
        }
        print("backward filter, 3 workspaces and 1-3 threads: same bits; max rel diff vs naive \(worst)")
    }
}
