/*
 * Axon's own single-threaded sgemm, for CPUs whose OpenBLAS build falls back
 * to generic kernels (Debian's 0.3.21 runs its SSE "Prescott" code on CPUs it
 * does not know, at a fifth of their speed). machine.c decides when it runs;
 * ck_sgemm threads it the same way it threads OpenBLAS (gemm.c).
 *
 * Classic Goto/BLIS blocking: a KC x NC panel of op(B) is packed into NR-wide
 * slivers, an MC x KC block of op(A) into MR-tall slivers, and an MR x NR
 * micro-kernel accumulates one tile of C in registers over KC. Edges are
 * zero-padded in the packed copies, so the micro-kernel has one shape; it
 * stores a ragged last column sliver through masks, and the ragged last rows
 * go through a small buffer. The micro-kernels exist twice,
 * compiled for AVX2+FMA (the baseline every Axon binary needs) and for
 * AVX-512 through target attributes: one binary, chosen at run time.
 */
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

#define KC 256
#define MC 192  /* a multiple of both MRs */
#define NC 2048

#define MR_AVX2 6
#define NR_AVX2 16
#define MR_512 8
#define NR_512 32

/* A tile of op(A) is read at pa[r * rs + p * ps]: a packed sliver (rs = 1,
 * ps = MR), or op(A) in place (NN: rs = lda, ps = 1; TN: rs = 1, ps = lda),
 * which saves packing A when few slivers of B reuse it. */
typedef void (*ukr_fn)(int kc, const float *pa, long rs, long ps, const float *pb,
                       float *c, int ldc, int cols, float alpha, float beta);

/* Each ISA's vector primitives under one set of names, so that the
 * micro-kernel below is written once and compiled for each. A tile row is two
 * vectors (NR = 2 * vector width); a mask covers the first `cols` lanes. */

#define avx2_attr
typedef __m256 avx2_v;
typedef __m256i avx2_mask;
#define avx2_zero() _mm256_setzero_ps()
#define avx2_load(p) _mm256_load_ps(p)
#define avx2_loadu(p) _mm256_loadu_ps(p)
#define avx2_bcast(p) _mm256_broadcast_ss(p)
#define avx2_set1(x) _mm256_set1_ps(x)
#define avx2_fma(a, b, c) _mm256_fmadd_ps(a, b, c)
#define avx2_mul(a, b) _mm256_mul_ps(a, b)
#define avx2_storeu(p, v) _mm256_storeu_ps(p, v)
#define avx2_mask_of(n) _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define avx2_mloadu(p, m) _mm256_maskload_ps(p, m)
#define avx2_mstoreu(p, m, v) _mm256_maskstore_ps(p, m, v)

#define avx512_attr CK_TARGET_AVX512
typedef __m512 avx512_v;
typedef __mmask16 avx512_mask;
#define avx512_zero() _mm512_setzero_ps()
#define avx512_load(p) _mm512_load_ps(p)
#define avx512_loadu(p) _mm512_loadu_ps(p)
#define avx512_bcast(p) _mm512_set1_ps(*(p))
#define avx512_set1(x) _mm512_set1_ps(x)
#define avx512_fma(a, b, c) _mm512_fmadd_ps(a, b, c)
#define avx512_mul(a, b) _mm512_mul_ps(a, b)
#define avx512_storeu(p, v) _mm512_storeu_ps(p, v)
#define avx512_mask_of(n) ((n) >= 16 ? (__mmask16)0xffff : (n) <= 0 ? (__mmask16)0 : (__mmask16)((1u << (n)) - 1))
#define avx512_mloadu(p, m) _mm512_maskz_loadu_ps(m, p)
#define avx512_mstoreu(p, m, v) _mm512_mask_storeu_ps(p, m, v)

/* C[MR x cols] = alpha * (A tile · packed B sliver) + beta * C, cols <= NR
 * (the last sliver of a product whose width is no multiple of NR is stored
 * through masks); beta == 0 never reads C (BLAS rule: C may hold NaN).
 * The body is inlined twice, with rs = 1 or ps = 1 known, so the A reads
 * compile to fixed offsets. */
