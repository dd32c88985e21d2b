/* optim.c — fused per-element updates of the ten tf.compat.v1.train
 * optimizers (spec §8). Each kernel is one pass over n elements, its formulas
 * written in the spec's order so float results track TF's training_ops.cc.
 *
 * Large updates run across OpenMP threads; below PAR_MIN elements the fork/join
 * costs more than the pass. Each element is independent, so the result is the
 * same bits for any thread count.
 */
#include "ckernels.h"
#include "internal.h"

#include <math.h>

#define PAR_MIN ((size_t)1 << 15)

/* One loop over k in [0, n), through OpenMP only from PAR_MIN elements on.
 * Not `parallel for if (...)`: its serialized form still calls libomp's
 * __kmpc_for_static_init, which (Debian libomp 14) formats a string with
 * vsnprintf on every call, and these per-parameter updates run once per
 * weight tensor every step. */
#define CK_ELEMENTWISE(n, ...)                                                 \
    do {                                                                       \
        if ((n) >= PAR_MIN && ck_par_ok()) {                                 \
            _Pragma("omp parallel for num_threads(ck_threads()) schedule(static)") \
            for (size_t k = 0; k < (n); k++) __VA_ARGS__                       \
        } else {                                                               \
            for (size_t k = 0; k < (n); k++) __VA_ARGS__                       \
        }                                                                      \
    } while (0)

/* Pointers are only required when there is something to update: a Swift
 * empty array may hand over NULL. */
#define NEED(p) if (n > 0 && !(p)) return CK_EINVAL
#define FINITE(v) if (!isfinite(v)) return CK_EINVAL
#define NONNEG(v) if (!isfinite(v) || (v) < 0.0f) return CK_EINVAL

static inline float signf(float v) {
    return v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : 0.0f);
}

/* §8.1 */
int ck_sgd_update(size_t n, float *w, const float *g, float lr) {
    NEED(w); NEED(g); FINITE(lr);
    CK_ELEMENTWISE(n, { w[k] = w[k] - lr * g[k]; });
    return CK_OK;
}

/* §8.2: TF1's form, lr outside the accumulator. */
int ck_momentum_update(size_t n, float *w, const float *g, float *accum,
                       float lr, float momentum, int nesterov) {
    NEED(w); NEED(g); NEED(accum); FINITE(lr); FINITE(momentum);
    if (nesterov) {
        CK_ELEMENTWISE(n, {
            float a = momentum * accum[k] + g[k];
            accum[k] = a;
            w[k] = w[k] - lr * g[k] - lr * momentum * a;
        });
    } else {
        CK_ELEMENTWISE(n, {
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
    NEED(w); NEED(g); NEED(m); NEED(v);
    FINITE(lr_t); FINITE(beta1); FINITE(beta2); NONNEG(epsilon);
    const float a1 = 1.0f - beta1, a2 = 1.0f - beta2;
    CK_ELEMENTWISE(n, {
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
    NEED(w); NEED(g); NEED(accum); FINITE(lr);
    CK_ELEMENTWISE(n, {
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
    NEED(w); NEED(g); NEED(accum); NEED(accum_update);
    FINITE(lr); FINITE(rho); NONNEG(epsilon);
    const float a = 1.0f - rho;
    CK_ELEMENTWISE(n, {
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
    NEED(w); NEED(g); NEED(ms); NEED(mom);
    if (centered) NEED(mg);
    FINITE(lr); FINITE(decay); FINITE(momentum); NONNEG(epsilon);
    const float a = 1.0f - decay;
    if (centered) {
        CK_ELEMENTWISE(n, {
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
        CK_ELEMENTWISE(n, {
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
    NEED(w); NEED(g); FINITE(lr); NONNEG(l1); NONNEG(l2);
    const float shrink = lr * l1, den = 1.0f + lr * l2;
    CK_ELEMENTWISE(n, {
        float v = w[k] - lr * g[k];
        w[k] = signf(v) * fmaxf(fabsf(v) - shrink, 0.0f) / den;
    });
    return CK_OK;
}

/* §8.8 */
int ck_proximal_adagrad_update(size_t n, float *w, const float *g,
                               float *accum, float lr, float l1, float l2) {
    NEED(w); NEED(g); NEED(accum); FINITE(lr); NONNEG(l1); NONNEG(l2);
    CK_ELEMENTWISE(n, {
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
    NEED(w); NEED(g); NEED(gacc); NEED(gsq);
    FINITE(lr); NONNEG(l1); NONNEG(l2);
    if (global_step < 0 || global_step == INT64_MAX) return CK_EINVAL;
    const float T = (float)(global_step + 1);
    const float l1T = l1 * T, l2Tlr = l2 * T * lr;
    CK_ELEMENTWISE(n, {
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
    NEED(w); NEED(g); NEED(accum); NEED(linear);
    if (!isfinite(lr) || lr <= 0.0f) return CK_EINVAL;
    if (!isfinite(lr_power) || lr_power > 0.0f) return CK_EINVAL;
    NONNEG(l1); NONNEG(l2); NONNEG(l2_shrinkage); NONNEG(beta);
    const float p = -lr_power;
    const float l2p = l2 + beta / (2.0f * lr);
    const float two_l2p = 2.0f * l2p, two_shr = 2.0f * l2_shrinkage;
    if (p == 0.5f) {
        CK_ELEMENTWISE(n, {
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
        CK_ELEMENTWISE(n, {
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
