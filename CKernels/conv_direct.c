/*
 * conv_direct.c — conv2d's direct forms, for inputs with very few channels.
 *
 * With very few input channels (up to CK_DIRECT_MAX_C), im2col mostly
 * copies: it writes kh·kw floats per output pixel only to read them back in a
 * GEMM whose inner dimension is tiny and whose n (the filter count) is too
 * narrow for OpenBLAS's tiles. The direct forward keeps 8 output channels of a
 * pixel in one 8-lane register, four neighbouring pixels at a time
 * (independent accumulators hide the FMA latency), and adds the taps in the
 * naive (p, q, c) order. On CPUs with AVX-512 the two hottest forms (one
 * channel into up to 6 filters; 9 to 16 filters without padding) run as
 * 16-lane versions over pairs of output rows, with the same sums. The filter
 * gradient has a direct form too (conv_direct_filter.c); backward data uses
 * im2col + GEMM.
 * Benchmarks/README.md has the measurements behind every limit below.
 */
#include <immintrin.h>
#include <string.h>
#include "conv.h"

#ifndef CK_DIRECT_MAX_C /* -DCK_DIRECT_MAX_C=0 turns the path off, for measuring */
#define CK_DIRECT_MAX_C 4
#endif
#ifndef CK_DIRECT_MAX_C_VALID /* the same without padding */
#define CK_DIRECT_MAX_C_VALID (CK_DIRECT_MAX_C ? 16 : 0)
#endif
static int direct_fits(const ck_conv2d_params *p, const conv_geom *g) {
    size_t o8 = ((size_t)p->o + 7) / 8 * 8;
    return p->o <= 16 && !g->pointwise && (size_t)g->kkc * o8 <= CK_DIRECT_MAX_W;
}

/* Beyond 16 filters OpenBLAS's tiles fill up and im2col + GEMM wins again.
 * With AVX-512, 9 to 16 filters without padding take the direct form at any
 * channel count (conv_direct_filter.c, filter_rows16). */
int ck_conv_direct_filter_fits(const ck_conv2d_params *p, const conv_geom *g) {
    return (p->c <= CK_DIRECT_MAX_C || (CK_DIRECT_MAX_C && ck_conv_rows16_fits(p, g))) &&
           direct_fits(p, g);
}

/* The forward pass also without padding up to CK_DIRECT_MAX_C_VALID channels,
 * where every pixel but a row's last few takes the four-pixel form. With SAME
 * padding the border pixels take the one-pixel form, which costs the gain. */
int ck_conv_direct_forward_fits(const ck_conv2d_params *p, const conv_geom *g) {
    return ck_conv_direct_filter_fits(p, g) ||
           (p->c <= CK_DIRECT_MAX_C_VALID && p->padding == CK_PAD_VALID && direct_fits(p, g));
}

/* One channel, stride 1 along rows, at most 6 filters: each image
 * is first copied into a zero-bordered buffer, so that every output pixel,
 * borders included, takes one form: 16 neighbouring pixels × 6 filters in 12
 * accumulators, each tap two loads of 8 inputs and six broadcast weights for
 * twelve fully used FMAs (the eight-pixel form below needs nine loads for eight
 * FMAs, a quarter of whose lanes are idle filters, and borders fell to slower
 * forms). Taps in the same (p, q) order from zero; padded taps add 0·w, as the
 * im2col path does. */
int ck_conv_use_c1(const ck_conv2d_params *p, const conv_geom *g) {
    int pw = (g->ow + 15) / 16 * 16 + p->kw - 1, ph = (g->oh - 1) * p->sh + p->kh;
    return p->c == 1 && p->sw == 1 && p->o <= 6 && (long)pw * ph <= CK_C1_MAX_PAD;
}

/* The image xi with its padding made explicit: ((oh-1)·sh + kh) rows of
 * (ow rounded up to 16) + kw − 1 floats, zeros outside the image. */
