/*
 * lstm.h — what lstm.c (forward passes) and lstm_backward.c (backward
 * passes) share; not part of the public API.
 */
#ifndef CKERNELS_LSTM_H
#define CKERNELS_LSTM_H

#include <limits.h>
#include <math.h>
#include <stddef.h>
#include "internal.h"

/* How many blocks the batch rows (and the weight gradients' columns) are cut
 * into: from the core count and the sizes, never from the thread count, so
 * every product keeps its shape and its bits however many threads run the
 * blocks (OpenBLAS's Haswell kernels round a row differently by where a cut
 * falls: measured on a Zen 5). At least ROW_BLOCK_MIN rows a block: the
 * per-step products of a few rows each would cost more than a core saves. */
#define ROW_BLOCK_MIN 16
static inline int row_blocks(int b) {
    return ck_imax(1, ck_imin(omp_get_num_procs(), b / ROW_BLOCK_MIN));
}
static inline int col_blocks(int n) { return ck_imax(1, ck_imin(omp_get_num_procs(), n / 16)); }

/* Threads for nb blocks: one per block at most. */
static inline int block_threads(int nb) { return ck_imin(ck_par_ok() ? ck_threads() : 1, nb); }

/* Rows [*lo, *hi) of n for block id of nb: an even split. */
static inline void rows_of(int n, int nt, int id, int *lo, int *hi) {
    *lo = (int)((long long)n * id / nt);
    *hi = (int)((long long)n * (id + 1) / nt);
}

/* Columns [*lo, *hi) of n for block id of nt, in whole 16-float blocks so a
 * block's slice starts on a vector (and, packed, a cache-line) boundary. */
static inline void cols_of(int n, int nt, int id, int *lo, int *hi) {
    int blocks = (n + 15) / 16;
    int a = (int)((long long)blocks * id / nt), b = (int)((long long)blocks * (id + 1) / nt);
    *lo = a * 16 < n ? a * 16 : n;
    *hi = b * 16 < n ? b * 16 : n;
}

/* A batch of at most this many rows takes the recurrent products row by row
 * (decided on the whole batch, not a thread's share, so that a row's bits do
 * not depend on how the rows are split across threads). */
#define FEW_ROWS 4

/* C[nb, n] += A[nb, k]·op(R), for the per-step recurrent products, with
 * op(R) (R or Rᵀ) from ck_pack_b(!few, ...), packed once per sequence. With
 * few rows (a batch of FEW_ROWS or less) they go one by one to a
 * matrix-vector product that reads R in place: sgemm would pack all of R
 * (64k floats for u = 128) for them every step, nearly half of batch-1
 * profiles. With more, packing R once per sequence instead of at every step
 * (and dZ once for both weight gradients) gained ~4% on LSTM-128 training. */
static inline void rec_gemm(int few, int nb, const float *a, int lda, const ck_packed_b *rp,
                            float *c, int ldc) {
    if (few) {
        for (int j = 0; j < nb; j++) {
            const float *aj = a + (size_t)j * lda;
            float *cj = c + (size_t)j * ldc;
            ck_gemv_serial(rp->trans_b, rp->n, rp->k, 1.0f, rp->b, rp->ldb, aj, 1, 1.0f, cj);
        }
        return;
    }
    ck_gemm_serial_packed(0, nb, 1.0f, a, lda, rp, 1.0f, c, ldc);
}

/* tanh(x) given e = e^{−2|x|}: (1 − e)/(1 + e) with x's sign, and below
 * |x| = 1/8 a series, which avoids the cancellation in 1 − e. Both branches
 * are computed and one selected, so loops over it stay vectorisable. Largest
 * error over [-20, 20]: 9e-8 absolute, 4 ulp relative. ±inf → ±1, NaN stays
 * NaN. */
static inline float tanh_e(float x, float e) {
    float a = fabsf(x);
    float big = (1.0f - e) / (1.0f + e);
    float x2 = x * x;
    float small = a * (1.0f + x2 * (-1.0f / 3.0f +
                                    x2 * (2.0f / 15.0f + x2 * (-17.0f / 315.0f))));
    return copysignf(a < 0.125f ? small : big, x);
}

/* x[k] = e^{x[k]} for k < n, as a pass of its own: clang maps
 * expf to glibc's 8-lane vector version (libmvec) but knows no 16-lane one,
 * so the AVX-512 versions of the cell loops (wide = 1) call that one
 * (_ZGVeN16v_expf) themselves: 0.17 against 0.24 ns an element on a Zen 5,
 * the same bits over [-20, 20]. In a loop of its own the call also leaves the
 * surrounding loops' vectors unspilled. */
#define CELL_CHUNK 64
CK_TARGET_AVX512 void ck_exp16_pass(int n, float *x);
static inline __attribute__((always_inline)) void exp_pass(int wide, int n, float *restrict x) {
    if (wide) {
        ck_exp16_pass(n, x);
        return;
    }
    for (int k = 0; k < n; k++) x[k] = expf(x[k]);
}

/* t[j] = tanh(x[j]) for j < n ≤ CELL_CHUNK, through expf (clang maps expf
 * but not tanhf to libmvec: a vectorised loop would otherwise call scalar
 * tanhf eight times per vector). */
static inline __attribute__((always_inline)) void tanh_pass(int wide, int n,
                                                            const float *restrict x,
                                                            float *restrict t) {
    for (int j = 0; j < n; j++) t[j] = -2.0f * fabsf(x[j]);
    exp_pass(wide, n, t);
    for (int j = 0; j < n; j++) t[j] = tanh_e(x[j], t[j]);
}

/* Sizes must be positive and every matrix index must fit an int (cblas). */
static inline int dims_ok(long long b, long long t, long long d, long long u) {
    if (b < 1 || t < 1 || d < 1 || u < 1) return 0;
    long long rows = b * t;
    /* ld of z per step is t·4u; the flat buffers are indexed in size_t. */
    return rows <= INT_MAX && t * 4 * u <= INT_MAX && rows * 6 * u <= INT_MAX * 64LL &&
           rows * d <= INT_MAX * 64LL;
}

#endif /* CKERNELS_LSTM_H */