#define CK_DEFINE_UKR(ISA, MR, W)                                                    \
    ISA##_attr static inline __attribute__((always_inline)) void body_##ISA(          \
        int kc, const float *restrict pa, long rs, long ps, const float *restrict pb, \
        float *restrict c, int ldc, int cols, float alpha, float beta) {              \
        ISA##_v acc[MR][2];                                                           \
        _Pragma("clang loop unroll(full)")                                            \
        for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = ISA##_zero();            \
        _Pragma("clang loop unroll_count(2)")                                         \
        for (int p = 0; p < kc; p++) {                                                \
            const ISA##_v b0 = ISA##_load(pb), b1 = ISA##_load(pb + W);               \
            _Pragma("clang loop unroll(full)")                                        \
            for (int r = 0; r < MR; r++) {                                            \
                const ISA##_v av = ISA##_bcast(pa + r * rs);                          \
                acc[r][0] = ISA##_fma(av, b0, acc[r][0]);                             \
                acc[r][1] = ISA##_fma(av, b1, acc[r][1]);                             \
            }                                                                         \
            pa += ps;                                                                 \
            pb += 2 * W;                                                              \
        }                                                                             \
        const ISA##_v va = ISA##_set1(alpha), vb = ISA##_set1(beta);                  \
        const int whole = cols == 2 * W;                                              \
        const ISA##_mask m0 = ISA##_mask_of(cols), m1 = ISA##_mask_of(cols - W);      \
        _Pragma("clang loop unroll(full)")                                            \
        for (int r = 0; r < MR; r++) {                                                \
            float *cr = c + (size_t)r * ldc;                                          \
            ISA##_v x0 = ISA##_mul(va, acc[r][0]), x1 = ISA##_mul(va, acc[r][1]);     \
            if (whole) {                                                              \
                if (beta != 0.0f) {                                                   \
                    x0 = ISA##_fma(vb, ISA##_loadu(cr), x0);                          \
                    x1 = ISA##_fma(vb, ISA##_loadu(cr + W), x1);                      \
                }                                                                     \
                ISA##_storeu(cr, x0);                                                 \
                ISA##_storeu(cr + W, x1);                                             \
            } else {                                                                  \
                if (beta != 0.0f) {                                                   \
                    x0 = ISA##_fma(vb, ISA##_mloadu(cr, m0), x0);                     \
                    x1 = ISA##_fma(vb, ISA##_mloadu(cr + W, m1), x1);                 \
                }                                                                     \
                ISA##_mstoreu(cr, m0, x0);                                            \
                ISA##_mstoreu(cr + W, m1, x1);                                        \
            }                                                                         \
        }                                                                             \
    }                                                                                 \
    ISA##_attr static void ukr_##ISA(int kc, const float *pa, long rs, long ps,       \
                                     const float *pb, float *c, int ldc, int cols,    \
                                     float alpha, float beta) {                       \
        if (rs == 1) body_##ISA(kc, pa, 1, ps, pb, c, ldc, cols, alpha, beta);        \
        else body_##ISA(kc, pa, rs, 1, pb, c, ldc, cols, alpha, beta);                \
    }

CK_DEFINE_UKR(avx2, MR_AVX2, 8)
CK_DEFINE_UKR(avx512, MR_512, 16)

/* op(A) rows [i0, i0+mc), columns [p0, p0+kc) into MR-tall slivers,
 * dst[s][p][r]; rows past mc are zero. No memcpy calls: the compiler made
 * one of each 6 or 8 floats copied below (2% of LSTM-128 training, whose
 * weight gradients read xᵀ and hᵀ). */