void ck_conv_c1_border(const ck_conv2d_params *p, const conv_geom *g, const float *xi, float *buf) {
    const int pw = (g->ow + 15) / 16 * 16 + p->kw - 1, ph = (g->oh - 1) * p->sh + p->kh;
    const int e0 = ck_imin(g->pl, pw), e1 = ck_imin(g->pl + p->w, pw);
    for (int r = 0; r < ph; r++) {
        float *dst = buf + (size_t)r * pw;
        const int src_r = r - g->pt;
        if (src_r < 0 || src_r >= p->h) {
            memset(dst, 0, sizeof(float) * pw);
            continue;
        }
        memset(dst, 0, sizeof(float) * e0);
        memcpy(dst + e0, xi + (size_t)src_r * p->w, sizeof(float) * (e1 - e0));
        memset(dst + e1, 0, sizeof(float) * (pw - e1));
    }
}

/* What the direct forms do to a sum before storing it: add the bias
 * (FUSE_ADD) and apply a ReLU (FUSE_RELU) on the spot, with ck_bias_act's own
 * operations (the same bits, without a second pass over the row); other
 * activations are left to ck_bias_act after the row (FUSE_LATER). */
enum { FUSE_ADD = 1, FUSE_RELU = 2, FUSE_LATER = 4 };
typedef int ck_v8i __attribute__((vector_size(32)));

static int fuse_mode(const float *b, int act) {
    if (act != CK_ACT_RELU && act != CK_ACT_NONE) return FUSE_LATER;
    return (b ? FUSE_ADD : 0) | (act == CK_ACT_RELU ? FUSE_RELU : 0);
}

/* Eight sums; bias holds each lane's bias (lanes are filters) or one filter's
 * bias in every lane (lanes are pixels). v > 0 ? v : 0 as a mask: NaN and
 * −0 give +0, as the select in ck_bias_act does. */
static inline ck_v8 fused(ck_v8 v, ck_v8 bias, int mode) {
    if (mode & FUSE_ADD) v = v + bias;
    if (mode & FUSE_RELU) {
        const ck_v8 zero = {0, 0, 0, 0, 0, 0, 0, 0};
        v = (ck_v8)((ck_v8i)v & (ck_v8i)(v > zero));
    }
    return v;
}

static inline ck_v8 splat(float v) { return (ck_v8){v, v, v, v, v, v, v, v}; }

/* The bias of filters [o0, o0 + 8) in lanes, zero past o. */
static ck_v8 bias_lanes(const float *b, int o0, int o) {
    ck_v8 v = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int l = 0; l < 8 && o0 + l < o && b; l++) v[l] = b[o0 + l];
    return v;
}

/* The sums of n ≤ 16 pixels of O ≤ 6 filters, a0 (pixels 0–7) and a1 (8–15)
 * per filter, biased and activated as fused and stored as n pixels of O
 * channels: the filters as rows of 16 pixels (unused filters zero) are turned
 * into pixels of 8 filter lanes by two register transposes. */
static inline __attribute__((always_inline)) void c1_store(int O, int n, int mode, const float *b,
                                                           const ck_v8 *a0, const ck_v8 *a1,
                                                           float *dst) {
    ck_v8 fo[8][2] __attribute__((aligned(32)));
    for (int o = 0; o < 8; o++) {
        const ck_v8 bv = splat(o < O && (mode & FUSE_ADD) ? b[o] : 0.0f);
        fo[o][0] = o < O ? fused(a0[o], bv, mode) : (ck_v8){0, 0, 0, 0, 0, 0, 0, 0};
        fo[o][1] = o < O ? fused(a1[o], bv, mode) : (ck_v8){0, 0, 0, 0, 0, 0, 0, 0};
    }
    float px[16][8] __attribute__((aligned(32)));
    transpose8((const float *)fo, 16, px[0], 8);
    transpose8((const float *)fo + 8, 16, px[8], 8);
    ck_pack_pixels(O, n, px, 8, dst);
}

