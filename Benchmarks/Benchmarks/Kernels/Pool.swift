import Benchmark
import CKernels

/// Max pooling 2×2 stride 2 on LeNet's first feature map (N=64, 28×28×6):
/// forward with argmax (as training runs it) and the argmax-routed backward.
/// No FLOP count: it is a memory-bound pass (comparisons, no arithmetic).
func poolBenchmarks() {
    var p = ck_pool2d_params(n: 64, h: 28, w: 28, c: 6, kh: 2, kw: 2, sh: 2, sw: 2,
                             padding: Int32(CK_PAD_VALID.rawValue))
    var oh: Int32 = 0, ow: Int32 = 0
    check(ck_pool2d_output_shape(&p, &oh, &ow), "pool2d_output_shape")
    let xCount = Int(p.n * p.h * p.w * p.c), yCount = Int(p.n * oh * ow * p.c)
    let x = Floats(xCount, seed: 1), y = Floats(yCount, seed: 2)
    let dy = Floats(yCount, seed: 3), dx = Floats(xCount, seed: 4)
    let argmax = Int32s(yCount)
    let box = ParamsBox(p)
    check(ck_maxpool2d_forward(&box.p, x.p, y.p, argmax.p), "maxpool2d_forward")

    kernelBenchmark("maxpool 2x2/2 forward N64 28x28x6", flops: 0) {
        check(ck_maxpool2d_forward(&box.p, x.p, y.p, argmax.p), "maxpool2d_forward")
    }
    kernelBenchmark("maxpool 2x2/2 backward N64 28x28x6", flops: 0) {
        check(ck_pool2d_route_backward(&box.p, dy.p, argmax.p, dx.p), "pool2d_route_backward")
    }
}