__attribute__((no_builtin("memcpy", "memset")))
static void pack_a(int trans_a, const float *a, int lda, int i0, int mc, int p0, int kc,
                   int mr, float *restrict dst) {
    for (int s = 0; s < mc; s += mr) {
        const int rows = ck_imin(mr, mc - s);
        if (trans_a) { /* A(i, p) = a[p * lda + i]: rows contiguous */
            for (int p = 0; p < kc; p++) {
                const float *src = a + (size_t)(p0 + p) * lda + i0 + s;
                float *d = dst + (size_t)p * mr;
                if (rows == 8 && mr == 8) {
                    _mm256_storeu_ps(d, _mm256_loadu_ps(src));
                    continue;
                }
                for (int r = 0; r < rows; r++) d[r] = src[r];
                for (int r = rows; r < mr; r++) d[r] = 0.0f;
            }
        } else {       /* A(i, p) = a[i * lda + p]: columns contiguous */
            int p = 0;
            /* Whole slivers of 8 rows (AVX-512's MR) 8 columns at a time
             * (element by element, these stores were 2% of batch-1 Inception-v3). */
            if (rows == 8 && mr == 8)
                for (; p + 8 <= kc; p += 8)
                    transpose8(a + (size_t)(i0 + s) * lda + p0 + p, (size_t)lda,
                               dst + (size_t)p * 8, 8);
            for (int r = 0; r < rows; r++) {
                const float *src = a + (size_t)(i0 + s + r) * lda + p0;
                for (int q = p; q < kc; q++) dst[(size_t)q * mr + r] = src[q];
            }
            for (int r = rows; r < mr; r++)
                for (int p = 0; p < kc; p++) dst[(size_t)p * mr + r] = 0.0f;
        }
        dst += (size_t)mr * kc;
    }
}

/* op(B) rows [p0, p0+kc), columns [j0, j0+nc) into NR-wide slivers,
 * dst[s][p][c]; columns past nc are zero. Untransposed, the whole slivers go
 * row by row of B (read sliver by sliver, every 128-byte piece of a row of
 * deep-MNIST's 1024-wide dense weights was on a new 4 KB page, beyond the
 * prefetchers), each piece by ck_copy_floats, not a memcpy call (the
 * caller of ck_copy_floats needs its no_builtin too, to inline it). */
__attribute__((no_builtin("memcpy")))
static void pack_b(int trans_b, const float *b, int ldb, int p0, int kc, int j0, int nc,
                   int nr, float *restrict dst) {
    const int whole = trans_b ? 0 : nc / nr * nr;
    for (int p = 0; p < kc && whole > 0; p++) {
        const float *src = b + (size_t)(p0 + p) * ldb + j0;
        float *d = dst + (size_t)p * nr;
        for (int s = 0; s < whole; s += nr, d += (size_t)nr * kc)
            ck_copy_floats(d, src + s, (size_t)nr);
    }
    dst += (size_t)whole * kc;
    for (int s = whole; s < nc; s += nr) {
        const int cols = ck_imin(nr, nc - s);
        if (!trans_b) { /* the ragged last sliver: B(p, j) = b[p * ldb + j] */
            for (int p = 0; p < kc; p++) {
                const float *src = b + (size_t)(p0 + p) * ldb + j0 + s;
                float *d = dst + (size_t)p * nr;
                for (int q = 0; q < cols; q++) d[q] = src[q];
                for (int q = cols; q < nr; q++) d[q] = 0.0f;
            }
        } else {        /* B(p, j) = b[j * ldb + p]: 8 x 8 blocks transposed in registers */
            int q0 = 0;
            for (; q0 + 8 <= cols; q0 += 8) {
                const float *src = b + (size_t)(j0 + s + q0) * ldb + p0;
                int p = 0;
                for (; p + 8 <= kc; p += 8)
                    transpose8(src + p, (size_t)ldb, dst + (size_t)p * nr + q0, (size_t)nr);
                for (; p < kc; p++)
                    for (int i = 0; i < 8; i++) dst[(size_t)p * nr + q0 + i] = src[(size_t)i * ldb + p];
            }
            for (int q = q0; q < cols; q++) {
                const float *src = b + (size_t)(j0 + s + q) * ldb + p0;
                for (int p = 0; p < kc; p++) dst[(size_t)p * nr + q] = src[p];
            }
            for (int q = cols; q < nr; q++)
                for (int p = 0; p < kc; p++) dst[(size_t)p * nr + q] = 0.0f;
        }
        dst += (size_t)nr * kc;
    }
}

/* The thread's packing buffers (B's panel, A's block, a tile of C). */
static __thread ck_buffer pack_buf;

