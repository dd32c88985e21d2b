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

int ck_dense_forward(int n, int in, int out, const float *x, const float *w,
                     const float *b, int activation, float *y) {
    CHECK(dense_sizes_ok(n, in, out));
    CHECK(x != NULL && w != NULL && y != NULL);
    CHECK(ck_valid_act(activation));
    ck_gemm_plan pl = ck_plan_gemm(n, out, in);
    CK_PAR_FOR(pl.nblocks > 1,
    for (int blk = 0; blk < pl.nblocks; blk++) dense_block(&pl, blk, n, in, out, x, w, b, activation, y););
    return CK_OK;
}

int ck_dense_backward(int n, int in, int out, const float *x, const float *w,
                      const float *dz, float *dx, float *dw, float *db) {
    CHECK(dense_sizes_ok(n, in, out));
    CHECK(x != NULL && w != NULL && dz != NULL && dw != NULL);
    int st;
    /* dx [n, in] = dz · wᵀ */
    if (dx && (st = ck_sgemm(0, 1, n, in, out, 1.0f, dz, out, w, out, 0.0f, dx, in)) != CK_OK)
        return st;
    /* dw [in, out] = xᵀ · dz */
    if ((st = ck_sgemm(1, 0, in, out, n, 1.0f, x, in, dz, out, 0.0f, dw, out)) != CK_OK)
        return st;
    if (db) return ck_sum_rows(n, out, dz, db);
    return CK_OK;
}
