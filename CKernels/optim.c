/* optim.c — fused per-element updates of the ten tf.compat.v1.train
 * optimizers (spec §8). Each kernel is one pass over n elements, its formulas
 * written in the spec's order so float results track TF's training_ops.cc.
 *
 * Large updates run across OpenMP threads (CK_PAR_FOR); below PAR_MIN elements
 * the fork/join costs more than the pass. Each element is independent, so the
 * result is the same bits for any thread count. Pointers are needed only when
 * there is something to update (CHECK(n == 0 || ...)): a Swift empty array may
 * hand over NULL.
 */
#include "ckernels.h"
#include "internal.h"

#include <math.h>

#define PAR_MIN ((size_t)1 << 15)

static inline int finite_nonneg(float v) { return isfinite(v) && v >= 0.0f; }

static inline float signf(float v) {
    return v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : 0.0f);
}

/* §8.1 */
int ck_sgd_update(size_t n, float *w, const float *g, float lr) {
    CHECK(n == 0 || (w && g));
    CHECK(isfinite(lr));
    CK_PAR_FOR(n >= PAR_MIN, for (size_t k = 0; k < n; k++) { w[k] = w[k] - lr * g[k]; });
    return CK_OK;
}

/* §8.2: TF1's form, lr outside the accumulator. */
int ck_momentum_update(size_t n, float *w, const float *g, float *accum,
                       float lr, float momentum, int nesterov) {
    CHECK(n == 0 || (w && g && accum));
    CHECK(isfinite(lr) && isfinite(momentum));
    if (nesterov) {
        CK_PAR_FOR(n >= PAR_MIN, for (size_t k = 0; k < n; k++) {
            float a = momentum * accum[k] + g[k];
            accum[k] = a;
            w[k] = w[k] - lr * g[k] - lr * momentum * a;
        });
    } else {
        CK_PAR_FOR(n >= PAR_MIN, for (size_t k = 0; k < n; k++) {
            float a = momentum * accum[k] + g[k];
            accum[k] = a;
            w[k] = w[k] - lr * a;
        });
    }
    return CK_OK;
}

/* §8.5, the epsilon-hat form; lr_t carries the bias corrections. */
int ck_adam_update(size_t n, float *w, const float *g, float *m, float *v,
                   float lr_t, float beta1, float beta2, float epsilon) {
    CHECK(n == 0 || (w && g && m && v));
    CHECK(isfinite(lr_t) && isfinite(beta1) && isfinite(beta2));
    CHECK(finite_nonneg(epsilon));
    const float a1 = 1.0f - beta1, a2 = 1.0f - beta2;
    CK_PAR_FOR(n >= PAR_MIN, for (size_t k = 0; k < n; k++) {
        float gk = g[k];
        float mk = m[k] + (gk - m[k]) * a1;
        float vk = v[k] + (gk * gk - v[k]) * a2;
        m[k] = mk;
        v[k] = vk;
        w[k] = w[k] - lr_t * mk / (sqrtf(vk) + epsilon);
    });
    return CK_OK;
}

/* §8.3: no epsilon; the accumulator starts > 0 (caller's initial value). */
int ck_adagrad_update(size_t n, float *w, const float *g, float *accum,
                      float lr) {
    CHECK(n == 0 || (w && g && accum));
    CHECK(isfinite(lr));
    CK_PAR_FOR(n >= PAR_MIN, for (size_t k = 0; k < n; k++) {
        float gk = g[k];
        float a = accum[k] + gk * gk;
        accum[k] = a;
        w[k] = w[k] - lr * gk / sqrtf(a);
    });
    return CK_OK;
}

/* §8.4: Δ uses the OLD accum_update, which is then updated with Δ (not lr·Δ). */
int ck_adadelta_update(size_t n, float *w, const float *g, float *accum,
                       float *accum_update, float lr, float rho,
                       float epsilon) {
    CHECK(n == 0 || (w && g && accum && accum_update));
    CHECK(isfinite(lr) && isfinite(rho) && finite_nonneg(epsilon));
    const float a = 1.0f - rho;
    CK_PAR_FOR(n >= PAR_MIN, for (size_t k = 0; k < n; k++) {
        float gk = g[k];
        float A = rho * accum[k] + a * (gk * gk);
        float delta = sqrtf(accum_update[k] + epsilon) / sqrtf(A + epsilon) * gk;
        accum[k] = A;
        w[k] = w[k] - lr * delta;
        accum_update[k] = rho * accum_update[k] + a * (delta * delta);
    });
    return CK_OK;
}

