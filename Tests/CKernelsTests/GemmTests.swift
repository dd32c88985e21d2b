// ck_sgemm (every GEMM path this CPU runs) and ck_sum_rows against naive loops
// in double precision.
import CKernels
import Testing

/// C = alpha·op(A)·op(B) + beta·C by the definition, A/B/C with row strides.
fileprivate func naiveGemm(_ ta: Bool, _ tb: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                           _ a: [Float], _ lda: Int, _ b: [Float], _ ldb: Int, _ beta: Float,
                           _ c: [Float], _ ldc: Int) -> [Float] {
    var out = c
    for i in 0..<m {
        for j in 0..<n {
            var s = 0.0
            for p in 0..<k {
                let av = ta ? a[p * lda + i] : a[i * lda + p]
                let bv = tb ? b[j * ldb + p] : b[p * ldb + j]
                s += Double(av) * Double(bv)
            }
            let old = beta == 0 ? 0 : Double(beta) * Double(c[i * ldc + j])
            out[i * ldc + j] = Float(Double(alpha) * s + old)
        }
    }
    return out
}

@Suite struct GemmTests {
    // Odd sizes, padded leading dimensions, all four transpose combinations;
    // the large ones are cut into row blocks (m >= n) or column blocks (m < n).
    @Test(arguments: [(1, 1, 1), (7, 5, 3), (33, 17, 65), (67, 45, 129), (200, 37, 90),
                      (35, 301, 70), (256, 800, 150), (130, 3, 1000)])
    func matchesNaive(m: Int, n: Int, k: Int) {
        var rng = TestRNG(seed: UInt64(m * 1_000_003 + n * 1009 + k))
        var worst: Float = 0
        for ta in [false, true] {
            for tb in [false, true] {
                let lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2
                let a = rng.array((ta ? k : m) * lda), b = rng.array((tb ? n : k) * ldb)
                let c0 = rng.array(m * ldc)
                for (alpha, beta) in [(Float(1), Float(0)), (Float(-0.5), Float(1.5))] {
                    var c = c0
                    let st = ck_sgemm(ta ? 1 : 0, tb ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda),
                                      b, Int32(ldb), beta, &c, Int32(ldc))
                    #expect(st == ok)
                    let ref = naiveGemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c0, ldc)
                    let d = maxDiff(c, ref)
                    worst = max(worst, d.rel)
                    #expect(d.rel < 1e-5 * Float(max(1, k / 64)), "m\(m) n\(n) k\(k) ta\(ta) tb\(tb) α\(alpha) β\(beta): \(d)")
                    // The padding columns of C beyond n are never touched.
                    for i in 0..<m { for j in n..<ldc { #expect(c[i * ldc + j] == c0[i * ldc + j]) } }
                }
            }
        }
        print("sgemm \(m)x\(n)x\(k) vs naive: max rel diff \(worst)")
    }

    /// The GEMM paths this CPU can run: OpenBLAS, and Axon's AVX2 and AVX-512 kernels.
    static let paths: [Int32] = [CK_GEMM_BLAS, CK_GEMM_AVX2, CK_GEMM_AVX512].map { $0.rawValue }
        .filter { ck_gemm_path_supported($0) != 0 }