static void c1_image(const ck_conv2d_params *p, const conv_geom *g, const float *xi,
                     const ck_v8 *wpad, const float *b, int act, float *yi) {
    const int O = p->o, KW = p->kw, KH = p->kh;
    const int blocks = (g->ow + 15) / 16, pw = blocks * 16 + KW - 1;
    const int mode = fuse_mode(b, act);
    float buf[CK_C1_MAX_PAD];
    ck_conv_c1_border(p, g, xi, buf);
    for (int i = 0; i < g->oh; i++) {
        float *yr = yi + (size_t)i * g->ow * O;
        for (int jb = 0; jb < blocks; jb++) {
            ck_v8 a0[6], a1[6];
            for (int o = 0; o < 6; o++) a0[o] = a1[o] = (ck_v8){0, 0, 0, 0, 0, 0, 0, 0};
            for (int pp = 0; pp < KH; pp++) {
                const float *row = buf + (size_t)(i * p->sh + pp) * pw + jb * 16;
                const float *wr = (const float *)(wpad + (size_t)pp * KW);
                for (int q = 0; q < KW; q++) {
                    ck_v8 x0, x1;
                    __builtin_memcpy(&x0, row + q, sizeof x0);
                    __builtin_memcpy(&x1, row + q + 8, sizeof x1);
                    for (int o = 0; o < 6; o++) {
                        a0[o] += x0 * wr[q * 8 + o];
                        a1[o] += x1 * wr[q * 8 + o];
                    }
                }
            }
            c1_store(O, ck_imin(16, g->ow - jb * 16), mode, b, a0, a1, yr + (size_t)jb * 16 * O);
        }
        if (mode & FUSE_LATER) ck_bias_act(yr, O, 0, g->ow, 0, O, b, act);
    }
}

/* AVX-512 (CPUs with 512-bit FMA units, such as Zen 5, do twice the work
 * per instruction): 16 pixels are one register, and two output rows share
 * each tap's six broadcast weights, so twelve accumulators stay busy as in
 * the form above. The same taps in the same order: the same sums. */
typedef float ck_v16 __attribute__((vector_size(64)));

CK_TARGET_AVX512 static void c1_image_avx512(const ck_conv2d_params *p, const conv_geom *g,
                                             const float *xi, const ck_v8 *wpad, const float *b,
                                             int act, float *yi) {
    const int O = p->o, KW = p->kw, KH = p->kh;
    const int blocks = (g->ow + 15) / 16, pw = blocks * 16 + KW - 1;
    const int mode = fuse_mode(b, act);
    float buf[CK_C1_MAX_PAD];
    ck_conv_c1_border(p, g, xi, buf);
    for (int i = 0; i < g->oh; i += 2) {
        const int two = i + 1 < g->oh; /* else row i alone (computed twice) */
        float *yr = yi + (size_t)i * g->ow * O;
        for (int jb = 0; jb < blocks; jb++) {
            ck_v16 a[2][6];
            for (int o = 0; o < 6; o++) a[0][o] = a[1][o] = (ck_v16){0};
            for (int pp = 0; pp < KH; pp++) {
                const float *r0 = buf + (size_t)(i * p->sh + pp) * pw + jb * 16;
                const float *r1 = two ? r0 + (size_t)p->sh * pw : r0;
                const float *wr = (const float *)(wpad + (size_t)pp * KW);
                for (int q = 0; q < KW; q++) {
                    ck_v16 x0, x1;
                    __builtin_memcpy(&x0, r0 + q, sizeof x0);
                    __builtin_memcpy(&x1, r1 + q, sizeof x1);
                    for (int o = 0; o < 6; o++) {
                        a[0][o] += x0 * wr[q * 8 + o];
                        a[1][o] += x1 * wr[q * 8 + o];
                    }
                }
            }
            const int n = ck_imin(16, g->ow - jb * 16);
            for (int r = 0; r <= two; r++) {
                ck_v8 lo[6], hi[6];
                for (int o = 0; o < 6; o++) {
                    lo[o] = __builtin_shufflevector(a[r][o], a[r][o], 0, 1, 2, 3, 4, 5, 6, 7);
                    hi[o] = __builtin_shufflevector(a[r][o], a[r][o], 8, 9, 10, 11, 12, 13, 14, 15);
                }
                c1_store(O, n, mode, b, lo, hi, yr + ((size_t)r * g->ow + jb * 16) * O);
            }
        }
        if (mode & FUSE_LATER) ck_bias_act(yr, O, 0, (1 + two) * g->ow, 0, O, b, act);
    }
}

