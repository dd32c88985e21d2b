/*
 * batchnorm.c — batch normalization over the last axis of x [rows, c]
 * (rows = N·H·W for NHWC), as tf.keras.layers.BatchNormalization:
 *
 *   y = γ·(x − μ)·s + β,   s = 1/√(σ² + ε),   σ² the BIASED batch variance.
 *
 * Statistics are per channel, and channels are contiguous, so every pass runs
 * row by row with the channel loop innermost and vectorised. Sums are kept in
 * double: a channel of 10⁷ rows summed in float would lose most of its digits.
 * The variance is one pass over shifted data (x − k with k the channel's first
 * value), which keeps Σd² − (Σd)²/n free of cancellation unless the first row
 * is far out in its channel's distribution.
 *
 * Plan. Channels go in waves of at most BN_WAVE: a wave's statistics, then its
 * output pass, so a wave's per-channel coefficients fit on the stack (no
 * scratch, any c). With fewer than BN_FLAT_C channels a row is too short to
 * vectorise, so x is viewed as "periods" of m whole rows (P = m·c floats, a
 * multiple of 8): column j of a period is channel j % c. The statistics pass
 * splits the view's rows into at most BN_NB fixed blocks, one task each; the
 * blocks' partial sums are added in block order.
 * The cut depends on rows and c only, so every thread count gives the same bits.
 *
 * A wave reads its columns of x (and dy) before writing its columns of the
 * output, and waves own disjoint columns: so y may alias x, and dx may alias dy.
 *
 * Synchronized BatchNorm (data-parallel ranks, each holding a shard of the
 * batch) needs the statistics of the whole batch between the passes, so it
 * calls the pieces that the one-call kernels are made of: ck_batchnorm_moments
 * (the statistics pass), the caller combines the shards' moments, then
 * ck_batchnorm_normalize (inference's pass) normalises with them; backward,
 * ck_batchnorm_backward without dx gives the shard's sums, the caller adds them
 * over the shards, and ck_batchnorm_backward_dx applies them.
 */
#include <math.h>
#include "internal.h"

#define BN_WAVE 256        /* columns per wave                                */
#define BN_NB 8            /* most row blocks of the statistics pass          */
#define BN_FLAT_C 32       /* fewer channels: rows flattened into periods     */
#define BN_BLOCK_MIN 16384 /* floats per statistics block, at least           */
#define BN_PAR_MIN 65536   /* floats per wave below which a call runs on one thread */

typedef struct {
    int rows, c;
    int flat;   /* rows flattened into periods of P floats                  */
    int P;      /* floats per view row: the period, or c                    */
    long vrows; /* rows of the view                                         */
    long last;  /* floats in the last view row (a partial period when flat) */
    int nb;     /* row blocks of the statistics pass                        */
    int par;    /* large enough for threads                                 */
} bn_plan;

static void make_plan(bn_plan *pl, int rows, int c) {
    pl->rows = rows;
    pl->c = c;
    pl->flat = c < BN_FLAT_C;
    if (pl->flat) {
        int P = c;
        while (P % 8) P += c; /* lcm(c, 8) */
        while (P < 64) P *= 2;
        const long m = P / c;
        pl->P = P;
        pl->vrows = (rows + m - 1) / m;
        pl->last = (rows - (pl->vrows - 1) * m) * c;
    } else {
        pl->P = c;
        pl->vrows = rows;
        pl->last = c;
    }
    const double total = (double)rows * c;
    double nb = total / BN_BLOCK_MIN;
    if (nb > BN_NB) nb = BN_NB;
    if (nb > pl->vrows) nb = (double)pl->vrows;
    pl->nb = nb < 1 ? 1 : (int)nb;
    /* Two parallel regions per wave: each wave must be worth them. */
    const int waves = pl->flat ? 1 : (c + BN_WAVE - 1) / BN_WAVE;
    pl->par = total / waves >= BN_PAR_MIN;
}

static int sizes_ok(int rows, int c) {
    return rows >= 1 && c >= 1 && (double)rows * c <= 4e18;
}

/* Columns [w0, w0 + *wn) of view row r form the wave; *cw its channel count. */
static void wave_size(const bn_plan *pl, int w0, int *wn, int *cw) {
    *wn = pl->flat ? pl->P : ck_imin(BN_WAVE, pl->c - w0);
    *cw = pl->flat ? pl->c : *wn;
}
static inline int row_len(const bn_plan *pl, long r, int wn) {
    return r == pl->vrows - 1 && pl->last < wn ? (int)pl->last : wn;
}
/* Channel of wave column j. */
static inline int chan(const bn_plan *pl, int w0, int j) { return pl->flat ? j % pl->c : w0 + j; }

