/*
 * reference.c — the naive references the kernel tests compare every fast
 * kernel against: direct loops straight from the definitions (spec §1.3,
 * §1.5 and batch normalization's formulas), double accumulation, each output
 * a gather (no scatter). They share nothing with the fast paths but the
 * public output-size rule (ck_output_size) and the validation macro, and are
 * not part of the library: only the test targets link them.
 */
#include <math.h>
#include <stddef.h>
#include "ckernels_reference.h"
#include "../../CKernels/internal.h"

/* The output size and leading padding of both axes, after the checks the
 * fast kernels make (through the public ck_conv2d_output_shape). */
typedef struct {
    int oh, ow, pt, pl;
} ref_geom;

static int ref_geometry(const ck_conv2d_params *p, ref_geom *g) {
    int st = ck_conv2d_output_shape(p, &g->oh, &g->ow);
    if (st != CK_OK) return st;
    st = ck_output_size(p->h, p->kh, p->sh, p->padding, &g->oh, &g->pt);
    if (st != CK_OK) return st;
    return ck_output_size(p->w, p->kw, p->sw, p->padding, &g->ow, &g->pl);
}

/* ------------------------------------------------------------ conv2d */

/* Direct loops straight from spec §1.3 and §1.5, double accumulation, each
 * output a gather (no scatter), sharing nothing with the fast path. */

int ck_conv2d_forward_naive(const ck_conv2d_params *p, const float *x,
                            const float *w, const float *b, float *y) {
    ref_geom g;
    int st = ref_geometry(p, &g);
    if (st != CK_OK) return st;
    CHECK(x != NULL && w != NULL && y != NULL);
    const int H = p->h, W = p->w, C = p->c, O = p->o;
    for (int n = 0; n < p->n; n++)
        for (int i = 0; i < g.oh; i++)
            for (int j = 0; j < g.ow; j++)
                for (int o = 0; o < O; o++) {
                    double s = b ? b[o] : 0.0;
                    for (int pp = 0; pp < p->kh; pp++)
                        for (int q = 0; q < p->kw; q++) {
                            int r = i * p->sh - g.pt + pp, t = j * p->sw - g.pl + q;
                            if (r < 0 || r >= H || t < 0 || t >= W) continue;
                            for (int c = 0; c < C; c++)
                                s += (double)x[(((size_t)n * H + r) * W + t) * C + c] *
                                     w[(((size_t)pp * p->kw + q) * C + c) * O + o];
                        }
                    y[(((size_t)n * g.oh + i) * g.ow + j) * O + o] = (float)s;
                }
    return CK_OK;
}

/* dx, dw, db: each may be NULL; those given are overwritten. */
int ck_conv2d_backward_naive(const ck_conv2d_params *p, const float *x,
                             const float *w, const float *dy, float *dx,
                             float *dw, float *db) {
    ref_geom g;
    int st = ref_geometry(p, &g);
    if (st != CK_OK) return st;
    CHECK(dy != NULL || g.oh == 0 || g.ow == 0);
    CHECK(dx == NULL || w != NULL);
    CHECK(dw == NULL || x != NULL);
    const int H = p->h, W = p->w, C = p->c, O = p->o, KH = p->kh, KW = p->kw;
#define DY(n, i, j, o) dy[(((size_t)(n) * g.oh + (i)) * g.ow + (j)) * O + (o)]
    if (dx) {
        for (int n = 0; n < p->n; n++)
            for (int r = 0; r < H; r++)
                for (int t = 0; t < W; t++)
                    for (int c = 0; c < C; c++) {
                        double s = 0;
                        /* r = i·sh − pt + pp for some output row i */
                        for (int pp = 0; pp < KH; pp++) {
                            int ri = r + g.pt - pp;
                            if (ri < 0 || ri % p->sh != 0 || ri / p->sh >= g.oh) continue;
                            for (int q = 0; q < KW; q++) {
                                int tj = t + g.pl - q;
                                if (tj < 0 || tj % p->sw != 0 || tj / p->sw >= g.ow) continue;
                                for (int o = 0; o < O; o++)
                                    s += (double)DY(n, ri / p->sh, tj / p->sw, o) *
                                         w[(((size_t)pp * KW + q) * C + c) * O + o];
                            }
                        }
                        dx[(((size_t)n * H + r) * W + t) * C + c] = (float)s;
                    }
    }
    if (dw) {
        for (int pp = 0; pp < KH; pp++)
            for (int q = 0; q < KW; q++)
                for (int c = 0; c < C; c++)
                    for (int o = 0; o < O; o++) {
                        double s = 0;
                        for (int n = 0; n < p->n; n++)
                            for (int i = 0; i < g.oh; i++)
                                for (int j = 0; j < g.ow; j++) {
                                    int r = i * p->sh - g.pt + pp, t = j * p->sw - g.pl + q;
                                    if (r < 0 || r >= H || t < 0 || t >= W) continue;
                                    s += (double)x[(((size_t)n * H + r) * W + t) * C + c] *
                                         DY(n, i, j, o);
                                }
                        dw[(((size_t)pp * KW + q) * C + c) * O + o] = (float)s;
                    }
    }
    if (db) {
        for (int o = 0; o < O; o++) {
            double s = 0;
            for (int n = 0; n < p->n; n++)
                for (int i = 0; i < g.oh; i++)
                    for (int j = 0; j < g.ow; j++) s += DY(n, i, j, o);
            db[o] = (float)s;
        }
    }
#undef DY
    return CK_OK;
}