/* One output row of the direct forward, what its pixel forms share. */
typedef struct {
    const ck_conv2d_params *p;
    const conv_geom *g;
    const float *xi;     /* the row's image                         */
    const ck_v8 *wpad;   /* filter as [tap][c][o rounded up to 8]   */
    const float *b;
    const ck_v8 *blane;  /* bias of filters [0, 8) and [8, 16)      */
    float *yr;           /* the output row                          */
    int i, p0, p1;       /* output row, its in-bounds filter rows   */
    int mode;            /* fuse_mode                               */
} drow;

#define DIRECT_FORM static inline __attribute__((always_inline)) void

/* Pixels [j, j + 8) (window columns from t0), one channel, stride 1, at most
 * 8 filters: eight neighbouring pixels in one register per filter. A tap is
 * then one load of 8 contiguous inputs and O fully used FMAs with broadcast
 * weights, where the filter-lane forms below need a broadcast per pixel and
 * leave 8 − O lanes idle. Same tap order, same sums. */
DIRECT_FORM px8_one_channel(const drow *d, int j, int t0) {
    const ck_conv2d_params *p = d->p;
    const conv_geom *g = d->g;
    const int O = p->o, KW = p->kw;
    ck_v8 acc[8];
    for (int o = 0; o < 8; o++) acc[o] = (ck_v8){0, 0, 0, 0, 0, 0, 0, 0};
    for (int pp = d->p0; pp < d->p1; pp++) {
        int r = d->i * p->sh - g->pt + pp;
        const float *xr = d->xi + (size_t)r * p->w + t0;
        const float *wr = (const float *)(d->wpad + (size_t)pp * KW);
        for (int q = 0; q < KW; q++) {
            ck_v8 xv;
            __builtin_memcpy(&xv, xr + q, sizeof xv);
            /* All 8 lanes (padding weights are zero): a constant
             * trip count keeps the accumulators in registers. */
            for (int o = 0; o < 8; o++) acc[o] += xv * wr[q * 8 + o];
        }
    }
    float *yo = d->yr + (size_t)j * O;
    for (int o = 0; o < O; o++)
        acc[o] = fused(acc[o], splat(d->mode & FUSE_ADD ? d->b[o] : 0.0f), d->mode);
    for (int k = 0; k < 8; k++)
        for (int o = 0; o < O; o++) yo[k * O + o] = acc[o][k];
}

/* Pixels [j, j + 4), all windows inside the row, 9 to 16 filters: both
 * halves at once, eight accumulators; each tap's four inputs are broadcast
 * once for eight FMAs. */