/* Sums over view rows [r0, r1) of the wave's columns, in double. A task
 * takes whole wave rows: 64-column strips of a wider row each swept the
 * block apart, and that gapped reading was slower from DRAM.
 * b == NULL (forward): s = Σ (a − ref), q = Σ (a − ref)², a = x, ref the shift.
 * Otherwise (backward): s = Σ a, q = Σ a·(b − ref), a = dy, b = x, ref = μ. */
static void block_sums(const bn_plan *pl, int w0, int wn, const float *a, const float *b,
                       const float *ref, long r0, long r1, double *restrict s,
                       double *restrict q) {
    for (int j = 0; j < wn; j++) s[j] = q[j] = 0.0;
    for (long r = r0; r < r1; r++) {
        const int e = row_len(pl, r, wn);
        const size_t off = (size_t)r * pl->P + w0;
        const float *restrict ar = a + off;
        if (b) {
            const float *restrict br = b + off;
            for (int j = 0; j < e; j++) {
                const double g = ar[j];
                s[j] += g;
                q[j] += g * ((double)br[j] - ref[j]);
            }
        } else {
            for (int j = 0; j < e; j++) {
                const double d = (double)ar[j] - ref[j];
                s[j] += d;
                q[j] += d * d;
            }
        }
    }
}

/* The wave's sums per CHANNEL: S[k], Q[k] for its cw channels. */
static void wave_sums(const bn_plan *pl, int w0, int wn, const float *a, const float *b,
                      const float *ref, double *S, double *Q) {
    double ps[BN_NB][BN_WAVE], pq[BN_NB][BN_WAVE];
    CK_PAR_FOR(pl->par && pl->nb > 1,
    for (int blk = 0; blk < pl->nb; blk++) {
        const long r0 = pl->vrows * blk / pl->nb, r1 = pl->vrows * (blk + 1) / pl->nb;
        block_sums(pl, w0, wn, a, b, ref, r0, r1, ps[blk], pq[blk]);
    });
    for (int j = 0; j < wn; j++) {
        double s = ps[0][j], q = pq[0][j];
        for (int k = 1; k < pl->nb; k++) {
            s += ps[k][j];
            q += pq[k][j];
        }
        S[j] = s;
        Q[j] = q;
    }
    if (pl->flat) /* fold the period's columns onto their channels, in column order */
        for (int k = 0; k < pl->c; k++)
            for (int j = k + pl->c; j < wn; j += pl->c) {
                S[k] += S[j];
                Q[k] += Q[j];
            }
}

/* One view row of the output pass: out = ((x − m) − d)·a + b when dy is NULL
 * (m + d the mean to twice float precision: x − m is exact near the mean, so a
 * channel whose mean is far larger than its spread keeps its digits), else
 * out = dy·a + ((x − m)·b + d). Same index read then written, so out may be x
 * or dy (hence no restrict, and assume_safety instead of runtime checks). */
static void apply_row(int n, const float *x, const float *dy, float *out, const float *m,
                      const float *a, const float *b, const float *d) {
    if (!dy) {
#pragma clang loop vectorize(assume_safety)
        for (int j = 0; j < n; j++) out[j] = ((x[j] - m[j]) - d[j]) * a[j] + b[j];
    } else {
#pragma clang loop vectorize(assume_safety)
        for (int j = 0; j < n; j++) out[j] = dy[j] * a[j] + ((x[j] - m[j]) * b[j] + d[j]);
    }
}

/* Coefficients per wave column (expanded from the cw channel values). */
typedef struct {
    float m[BN_WAVE], a[BN_WAVE], b[BN_WAVE], d[BN_WAVE];
} bn_coef;

static void wave_apply(const bn_plan *pl, int w0, int wn, const float *x, const float *dy,
                       float *out, const bn_coef *k) {
    CK_PAR_FOR(pl->par,
    for (long r = 0; r < pl->vrows; r++) {
        const size_t off = (size_t)r * pl->P + w0;
        apply_row(row_len(pl, r, wn), x + off, dy ? dy + off : NULL, out + off, k->m, k->a,
                  k->b, k->d);
    });
}

static int eps_ok(float epsilon) { return epsilon >= 0.0f && isfinite(epsilon); }

