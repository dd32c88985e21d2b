import Benchmark
import CKernels

/// sgemm 1024³: the ceiling every im2col convolution and LSTM projection
/// works under (2·n³ FLOPs).
func gemmBenchmarks() {
    let n = 1024
    let a = Floats(n * n, seed: 1), b = Floats(n * n, seed: 2), c = Floats(n * n, seed: 3)
    kernelBenchmark("sgemm 1024x1024x1024", flops: 2 * Double(n) * Double(n) * Double(n)) {
        check(ck_sgemm(0, 0, Int32(n), Int32(n), Int32(n), 1, a.p, Int32(n), b.p, Int32(n), 0, c.p, Int32(n)),
              "sgemm")
    }
}
