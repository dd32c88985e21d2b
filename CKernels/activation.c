/*
 * activation.c — elementwise activations and row-wise softmax (spec §5.1).
 *
 * Backward passes take the forward OUTPUT y: every derivative here is a
 * function of y (σ' = y(1−y), tanh' = 1−y², relu' = [y > 0],
 * relu6' = [0 < y < 6]), so layers need not keep their inputs. relu'(0) = 0
 * follows from y > 0 being false; relu6' is 0 at both kinks as in TF's
 * Relu6Grad (y = 6 also covers every x >= 6).
 */
#include "internal.h"

#include <math.h>

/* Elementwise loops run serially below this size: a parallel region costs a
 * few microseconds, about what 64K expf's cost on one core. */
#define ACT_PAR_MIN 65536

/* Clang's -fveclib=libmvec maps expf and logf to glibc's vector versions but
 * not tanhf, whose scalar form is ~10x slower than the AVX2 one. glibc >= 2.35
 * exports the vector tanhf (_ZGVdN8v_tanhf, 8 lanes, AVX2), so call it
 * directly; elsewhere fall back to the scalar loop. */
#if defined(__AVX2__) && defined(__GLIBC__) && \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
#include <immintrin.h>
__m256 _ZGVdN8v_tanhf(__m256 x);
__m256 _ZGVdN8v_expf(__m256 x);
#define CK_HAVE_VECTOR_TANHF 1
#endif

/* tanh over [0, n): 8 lanes at a time, then a scalar tail. */
static void tanh_span(const float *x, float *y, size_t n) {
    size_t i = 0;
#ifdef CK_HAVE_VECTOR_TANHF
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _ZGVdN8v_tanhf(_mm256_loadu_ps(x + i)));
#endif
    for (; i < n; i++) y[i] = tanhf(x[i]);
}

/* σ over [0, n), 8 lanes at a time, then a scalar tail: explicit, not left
 * to the vectoriser, whose runtime overlap check would send an in-place call
 * (y == x) to the scalar expf, which rounds differently. expf(−x) overflows
 * to +inf for x < −88 and 1/(1+inf) = 0: the plain form saturates correctly
 * at both ends. */
static void sigmoid_span(const float *x, float *y, size_t n) {
    size_t i = 0;
#ifdef CK_HAVE_VECTOR_TANHF
    const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
    for (; i + 8 <= n; i += 8) {
        const __m256 e = _ZGVdN8v_expf(_mm256_xor_ps(_mm256_loadu_ps(x + i), sign));
        _mm256_storeu_ps(y + i, _mm256_div_ps(one, _mm256_add_ps(one, e)));
    }
#endif
    for (; i < n; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
}

int ck_activation_forward(int activation, const float *x, float *y, size_t n) {
    CHECK(ck_valid_act(activation));
    if (n == 0) return CK_OK;
    CHECK(x && y);
    switch (activation) {
    case CK_ACT_NONE:
        if (x != y) {
            CK_PAR_FOR(n >= ACT_PAR_MIN,
            for (size_t i = 0; i < n; i++) y[i] = x[i];);
        }
        break;
    case CK_ACT_RELU:
        CK_PAR_FOR(n >= ACT_PAR_MIN,
        for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;);
        break;
    case CK_ACT_RELU6:
        /* As ReLU, NaN gives 0. */
        CK_PAR_FOR(n >= ACT_PAR_MIN,
        for (size_t i = 0; i < n; i++) {
            const float v = x[i] > 0.0f ? x[i] : 0.0f;
            y[i] = v < 6.0f ? v : 6.0f;
        });
        break;
    case CK_ACT_SIGMOID:
        CK_PAR_SPANS(n, n >= ACT_PAR_MIN, lo, len, sigmoid_span(x + lo, y + lo, len););
        break;
    case CK_ACT_TANH:
        CK_PAR_SPANS(n, n >= ACT_PAR_MIN, lo, len, tanh_span(x + lo, y + lo, len););
        break;
    }
    return CK_OK;
}

int ck_activation_backward(int activation, const float *y, const float *dy,
                           float *dx, size_t n) {
    CHECK(ck_valid_act(activation));
    if (n == 0) return CK_OK;
    CHECK(y && dy && dx);
    switch (activation) {
    case CK_ACT_NONE:
        if (dx != dy) {
            CK_PAR_FOR(n >= ACT_PAR_MIN,
            for (size_t i = 0; i < n; i++) dx[i] = dy[i];);
        }
        break;
    case CK_ACT_RELU:
        CK_PAR_FOR(n >= ACT_PAR_MIN,
        for (size_t i = 0; i < n; i++) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;);
        break;
    case CK_ACT_RELU6:
        CK_PAR_FOR(n >= ACT_PAR_MIN,
        for (size_t i = 0; i < n; i++) dx[i] = y[i] > 0.0f && y[i] < 6.0f ? dy[i] : 0.0f;);
        break;
    case CK_ACT_SIGMOID:
        CK_PAR_FOR(n >= ACT_PAR_MIN,
        for (size_t i = 0; i < n; i++) dx[i] = dy[i] * y[i] * (1.0f - y[i]););
        break;
    case CK_ACT_TANH:
        CK_PAR_FOR(n >= ACT_PAR_MIN,
        for (size_t i = 0; i < n; i++) dx[i] = dy[i] * (1.0f - y[i] * y[i]););
        break;
    }
    return CK_OK;
}

/* Subtracting the row maximum keeps every exponent <= 0, so nothing
 * overflows and softmax([1000, 0, -1000]) is exactly [1, 0, 0]. */
static void softmax_row(int cols, const float *x, float *y) {
    float m = x[0];
    for (int k = 1; k < cols; k++) m = x[k] > m ? x[k] : m;
    float s = 0.0f;
    {
#pragma clang fp reassociate(on)
        for (int k = 0; k < cols; k++) {
            float e = expf(x[k] - m);
            y[k] = e;
            s += e;
        }
    }
    /* Divide rather than multiply by 1/s: correctly rounded, and a row of
     * softmax is never the hot spot next to the GEMM that feeds it. */
    for (int k = 0; k < cols; k++) y[k] /= s;
}

int ck_softmax_forward(int rows, int cols, const float *x, float *y) {
    CHECK(rows >= 0 && cols >= 1);
    if (rows == 0) return CK_OK;
    CHECK(x && y);
    const size_t total = (size_t)rows * (size_t)cols;
    CK_PAR_FOR(total >= ACT_PAR_MIN / 4,
    for (int r = 0; r < rows; r++)
        softmax_row(cols, x + (size_t)r * cols, y + (size_t)r * cols););
    return CK_OK;
}

static void softmax_backward_row(int cols, const float *y, const float *dy, float *dx, int r) {
    const float *yr = y + (size_t)r * cols, *dyr = dy + (size_t)r * cols;
    float *dxr = dx + (size_t)r * cols;
    float d = 0.0f;
    {
#pragma clang fp reassociate(on)
        for (int k = 0; k < cols; k++) d += dyr[k] * yr[k];
    }
    for (int k = 0; k < cols; k++) dxr[k] = yr[k] * (dyr[k] - d);
}

int ck_softmax_backward(int rows, int cols, const float *y, const float *dy,
                        float *dx) {
    CHECK(rows >= 0 && cols >= 1);
    if (rows == 0) return CK_OK;
    CHECK(y && dy && dx);
    const size_t total = (size_t)rows * (size_t)cols;
    CK_PAR_FOR(total >= ACT_PAR_MIN / 4,
               for (int r = 0; r < rows; r++) softmax_backward_row(cols, y, dy, dx, r););
    return CK_OK;
}