DIRECT_FORM px4_two_blocks(const drow *d, int j, int t0) {
    const ck_conv2d_params *p = d->p;
    const conv_geom *g = d->g;
    const int C = p->c, O = p->o, KW = p->kw, mode = d->mode;
    const size_t xs = (size_t)p->sw * C;
    const ck_v8 *blane = d->blane;
    ck_v8 a0 = {0, 0, 0, 0, 0, 0, 0, 0}, a1 = a0, a2 = a0, a3 = a0;
    ck_v8 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    for (int pp = d->p0; pp < d->p1; pp++) {
        int r = d->i * p->sh - g->pt + pp;
        const float *xr = d->xi + ((size_t)r * p->w + t0) * C;
        const ck_v8 *wr = d->wpad + (size_t)pp * KW * C * 2;
        for (int e = 0; e < KW * C; e++) {
            ck_v8 w0 = wr[2 * e], w1 = wr[2 * e + 1];
            float x0 = xr[e], x1 = xr[e + xs], x2 = xr[e + 2 * xs], x3 = xr[e + 3 * xs];
            a0 += x0 * w0; b0 += x0 * w1;
            a1 += x1 * w0; b1 += x1 * w1;
            a2 += x2 * w0; b2 += x2 * w1;
            a3 += x3 * w0; b3 += x3 * w1;
        }
    }
    float *yo = d->yr + (size_t)j * O;
    a0 = fused(a0, blane[0], mode); b0 = fused(b0, blane[1], mode);
    a1 = fused(a1, blane[0], mode); b1 = fused(b1, blane[1], mode);
    a2 = fused(a2, blane[0], mode); b2 = fused(b2, blane[1], mode);
    a3 = fused(a3, blane[0], mode); b3 = fused(b3, blane[1], mode);
    for (int l = 0; l < 8; l++) {
        yo[l] = a0[l];
        yo[O + l] = a1[l];
        yo[2 * O + l] = a2[l];
        yo[3 * O + l] = a3[l];
    }
    for (int l = 0; l < O - 8; l++) {
        yo[8 + l] = b0[l];
        yo[O + 8 + l] = b1[l];
        yo[2 * O + 8 + l] = b2[l];
        yo[3 * O + 8 + l] = b3[l];
    }
}

/* Pixels [j, j + 4), all windows inside the row, one block of 8 filters at a
 * time: four independent accumulators hide the FMA latency. */
DIRECT_FORM px4(const drow *d, int j, int t0) {
    const ck_conv2d_params *p = d->p;
    const conv_geom *g = d->g;
    const int C = p->c, O = p->o, O8 = (O + 7) / 8, KW = p->kw;
    const size_t xs = (size_t)p->sw * C;
    for (int ob = 0; ob < O8; ob++) {
        ck_v8 a0 = {0, 0, 0, 0, 0, 0, 0, 0}, a1 = a0, a2 = a0, a3 = a0;
        for (int pp = d->p0; pp < d->p1; pp++) {
            int r = d->i * p->sh - g->pt + pp;
            const float *xr = d->xi + ((size_t)r * p->w + t0) * C;
            const ck_v8 *wr = d->wpad + (size_t)pp * KW * C * O8 + ob;
            for (int e = 0; e < KW * C; e++) {
                ck_v8 wv = wr[(size_t)e * O8];
                a0 += xr[e] * wv;
                a1 += xr[e + xs] * wv;
                a2 += xr[e + 2 * xs] * wv;
                a3 += xr[e + 3 * xs] * wv;
            }
        }
        int n_out = ck_imin(8, O - ob * 8);
        float *yo = d->yr + (size_t)j * O + ob * 8;
        a0 = fused(a0, d->blane[ob], d->mode);
        a1 = fused(a1, d->blane[ob], d->mode);
        a2 = fused(a2, d->blane[ob], d->mode);
        a3 = fused(a3, d->blane[ob], d->mode);
        for (int l = 0; l < n_out; l++) {
            yo[l] = a0[l];
            yo[O + l] = a1[l];
            yo[2 * O + l] = a2[l];
            yo[3 * O + l] = a3[l];
        }
    }
}