    // Every path, forced through ck_sgemm_on, on the shapes that stress Axon's
    // packed kernels: one row (the matrix-vector path) or column, sizes that are
    // not multiples of the micro-tiles (6x16, 8x32), K = 1, K past the 256-deep
    // panels, N past the 2048-wide panels, M past the 192-row blocks, N <= 16
    // (AVX-512 machines take the AVX2 tile), and both ways of reading A (packed
    // when many B slivers reuse it, in place when few do).
    @Test(arguments: [(1, 1, 1), (1, 120, 400), (1, 37, 5), (5, 1, 9), (6, 16, 1), (8, 32, 7),
                      (13, 33, 1), (7, 17, 300), (25, 6, 700), (193, 50, 257), (61, 300, 40),
                      (50, 2100, 20), (9, 2090, 270), (400, 16, 513), (36, 520, 130)])
    func everyPathMatchesNaive(m: Int, n: Int, k: Int) {
        var rng = TestRNG(seed: UInt64(m * 7919 + n * 31 + k))
        for path in Self.paths {
            var worst: Float = 0
            for ta in [false, true] {
                for tb in [false, true] {
                    let lda = (ta ? m : k) + 1, ldb = (tb ? k : n) + 3, ldc = n + 1
                    let a = rng.array((ta ? k : m) * lda), b = rng.array((tb ? n : k) * ldb)
                    let c0 = rng.array(m * ldc)
                    for (alpha, beta) in [(Float(1), Float(0)), (Float(0.75), Float(-2)), (Float(-1), Float(1))] {
                        var c = c0
                        let st = ck_sgemm_on(path, ta ? 1 : 0, tb ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha,
                                             a, Int32(lda), b, Int32(ldb), beta, &c, Int32(ldc))
                        #expect(st == ok)
                        let ref = naiveGemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c0, ldc)
                        let d = maxDiff(c, ref)
                        worst = max(worst, d.rel)
                        #expect(d.rel < 1e-5 * Float(max(1, k / 64)),
                                "path \(path) m\(m) n\(n) k\(k) ta\(ta) tb\(tb) α\(alpha) β\(beta): \(d)")
                        for i in 0..<m { for j in n..<ldc { #expect(c[i * ldc + j] == c0[i * ldc + j]) } }
                        // op(B) packed once beforehand (the LSTM's recurrent
                        // matrix): the same bits as packing it in the product
                        // (one row goes through gemv there, so only close).
                        // OpenBLAS packs nothing ahead: its product is one call
                        // over all rows, where ck_sgemm_on cuts blocks, and
                        // some of its kernels round a row differently by where
                        // the cut falls (Haswell's, measured on a Zen 5), so
                        // only close there too.
                        var cp = c0
                        #expect(ck_sgemm_prepacked_on(path, ta ? 1 : 0, tb ? 1 : 0, Int32(m), Int32(n), Int32(k),
                                                      alpha, a, Int32(lda), b, Int32(ldb), beta, &cp,
                                                      Int32(ldc)) == ok)
                        if m > 1 && path != CK_GEMM_BLAS.rawValue {
                            #expect(cp == c, "prepacked, path \(path) m\(m) n\(n) k\(k) ta\(ta) tb\(tb)")
                        } else {
                            #expect(maxDiff(cp, ref).rel < 1e-5 * Float(max(1, k / 64)))
                        }
                    }
                }
            }
            print("sgemm path \(path) \(m)x\(n)x\(k) vs naive: max rel diff \(worst)")
        }
    }

    // beta = 0 never reads C on any path (NaN stays out), one row and many.
    @Test func everyPathIgnoresCWhenBetaIsZero() {
        var rng = TestRNG(seed: 11)
        for path in Self.paths {
            for (m, n, k) in [(1, 40, 9), (14, 35, 20)] {
                let a = rng.array(m * k), b = rng.array(k * n)
                var c = [Float](repeating: .nan, count: m * n)
                #expect(ck_sgemm_on(path, 0, 0, Int32(m), Int32(n), Int32(k), 1, a, Int32(k), b, Int32(n), 0,
                                    &c, Int32(n)) == ok)
                #expect(c.allSatisfy { $0.isFinite }, "path \(path) \(m)x\(n)x\(k)")
            }
        }
    }

    @Test func pathSelection() {
        let current = ck_gemm_get_path()
        #expect(ck_gemm_path_supported(current) != 0)
        #expect(ck_gemm_path_supported(CK_GEMM_BLAS.rawValue) != 0)
        #expect(ck_gemm_path_supported(7) == 0)
        #expect(ck_gemm_set_path(7) == einval)
        #expect(ck_gemm_set_path(CK_GEMM_AUTO.rawValue) == ok)
        #expect(ck_gemm_get_path() == current, "the automatic choice is the one made at load")
        let a: [Float] = [1], b: [Float] = [1]
        var c: [Float] = [0]
        #expect(ck_sgemm_on(9, 0, 0, 1, 1, 1, 1, a, 1, b, 1, 0, &c, 1) == einval)
        if ck_gemm_path_supported(CK_GEMM_AVX512.rawValue) == 0 {
            #expect(ck_sgemm_on(CK_GEMM_AVX512.rawValue, 0, 0, 1, 1, 1, 1, a, 1, b, 1, 0, &c, 1) == einval)
        }
    }

    @Test func machineLine() {
        var buf = [CChar](repeating: 0, count: 512)
        #expect(ck_machine_info(&buf, buf.count) == ok)
        let line = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        #expect(line.contains(" core") && line.contains("GEMM: "), "\(line)")
        print("machine: \(line)")
        var small = [CChar](repeating: 1, count: 8)
        #expect(ck_machine_info(&small, small.count) == ok)
        #expect(small[7] == 0, "truncated and terminated")
        #expect(ck_machine_info(nil, 10) == einval)
        #expect(ck_machine_info(&buf, 0) == einval)
    }

    // beta = 0 must overwrite C without reading it, even NaN; k = 0 leaves beta·C.
    @Test func betaZeroAndEmptyK() {
        let a: [Float] = [1, 2, 3, 4], b: [Float] = [1, 0, 0, 1]
        var c = [Float](repeating: .nan, count: 4)
        #expect(ck_sgemm(0, 0, 2, 2, 2, 1, a, 2, b, 2, 0, &c, 2) == ok)
        #expect(c == a)
        var c2: [Float] = [1, 2, 3, 4]
        #expect(ck_sgemm(0, 0, 2, 2, 0, 1, a, 1, b, 2, 2, &c2, 2) == ok)
        #expect(c2 == [2, 4, 6, 8])
        var c3 = [Float](repeating: .nan, count: 4)
        #expect(ck_sgemm(0, 0, 2, 2, 0, 1, nil, 1, nil, 2, 0, &c3, 2) == ok)
        #expect(c3 == [0, 0, 0, 0])
        #expect(ck_sgemm(0, 0, 0, 2, 3, 1, nil, 3, nil, 2, 0, nil, 2) == ok, "empty C is a no-op")
    }

    // The block cut depends on the sizes only, so any thread count gives the same bits.
    @Test func threadCountDoesNotChangeBits() {
        var rng = TestRNG(seed: 5)
        let before = ck_get_num_threads()
        defer { ck_set_num_threads(before) }
        for (m, n, k) in [(300, 200, 100), (40, 500, 64), (1024, 16, 150)] {
            let a = rng.array(m * k), b = rng.array(k * n)
            func run(_ t: Int32) -> [UInt32] {
                ck_set_num_threads(t)
                var c = [Float](repeating: 0, count: m * n)
                #expect(ck_sgemm(0, 0, Int32(m), Int32(n), Int32(k), 1, a, Int32(k), b, Int32(n), 0, &c, Int32(n)) == ok)
                return c.map(\.bitPattern)
            }
            let one = run(1), two = run(2), twoAgain = run(2), three = run(3)
            #expect(one == two && two == twoAgain && two == three, "\(m)x\(n)x\(k) differs across thread counts")
            for path in Self.paths {
                func runOn(_ t: Int32) -> [UInt32] {
                    ck_set_num_threads(t)
                    var c = [Float](repeating: 0, count: m * n)
                    #expect(ck_sgemm_on(path, 0, 0, Int32(m), Int32(n), Int32(k), 1, a, Int32(k), b, Int32(n), 0,
                                        &c, Int32(n)) == ok)
                    return c.map(\.bitPattern)
                }
                #expect(runOn(1) == runOn(2) && runOn(2) == runOn(3), "path \(path) \(m)x\(n)x\(k)")
            }
        }
        ck_set_num_threads(0)
        #expect(ck_get_num_threads() >= 1)
    }

    @Test func badArgumentsAreRejected() {
        let a = [Float](repeating: 1, count: 64), b = [Float](repeating: 1, count: 64)
        var c = [Float](repeating: 0, count: 64)
        #expect(ck_sgemm(2, 0, 2, 2, 2, 1, a, 2, b, 2, 0, &c, 2) == einval)
        #expect(ck_sgemm(0, -1, 2, 2, 2, 1, a, 2, b, 2, 0, &c, 2) == einval)
        #expect(ck_sgemm(0, 0, -1, 2, 2, 1, a, 2, b, 2, 0, &c, 2) == einval)
        #expect(ck_sgemm(0, 0, 2, -2, 2, 1, a, 2, b, 2, 0, &c, 2) == einval)
        #expect(ck_sgemm(0, 0, 2, 2, -2, 1, a, 2, b, 2, 0, &c, 2) == einval)
        #expect(ck_sgemm(0, 0, 2, 3, 4, 1, a, 3, b, 3, 0, &c, 3) == einval, "lda < k")
        #expect(ck_sgemm(1, 0, 5, 3, 4, 1, a, 4, b, 3, 0, &c, 3) == einval, "lda < m when transposed")
        #expect(ck_sgemm(0, 0, 2, 3, 4, 1, a, 4, b, 2, 0, &c, 3) == einval, "ldb < n")
        #expect(ck_sgemm(0, 1, 2, 3, 4, 1, a, 4, b, 3, 0, &c, 3) == einval, "ldb < k when transposed")
        #expect(ck_sgemm(0, 0, 2, 3, 4, 1, a, 4, b, 3, 0, &c, 2) == einval, "ldc < n")
        #expect(ck_sgemm(0, 0, 2, 2, 2, 1, nil, 2, b, 2, 0, &c, 2) == einval)
        #expect(ck_sgemm(0, 0, 2, 2, 2, 1, a, 2, nil, 2, 0, &c, 2) == einval)
        #expect(ck_sgemm(0, 0, 2, 2, 2, 1, a, 2, b, 2, 0, nil, 2) == einval)
        var out = [Float](repeating: 0, count: 4)
        #expect(ck_sum_rows(-1, 4, a, &out) == einval)
        #expect(ck_sum_rows(2, -4, a, &out) == einval)
        #expect(ck_sum_rows(2, 4, nil, &out) == einval)
        #expect(ck_sum_rows(2, 4, a, nil) == einval)
    }

    // Narrow rows (lcm(cols, 8) ≤ 64 floats) are summed as a flat stream: an odd
    // number of periods and a tail, tall ones in row blocks (50176 × 6 is LeNet-5's
    // first bias gradient).
    @Test(arguments: [(1, 1), (7, 3), (1000, 6), (33, 257), (300, 1000), (0, 5), (50176, 6), (6401, 16),
                      (4099, 7), (37, 5), (3, 64), (9, 12), (129, 32), (65, 9)])
    func sumRowsMatchesNaive(rows: Int, cols: Int) {
        var rng = TestRNG(seed: UInt64(rows * 7 + cols))
        let x = rng.array(rows * cols)
        var out = [Float](repeating: .nan, count: cols)
        #expect(ck_sum_rows(Int32(rows), Int32(cols), x, &out) == ok)
        var ref = [Float](repeating: 0, count: cols)
        for j in 0..<cols {
            var s = 0.0
            for i in 0..<rows { s += Double(x[i * cols + j]) }
            ref[j] = Float(s)
        }
        let d = maxDiff(out, ref)
        #expect(d.abs < 1e-6 * Float(max(rows, 1)), "sum_rows \(rows)x\(cols): \(d)")
    }
}
