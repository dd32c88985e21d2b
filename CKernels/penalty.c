/*
 * penalty.c — L1 and L2 weight penalties (spec §7).
 *
 * The sum is split into a fixed number of blocks whose partial sums are added
 * in block order. The blocks do not depend on the thread count, so the
 * penalty is bitwise the same for any number of threads (an OpenMP
 * reduction would combine partials in a thread-count-dependent order).
 */
#include "internal.h"

#include <math.h>

#define PENALTY_BLOCKS 64
#define PENALTY_PAR_MIN 65536

/* Σ w² (square = 1) or Σ |w| (square = 0) over [lo, hi), in double so a
 * million weights lose nothing to float rounding. */
static double block_sum(const float *w, size_t lo, size_t hi, int square) {
    double s = 0.0;
    if (square) {
#pragma clang fp reassociate(on)
        for (size_t i = lo; i < hi; i++) s += (double)w[i] * (double)w[i];
    } else {
#pragma clang fp reassociate(on)
        for (size_t i = lo; i < hi; i++) s += fabs((double)w[i]);
    }
    return s;
}

static double blocked_sum(size_t n, const float *w, int square) {
    double part[PENALTY_BLOCKS];
    CK_PAR_FOR(n >= PENALTY_PAR_MIN,
    for (int b = 0; b < PENALTY_BLOCKS; b++) {
        size_t lo = n / PENALTY_BLOCKS * b + (n % PENALTY_BLOCKS < (size_t)b ? n % PENALTY_BLOCKS : (size_t)b);
        size_t hi = lo + n / PENALTY_BLOCKS + ((size_t)b < n % PENALTY_BLOCKS);
        part[b] = block_sum(w, lo, hi, square);
    });
    double s = 0.0;
    for (int b = 0; b < PENALTY_BLOCKS; b++) s += part[b];
    return s;
}

int ck_l2_penalty(size_t n, const float *w, float coef, float *penalty,
                  float *grad) {
    CHECK(penalty && (n == 0 || w));
    *penalty = n ? (float)(0.5 * (double)coef * blocked_sum(n, w, 1)) : 0.0f;
    if (grad && n) {
        CK_PAR_FOR(n >= PENALTY_PAR_MIN,
        for (size_t i = 0; i < n; i++) grad[i] += coef * w[i];);
    }
    return CK_OK;
}

int ck_l1_penalty(size_t n, const float *w, float coef, float *penalty,
                  float *grad) {
    CHECK(penalty && (n == 0 || w));
    *penalty = n ? (float)((double)coef * blocked_sum(n, w, 0)) : 0.0f;
    if (grad && n) {
        /* sign(0) = 0, as TF's gradient of abs at 0 (spec §7). */
        CK_PAR_FOR(n >= PENALTY_PAR_MIN,
        for (size_t i = 0; i < n; i++)
            grad[i] += w[i] > 0.0f ? coef : (w[i] < 0.0f ? -coef : 0.0f););
    }
    return CK_OK;
}