/* Pixel j alone (a border pixel: its window's in-bounds taps only). */
DIRECT_FORM px1(const drow *d, int j, int t0) {
    const ck_conv2d_params *p = d->p;
    const conv_geom *g = d->g;
    const int C = p->c, O = p->o, O8 = (O + 7) / 8, KW = p->kw;
    int q0 = ck_imax(0, -t0), q1 = ck_imin(KW, p->w - t0);
    for (int ob = 0; ob < O8; ob++) {
        ck_v8 acc = {0, 0, 0, 0, 0, 0, 0, 0};
        for (int pp = d->p0; pp < d->p1; pp++) {
            int r = d->i * p->sh - g->pt + pp;
            const float *xr = d->xi + ((size_t)r * p->w + t0) * C;
            const ck_v8 *wr = d->wpad + (size_t)pp * KW * C * O8 + ob;
            for (int e = q0 * C; e < q1 * C; e++) acc += xr[e] * wr[(size_t)e * O8];
        }
        int n_out = ck_imin(8, O - ob * 8);
        acc = fused(acc, d->blane[ob], d->mode);
        for (int l = 0; l < n_out; l++) d->yr[(size_t)j * O + ob * 8 + l] = acc[l];
    }
}

/* AVX-512, 9 to 16 filters (one register of filter lanes), no padding:
 * pixels [j, j + 5) of output rows i and i + 1 in ten accumulators, each tap
 * element one load of the 16 filters' weights and ten broadcast inputs for
 * ten FMAs (px4_two_blocks: two loads and four broadcasts for eight FMAs of
 * half the width). The last block of a row overlaps the one before it (the
 * same sums again). Rows i and i + 1 of the output are y0 and y0 + ow·o. */
typedef int ck_v16i __attribute__((vector_size(64)));

static int pair_fits(const ck_conv2d_params *p, const conv_geom *g) {
    return (p->o + 7) / 8 == 2 && p->padding == CK_PAD_VALID && g->ow >= 5;
}

CK_TARGET_AVX512 static void direct_pair_avx512(const ck_conv2d_params *p, const conv_geom *g,
                                                const float *xi, const ck_v8 *wpad,
                                                const ck_v8 *blane, int mode, int i, float *y0) {
    const int C = p->c, O = p->o, KW = p->kw, ow = g->ow, two = i + 1 < g->oh;
    const size_t xs = (size_t)p->sw * C, rs = (size_t)p->sh * p->w * C;
    const __mmask16 lanes = (__mmask16)((1u << O) - 1);
    const ck_v16 bias = __builtin_shufflevector(blane[0], blane[1], 0, 1, 2, 3, 4, 5, 6, 7, 8,
                                                9, 10, 11, 12, 13, 14, 15);
    for (int j = 0; j < ow; j += 5) {
        const int jq = ck_imin(j, ow - 5);
        ck_v16 a[2][5];
        for (int k = 0; k < 5; k++) a[0][k] = a[1][k] = (ck_v16){0};
        for (int pp = 0; pp < p->kh; pp++) {
            const float *x0 = xi + ((size_t)(i * p->sh + pp) * p->w + (size_t)jq * p->sw) * C;
            const float *x1 = two ? x0 + rs : x0;
            const float *wr = (const float *)(wpad + (size_t)pp * KW * C * 2);
            for (int e = 0; e < KW * C; e++) {
                ck_v16 wv;
                __builtin_memcpy(&wv, wr + (size_t)e * 16, sizeof wv);
                for (int k = 0; k < 5; k++) {
                    a[0][k] += x0[e + k * xs] * wv;
                    a[1][k] += x1[e + k * xs] * wv;
                }
            }
        }
        for (int r = 0; r <= two; r++)
            for (int k = 0; k < 5; k++) {
                ck_v16 v = a[r][k];
                if (mode & FUSE_ADD) v += bias;
                if (mode & FUSE_RELU) v = (ck_v16)((ck_v16i)v & (ck_v16i)(v > (ck_v16){0}));
                _mm512_mask_storeu_ps(y0 + ((size_t)r * ow + jq + k) * O, lanes, (__m512)v);
            }
    }
}

/* The row's pixels, each taking the widest form that fits it. Near the row's
 * end the last four pixels are taken (recomputing, with the same sums, some
 * already written) rather than single pixels, whose one accumulator waits on
 * each FMA: with 10 pixels a row (a 5×5 VALID window over 14) most of the
 * time went to them. */