/* §8.6: ε inside the square root; ms is expected to start at 1 (TF1). */
int ck_rmsprop_update(size_t n, float *w, const float *g, float *ms,
                      float *mom, float *mg, float lr, float decay,
                      float momentum, float epsilon, int centered) {
    CHECK(n == 0 || (w && g && ms && mom));
    CHECK(!centered || n == 0 || mg != NULL);
    CHECK(isfinite(lr) && isfinite(decay) && isfinite(momentum));
    CHECK(finite_nonneg(epsilon));
    const float a = 1.0f - decay;
    if (centered) {
        CK_PAR_FOR(n >= PAR_MIN, for (size_t k = 0; k < n; k++) {
            float gk = g[k];
            float s = ms[k] + (gk * gk - ms[k]) * a;
            float mgk = mg[k] + (gk - mg[k]) * a;
            float mo = momentum * mom[k] + lr * gk / sqrtf(s - mgk * mgk + epsilon);
            ms[k] = s;
            mg[k] = mgk;
            mom[k] = mo;
            w[k] = w[k] - mo;
        });
    } else {
        CK_PAR_FOR(n >= PAR_MIN, for (size_t k = 0; k < n; k++) {
            float gk = g[k];
            float s = ms[k] + (gk * gk - ms[k]) * a;
            float mo = momentum * mom[k] + lr * gk / sqrtf(s + epsilon);
            ms[k] = s;
            mom[k] = mo;
            w[k] = w[k] - mo;
        });
    }
    return CK_OK;
}

/* §8.7. With l1 = 0 the general formula is exactly v/(1 + lr·l2): sign(v)·|v|
 * is v, so one loop serves both of the spec's cases. */
int ck_proximal_sgd_update(size_t n, float *w, const float *g, float lr,
                           float l1, float l2) {
    CHECK(n == 0 || (w && g));
    CHECK(isfinite(lr) && finite_nonneg(l1) && finite_nonneg(l2));
    const float shrink = lr * l1, den = 1.0f + lr * l2;
    CK_PAR_FOR(n >= PAR_MIN, for (size_t k = 0; k < n; k++) {
        float v = w[k] - lr * g[k];
        w[k] = signf(v) * fmaxf(fabsf(v) - shrink, 0.0f) / den;
    });
    return CK_OK;
}

/* §8.8 */
int ck_proximal_adagrad_update(size_t n, float *w, const float *g,
                               float *accum, float lr, float l1, float l2) {
    CHECK(n == 0 || (w && g && accum));
    CHECK(isfinite(lr) && finite_nonneg(l1) && finite_nonneg(l2));
    CK_PAR_FOR(n >= PAR_MIN, for (size_t k = 0; k < n; k++) {
        float gk = g[k];
        float a = accum[k] + gk * gk;
        float eta = lr / sqrtf(a);
        float v = w[k] - eta * gk;
        accum[k] = a;
        w[k] = signf(v) * fmaxf(fabsf(v) - eta * l1, 0.0f) / (1.0f + eta * l2);
    });
    return CK_OK;
}

/* §8.9: dual averaging, T = global_step + 1; the old w is not read. */
int ck_adagrad_da_update(size_t n, float *w, const float *g, float *gacc,
                         float *gsq, float lr, float l1, float l2,
                         int64_t global_step) {
    CHECK(n == 0 || (w && g && gacc && gsq));
    CHECK(isfinite(lr) && finite_nonneg(l1) && finite_nonneg(l2));
    CHECK(global_step >= 0 && global_step < INT64_MAX);
    const float T = (float)(global_step + 1);
    const float l1T = l1 * T, l2Tlr = l2 * T * lr;
    CK_PAR_FOR(n >= PAR_MIN, for (size_t k = 0; k < n; k++) {
        float gk = g[k];
        float G = gacc[k] + gk;
        float Q = gsq[k] + gk * gk;
        gacc[k] = G;
        gsq[k] = Q;
        w[k] = -lr * signf(G) * fmaxf(fabsf(G) - l1T, 0.0f) / (l2Tlr + sqrtf(Q));
    });
    return CK_OK;
}

/* §8.10. p = −lr_power; TF takes the square root itself when p = ½, which is
 * also what lets the default case vectorise without powf. */
