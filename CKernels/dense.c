/*
 * Dense layer: y = act(x·w + b) with x [n, in], w [in, out] (row-major, the
 * Keras kernel layout), as one GEMM whose blocks are followed by the bias and
 * activation of the block just written (fused, cache-warm).
 */
#include <string.h>
#include "internal.h"

static int dense_sizes_ok(int n, int in, int out) {
    return n >= 1 && in >= 1 && out >= 1 && (double)n * in <= 4e18 &&
           (double)n * out <= 4e18 && (double)in * out <= 4e18;
}

static void dense_block(const ck_gemm_plan *pl, int blk, int n, int in, int out, const float *x,
                        const float *w, const float *b, int activation, float *y) {
    int r0, r1, c0, c1;
    ck_sgemm_block(pl, blk, 0, 0, n, out, in, 1.0f, x, in, w, out, 0.0f, y, out, &r0, &r1, &c0, &c1);
    ck_bias_act(y, out, r0, r1, c0, c1, b, activation);
}

/* A training batch (DENSE_FEW_MIN to DENSE_FEW_MAX rows) on Axon's GEMM
 * takes the products transposed, yᵀ = wᵀ·xᵀ and dxᵀ = w·dzᵀ: the GEMM then
 * reads w in place as its A (its B, the batch, has at most two slivers)
 * instead of packing all of w as B on every call (deep-MNIST's 12.8 MB, read
 * and written again: 7% of a step on two threads). The same products summed
 * in the same order: the same bits. Rows of the result go to a scratch, then
 * into place transposed. */
#define DENSE_FEW_MIN 8
#define DENSE_FEW_MAX 64
static __thread ck_buffer transposed_buf;

static int few_rows(int n) {
    return n >= DENSE_FEW_MIN && n <= DENSE_FEW_MAX && ck_gemm_get_path() != CK_GEMM_BLAS;
}

/* c [n, m] = (op(A)·op(B))ᵀ for op(A) [m, k] = w or wᵀ and op(B) [k, n] = zᵀ
 * (z [n, k]), in blocks of m, each followed by c's bias and activation. */
static int transposed_product(int trans_w, int m, int n, int k, const float *w, int ldw,
                              const float *z, const float *b, int activation, float *c) {
    float *t = ck_buffer_grow(&transposed_buf, (size_t)m * n);
    if (!t) return 0;
    const ck_gemm_plan pl = ck_plan_gemm_rows(m, n, k);
    CK_PAR_FOR(pl.nblocks > 1, for (int blk = 0; blk < pl.nblocks; blk++) {
        int r0, r1, c0, c1;
        ck_sgemm_block(&pl, blk, trans_w, 1, m, n, k, 1.0f, w, ldw, z, k, 0.0f, t, n,
                       &r0, &r1, &c0, &c1);
        for (int j = 0; j < n; j++)
            for (int i = r0; i < r1; i++) c[(size_t)j * m + i] = t[(size_t)i * n + j];
        ck_bias_act(c, m, 0, n, r0, r1, b, activation);
    });
    return 1;
}

int ck_dense_forward(int n, int in, int out, const float *x, const float *w,
                     const float *b, int activation, float *y) {
    CHECK(dense_sizes_ok(n, in, out));
    CHECK(x != NULL && w != NULL && y != NULL);
    CHECK(ck_valid_act(activation));
    if (few_rows(n) && transposed_product(1, out, n, in, w, out, x, b, activation, y))
        return CK_OK;
    ck_gemm_plan pl = ck_plan_gemm(n, out, in);
    CK_PAR_FOR(pl.nblocks > 1,
    for (int blk = 0; blk < pl.nblocks; blk++) dense_block(&pl, blk, n, in, out, x, w, b, activation, y););
    return CK_OK;
}

int ck_dense_backward(int n, int in, int out, const float *x, const float *w,
                      const float *dz, float *dx, float *dw, float *db) {
    CHECK(dense_sizes_ok(n, in, out));
    CHECK(x != NULL && w != NULL && dz != NULL);
    int st;
    /* dx [n, in] = dz · wᵀ */
    const int transposed = dx && few_rows(n) &&
                           transposed_product(0, in, n, out, w, out, dz, NULL, CK_ACT_NONE, dx);
    if (dx && !transposed &&
        (st = ck_sgemm(0, 1, n, in, out, 1.0f, dz, out, w, out, 0.0f, dx, in)) != CK_OK)
        return st;
    /* dw [in, out] = xᵀ · dz */
    if (dw && (st = ck_sgemm(1, 0, in, out, n, 1.0f, x, in, dz, out, 0.0f, dw, out)) != CK_OK)
        return st;
    if (db) return ck_sum_rows(n, out, dz, db);
    return CK_OK;
}

/* Rows of the kernel's gradient made at a time: at most this many floats
 * (64 KB), so the scratch stays in L2 beside w's rows and their slots. */
#define UPDATE_CHUNK_FLOATS 16384
static __thread ck_buffer update_scratch; /* every block's, on the calling thread */

int ck_dense_update_kernel(int n, int in, int out, const float *x, const float *dz,
                           float *w, const struct ck_update_rule *rule) {
    CHECK(dense_sizes_ok(n, in, out));
    CHECK(x != NULL && dz != NULL && w != NULL && rule != NULL);
    /* The rule's own checks (hyper-parameters, slots) before any row changes. */
    int st = ck_update_apply(rule, 0, 0, w, dz);
    if (st != CK_OK) return st;
    const ck_packed_b pb = ck_pack_b(1, 0, n, out, dz, out);
    const ck_gemm_plan pl = ck_plan_gemm_rows(in, out, n);
    const int chunk = ck_imax(8, UPDATE_CHUNK_FLOATS / out / 8 * 8);
    float *scratch = ck_buffer_grow(&update_scratch, (size_t)pl.nblocks * chunk * out);
    CHECK(scratch != NULL);
    CK_PAR_FOR(pl.nblocks > 1,
    for (int blk = 0; blk < pl.nblocks; blk++) {
        int lo, hi;
        ck_plan_span(&pl, blk, &lo, &hi);
        float *g = scratch + (size_t)blk * chunk * out;
        for (int i = lo; i < hi; i += chunk) {
            const int rows = ck_imin(chunk, hi - i);
            ck_gemm_serial_packed(1, rows, 1.0f, x + i, in, &pb, 0.0f, g, out);
            ck_update_apply(rule, (size_t)i * out, (size_t)rows * out, w, g);
        }
    });
    return CK_OK;
}