/* The wave's per-channel mean μ and m2 = Σ (x − μ)², in double, from sums of
 * x − shift (shift the channel's first value). */
static void wave_moments(const bn_plan *pl, int w0, int wn, int cw, const float *x, double *mu,
                         double *m2) {
    float shift[BN_WAVE];
    double S[BN_WAVE], Q[BN_WAVE];
    for (int j = 0; j < wn; j++) shift[j] = x[chan(pl, w0, j)];
    wave_sums(pl, w0, wn, x, NULL, shift, S, Q);
    for (int k = 0; k < cw; k++) {
        const double dm = S[k] / pl->rows;
        mu[k] = shift[k] + dm;
        m2[k] = Q[k] - S[k] * dm;
        if (m2[k] < 0.0) m2[k] = 0.0; /* rounding can leave −tiny; a NaN stays NaN */
    }
}

int ck_batchnorm_moments(int rows, int c, const float *x, float *mean, float *mean_lo, float *m2) {
    CHECK(sizes_ok(rows, c));
    CHECK(x != NULL && mean != NULL && m2 != NULL);
    bn_plan pl;
    make_plan(&pl, rows, c);
    for (int w0 = 0; w0 < c; w0 += BN_WAVE) {
        int wn, cw;
        wave_size(&pl, w0, &wn, &cw);
        double mu[BN_WAVE], q[BN_WAVE];
        wave_moments(&pl, w0, wn, cw, x, mu, q);
        for (int k = 0; k < cw; k++) {
            mean[w0 + k] = (float)mu[k];
            if (mean_lo) mean_lo[w0 + k] = (float)(mu[k] - mean[w0 + k]);
            m2[w0 + k] = (float)q[k];
        }
        if (pl.flat) break;
    }
    return CK_OK;
}

int ck_batchnorm_forward_train(int rows, int c, const float *x, const float *gamma,
                               const float *beta, float epsilon, float *y, float *mean,
                               float *var, float *inv_std) {
    CHECK(sizes_ok(rows, c) && eps_ok(epsilon));
    CHECK(x != NULL && y != NULL && mean != NULL && var != NULL && inv_std != NULL);
    bn_plan pl;
    make_plan(&pl, rows, c);
    for (int w0 = 0; w0 < c; w0 += BN_WAVE) {
        int wn, cw;
        wave_size(&pl, w0, &wn, &cw);
        float mlo[BN_WAVE];
        double mu[BN_WAVE], m2[BN_WAVE];
        wave_moments(&pl, w0, wn, cw, x, mu, m2);
        for (int k = 0; k < cw; k++) {
            const int ch = w0 + k;
            const double v = m2[k] / rows;
            mean[ch] = (float)mu[k];
            mlo[k] = (float)(mu[k] - mean[ch]);
            var[ch] = (float)v;
            inv_std[ch] = (float)(1.0 / sqrt(v + epsilon));
        }
        bn_coef k;
        for (int j = 0; j < wn; j++) {
            const int ch = chan(&pl, w0, j);
            k.m[j] = mean[ch];
            k.d[j] = mlo[ch - w0];
            k.a[j] = (gamma ? gamma[ch] : 1.0f) * inv_std[ch];
            k.b[j] = beta ? beta[ch] : 0.0f;
        }
        wave_apply(&pl, w0, wn, x, NULL, y, &k);
        if (pl.flat) break;
    }
    return CK_OK;
}

int ck_batchnorm_normalize(int rows, int c, const float *x, const float *gamma, const float *beta,
                           const float *mean, const float *mean_lo, const float *var,
                           float epsilon, float *y, float *inv_std) {
    CHECK(sizes_ok(rows, c) && eps_ok(epsilon));
    CHECK(x != NULL && y != NULL && mean != NULL && var != NULL);
    bn_plan pl;
    make_plan(&pl, rows, c);
    for (int w0 = 0; w0 < c; w0 += BN_WAVE) {
        int wn, cw;
        wave_size(&pl, w0, &wn, &cw);
        bn_coef k;
        for (int j = 0; j < wn; j++) {
            const int ch = chan(&pl, w0, j);
            const float s = (float)(1.0 / sqrt((double)var[ch] + epsilon));
            if (inv_std && j < cw) inv_std[ch] = s;
            k.m[j] = mean[ch];
            k.d[j] = mean_lo ? mean_lo[ch] : 0.0f;
            k.a[j] = (gamma ? gamma[ch] : 1.0f) * s;
            k.b[j] = beta ? beta[ch] : 0.0f;
        }
        wave_apply(&pl, w0, wn, x, NULL, y, &k);
        if (pl.flat) break;
    }
    return CK_OK;
}