int ck_ftrl_update(size_t n, float *w, const float *g, float *accum,
                   float *linear, float lr, float lr_power, float l1,
                   float l2, float l2_shrinkage, float beta) {
    CHECK(n == 0 || (w && g && accum && linear));
    CHECK(isfinite(lr) && lr > 0.0f);
    CHECK(isfinite(lr_power) && lr_power <= 0.0f);
    CHECK(finite_nonneg(l1) && finite_nonneg(l2));
    CHECK(finite_nonneg(l2_shrinkage) && finite_nonneg(beta));
    const float p = -lr_power;
    const float l2p = l2 + beta / (2.0f * lr);
    const float two_l2p = 2.0f * l2p, two_shr = 2.0f * l2_shrinkage;
    if (p == 0.5f) {
        CK_PAR_FOR(n >= PAR_MIN, for (size_t k = 0; k < n; k++) {
            float gk = g[k], wk = w[k], nk = accum[k];
            float gh = gk + two_shr * wk;
            float n2 = nk + gk * gk;
            float sn2 = sqrtf(n2);
            float z = linear[k] + gh - ((sn2 - sqrtf(nk)) / lr) * wk;
            linear[k] = z;
            w[k] = fabsf(z) > l1 ? (l1 * signf(z) - z) / (sn2 / lr + two_l2p)
                                 : 0.0f;
            accum[k] = n2;
        });
    } else {
        CK_PAR_SPANS(n, n >= PAR_MIN, lo, len, for (size_t k = lo; k < lo + len; k++) {
            float gk = g[k], wk = w[k], nk = accum[k];
            float gh = gk + two_shr * wk;
            float n2 = nk + gk * gk;
            float pn2 = powf(n2, p);
            float z = linear[k] + gh - ((pn2 - powf(nk, p)) / lr) * wk;
            linear[k] = z;
            w[k] = fabsf(z) > l1 ? (l1 * signf(z) - z) / (pn2 / lr + two_l2p)
                                 : 0.0f;
            accum[k] = n2;
        });
    }
    return CK_OK;
}

int ck_update_apply(const ck_update_rule *r, size_t offset, size_t n, float *w,
                    const float *g) {
    /* The slots each rule updates (RMSProp's third only when centered). */
    static const int slots[] = {0, 1, 2, 1, 2, 2, 0, 1, 2, 2};
    CHECK(r != NULL && r->kind >= CK_RULE_SGD && r->kind <= CK_RULE_FTRL);
    const int needed = slots[r->kind] + (r->kind == CK_RULE_RMSPROP && r->flag);
    for (int i = 0; i < needed; i++) CHECK(r->slot[i] != NULL);
    float *s[3];
    for (int i = 0; i < 3; i++) s[i] = r->slot[i] ? r->slot[i] + offset : NULL;
    if (w) w += offset;
    const float *h = r->h;
    switch (r->kind) {
    case CK_RULE_SGD: return ck_sgd_update(n, w, g, h[0]);
    case CK_RULE_MOMENTUM: return ck_momentum_update(n, w, g, s[0], h[0], h[1], r->flag);
    case CK_RULE_ADAM: return ck_adam_update(n, w, g, s[0], s[1], h[0], h[1], h[2], h[3]);
    case CK_RULE_ADAGRAD: return ck_adagrad_update(n, w, g, s[0], h[0]);
    case CK_RULE_ADADELTA: return ck_adadelta_update(n, w, g, s[0], s[1], h[0], h[1], h[2]);
    case CK_RULE_RMSPROP:
        return ck_rmsprop_update(n, w, g, s[0], s[1], s[2], h[0], h[1], h[2], h[3], r->flag);
    case CK_RULE_PROXIMAL_SGD: return ck_proximal_sgd_update(n, w, g, h[0], h[1], h[2]);
    case CK_RULE_PROXIMAL_ADAGRAD: return ck_proximal_adagrad_update(n, w, g, s[0], h[0], h[1], h[2]);
    case CK_RULE_ADAGRAD_DA:
        return ck_adagrad_da_update(n, w, g, s[0], s[1], h[0], h[1], h[2], r->step);
    case CK_RULE_FTRL: return ck_ftrl_update(n, w, g, s[0], s[1], h[0], h[1], h[2], h[3], h[4], h[5]);
    default: return CK_EINVAL;
    }
}