/* ---------------------------------------------------- depthwise conv2d */

/* Direct loops from the definition, double accumulation, each output a
 * gather, sharing nothing with the fast path. */

int ck_depthwise_conv2d_forward_naive(const ck_conv2d_params *p, const float *x,
                                      const float *w, const float *b, float *y) {
    ref_geom g;
    CHECK(p != NULL && p->o == p->c);
    int st = ref_geometry(p, &g);
    if (st != CK_OK) return st;
    CHECK(x != NULL && w != NULL && y != NULL);
    const int H = p->h, W = p->w, C = p->c;
    for (int n = 0; n < p->n; n++)
        for (int i = 0; i < g.oh; i++)
            for (int j = 0; j < g.ow; j++)
                for (int c = 0; c < C; c++) {
                    double s = b ? b[c] : 0.0;
                    for (int pp = 0; pp < p->kh; pp++)
                        for (int q = 0; q < p->kw; q++) {
                            int r = i * p->sh - g.pt + pp, t = j * p->sw - g.pl + q;
                            if (r < 0 || r >= H || t < 0 || t >= W) continue;
                            s += (double)x[(((size_t)n * H + r) * W + t) * C + c] *
                                 w[((size_t)pp * p->kw + q) * C + c];
                        }
                    y[(((size_t)n * g.oh + i) * g.ow + j) * C + c] = (float)s;
                }
    return CK_OK;
}

/* dx, dw, db: each may be NULL; those given are overwritten. */
int ck_depthwise_conv2d_backward_naive(const ck_conv2d_params *p, const float *x,
                                       const float *w, const float *dz, float *dx, float *dw,
                                       float *db) {
    ref_geom g;
    CHECK(p != NULL && p->o == p->c);
    int st = ref_geometry(p, &g);
    if (st != CK_OK) return st;
    const int empty = g.oh == 0 || g.ow == 0;
    CHECK(dz != NULL || empty);
    CHECK(dx == NULL || w != NULL);
    CHECK(dw == NULL || x != NULL);
    const int H = p->h, W = p->w, C = p->c, KH = p->kh, KW = p->kw;
#define DZ(n, i, j, c) dz[(((size_t)(n) * g.oh + (i)) * g.ow + (j)) * C + (c)]
    if (dx)
        for (int n = 0; n < p->n; n++)
            for (int r = 0; r < H; r++)
                for (int t = 0; t < W; t++)
                    for (int c = 0; c < C; c++) {
                        double s = 0;
                        for (int pp = 0; pp < KH; pp++) {
                            int ri = r + g.pt - pp;
                            if (ri < 0 || ri % p->sh != 0 || ri / p->sh >= g.oh) continue;
                            for (int q = 0; q < KW; q++) {
                                int tj = t + g.pl - q;
                                if (tj < 0 || tj % p->sw != 0 || tj / p->sw >= g.ow) continue;
                                s += (double)DZ(n, ri / p->sh, tj / p->sw, c) *
                                     w[((size_t)pp * KW + q) * C + c];
                            }
                        }
                        dx[(((size_t)n * H + r) * W + t) * C + c] = (float)s;
                    }
    if (dw)
        for (int pp = 0; pp < KH; pp++)
            for (int q = 0; q < KW; q++)
                for (int c = 0; c < C; c++) {
                    double s = 0;
                    for (int n = 0; n < p->n; n++)
                        for (int i = 0; i < g.oh; i++)
                            for (int j = 0; j < g.ow; j++) {
                                int r = i * p->sh - g.pt + pp, t = j * p->sw - g.pl + q;
                                if (r < 0 || r >= H || t < 0 || t >= W) continue;
                                s += (double)x[(((size_t)n * H + r) * W + t) * C + c] *
                                     DZ(n, i, j, c);
                            }
                    dw[((size_t)pp * KW + q) * C + c] = (float)s;
                }
    if (db)
        for (int c = 0; c < C; c++) {
            double s = 0;
            for (int n = 0; n < p->n; n++)
                for (int i = 0; i < g.oh; i++)
                    for (int j = 0; j < g.ow; j++) s += DZ(n, i, j, c);
            db[c] = (float)s;
        }
#undef DZ
    return CK_OK;
}

/* ------------------------------------------------- batch normalization */

/* Straight from the definitions, one channel at a time, in double: two-pass
 * mean and variance. A channel is read whole before it is written, so the
 * same aliasing as the fast kernels is allowed. */

