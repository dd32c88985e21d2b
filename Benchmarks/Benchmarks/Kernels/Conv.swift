import Benchmark
import CKernels

/// The three convolutions the course's networks spend their time in, each
/// forward (bias + ReLU fused, as the layers call it), backward-data and
/// backward-filter (with the bias gradient). FLOPs: 2·N·OH·OW·O·KH·KW·C per
/// pass, padding positions included (the usual convention, and TF's).
func convBenchmarks() {
    let cases: [(String, ck_conv2d_params)] = [
        ("LeNet conv1 N64 28x28x1->6 5x5 SAME",
         ck_conv2d_params(n: 64, h: 28, w: 28, c: 1, kh: 5, kw: 5, o: 6, sh: 1, sw: 1, padding: Int32(CK_PAD_SAME.rawValue))),
        ("LeNet conv2 N64 14x14x6->16 5x5 VALID",
         ck_conv2d_params(n: 64, h: 14, w: 14, c: 6, kh: 5, kw: 5, o: 16, sh: 1, sw: 1, padding: Int32(CK_PAD_VALID.rawValue))),
        ("CNN conv2 N50 14x14x32->64 5x5 SAME",
         ck_conv2d_params(n: 50, h: 14, w: 14, c: 32, kh: 5, kw: 5, o: 64, sh: 1, sw: 1, padding: Int32(CK_PAD_SAME.rawValue))),
    ]
    for (label, params) in cases {
        var p = params
        var oh: Int32 = 0, ow: Int32 = 0
        check(ck_conv2d_output_shape(&p, &oh, &ow), "conv2d_output_shape")
        let n = Int(p.n), c = Int(p.c), o = Int(p.o)
        let xCount = n * Int(p.h) * Int(p.w) * c
        let yCount = n * Int(oh) * Int(ow) * o
        let wCount = Int(p.kh) * Int(p.kw) * c * o
        let wsLen = ck_conv2d_scratch_size(&p)
        let x = Floats(xCount, seed: 1), w = Floats(wCount, seed: 2), bias = Floats(o, seed: 3)
        let y = Floats(yCount, seed: 4), dz = Floats(yCount, seed: 5)
        let dx = Floats(xCount, seed: 6), dw = Floats(wCount, seed: 7), db = Floats(o, seed: 8)
        let ws = Floats(wsLen, seed: 9)
        let box = ParamsBox(p)
        let flops = 2 * Double(n) * Double(oh) * Double(ow) * Double(o) * Double(p.kh) * Double(p.kw) * Double(c)

        kernelBenchmark("conv2d forward \(label)", flops: flops) {
            check(ck_conv2d_forward(&box.p, x.p, w.p, bias.p, Int32(CK_ACT_RELU.rawValue), y.p, ws.p, wsLen),
                  "conv2d_forward")
        }
        kernelBenchmark("conv2d backward-data \(label)", flops: flops) {
            check(ck_conv2d_backward_data(&box.p, dz.p, w.p, dx.p, ws.p, wsLen), "conv2d_backward_data")
        }
        kernelBenchmark("conv2d backward-filter \(label)", flops: flops) {
            check(ck_conv2d_backward_filter(&box.p, x.p, dz.p, dw.p, db.p, ws.p, wsLen), "conv2d_backward_filter")
        }
    }
}

/// The C structs are passed by pointer; a box gives the escaping closures a
/// stable one.
final class ParamsBox<P>: @unchecked Sendable {
    var p: P
    init(_ p: P) { self.p = p }
}
