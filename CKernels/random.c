/*
 * random.c — counter-based uniform and truncated-normal streams.
 *
 * Value i of a call is draw (counter + i) of stream `seed` and depends on
 * nothing else, so results are identical for any thread count and any way
 * of splitting a range into calls (see ck_random.h).
 */
#include "internal.h"
#include "ck_random.h"

#include <math.h>

/* Below this many draws a parallel region costs more than it saves. */
#define RANDOM_PAR_MIN 65536

/* A redraw after 64 rejections has probability 0.0455^64 ≈ 1e-86; the cap
 * only exists so the loop provably ends. */
#define TRUNC_MAX_ATTEMPTS 64

int ck_random_uniform(uint64_t seed, uint64_t counter, float *out, size_t n) {
    if (n == 0) return CK_OK;
    if (!out) return CK_EINVAL;
    const uint64_t key = ck_stream_key(seed);
#pragma omp parallel for num_threads(ck_threads()) schedule(static) if (n >= RANDOM_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        out[i] = ck_bits_to_unit(ck_random_bits(key, counter + i));
    return CK_OK;
}

/* One standard normal draw truncated to [-2, 2]. Attempt a of value c uses its
 * own derived key, so a rejection never consumes a neighbour's draw and the
 * value stays a function of (seed, c) alone. Box–Muller in double: u1 is in
 * (0, 1] so the log is finite, and 32 bits per uniform reach far past 2σ. */
static double truncated_standard_normal(uint64_t key, uint64_t c) {
    for (uint64_t a = 0; a < TRUNC_MAX_ATTEMPTS; a++) {
        uint64_t k = a == 0 ? key : ck_mix64(key ^ (a * 0xD1B54A32D192ED03ULL));
        uint64_t b = ck_random_bits(k, c);
        double u1 = ((double)(b >> 32) + 1.0) * 0x1p-32;
        double u2 = (double)(b & 0xFFFFFFFFu) * 0x1p-32;
        double z = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
        if (fabs(z) <= 2.0) return z;
    }
    return 0.0;
}

int ck_random_truncated_normal(uint64_t seed, uint64_t counter, float mean,
                               float std, float *out, size_t n) {
    if (!isfinite(mean) || !isfinite(std) || std < 0.0f) return CK_EINVAL;
    if (n == 0) return CK_OK;
    if (!out) return CK_EINVAL;
    const uint64_t key = ck_stream_key(seed ^ 0x3C6EF372FE94F82BULL);
    const double m = mean, s = std;
#pragma omp parallel for num_threads(ck_threads()) schedule(static) if (n >= RANDOM_PAR_MIN / 8)
    for (size_t i = 0; i < n; i++) {
        double v = m + s * truncated_standard_normal(key, counter + i);
        /* Rounding to float may step just past mean ± 2σ; keep the promise. */
        double lo = m - 2.0 * s, hi = m + 2.0 * s;
        float f = (float)v;
        if ((double)f > hi) f = nextafterf(f, -INFINITY);
        if ((double)f < lo) f = nextafterf(f, INFINITY);
        out[i] = f;
    }
    return CK_OK;
}
