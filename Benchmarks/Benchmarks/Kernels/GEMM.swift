import Benchmark
import CKernels

/// sgemm on every GEMM path this CPU runs (OpenBLAS as loaded, Axon's AVX2
/// and AVX-512 kernels, forced through ck_sgemm_on), at 1024³ (the ceiling)
/// and at the products the reference models run: 2·m·n·k FLOPs each. Run
/// once more with OPENBLAS_CORETYPE=Prescott to see the generic fallback.
func gemmBenchmarks() {
    // (name, transA, transB, m, n, k)
    let shapes: [(String, Int32, Int32, Int, Int, Int)] = [
        ("1024x1024x1024", 0, 0, 1024, 1024, 1024),
        ("LeNet-5 conv2 filter grad TN 150x16x6400", 1, 0, 150, 16, 6400),
        ("LeNet-5 dense1 64x120x400", 0, 0, 64, 120, 400),
        ("deep-MNIST conv2 fwd 3136x64x800", 0, 0, 3136, 64, 800),
        ("deep-MNIST conv2 data grad NT 3136x800x64", 0, 1, 3136, 800, 64),
        ("deep-MNIST conv2 filter grad TN 800x64x3136", 1, 0, 800, 64, 3136),
        ("deep-MNIST dense1 50x1024x3136", 0, 0, 50, 1024, 3136),
        ("LSTM-128 recurrent 128x512x128", 0, 0, 128, 512, 128),
        ("LSTM-128 weight grad TN 128x512x3584", 1, 0, 128, 512, 3584),
        ("Inception 35x35 3x3 conv 1225x96x576", 0, 0, 1225, 96, 576),
        ("Inception 17x17 7x1 conv 289x192x1120", 0, 0, 289, 192, 1120),
    ]
    let names: [Int32: String] = [CK_GEMM_BLAS.rawValue: "OpenBLAS",
                                  CK_GEMM_AVX2.rawValue: "Axon AVX2",
                                  CK_GEMM_AVX512.rawValue: "Axon AVX-512"]
    for (label, ta, tb, m, n, k) in shapes {
        let a = Floats(m * k, seed: 1), b = Floats(k * n, seed: 2), c = Floats(m * n, seed: 3)
        let lda = Int32(ta != 0 ? m : k), ldb = Int32(tb != 0 ? k : n)
        for path in [CK_GEMM_BLAS, CK_GEMM_AVX2, CK_GEMM_AVX512].map(\.rawValue)
        where ck_gemm_path_supported(path) != 0 {
            kernelBenchmark("sgemm \(label) \(names[path]!)", flops: 2 * Double(m) * Double(n) * Double(k)) {
                check(ck_sgemm_on(path, ta, tb, Int32(m), Int32(n), Int32(k), 1, a.p, lda, b.p, ldb, 0, c.p,
                                  Int32(n)), "sgemm")
            }
        }
    }
}