static void direct_row(const drow *d) {
    const ck_conv2d_params *p = d->p;
    const conv_geom *g = d->g;
    const int O = p->o, KW = p->kw;
    for (int j = 0; j < g->ow;) {
        const int t0 = j * p->sw - g->pl;
        if (p->c == 1 && p->sw == 1 && O <= 8 && j + 7 < g->ow && t0 >= 0 && t0 + 7 + KW <= p->w) {
            px8_one_channel(d, j, t0);
            j += 8;
            continue;
        }
        const int jq = j + 3 < g->ow ? j : g->ow - 4, tq = jq * p->sw - g->pl;
        if (jq >= 0 && tq >= 0 && tq + 3 * p->sw + KW <= p->w) {
            if ((O + 7) / 8 == 2)
                px4_two_blocks(d, jq, tq);
            else
                px4(d, jq, tq);
            j = jq + 4;
            continue;
        }
        px1(d, j, t0);
        j++;
    }
}

void ck_conv_direct_forward(const ck_conv2d_params *p, const conv_geom *g, const float *x,
                            const float *w, const float *b, int act, float *y) {
    const int O = p->o, O8 = (O + 7) / 8;
    /* Filter as [tap][c][o rounded up to 8], padding lanes zero. */
    ck_v8 wpad[CK_DIRECT_MAX_W / 8];
    for (int k = 0; k < g->kkc; k++)
        for (int ob = 0; ob < O8; ob++)
            for (int l = 0; l < 8; l++) {
                int o = ob * 8 + l;
                wpad[(size_t)k * O8 + ob][l] = o < O ? w[(size_t)k * O + o] : 0.0f;
            }
    /* A fork and join costs 2 µs, and 15 when the VM is slow to run the
     * other thread: below ~1 M multiply-adds (10 µs on one core) one thread
     * is as fast (LeNet-5's second convolution at batch 1: 0.019 ms a whole
     * inference either way, 0.033 when the fork was slow). */
    int par = (double)g->m * O * g->kkc >= (1 << 20);
    const int mode = fuse_mode(b, act);
    const ck_v8 blane[2] = {bias_lanes(b, 0, O), bias_lanes(b, 8, O)};
    if (ck_conv_use_c1(p, g)) {
        const int wide = ck_use_avx512();
        CK_PAR_FOR(par && p->n > 1,
        for (int n = 0; n < p->n; n++) {
            const float *xi = x + (size_t)n * g->in_img;
            float *yi = y + (size_t)n * g->out_img;
            if (wide)
                c1_image_avx512(p, g, xi, wpad, b, act, yi);
            else
                c1_image(p, g, xi, wpad, b, act, yi);
        });
        return;
    }
    if (ck_use_avx512() && pair_fits(p, g)) {
        const int pairs = (g->oh + 1) / 2, items = p->n * pairs;
        CK_PAR_FOR(par,
        for (int it = 0; it < items; it++) {
            const int n = it / pairs, i = it % pairs * 2;
            float *yr = y + ((size_t)n * g->oh + i) * g->ow * O;
            direct_pair_avx512(p, g, x + (size_t)n * g->in_img, wpad, blane, mode, i, yr);
            if (mode & FUSE_LATER)
                ck_bias_act(yr, O, 0, (i + 1 < g->oh ? 2 : 1) * g->ow, 0, O, b, act);
        });
        return;
    }
    const int rows = p->n * g->oh;
    CK_PAR_FOR(par,
    for (int ri = 0; ri < rows; ri++) {
        const int n = ri / g->oh, i = ri % g->oh;
        const drow d = {p, g, x + (size_t)n * g->in_img, wpad, b, blane,
                        y + (size_t)ri * g->ow * O, i,
                        ck_imax(0, g->pt - i * p->sh), ck_imin(p->kh, p->h + g->pt - i * p->sh), mode};
        direct_row(&d);
        if (mode & FUSE_LATER) ck_bias_act(d.yr, O, 0, g->ow, 0, O, b, act);
    });
}