/* The naive triple loop: the fallback if the packing buffers cannot be
 * allocated, and the reference the tests compare every path with. */
static void sgemm_naive(int trans_a, int trans_b, int m, int n, int k, float alpha,
                        const float *a, int lda, const float *b, int ldb, float beta,
                        float *c, int ldc) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float s = 0.0f;
            for (int p = 0; p < k; p++)
                s += (trans_a ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p]) *
                     (trans_b ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j]);
            float *cij = c + (size_t)i * ldc + j;
            *cij = beta == 0.0f ? alpha * s : alpha * s + beta * *cij;
        }
}

/* op(A) is read in place, unpacked, when at most this many B slivers reuse
 * each of its tiles: packing would cost more than it saves. (B read in place
 * the same way measured slower: its rows, a power-of-two floats apart in a
 * dense layer's weights, fell into the same L1 sets.) */
#define DIRECT_A_SLIVERS 8
/* Bytes of packed B that stay in L2 beside A's block. */
#define B_PANEL_L2 (256 * 1024)

/* A product no wider than 16 columns would leave half of each 32-wide
 * AVX-512 tile empty: it takes the AVX2 kernel. */
static int wide_512(int isa, int n) { return isa == CK_GEMM_AVX512 && n > NR_AVX2; }

/* Where the panel of op(B) for columns from j0 and rows from p0 starts in a
 * whole packed B (ck_axon_pack_b): panels column block by column block, each
 * KC deep and as wide as its block rounded up to whole slivers. */
static size_t panel_at(int k, int n, int nr, int j0, int p0) {
    const int nc = ck_imin(NC, n - j0);
    return (size_t)j0 * k + (size_t)p0 * ((nc + nr - 1) / nr * nr);
}

size_t ck_axon_packed_b_floats(int isa, int k, int n) {
    const int nr = wide_512(isa, n) ? NR_512 : NR_AVX2;
    return n <= 0 || k <= 0 ? 0 : panel_at(k, n, nr, (n - 1) / NC * NC, k);
}

void ck_axon_pack_b(int isa, int trans_b, int k, int n, const float *b, int ldb, float *dst) {
    const int nr = wide_512(isa, n) ? NR_512 : NR_AVX2;
    for (int j0 = 0; j0 < n; j0 += NC)
        for (int p0 = 0; p0 < k; p0 += KC)
            pack_b(trans_b, b, ldb, p0, ck_imin(KC, k - p0), j0, ck_imin(NC, n - j0), nr,
                   dst + panel_at(k, n, nr, j0, p0));
}

/* The driver: op(B) is packed panel by panel into the thread's buffer, or
 * read from a whole packed copy (packed != NULL, ck_axon_pack_b's layout), of
 * which only columns [c0, c1) may be wanted (c0 a multiple of the slivers'
 * width; without a packed copy, the whole width). */
