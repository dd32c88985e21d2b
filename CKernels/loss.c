/*
 * loss.c — cross-entropy and quadratic losses with their logit gradients
 * (spec §5.2–5.4), all in the stable forms TF uses.
 *
 * `scale` multiplies the gradient so the caller's reduction (1/N for a batch
 * mean, 1/(N·K) for TF's sigmoid reduce_mean) is fused into the same pass.
 */
#include "internal.h"

#include <math.h>

/* Rows are independent; parallelise once a call has this many elements. */
#define LOSS_PAR_MIN 32768

/* log Σ e^x_k, computed as m + log Σ e^(x_k − m) so it never overflows. */
static float row_logsumexp(int k, const float *x, float *m_out) {
    float m = x[0];
    for (int j = 1; j < k; j++) m = x[j] > m ? x[j] : m;
    float s = 0.0f;
    {
#pragma clang fp reassociate(on)
        for (int j = 0; j < k; j++) s += expf(x[j] - m);
    }
    *m_out = m;
    return m + logf(s);
}

static void xent_row(int k, const float *logits, const float *labels, float *loss, float scale, float *dlogits, int r) {
    const float *x = logits + (size_t)r * k, *z = labels + (size_t)r * k;
    float m;
    const float lse = row_logsumexp(k, x, &m);
    if (loss) {
        /* Σ z_k (LSE − x_k) term by term: LSE·Σz − Σ z·x would cancel. */
        float l = 0.0f;
        {
#pragma clang fp reassociate(on)
            for (int j = 0; j < k; j++) l += z[j] * (lse - x[j]);
        }
        loss[r] = l;
    }
    if (dlogits) {
        float zs = 0.0f;
        {
#pragma clang fp reassociate(on)
            for (int j = 0; j < k; j++) zs += z[j];
        }
        float *g = dlogits + (size_t)r * k;
        /* softmax_j = e^(x_j − LSE); with labels summing to 1 this is
         * softmax − z, TF's gradient. */
        for (int j = 0; j < k; j++)
            g[j] = scale * (expf(x[j] - lse) * zs - z[j]);
    }
}

int ck_softmax_cross_entropy(int rows, int k, const float *logits,
                             const float *labels, float *loss, float scale,
                             float *dlogits) {
    CHECK(rows >= 0 && k >= 1);
    if (rows == 0) return CK_OK;
    CHECK(logits && labels);
    const size_t total = (size_t)rows * (size_t)k;
    CK_PAR_FOR(total >= LOSS_PAR_MIN,
               for (int r = 0; r < rows; r++) xent_row(k, logits, labels, loss, scale, dlogits, r););
    return CK_OK;
}

int ck_sparse_softmax_cross_entropy(int rows, int k, const float *logits,
                                    const int32_t *labels, float *loss,
                                    float scale, float *dlogits) {
    CHECK(rows >= 0 && k >= 1);
    if (rows == 0) return CK_OK;
    CHECK(logits && labels);
    /* Check every id before writing anything: outputs stay untouched on error. */
    for (int r = 0; r < rows; r++)
        CHECK(labels[r] >= 0 && labels[r] < k);
    const size_t total = (size_t)rows * (size_t)k;
    CK_PAR_FOR(total >= LOSS_PAR_MIN,
    for (int r = 0; r < rows; r++) {
        const float *x = logits + (size_t)r * k;
        const int t = labels[r];
        float m;
        const float lse = row_logsumexp(k, x, &m);
        if (loss) loss[r] = lse - x[t];
        if (dlogits) {
            float *g = dlogits + (size_t)r * k;
            const float pt = expf(x[t] - lse); /* read before g may overwrite x */
            for (int j = 0; j < k; j++) g[j] = scale * expf(x[j] - lse);
            g[t] = scale * (pt - 1.0f);
        }
    });
    return CK_OK;
}

int ck_sigmoid_cross_entropy(size_t n, const float *logits, const float *labels,
                             float *loss, float scale, float *dlogits) {
    if (n == 0) return CK_OK;
    CHECK(logits && labels);
    if (loss) {
        CK_PAR_SPANS(n, n >= LOSS_PAR_MIN, lo, len,
        for (size_t i = lo; i < lo + len; i++) {
            const float x = logits[i], z = labels[i];
            loss[i] = (x > 0.0f ? x : 0.0f) - x * z + log1pf(expf(-fabsf(x)));
        });
    }
    if (dlogits) {
        CK_PAR_SPANS(n, n >= LOSS_PAR_MIN, lo, len,
        for (size_t i = lo; i < lo + len; i++) {
            const float x = logits[i];
            /* σ from e^(−|x|) ∈ (0, 1]: no overflow on either side, and
             * σ(x) − 1 for large x keeps its small relative error. */
            const float e = expf(-fabsf(x));
            const float s = x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
            dlogits[i] = scale * (s - labels[i]);
        });
    }
    return CK_OK;
}

static void quadratic_row(int k, const float *y, const float *t, float *loss, float scale, float *dy, int r) {
    const float *yr = y + (size_t)r * k, *tr = t + (size_t)r * k;
    if (loss) {
        float s = 0.0f;
        {
#pragma clang fp reassociate(on)
            for (int j = 0; j < k; j++) {
                const float d = tr[j] - yr[j];
                s += d * d;
            }
        }
        loss[r] = 0.5f * s;
    }
    if (dy) {
        float *g = dy + (size_t)r * k;
        for (int j = 0; j < k; j++) g[j] = scale * (yr[j] - tr[j]);
    }
}

int ck_quadratic_cost(int rows, int k, const float *y, const float *t,
                      float *loss, float scale, float *dy) {
    CHECK(rows >= 0 && k >= 1);
    if (rows == 0) return CK_OK;
    CHECK(y && t);
    const size_t total = (size_t)rows * (size_t)k;
    CK_PAR_FOR(total >= LOSS_PAR_MIN,
               for (int r = 0; r < rows; r++) quadratic_row(k, y, t, loss, scale, dy, r););
    return CK_OK;
}