int ck_batchnorm_forward_infer(int rows, int c, const float *x, const float *gamma,
                               const float *beta, const float *mean, const float *var,
                               float epsilon, float *y) {
    return ck_batchnorm_normalize(rows, c, x, gamma, beta, mean, NULL, var, epsilon, y, NULL);
}

/* With x̂ = (x − μ)·s: dβ = Σ dy, dγ = Σ dy·x̂ = s·Σ dy·(x − μ), and
 * dx = γs/n·(n·dy − dβ − x̂·dγ) = A·dy + (x − μ)·B + D with A = γs,
 * B = −γs²·dγ/n, D = −γs·dβ/n (in double from the sums). The coefficients of
 * the wave's cw channels, then the dx pass. */
static void wave_dx(const bn_plan *pl, int w0, int wn, int cw, double n, const float *x,
                    const float *gamma, const float *ref, const float *inv_std, const double *dg,
                    const double *db, const float *dy, float *dx) {
    float A[BN_WAVE], B[BN_WAVE], D[BN_WAVE];
    for (int k = 0; k < cw; k++) {
        const int ch = w0 + k;
        const double s = inv_std[ch], g = gamma ? gamma[ch] : 1.0;
        A[k] = (float)(g * s);
        B[k] = (float)(-g * s * s * dg[k] / n);
        D[k] = (float)(-g * s * db[k] / n);
    }
    bn_coef k;
    for (int j = 0; j < wn; j++) {
        const int ch = chan(pl, w0, j) - w0;
        k.m[j] = ref[j];
        k.a[j] = A[ch];
        k.b[j] = B[ch];
        k.d[j] = D[ch];
    }
    wave_apply(pl, w0, wn, x, dy, dx, &k);
}

int ck_batchnorm_backward(int rows, int c, const float *x, const float *gamma,
                          const float *mean, const float *inv_std, const float *dy, float *dx,
                          float *dgamma, float *dbeta) {
    CHECK(sizes_ok(rows, c));
    CHECK(x != NULL && mean != NULL && inv_std != NULL && dy != NULL);
    if (!dx && !dgamma && !dbeta) return CK_OK;
    bn_plan pl;
    make_plan(&pl, rows, c);
    for (int w0 = 0; w0 < c; w0 += BN_WAVE) {
        int wn, cw;
        wave_size(&pl, w0, &wn, &cw);
        float ref[BN_WAVE];
        double S[BN_WAVE], Q[BN_WAVE];
        for (int j = 0; j < wn; j++) ref[j] = mean[chan(&pl, w0, j)];
        wave_sums(&pl, w0, wn, dy, x, ref, S, Q);
        for (int k = 0; k < cw; k++) {
            Q[k] *= inv_std[w0 + k]; /* now dγ; S is dβ */
            if (dbeta) dbeta[w0 + k] = (float)S[k];
            if (dgamma) dgamma[w0 + k] = (float)Q[k];
        }
        if (dx) wave_dx(&pl, w0, wn, cw, rows, x, gamma, ref, inv_std, Q, S, dy, dx);
        if (pl.flat) break;
    }
    return CK_OK;
}

int ck_batchnorm_backward_dx(int rows, int c, double n, const float *x, const float *gamma,
                             const float *mean, const float *inv_std, const float *dgamma,
                             const float *dbeta, const float *dy, float *dx) {
    CHECK(sizes_ok(rows, c) && n >= rows && isfinite(n));
    CHECK(x != NULL && mean != NULL && inv_std != NULL && dgamma != NULL && dbeta != NULL);
    CHECK(dy != NULL && dx != NULL);
    bn_plan pl;
    make_plan(&pl, rows, c);
    for (int w0 = 0; w0 < c; w0 += BN_WAVE) {
        int wn, cw;
        wave_size(&pl, w0, &wn, &cw);
        float ref[BN_WAVE];
        double dg[BN_WAVE], db[BN_WAVE];
        for (int j = 0; j < wn; j++) ref[j] = mean[chan(&pl, w0, j)];
        for (int k = 0; k < cw; k++) {
            dg[k] = dgamma[w0 + k];
            db[k] = dbeta[w0 + k];
        }
        wave_dx(&pl, w0, wn, cw, n, x, gamma, ref, inv_std, dg, db, dy, dx);
        if (pl.flat) break;
    }
    return CK_OK;
}