static void axon_sgemm(int isa, int trans_a, int trans_b, int m, int n, int k, float alpha,
                       const float *a, int lda, const float *b, int ldb, const float *packed,
                       int c0, int c1, float beta, float *c, int ldc) {
    const int avx512 = wide_512(isa, n);
    const int mr = avx512 ? MR_512 : MR_AVX2, nr = avx512 ? NR_512 : NR_AVX2;
    const ukr_fn ukr = avx512 ? ukr_avx512 : ukr_avx2;
    const int ncap = packed ? 0 : ck_imin(NC, (n + nr - 1) / nr * nr);
    const int mcap = ck_imin(MC, (m + mr - 1) / mr * mr);
    const int kcap = ck_imin(KC, k);
    const int direct = (c1 - c0 + nr - 1) / nr <= DIRECT_A_SLIVERS;
    if (m <= 0 || c1 <= c0) return;
    if (k <= 0) { /* C = beta·C; beta = 0 does not read C */
        for (int i = 0; i < m; i++)
            for (int j = c0; j < c1; j++) {
                float *cij = c + (size_t)i * ldc + j;
                *cij = beta == 0.0f ? 0.0f : beta * *cij;
            }
        return;
    }
    float *buf = ck_buffer_grow(&pack_buf, (size_t)kcap * (ncap + mcap) + (size_t)mr * nr);
    if (!buf) {
        sgemm_naive(trans_a, trans_b, m, c1 - c0, k, alpha, a, lda,
                    b + (trans_b ? (size_t)c0 * ldb : (size_t)c0), ldb, beta, c + c0, ldc);
        return;
    }
    float *pa = buf + (size_t)kcap * ncap;
    float *tile = pa + (size_t)kcap * mcap;
    const long rs = trans_a ? 1 : lda, ps = trans_a ? lda : 1;
    for (int j0 = c0 / NC * NC; j0 < c1; j0 += NC) {
        const int nc = ck_imin(NC, n - j0);
        /* The wanted slivers of this panel: [lo, hi) from j0. */
        const int lo = ck_imax(c0, j0) - j0, hi = ck_imin(c1, j0 + nc) - j0;
        for (int p0 = 0; p0 < k; p0 += KC) {
            const int kc = ck_imin(KC, k - p0);
            const float bet = p0 == 0 ? beta : 1.0f;
            const float *pb = packed ? packed + panel_at(k, n, nr, j0, p0) : buf;
            if (!packed) pack_b(trans_b, b, ldb, p0, kc, j0, nc, nr, buf);
            for (int i0 = 0; i0 < m; i0 += MC) {
                const int mc = ck_imin(MC, m - i0);
                /* Direct: only the ragged last sliver is packed (at its place). */
                const int full = direct ? mc / mr * mr : 0;
                if (full < mc)
                    pack_a(trans_a, a, lda, i0 + full, mc - full, p0, kc, mr,
                           pa + (size_t)full * kc);
                /* Tiles column sliver by column sliver, each B sliver kept in L1
                 * while A's block streams from L2; or, when the whole packed B
                 * panel fits in L2, row sliver by row sliver, so that C is
                 * written in whole rows (small K: storing C dominates). */
                const int ns = (hi - lo + nr - 1) / nr, ms = (mc + mr - 1) / mr;
                const int rows_outer = (size_t)kc * (hi - lo) * sizeof(float) <= B_PANEL_L2;
                for (int t = 0; t < ns * ms; t++) {
                    const int js = lo + (rows_outer ? t % ns : t / ms) * nr;
                    const int is = (rows_outer ? t / ns : t % ms) * mr;
                    {
                        const int cols = ck_imin(nr, hi - js);
                        const float *bs = pb + (size_t)js * kc;
                        const int rows = ck_imin(mr, mc - is);
                        const float *as = pa + (size_t)is * kc;
                        long ars = 1, aps = mr;
                        if (is < full) {
                            as = a + (size_t)(i0 + is) * rs + (size_t)p0 * ps;
                            ars = rs;
                            aps = ps;
                        }
                        float *ct = c + (size_t)(i0 + is) * ldc + j0 + js;
                        if (rows == mr) {
                            ukr(kc, as, ars, aps, bs, ct, ldc, cols, alpha, bet);
                            continue;
                        }
                        /* The last rows: computed whole, the valid part merged. */
                        ukr(kc, as, ars, aps, bs, tile, nr, nr, 1.0f, 0.0f);
                        for (int r = 0; r < rows; r++)
                            for (int q = 0; q < cols; q++) {
                                float *cij = ct + (size_t)r * ldc + q;
                                float v = alpha * tile[r * nr + q];
                                *cij = bet == 0.0f ? v : v + bet * *cij;
                            }
                    }
                }
            }
        }
    }
}

void ck_axon_sgemm(int isa, int trans_a, int trans_b, int m, int n, int k, float alpha,
                   const float *a, int lda, const float *b, int ldb, float beta,
                   float *c, int ldc) {
    axon_sgemm(isa, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, NULL, 0, n, beta, c, ldc);
}

int ck_axon_sliver_width(int isa, int n) { return wide_512(isa, n) ? NR_512 : NR_AVX2; }

