/*
 * augment.c — tf.image augmentation on NHWC float batches (spec §10).
 *
 * Every random choice is per image: image i of a call uses draw counter + i
 * of stream `seed` (crop's column offset: counter + 2^17 + i), so results depend
 * only on (seed, counter), never on the thread count or on the batch size: a
 * slice of a batch passed with counter + its first index draws what that slice
 * of the whole batch does (data-parallel shards). Outputs are not clipped
 * (TF does not clip float images either).
 */
#include "internal.h"
#include "ck_random.h"

#include <string.h>

/* Whole images are the units threads share; below this many floats a batch
 * runs serially (thread start-up would cost more than the work). */
#define AUG_PAR_MIN 65536

static int dims_ok(int n, int h, int w, int c) {
    return n >= 0 && h > 0 && w > 0 && c > 0;
}

static inline float unit_draw(uint64_t key, uint64_t counter) {
    return ck_bits_to_unit(ck_random_bits(key, counter));
}

/* Uniform integer in [0, m) from the high 32 bits (multiply-shift; the bias
 * for m ≤ a few dozen is below 1e-8). */
static inline int int_draw(uint64_t key, uint64_t counter, int m) {
    return (int)(((ck_random_bits(key, counter) >> 32) * (uint64_t)m) >> 32);
}

int ck_augment_random_crop(int n, int h, int w, int c, int pad, uint64_t seed,
                           uint64_t counter, const float *x, float *y) {
    CHECK(dims_ok(n, h, w, c) && pad >= 0 && (uint64_t)n <= CK_AUGMENT_COLUMN_DRAWS);
    if (n == 0) return CK_OK;
    CHECK(x && y && x != y);
    const uint64_t key = ck_stream_key(seed);
    const size_t img = (size_t)h * w * c;
    const int span = 2 * pad + 1;
    CK_PAR_FOR(img * (size_t)n >= AUG_PAR_MIN,
    for (int i = 0; i < n; i++) {
        /* Offset into the zero-padded (h+2p)×(w+2p) image, minus the padding. */
        const int dy = int_draw(key, counter + (uint64_t)i, span) - pad;
        const int dx = int_draw(key, counter + CK_AUGMENT_COLUMN_DRAWS + (uint64_t)i, span) - pad;
        const float *src = x + (size_t)i * img;
        float *dst = y + (size_t)i * img;
        for (int r = 0; r < h; r++) {
            float *row = dst + (size_t)r * w * c;
            const int sr = r + dy;
            if (sr < 0 || sr >= h) { memset(row, 0, sizeof(float) * (size_t)w * c); continue; }
            /* Columns t with 0 <= t + dx < w come from the source row; the rest is padding. */
            /* (pad may exceed w, so both ends are clamped to [0, w].) */
            const int t0 = ck_imin(w, ck_imax(0, -dx)), t1 = ck_imax(t0, ck_imin(w, w - dx));
            if (t0 > 0) memset(row, 0, sizeof(float) * (size_t)t0 * c);
            if (t1 > t0)
                memcpy(row + (size_t)t0 * c, src + ((size_t)sr * w + (size_t)(t0 + dx)) * c,
                       sizeof(float) * (size_t)(t1 - t0) * c);
            if (t1 < w) memset(row + (size_t)t1 * c, 0, sizeof(float) * (size_t)(w - t1) * c);
        }
    });
    return CK_OK;
}

/* Image i of x into y, its W axis reversed when `flip`; y may alias x. */
static void flip_image(int h, int w, int c, int flip, const float *src, float *dst) {
    for (int r = 0; r < h; r++) {
        const float *sr = src + (size_t)r * w * c;
        float *dr = dst + (size_t)r * w * c;
        if (!flip) {
            if (dr != sr) memcpy(dr, sr, sizeof(float) * (size_t)w * c);
            continue;
        }
        /* Swap columns pairwise so that x and y may be the same buffer. */
        for (int t = 0; t < (w + 1) / 2; t++) {
            const int u = w - 1 - t;
            for (int k = 0; k < c; k++) {
                const float a = sr[(size_t)t * c + k], b = sr[(size_t)u * c + k];
                dr[(size_t)t * c + k] = b;
                dr[(size_t)u * c + k] = a;
            }
        }
    }
}

int ck_augment_random_flip(int n, int h, int w, int c, uint64_t seed,
                           uint64_t counter, const float *x, float *y) {
    CHECK(dims_ok(n, h, w, c));
    if (n == 0) return CK_OK;
    CHECK(x && y);
    const uint64_t key = ck_stream_key(seed);
    const size_t img = (size_t)h * w * c;
    CK_PAR_FOR(img * (size_t)n >= AUG_PAR_MIN,
    for (int i = 0; i < n; i++)
        flip_image(h, w, c, unit_draw(key, counter + (uint64_t)i) < 0.5f, x + (size_t)i * img, y + (size_t)i * img););
    return CK_OK;
}

int ck_flip_left_right(int n, int h, int w, int c, const float *x, float *y) {
    CHECK(dims_ok(n, h, w, c));
    if (n == 0) return CK_OK;
    CHECK(x && y);
    const size_t img = (size_t)h * w * c;
    CK_PAR_FOR(img * (size_t)n >= AUG_PAR_MIN,
    for (int i = 0; i < n; i++) flip_image(h, w, c, 1, x + (size_t)i * img, y + (size_t)i * img););
    return CK_OK;
}

/* dst = src + delta over one image of `img` floats; dst may alias src. */
static void shift_image(size_t img, float delta, const float *src, float *dst) {
    for (size_t j = 0; j < img; j++) dst[j] = src[j] + delta;
}