int ck_batchnorm_forward_naive(int rows, int c, const float *x, const float *gamma,
                               const float *beta, float epsilon, float *y, float *mean,
                               float *var, float *inv_std) {
    CHECK(rows >= 1 && c >= 1 && (double)rows * c <= 4e18);
    CHECK(epsilon >= 0.0f && isfinite(epsilon));
    CHECK(x != NULL && y != NULL && mean != NULL && var != NULL && inv_std != NULL);
    for (int ch = 0; ch < c; ch++) {
        double s = 0;
        for (long r = 0; r < rows; r++) s += x[(size_t)r * c + ch];
        const double mu = s / rows;
        double v = 0;
        for (long r = 0; r < rows; r++) {
            const double d = x[(size_t)r * c + ch] - mu;
            v += d * d;
        }
        v /= rows;
        const double is = 1.0 / sqrt(v + epsilon);
        const double g = gamma ? gamma[ch] : 1.0, b = beta ? beta[ch] : 0.0;
        for (long r = 0; r < rows; r++)
            y[(size_t)r * c + ch] = (float)(g * (x[(size_t)r * c + ch] - mu) * is + b);
        mean[ch] = (float)mu;
        var[ch] = (float)v;
        inv_std[ch] = (float)is;
    }
    return CK_OK;
}

int ck_batchnorm_backward_naive(int rows, int c, const float *x, const float *gamma,
                                const float *mean, const float *inv_std, const float *dy,
                                float *dx, float *dgamma, float *dbeta) {
    CHECK(rows >= 1 && c >= 1 && (double)rows * c <= 4e18);
    CHECK(x != NULL && mean != NULL && inv_std != NULL && dy != NULL);
    for (int ch = 0; ch < c; ch++) {
        const double mu = mean[ch], is = inv_std[ch], g = gamma ? gamma[ch] : 1.0;
        double db = 0, dg = 0;
        for (long r = 0; r < rows; r++) {
            const size_t i = (size_t)r * c + ch;
            db += dy[i];
            dg += dy[i] * ((x[i] - mu) * is);
        }
        if (dx)
            for (long r = 0; r < rows; r++) {
                const size_t i = (size_t)r * c + ch;
                const double xhat = (x[i] - mu) * is;
                dx[i] = (float)(g * is / rows * ((double)rows * dy[i] - db - xhat * dg));
            }
        if (dgamma) dgamma[ch] = (float)dg;
        if (dbeta) dbeta[ch] = (float)db;
    }
    return CK_OK;
}

int ck_batchnorm_moments_naive(int rows, int c, const float *x, float *mean, float *mean_lo,
                               float *m2) {
    CHECK(rows >= 1 && c >= 1 && (double)rows * c <= 4e18);
    CHECK(x != NULL && mean != NULL && m2 != NULL);
    for (int ch = 0; ch < c; ch++) {
        double s = 0;
        for (long r = 0; r < rows; r++) s += x[(size_t)r * c + ch];
        const double mu = s / rows;
        double q = 0;
        for (long r = 0; r < rows; r++) {
            const double d = x[(size_t)r * c + ch] - mu;
            q += d * d;
        }
        mean[ch] = (float)mu;
        if (mean_lo) mean_lo[ch] = (float)(mu - mean[ch]);
        m2[ch] = (float)q;
    }
    return CK_OK;
}

int ck_batchnorm_normalize_naive(int rows, int c, const float *x, const float *gamma,
                                 const float *beta, const float *mean, const float *mean_lo,
                                 const float *var, float epsilon, float *y, float *inv_std) {
    CHECK(rows >= 1 && c >= 1 && (double)rows * c <= 4e18);
    CHECK(epsilon >= 0.0f && isfinite(epsilon));
    CHECK(x != NULL && y != NULL && mean != NULL && var != NULL);
    for (int ch = 0; ch < c; ch++) {
        const double mu = (double)mean[ch] + (mean_lo ? mean_lo[ch] : 0.0);
        const double is = 1.0 / sqrt((double)var[ch] + epsilon);
        const double g = gamma ? gamma[ch] : 1.0, b = beta ? beta[ch] : 0.0;
        for (long r = 0; r < rows; r++)
            y[(size_t)r * c + ch] = (float)(g * (x[(size_t)r * c + ch] - mu) * is + b);
        if (inv_std) inv_std[ch] = (float)is;
    }
    return CK_OK;
}

int ck_batchnorm_backward_dx_naive(int rows, int c, double n, const float *x, const float *gamma,
                                   const float *mean, const float *inv_std, const float *dgamma,
                                   const float *dbeta, const float *dy, float *dx) {
    CHECK(rows >= 1 && c >= 1 && (double)rows * c <= 4e18 && n >= rows && isfinite(n));
    CHECK(x != NULL && mean != NULL && inv_std != NULL && dgamma != NULL && dbeta != NULL);
    CHECK(dy != NULL && dx != NULL);
    for (int ch = 0; ch < c; ch++) {
        const double mu = mean[ch], is = inv_std[ch], g = gamma ? gamma[ch] : 1.0;
        for (long r = 0; r < rows; r++) {
            const size_t i = (size_t)r * c + ch;
            const double xhat = (x[i] - mu) * is;
            dx[i] = (float)(g * is / n * (n * dy[i] - dbeta[ch] - xhat * dgamma[ch]));
        }
    }
    return CK_OK;
}