void ck_axon_sgemm_packed(int isa, int trans_a, int trans_b, int m, int n, int k, float alpha,
                          const float *a, int lda, const float *b, int ldb, const float *packed,
                          int c0, int c1, float beta, float *c, int ldc) {
    if (c0 % ck_axon_sliver_width(isa, n) != 0) packed = NULL; /* not on a sliver: unpacked */
    if (!packed) {
        axon_sgemm(isa, trans_a, trans_b, m, c1 - c0, k, alpha, a, lda,
                   b + (trans_b ? (size_t)c0 * ldb : (size_t)c0), ldb, NULL, 0, c1 - c0, beta, c + c0, ldc);
        return;
    }
    axon_sgemm(isa, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, packed, c0, c1, beta, c, ldc);
}

/* y[j] = alpha * sum_p x[p * incx] * B(p, j) + beta * y[j], j < n, p < k, with
 * B(p, j) = b[p * ldb + j], or b[j * ldb + p] with trans_b: one row of C. A
 * product of one row reads each element of B once, so packing B (as the GEMM
 * does) would double the memory traffic that bounds it. */
void ck_axon_sgemv(int trans_b, int n, int k, float alpha, const float *b, int ldb,
                   const float *x, int incx, float beta, float *y) {
    if (!trans_b) {
        /* Rows of B streamed in order, four at a time, into a chunk of sums
         * that stays in L1. */
        enum { CHUNK = 512 };
        float acc[CHUNK];
        for (int j0 = 0; j0 < n; j0 += CHUNK) {
            const int w = ck_imin(CHUNK, n - j0);
            for (int q = 0; q < w; q++) acc[q] = 0.0f;
            int p = 0;
            for (; p + 4 <= k; p += 4) {
                const float x0 = x[(size_t)p * incx], x1 = x[(size_t)(p + 1) * incx],
                            x2 = x[(size_t)(p + 2) * incx], x3 = x[(size_t)(p + 3) * incx];
                const float *restrict r0 = b + (size_t)p * ldb + j0, *restrict r1 = r0 + ldb,
                                      *restrict r2 = r1 + ldb, *restrict r3 = r2 + ldb;
                for (int q = 0; q < w; q++)
                    acc[q] += (x0 * r0[q] + x1 * r1[q]) + (x2 * r2[q] + x3 * r3[q]);
            }
            for (; p < k; p++) {
                const float xp = x[(size_t)p * incx];
                const float *restrict r0 = b + (size_t)p * ldb + j0;
                for (int q = 0; q < w; q++) acc[q] += xp * r0[q];
            }
            float *yc = y + j0;
            if (beta == 0.0f) for (int q = 0; q < w; q++) yc[q] = alpha * acc[q];
            else for (int q = 0; q < w; q++) yc[q] = alpha * acc[q] + beta * yc[q];
        }
        return;
    }
    /* Dot products of rows of b with x, 4 rows at a time. */
    int j = 0;
    if (incx == 1) {
        for (; j + 4 <= n; j += 4) {
            __m256 acc[4];
#pragma clang loop unroll(full)
            for (int r = 0; r < 4; r++) acc[r] = _mm256_setzero_ps();
            int p = 0;
            for (; p + 8 <= k; p += 8) {
                const __m256 xv = _mm256_loadu_ps(x + p);
#pragma clang loop unroll(full)
                for (int r = 0; r < 4; r++)
                    acc[r] = _mm256_fmadd_ps(_mm256_loadu_ps(b + (size_t)(j + r) * ldb + p), xv,
                                             acc[r]);
            }
            for (int r = 0; r < 4; r++) {
                float lane[8];
                _mm256_storeu_ps(lane, acc[r]);
                float s = ((lane[0] + lane[4]) + (lane[1] + lane[5])) +
                          ((lane[2] + lane[6]) + (lane[3] + lane[7]));
                const float *row = b + (size_t)(j + r) * ldb;
                for (int q = p; q < k; q++) s += row[q] * x[q];
                y[j + r] = beta == 0.0f ? alpha * s : alpha * s + beta * y[j + r];
            }
        }
    }
    for (; j < n; j++) {
        const float *row = b + (size_t)j * ldb;
        float s = 0.0f;
        for (int p = 0; p < k; p++) s += row[p] * x[(size_t)p * incx];
        y[j] = beta == 0.0f ? alpha * s : alpha * s + beta * y[j];
    }
}