int ck_augment_random_brightness(int n, int h, int w, int c, float max_delta,
                                 uint64_t seed, uint64_t counter,
                                 const float *x, float *y) {
    CHECK(dims_ok(n, h, w, c));
    CHECK(max_delta >= 0.0f && max_delta < 1e30f); /* NaN fails */
    if (n == 0) return CK_OK;
    CHECK(x && y);
    const uint64_t key = ck_stream_key(seed);
    const size_t img = (size_t)h * w * c;
    CK_PAR_FOR(img * (size_t)n >= AUG_PAR_MIN,
    for (int i = 0; i < n; i++) {
        const float delta = -max_delta + 2.0f * max_delta * unit_draw(key, counter + (uint64_t)i);
        shift_image(img, delta, x + (size_t)i * img, y + (size_t)i * img);
    });
    return CK_OK;
}

int ck_adjust_brightness(int n, int h, int w, int c, const float *deltas,
                         const float *x, float *y) {
    CHECK(dims_ok(n, h, w, c));
    if (n == 0) return CK_OK;
    CHECK(deltas && x && y);
    const size_t img = (size_t)h * w * c;
    CK_PAR_FOR(img * (size_t)n >= AUG_PAR_MIN,
    for (int i = 0; i < n; i++) {
        shift_image(img, deltas[i], x + (size_t)i * img, y + (size_t)i * img);
    });
    return CK_OK;
}

int ck_adjust_contrast(int n, int h, int w, int c, const float *factors,
                       const float *x, float *y) {
    CHECK(dims_ok(n, h, w, c));
    if (n == 0) return CK_OK;
    CHECK(factors && x && y);
    const size_t img = (size_t)h * w * c, pixels = (size_t)h * w;
    int bad = 0;
    for (int i = 0; i < n; i++) bad |= !(factors[i] >= 0.0f && factors[i] < 1e30f);
    CHECK(!bad);
    CK_PAR_FOR(img * (size_t)n >= AUG_PAR_MIN,
    for (int i = 0; i < n; i++) {
        const float *src = x + (size_t)i * img;
        float *dst = y + (size_t)i * img;
        const float f = factors[i];
        for (int k = 0; k < c; k++) {
            /* The channel mean in double: a 28×28 sum in float loses ~1e-5. */
            double s = 0;
            for (size_t p = 0; p < pixels; p++) s += src[p * c + k];
            const float mu = (float)(s / (double)pixels);
            for (size_t p = 0; p < pixels; p++) dst[p * c + k] = (src[p * c + k] - mu) * f + mu;
        }
    });
    return CK_OK;
}

int ck_adjust_saturation(int n, int h, int w, int c, const float *factors,
                         const float *x, float *y) {
    CHECK(dims_ok(n, h, w, c) && c == 3);
    if (n == 0) return CK_OK;
    CHECK(factors && x && y);
    int bad = 0;
    for (int i = 0; i < n; i++) bad |= !(factors[i] >= 0.0f && factors[i] < 1e30f);
    CHECK(!bad);
    const size_t pixels = (size_t)h * w;
    CK_PAR_FOR(3 * pixels * (size_t)n >= AUG_PAR_MIN,
    for (int i = 0; i < n; i++) {
        const float f = factors[i];
        const float *src = x + (size_t)i * pixels * 3;
        float *dst = y + (size_t)i * pixels * 3;
        for (size_t p = 0; p < pixels; p++) {
            const float r = src[3 * p], g = src[3 * p + 1], b = src[3 * p + 2];
            const float v = r > g ? (r > b ? r : b) : (g > b ? g : b);
            const float mn = r < g ? (r < b ? r : b) : (g < b ? g : b);
            const float range = v - mn;
            /* Closed form of TF's HSV round trip (spec §10.5): S' = clamp(S·f, 0, 1)
             * means scaling the distance to V by min(f, 1/S). */
            if (v <= 0.0f || range <= 0.0f) {
                /* S = 0 (TF sets S = 0 when V <= 0): hue is lost, the pixel is grey V. */
                dst[3 * p] = dst[3 * p + 1] = dst[3 * p + 2] = v;
                continue;
            }
            const float s = range / v;
            const float k = f < 1.0f / s ? f : 1.0f / s;
            dst[3 * p] = v - k * (v - r);
            dst[3 * p + 1] = v - k * (v - g);
            dst[3 * p + 2] = v - k * (v - b);
        }
    });
    return CK_OK;
}

/* f_i = lower + (upper − lower)·u_i with u_i draw counter + i. */
static int draw_factors(int n, float lower, float upper, uint64_t seed,
                        uint64_t counter, float *factors) {
    CHECK(lower >= 0.0f && upper > lower && upper < 1e30f);
    const uint64_t key = ck_stream_key(seed);
    for (int i = 0; i < n; i++)
        factors[i] = lower + (upper - lower) * unit_draw(key, counter + (uint64_t)i);
    return CK_OK;
}

int ck_augment_random_contrast(int n, int h, int w, int c, float lower,
                               float upper, uint64_t seed, uint64_t counter,
                               float *factors, const float *x, float *y) {
    CHECK(dims_ok(n, h, w, c));
    if (n == 0) return CK_OK;
    CHECK(factors);
    const int st = draw_factors(n, lower, upper, seed, counter, factors);
    if (st != CK_OK) return st;
    return ck_adjust_contrast(n, h, w, c, factors, x, y);
}

int ck_augment_random_saturation(int n, int h, int w, int c, float lower,
                                 float upper, uint64_t seed, uint64_t counter,
                                 float *factors, const float *x, float *y) {
    CHECK(dims_ok(n, h, w, c) && c == 3);
    if (n == 0) return CK_OK;
    CHECK(factors);
    const int st = draw_factors(n, lower, upper, seed, counter, factors);
    if (st != CK_OK) return st;
    return ck_adjust_saturation(n, h, w, c, factors, x, y);
}
