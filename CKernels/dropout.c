/*
 * dropout.c — inverted dropout (spec §6), TF's form: kept values are scaled by
 * 1/(1 − rate) at training time and inference is the identity.
 *
 * The keep decision for element i is u_i >= rate with u_i the same draw
 * ck_random_uniform(seed, counter) gives for index i, so the mask is
 * reproducible from (seed, counter) and independent of the thread count.
 */
#include "internal.h"
#include "ck_random.h"

#include <math.h>

#define DROPOUT_PAR_MIN 65536

static int rate_ok(float rate) { return rate >= 0.0f && rate < 1.0f; } /* NaN fails */

/* One span, in a function of its own: inside it the compiler can see that
 * the byte mask does not overlap the floats (a byte store may alias anything)
 * and vectorises the loop, which it will not do in the OpenMP-outlined body.
 * The select is branch-free, so random keep decisions cost no mispredictions.
 * AVX-512 has the 64-bit multiplies the generator needs (~3x, Benchmarks/README.md). */
static inline __attribute__((always_inline)) void dropout_span(size_t n, uint64_t key, uint64_t counter, float rate,
                                                               float scale, const float *x, float *y,
                                                               uint8_t *restrict mask) {
    for (size_t i = 0; i < n; i++) {
        const int keep = ck_bits_to_unit(ck_random_bits(key, counter + i)) >= rate;
        mask[i] = (uint8_t)keep;
        y[i] = keep ? x[i] * scale : 0.0f;
    }
}
CK_ISA_VERSIONS(dropout_span,
                (size_t n, uint64_t key, uint64_t counter, float rate, float scale, const float *x, float *y,
                 uint8_t *restrict mask),
                (n, key, counter, rate, scale, x, y, mask))

int ck_dropout_forward(size_t n, float rate, uint64_t seed, uint64_t counter,
                       const float *x, float *y, uint8_t *mask) {
    CHECK(rate_ok(rate));
    if (n == 0) return CK_OK;
    CHECK(x && y && mask);
    const uint64_t key = ck_stream_key(seed);
    /* TF multiplies by the reciprocal (x * (1/keep_prob)); so do we. */
    const float scale = 1.0f / (1.0f - rate);
    CK_PAR_SPANS(n, n >= DROPOUT_PAR_MIN, lo, len,
                 dropout_span_isa(len, key, counter + lo, rate, scale, x + lo, y + lo, mask + lo););
    return CK_OK;
}

int ck_dropout_backward(size_t n, float rate, const uint8_t *mask,
                        const float *dy, float *dx) {
    CHECK(rate_ok(rate));
    if (n == 0) return CK_OK;
    CHECK(mask && dy && dx);
    const float scale = 1.0f / (1.0f - rate);
    CK_PAR_FOR(n >= DROPOUT_PAR_MIN,
    for (size_t i = 0; i < n; i++)
        dx[i] = mask[i] ? dy[i] * scale : 0.0f;);
    return CK_OK;
}
