/*
 * conv2d as im2col + one GEMM (NHWC input, HWIO filter, spec §1).
 *
 * The im2col matrix of an NHWC batch is [(n·oh·ow), (kh·kw·c)] with the
 * columns in (p, q, c) order, which is exactly the row order of an HWIO filter
 * viewed as [(kh·kw·c), o]: so the product is the NHWC output, with no
 * transposes anywhere.
 *
 * Workspace (floats): forward and backward_filter hold patches there,
 * backward_data patch gradients dz·wᵀ, for a few images at a time. All three
 * run at full speed with ck_conv2d_scratch_size floats (one group of images
 * per core); more changes nothing (the whole batch's im2col matrix,
 * n·oh·ow·kh·kw·c, is the most any pass can use). Less still works as long as
 * it holds one image's matrix (oh·ow·kh·kw·c): the batch is then processed in
 * chunks of as many images as fit (results may differ in the last bits). A
 * 1×1 stride-1 convolution needs no workspace: x already is its im2col matrix.
 */
#include <stdint.h>
#include <string.h>
#include "internal.h"

int ck_output_size(int in, int k, int s, int padding, int *out, int *pad_before) {
    CHECK(in >= 1 && k >= 1 && s >= 1);
    CHECK(padding == CK_PAD_VALID || padding == CK_PAD_SAME);
    CHECK(out != NULL);
    int o, pb = 0;
    if (padding == CK_PAD_VALID) {
        o = in >= k ? (in - k) / s + 1 : 0;
    } else {
        o = (in + s - 1) / s;
        /* Total padding P; its odd extra cell goes after (TF's split). */
        long long p = (long long)(o - 1) * s + k - in;
        if (p < 0) p = 0;
        pb = (int)(p / 2);
    }
    *out = o;
    if (pad_before) *pad_before = pb;
    return CK_OK;
}

/* Everything the kernels derive from the parameters. */
typedef struct {
    int oh, ow, pt, pl;
    int kkc;          /* kh·kw·c: columns of the im2col matrix      */
    int m;            /* n·oh·ow: rows of the im2col matrix          */
    size_t in_img;    /* h·w·c floats per input image                */
    size_t out_img;   /* oh·ow·o floats per output image             */
    size_t col_img;   /* oh·ow·kh·kw·c floats of im2col per image    */
    int pointwise;    /* 1×1, stride 1: x is its own im2col matrix   */
} geom;

/* Validates p and fills g. Sizes must fit BLAS's int dimensions. */
static int conv_geom(const ck_conv2d_params *p, geom *g) {
    CHECK(p != NULL);
    CHECK(p->n >= 1 && p->h >= 1 && p->w >= 1 && p->c >= 1);
    CHECK(p->kh >= 1 && p->kw >= 1 && p->o >= 1);
    CHECK(p->sh >= 1 && p->sw >= 1);
    int st = ck_output_size(p->h, p->kh, p->sh, p->padding, &g->oh, &g->pt);
    if (st != CK_OK) return st;
    st = ck_output_size(p->w, p->kw, p->sw, p->padding, &g->ow, &g->pl);
    if (st != CK_OK) return st;
    const double lim = 2147483647.0, big = 4e18;
    double m = (double)p->n * g->oh * g->ow, kkc = (double)p->kh * p->kw * p->c;
    CHECK(m <= lim && kkc <= lim);
    CHECK((double)p->n * p->h * p->w * p->c <= big);
    CHECK(m * p->o <= big && m * kkc <= big && kkc * p->o <= big);
    g->m = (int)m;
    g->kkc = (int)kkc;
    g->in_img = (size_t)p->h * p->w * p->c;
    g->out_img = (size_t)g->oh * g->ow * p->o;
    g->col_img = (size_t)g->oh * g->ow * g->kkc;
    g->pointwise = p->kh == 1 && p->kw == 1 && p->sh == 1 && p->sw == 1;
    return CK_OK;
}

int ck_conv2d_output_shape(const ck_conv2d_params *p, int *oh, int *ow) {
    geom g;
    CHECK(oh != NULL && ow != NULL);
    int st = conv_geom(p, &g);
    if (st != CK_OK) return st;
    *oh = g.oh;
    *ow = g.ow;
    return CK_OK;
}

/* Images per chunk for a workspace of len floats, 0 if not even one fits. */
static int chunk_images(const ck_conv2d_params *p, const geom *g, size_t len) {
    if (g->pointwise) return p->n;
    size_t k = len / g->col_img;
    return k >= (size_t)p->n ? p->n : (int)k;
}

#define CK_IM2COL_SHORT 16

/* Copies n floats, n >= 8: whole 8-float vectors and one last vector that
 * may overlap the previous one. For patch rows of 8 to 64 floats (a 5-wide
 * window over 6 channels is 30) a memcpy call per row cost more than the
 * copy. no_builtin keeps the compiler from turning the loop back into that
 * call. */
typedef float ck_v8u __attribute__((vector_size(32), aligned(4)));
__attribute__((no_builtin("memcpy")))
static inline void copy_row(float *restrict d, const float *restrict s, size_t n) {
    size_t e = 0;
    for (; e + 8 <= n; e += 8) *(ck_v8u *)(d + e) = *(const ck_v8u *)(s + e);
    if (e < n) *(ck_v8u *)(d + n - 8) = *(const ck_v8u *)(s + n - 8);
}

/* One image's patches. Within a patch row the in-bounds taps of one filter row
 * are contiguous in x (NHWC), so each is a single copy. */
static void im2col_img(const ck_conv2d_params *p, const geom *g, const float *x,
                       float *cols) {
    const int C = p->c, KW = p->kw;
    const size_t rowlen = (size_t)KW * C;
    for (int i = 0; i < g->oh; i++) {
        for (int j = 0; j < g->ow; j++) {
            float *dst = cols + ((size_t)i * g->ow + j) * g->kkc;
            int t0 = j * p->sw - g->pl;
            int q0 = ck_imax(0, -t0), q1 = ck_imin(KW, p->w - t0);
            if (rowlen <= CK_IM2COL_SHORT) {
                /* Short filter rows (few channels): library calls per row cost
                 * more than the copy, so copy element by element. */
                for (int pp = 0; pp < p->kh; pp++, dst += rowlen) {
                    int r = i * p->sh - g->pt + pp;
                    const float *src = x + ((size_t)r * p->w + t0) * C;
                    int in = r >= 0 && r < p->h;
                    size_t e0 = (size_t)q0 * C, e1 = (size_t)q1 * C;
                    for (size_t e = 0; e < rowlen; e++)
                        dst[e] = in && e >= e0 && e < e1 ? src[e] : 0.0f;
                }
                continue;
            }
            for (int pp = 0; pp < p->kh; pp++, dst += rowlen) {
                int r = i * p->sh - g->pt + pp;
                if (r < 0 || r >= p->h || q1 <= q0) {
                    memset(dst, 0, sizeof(float) * rowlen);
                    continue;
                }
                if (q0 > 0) memset(dst, 0, sizeof(float) * (size_t)q0 * C);
                const size_t len = (size_t)(q1 - q0) * C;
                const float *src = x + ((size_t)r * p->w + t0 + q0) * C;
                if (len >= 8 && len <= 64)
                    copy_row(dst + (size_t)q0 * C, src, len);
                else
                    memcpy(dst + (size_t)q0 * C, src, sizeof(float) * len);
                if (q1 < KW)
                    memset(dst + (size_t)q1 * C, 0, sizeof(float) * (size_t)(KW - q1) * C);
            }
        }
    }
}

/* One image's col2im: overlapping patches add up; padded taps are dropped. */
static void col2im_img(const ck_conv2d_params *p, const geom *g, const float *cols,
                       float *dx) {
    const int C = p->c, KW = p->kw;
    const size_t rowlen = (size_t)KW * C;
    memset(dx, 0, sizeof(float) * g->in_img);
    for (int i = 0; i < g->oh; i++) {
        for (int j = 0; j < g->ow; j++) {
            const float *src = cols + ((size_t)i * g->ow + j) * g->kkc;
            int t0 = j * p->sw - g->pl;
            int q0 = ck_imax(0, -t0), q1 = ck_imin(KW, p->w - t0);
            if (q1 <= q0) continue;
            size_t len = (size_t)(q1 - q0) * C;
            for (int pp = 0; pp < p->kh; pp++, src += rowlen) {
                int r = i * p->sh - g->pt + pp;
                if (r < 0 || r >= p->h) continue;
                float *d = dx + ((size_t)r * p->w + t0 + q0) * C;
                const float *s = src + (size_t)q0 * C;
                for (size_t e = 0; e < len; e++) d[e] += s[e];
            }
        }
    }
}

/* Parallel loops run only when the job is big enough to repay the fork. */
static int want_parallel(double work) { return work >= (1 << 17); }

/* ------------------------------------------------------------ direct path */
/* With very few input channels (up to CK_DIRECT_MAX_C), im2col mostly
 * copies: it writes kh·kw floats per output pixel only to read them back in a
 * GEMM whose inner dimension is tiny and whose n (the filter count) is too
 * narrow for OpenBLAS's tiles. The direct forward keeps 8 output channels of a
 * pixel in one 8-lane register, four neighbouring pixels at a time
 * (independent accumulators hide the FMA latency), and adds the taps in the
 * naive (p, q, c) order. The filter gradient has a direct form too
 * (direct_backward_filter); backward data uses im2col + GEMM. Benchmarks/
 * README.md has the measurements behind every limit below. */
#ifndef CK_DIRECT_MAX_C /* -DCK_DIRECT_MAX_C=0 turns the path off, for measuring */
#define CK_DIRECT_MAX_C 4
#endif
#ifndef CK_DIRECT_MAX_C_VALID /* the same without padding */
#define CK_DIRECT_MAX_C_VALID (CK_DIRECT_MAX_C ? 16 : 0)
#endif
#define CK_DIRECT_MAX_W 4096 /* floats of lane-padded filter kept on the stack */

typedef float ck_v8 __attribute__((vector_size(32)));

static int direct_fits(const ck_conv2d_params *p, const geom *g) {
    size_t o8 = ((size_t)p->o + 7) / 8 * 8;
    return p->o <= 16 && !g->pointwise && (size_t)g->kkc * o8 <= CK_DIRECT_MAX_W;
}

/* Beyond 16 filters OpenBLAS's tiles fill up and im2col + GEMM wins again. */
static int use_direct(const ck_conv2d_params *p, const geom *g) {
    return p->c <= CK_DIRECT_MAX_C && direct_fits(p, g);
}

/* The forward pass also without padding up to CK_DIRECT_MAX_C_VALID channels,
 * where every pixel but a row's last few takes the four-pixel form. With SAME
 * padding the border pixels take the one-pixel form, which costs the gain. */
static int use_direct_forward(const ck_conv2d_params *p, const geom *g) {
    return use_direct(p, g) ||
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
#define CK_C1_MAX_PAD 8192 /* floats of a bordered image kept on the stack */

static int use_c1(const ck_conv2d_params *p, const geom *g) {
    int pw = (g->ow + 15) / 16 * 16 + p->kw - 1, ph = (g->oh - 1) * p->sh + p->kh;
    return p->c == 1 && p->sw == 1 && p->o <= 6 && (long)pw * ph <= CK_C1_MAX_PAD;
}

/* The image xi with its padding made explicit: ((oh-1)·sh + kh) rows of
 * (ow rounded up to 16) + kw − 1 floats, zeros outside the image. */
static void c1_border(const ck_conv2d_params *p, const geom *g, const float *xi, float *buf) {
    const int pw = (g->ow + 15) / 16 * 16 + p->kw - 1, ph = (g->oh - 1) * p->sh + p->kh;
    for (int r = 0; r < ph; r++) {
        float *dst = buf + (size_t)r * pw;
        int src_r = r - g->pt;
        for (int e = 0; e < pw; e++) {
            int t = e - g->pl;
            dst[e] = src_r >= 0 && src_r < p->h && t >= 0 && t < p->w
                         ? xi[(size_t)src_r * p->w + t] : 0.0f;
        }
    }
}

/* The filter gradient of one image in the same bordered form, added into
 * acc [kh·kw][o] (8-lane partial sums over pixels): per output row, each
 * filter's dz row (zero beyond ow) is held in registers and every tap's row of
 * inputs is multiplied into it, so an accumulator is touched once per row, not
 * once per pixel. Needs ow ≤ 256 and kw ≤ 8. */
/* ar[q·o_stride] += Σ_v row[v·8 + q ..] · d[v] for the kw ≤ 8 taps of one filter row. */
static inline __attribute__((always_inline)) void c1_taps(int kw, int nv, const float *row,
                                                          const ck_v8 *d, ck_v8 *ar, int o_stride) {
    ck_v8 t[8];
    for (int q = 0; q < kw; q++) t[q] = (ck_v8){0, 0, 0, 0, 0, 0, 0, 0};
    for (int v = 0; v < nv; v++) {
        const ck_v8 dv = d[v];
        for (int q = 0; q < kw; q++) {
            ck_v8 xv;
            __builtin_memcpy(&xv, row + v * 8 + q, sizeof xv);
            t[q] += xv * dv;
        }
    }
    for (int q = 0; q < kw; q++) ar[(size_t)q * o_stride] += t[q];
}

static void c1_backward_filter_image(const ck_conv2d_params *p, const geom *g, const float *xi,
                                     const float *dzi, ck_v8 *acc) {
    const int O = p->o, KW = p->kw, KH = p->kh;
    const int nv = (g->ow + 15) / 16 * 2, pw = nv * 8 + KW - 1;
    float buf[CK_C1_MAX_PAD];
    c1_border(p, g, xi, buf);
    for (int i = 0; i < g->oh; i++) {
        const float *dr = dzi + (size_t)i * g->ow * O;
        for (int o = 0; o < O; o++) {
            ck_v8 d[32];
            for (int v = 0; v < nv; v++)
                for (int l = 0; l < 8; l++) {
                    int j = v * 8 + l;
                    d[v][l] = j < g->ow ? dr[(size_t)j * O + o] : 0.0f;
                }
            for (int pp = 0; pp < KH; pp++) {
                const float *row = buf + (size_t)(i * p->sh + pp) * pw;
                ck_v8 *ar = acc + (size_t)pp * KW * O + o;
                /* A constant filter width lets the taps' sums live in registers
                 * as independent chains (one chain per tap was FMA-latency bound). */
                switch (KW) {
                case 3: c1_taps(3, nv, row, d, ar, O); break;
                case 5: c1_taps(5, nv, row, d, ar, O); break;
                default: c1_taps(KW, nv, row, d, ar, O); break;
                }
            }
        }
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

static void c1_image(const ck_conv2d_params *p, const geom *g, const float *xi,
                     const ck_v8 *wpad, const float *b, int act, float *yi) {
    const int O = p->o, KW = p->kw, KH = p->kh;
    const int blocks = (g->ow + 15) / 16, pw = blocks * 16 + KW - 1;
    const int mode = fuse_mode(b, act);
    float buf[CK_C1_MAX_PAD];
    c1_border(p, g, xi, buf);
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
            for (int o = 0; o < O; o++) {
                const ck_v8 bv = splat(mode & FUSE_ADD ? b[o] : 0.0f);
                a0[o] = fused(a0[o], bv, mode);
                a1[o] = fused(a1[o], bv, mode);
            }
            const int n = ck_imin(16, g->ow - jb * 16);
            float *yo = yr + (size_t)jb * 16 * O;
            for (int k = 0; k < n; k++)
                for (int o = 0; o < O; o++) yo[k * O + o] = k < 8 ? a0[o][k] : a1[o][k - 8];
        }
        if (mode & FUSE_LATER) ck_bias_act(yr, O, 0, g->ow, 0, O, b, act);
    }
}

static void direct_forward(const ck_conv2d_params *p, const geom *g, const float *x,
                           const float *w, const float *b, int act, float *y) {
    const int C = p->c, O = p->o, O8 = (O + 7) / 8, KW = p->kw;
    /* Filter as [tap][c][o rounded up to 8], padding lanes zero. */
    ck_v8 wpad[CK_DIRECT_MAX_W / 8];
    for (int k = 0; k < g->kkc; k++)
        for (int ob = 0; ob < O8; ob++)
            for (int l = 0; l < 8; l++) {
                int o = ob * 8 + l;
                wpad[(size_t)k * O8 + ob][l] = o < O ? w[(size_t)k * O + o] : 0.0f;
            }
    int par = want_parallel((double)g->m * O * g->kkc);
    const int mode = fuse_mode(b, act);
    const ck_v8 blane[2] = {bias_lanes(b, 0, O), bias_lanes(b, 8, O)};
    if (use_c1(p, g)) {
        CK_PAR_FOR(par && p->n > 1,
        for (int n = 0; n < p->n; n++)
            c1_image(p, g, x + (size_t)n * g->in_img, wpad, b, act, y + (size_t)n * g->out_img););
        return;
    }
    const int rows = p->n * g->oh;
    CK_PAR_FOR(par,
    for (int ri = 0; ri < rows; ri++) {
        int n = ri / g->oh, i = ri % g->oh;
        const float *xi = x + (size_t)n * g->in_img;
        float *yr = y + (size_t)ri * g->ow * O;
        int p0 = ck_imax(0, g->pt - i * p->sh), p1 = ck_imin(p->kh, p->h + g->pt - i * p->sh);
        for (int j = 0; j < g->ow;) {
            int t0 = j * p->sw - g->pl;
            /* One channel, stride 1, at most 8 filters: eight neighbouring
             * pixels in one register per filter. A tap is then one load of 8
             * contiguous inputs and O fully used FMAs with broadcast weights,
             * where the filter-lane form below needs a broadcast per pixel
             * and leaves 8 − O lanes idle. Same tap order, same sums. */
            if (C == 1 && p->sw == 1 && O <= 8 && j + 7 < g->ow && t0 >= 0 && t0 + 7 + KW <= p->w) {
                ck_v8 acc[8];
                for (int o = 0; o < 8; o++) acc[o] = (ck_v8){0, 0, 0, 0, 0, 0, 0, 0};
                for (int pp = p0; pp < p1; pp++) {
                    int r = i * p->sh - g->pt + pp;
                    const float *xr = xi + (size_t)r * p->w + t0;
                    const float *wr = (const float *)(wpad + (size_t)pp * KW);
                    for (int q = 0; q < KW; q++) {
                        ck_v8 xv;
                        __builtin_memcpy(&xv, xr + q, sizeof xv);
                        /* All 8 lanes (padding weights are zero): a constant
                         * trip count keeps the accumulators in registers. */
                        for (int o = 0; o < 8; o++) acc[o] += xv * wr[q * 8 + o];
                    }
                }
                float *yo = yr + (size_t)j * O;
                for (int o = 0; o < O; o++)
                    acc[o] = fused(acc[o], splat(mode & FUSE_ADD ? b[o] : 0.0f), mode);
                for (int k = 0; k < 8; k++)
                    for (int o = 0; o < O; o++) yo[k * O + o] = acc[o][k];
                j += 8;
                continue;
            }
            /* Four neighbouring pixels whose windows are all inside the row:
             * four independent accumulators hide the FMA latency. Near the
             * row's end the last four pixels are taken (recomputing, with the
             * same sums, some already written) rather than single pixels,
             * whose one accumulator waits on each FMA: with 10 pixels a row
             * (a 5×5 VALID window over 14) most of the time went to them. */
            const int jq = j + 3 < g->ow ? j : g->ow - 4, tq = jq * p->sw - g->pl;
            if (jq >= 0 && tq >= 0 && tq + 3 * p->sw + KW <= p->w) {
                const size_t xs = (size_t)p->sw * C;
                j = jq;
                t0 = tq;
                if (O8 == 2) {
                    /* 9 to 16 filters: both halves at once, eight accumulators;
                     * each tap's four inputs are broadcast once for eight FMAs. */
                    ck_v8 a0 = {0, 0, 0, 0, 0, 0, 0, 0}, a1 = a0, a2 = a0, a3 = a0;
                    ck_v8 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
                    for (int pp = p0; pp < p1; pp++) {
                        int r = i * p->sh - g->pt + pp;
                        const float *xr = xi + ((size_t)r * p->w + t0) * C;
                        const ck_v8 *wr = wpad + (size_t)pp * KW * C * 2;
                        for (int e = 0; e < KW * C; e++) {
                            ck_v8 w0 = wr[2 * e], w1 = wr[2 * e + 1];
                            float x0 = xr[e], x1 = xr[e + xs], x2 = xr[e + 2 * xs], x3 = xr[e + 3 * xs];
                            a0 += x0 * w0; b0 += x0 * w1;
                            a1 += x1 * w0; b1 += x1 * w1;
                            a2 += x2 * w0; b2 += x2 * w1;
                            a3 += x3 * w0; b3 += x3 * w1;
                        }
                    }
                    float *yo = yr + (size_t)j * O;
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
                    j += 4;
                    continue;
                }
                for (int ob = 0; ob < O8; ob++) {
                    ck_v8 a0 = {0, 0, 0, 0, 0, 0, 0, 0}, a1 = a0, a2 = a0, a3 = a0;
                    for (int pp = p0; pp < p1; pp++) {
                        int r = i * p->sh - g->pt + pp;
                        const float *xr = xi + ((size_t)r * p->w + t0) * C;
                        const ck_v8 *wr = wpad + (size_t)pp * KW * C * O8 + ob;
                        for (int e = 0; e < KW * C; e++) {
                            ck_v8 wv = wr[(size_t)e * O8];
                            a0 += xr[e] * wv;
                            a1 += xr[e + xs] * wv;
                            a2 += xr[e + 2 * xs] * wv;
                            a3 += xr[e + 3 * xs] * wv;
                        }
                    }
                    int n_out = ck_imin(8, O - ob * 8);
                    float *yo = yr + (size_t)j * O + ob * 8;
                    a0 = fused(a0, blane[ob], mode);
                    a1 = fused(a1, blane[ob], mode);
                    a2 = fused(a2, blane[ob], mode);
                    a3 = fused(a3, blane[ob], mode);
                    for (int l = 0; l < n_out; l++) {
                        yo[l] = a0[l];
                        yo[O + l] = a1[l];
                        yo[2 * O + l] = a2[l];
                        yo[3 * O + l] = a3[l];
                    }
                }
                j += 4;
                continue;
            }
            int q0 = ck_imax(0, -t0), q1 = ck_imin(KW, p->w - t0);
            for (int ob = 0; ob < O8; ob++) {
                ck_v8 acc = {0, 0, 0, 0, 0, 0, 0, 0};
                for (int pp = p0; pp < p1; pp++) {
                    int r = i * p->sh - g->pt + pp;
                    const float *xr = xi + ((size_t)r * p->w + t0) * C;
                    const ck_v8 *wr = wpad + (size_t)pp * KW * C * O8 + ob;
                    for (int e = q0 * C; e < q1 * C; e++) acc += xr[e] * wr[(size_t)e * O8];
                }
                int n_out = ck_imin(8, O - ob * 8);
                acc = fused(acc, blane[ob], mode);
                for (int l = 0; l < n_out; l++) yr[(size_t)j * O + ob * 8 + l] = acc[l];
            }
            j++;
        }
        if (mode & FUSE_LATER) ck_bias_act(yr, O, 0, g->ow, 0, O, b, act);
    });
}

/* The filter gradient of the same small-channel layers, also direct. Through
 * im2col its GEMM is dw[kkc, o] = colsᵀ·dz with an inner dimension of n·oh·ow
 * (50176 for 64 images of 28×28) and outer sizes as small as 25 × 6: OpenBLAS
 * spends its time packing, and the plan cannot split so small an m. Here each
 * output pixel's dz (8 filters per lane group) is multiplied into the
 * accumulators of every in-bounds tap. The batch is cut into a fixed number of
 * blocks (by core count, not thread count, so results do not depend on the
 * thread count); each block's partial sums go to the workspace and are added
 * in block order. Only up to CK_DIRECT_MAX_C channels: at 6 there was no clear
 * gain. Returns 0 when the workspace cannot hold the partial sums (the caller
 * then takes the im2col path). */
static int direct_backward_filter(const ck_conv2d_params *p, const geom *g, const float *x,
                                  const float *dz, float *dw, float *ws, size_t ws_len) {
    const int C = p->c, O = p->o, O8 = (O + 7) / 8, KW = p->kw, KKC = g->kkc;
    const size_t plen = (size_t)KKC * O8 * 8;
    int nblk = ck_imin(ck_imax(1, omp_get_num_procs()), p->n);
    while (nblk > 1 && (size_t)nblk * plen > ws_len) nblk--;
    if (plen > ws_len) return 0;
    int par = nblk > 1 && want_parallel((double)g->m * O * KKC);
    const int c1 = use_c1(p, g) && g->ow <= 256 && KW <= 8 && KKC * O <= CK_DIRECT_MAX_W / 8;
    CK_PAR_FOR(par,
    for (int blk = 0; blk < nblk; blk++) {
        ck_v8 acc[CK_DIRECT_MAX_W / 8];
        const ck_v8 zero = {0, 0, 0, 0, 0, 0, 0, 0};
        for (int k = 0; k < KKC * (c1 ? O : O8); k++) acc[k] = zero;
        const int n0 = (int)((long long)blk * p->n / nblk), n1 = (int)((long long)(blk + 1) * p->n / nblk);
        if (c1) {
            /* acc is [tap][o] here; lanes are summed into part below. */
            for (int n = n0; n < n1; n++)
                c1_backward_filter_image(p, g, x + (size_t)n * g->in_img,
                                         dz + (size_t)n * g->out_img, acc);
            float *part = ws + (size_t)blk * plen;
            for (int k = 0; k < KKC; k++)
                for (int o = 0; o < O8 * 8; o++) {
                    float s = 0.0f;
                    if (o < O)
                        for (int l = 0; l < 8; l++) s += acc[(size_t)k * O + o][l];
                    part[(size_t)k * O8 * 8 + o] = s;
                }
            continue;
        }
        for (int n = n0; n < n1; n++) {
            const float *xi = x + (size_t)n * g->in_img;
            for (int i = 0; i < g->oh; i++) {
                int p0 = ck_imax(0, g->pt - i * p->sh), p1 = ck_imin(p->kh, p->h + g->pt - i * p->sh);
                for (int j = 0; j < g->ow; j++) {
                    const float *dp = dz + (((size_t)n * g->oh + i) * g->ow + j) * O;
                    int t0 = j * p->sw - g->pl;
                    int q0 = ck_imax(0, -t0), q1 = ck_imin(KW, p->w - t0);
                    for (int ob = 0; ob < O8; ob++) {
                        ck_v8 d = zero;
                        int n_out = ck_imin(8, O - ob * 8);
                        for (int l = 0; l < n_out; l++) d[l] = dp[ob * 8 + l];
                        for (int pp = p0; pp < p1; pp++) {
                            int r = i * p->sh - g->pt + pp;
                            const float *xr = xi + ((size_t)r * p->w + t0) * C;
                            ck_v8 *ar = acc + (size_t)pp * KW * C * O8 + ob;
                            for (int e = q0 * C; e < q1 * C; e++) ar[(size_t)e * O8] += xr[e] * d;
                        }
                    }
                }
            }
        }
        float *part = ws + (size_t)blk * plen;
        for (int k = 0; k < KKC * O8; k++)
            for (int l = 0; l < 8; l++) part[(size_t)k * 8 + l] = acc[k][l];
    });
    for (int k = 0; k < KKC; k++)
        for (int o = 0; o < O; o++) {
            float s = 0.0f;
            for (int blk = 0; blk < nblk; blk++)
                s += ws[(size_t)blk * plen + ((size_t)k * O8 + o / 8) * 8 + o % 8];
            dw[(size_t)k * O + o] = s;
        }
    return 1;
}

int ck_im2col(const ck_conv2d_params *p, const float *x, float *cols) {
    geom g;
    int st = conv_geom(p, &g);
    if (st != CK_OK) return st;
    CHECK(x != NULL && cols != NULL);

    CK_PAR_FOR(want_parallel((double)g.col_img * p->n),
    for (int i = 0; i < p->n; i++)
        im2col_img(p, &g, x + (size_t)i * g.in_img, cols + (size_t)i * g.col_img););
    return CK_OK;
}

int ck_col2im(const ck_conv2d_params *p, const float *cols, float *dx) {
    geom g;
    int st = conv_geom(p, &g);
    if (st != CK_OK) return st;
    CHECK(cols != NULL && dx != NULL);

    /* Each image's dx is written by one thread only: no races, no atomics. */
    CK_PAR_FOR(want_parallel((double)g.col_img * p->n),
    for (int i = 0; i < p->n; i++)
        col2im_img(p, &g, cols + (size_t)i * g.col_img, dx + (size_t)i * g.in_img););
    return CK_OK;
}

/* ------------------------------------------------------- image groups */
/* Forward and backward-data run over groups of whole images, each group one
 * GEMM with its patches built (or its patch gradients scattered) right next
 * to it, while the group's patch matrix is still in the core's L2. The whole
 * batch as one GEMM streams a patch matrix of tens of MB through memory
 * twice, and OpenBLAS's beta = 0 pass clears it once more.
 * Groups come from the sizes and the core count, never the thread count, so
 * results do not depend on how many threads run them.
 * Each thread reuses its own scratch of one group, which then never leaves
 * its cache. */
#define CK_GROUP_FLOATS (96 * 1024) /* a group's patches: 384 KB */

typedef struct {
    int count, nb;  /* groups, images                       */
    int most;       /* images in the largest group          */
} ck_groups;

static ck_groups plan_groups(const geom *g, int nb) {
    size_t per = g->col_img ? CK_GROUP_FLOATS / g->col_img : (size_t)nb;
    int most = per < 1 ? 1 : (per > (size_t)nb ? nb : (int)per);
    int count = (nb + most - 1) / most;
    /* A multiple of the core count (when there are enough images), so the
     * static schedule gives every thread the same number of images ±1. */
    int procs = ck_imax(1, omp_get_num_procs());
    count = ck_imin(nb, (count + procs - 1) / procs * procs);
    ck_groups gr = {count, nb, (nb + count - 1) / count};
    return gr;
}

/* Images [*i0, *i1) of group k: sizes differ by at most one. */
static void group_range(ck_groups gr, int k, int *i0, int *i1) {
    *i0 = (int)((long long)gr.nb * k / gr.count);
    *i1 = (int)((long long)gr.nb * (k + 1) / gr.count);
}

size_t ck_conv2d_scratch_size(const ck_conv2d_params *p) {
    geom g;
    if (conv_geom(p, &g) != CK_OK || g.m == 0 || g.pointwise) return 0;
    ck_groups gr = plan_groups(&g, p->n);
    size_t threads = (size_t)ck_imin(ck_imax(1, omp_get_num_procs()), gr.count);
    size_t scratch = threads * (size_t)gr.most * g.col_img, whole = (size_t)p->n * g.col_img;
    return scratch < whole ? scratch : whole;
}

/* One group of the forward: patches (into cols), one GEMM, then bias and
 * activation. */
static void forward_group(const ck_conv2d_params *p, const geom *g, const float *x,
                          const float *w, const float *b, int activation, float *y,
                          float *cols, int i0, int i1) {
    const int O = p->o, rows = (i1 - i0) * g->oh * g->ow;
    if (g->pointwise) {
        cols = (float *)(x + (size_t)i0 * g->in_img);
    } else {
        for (int i = i0; i < i1; i++)
            im2col_img(p, g, x + (size_t)i * g->in_img, cols + (size_t)(i - i0) * g->col_img);
    }
    float *yg = y + (size_t)i0 * g->out_img;
    ck_gemm_serial(0, 0, rows, O, g->kkc, 1.0f, cols, g->kkc, w, O, 0.0f, yg, O);
    ck_bias_act(yg, O, 0, rows, 0, O, b, activation);
}

/* The forward of images [0, nb) as one group whose GEMM is cut into
 * ck_plan_gemm blocks over the threads, each block with its bias and
 * activation: for batches smaller than the core count (batch-1 inference),
 * where groups of whole images would leave cores idle. The cut depends on the
 * sizes and the core count only, so the bits do not depend on the thread count. */
static void forward_split(const ck_conv2d_params *p, const geom *g, const float *x,
                          const float *w, const float *b, int activation, float *y,
                          float *cols, int nb) {
    const int O = p->o, rows = nb * g->oh * g->ow;
    if (g->pointwise) {
        cols = (float *)x;
    } else {
        for (int i = 0; i < nb; i++)
            im2col_img(p, g, x + (size_t)i * g->in_img, cols + (size_t)i * g->col_img);
    }
    const ck_gemm_plan pl = ck_plan_gemm(rows, O, g->kkc);
    CK_PAR_FOR(pl.nblocks > 1, for (int blk = 0; blk < pl.nblocks; blk++) {
        int r0, r1, c0, c1;
        ck_sgemm_block(&pl, blk, 0, 0, rows, O, g->kkc, 1.0f, cols, g->kkc, w, O, 0.0f, y, O,
                       &r0, &r1, &c0, &c1);
        ck_bias_act(y, O, r0, r1, c0, c1, b, activation);
    });
}

/* One group of backward-data: patch gradients dz·wᵀ (into dcols), then col2im. */
static void backward_data_group(const ck_conv2d_params *p, const geom *g, const float *dz,
                                const float *w, float *dx, float *dcols, int i0, int i1) {
    const int O = p->o, rows = (i1 - i0) * g->oh * g->ow;
    /* Pointwise: the patch gradients are dx itself. */
    if (g->pointwise) dcols = dx + (size_t)i0 * g->in_img;
    ck_gemm_serial(0, 1, rows, g->kkc, O, 1.0f, dz + (size_t)i0 * g->out_img, O, w, O, 0.0f,
                   dcols, g->kkc);
    if (!g->pointwise)
        for (int i = i0; i < i1; i++)
            col2im_img(p, g, dcols + (size_t)(i - i0) * g->col_img, dx + (size_t)i * g->in_img);
}

typedef enum { FORWARD, BACKWARD_DATA } group_pass;

/* Runs every group of images [0, nb) of x/dz: in parallel when worth it.
 * Each thread uses its own scratch of gr.most images, and `threads` (>= 1) of
 * them fit in the workspace. */
static void run_groups(group_pass pass, const ck_conv2d_params *p, const geom *g,
                       ck_groups gr, int threads, const float *in, const float *w,
                       const float *b, int activation, float *out, float *workspace) {
    const size_t scratch = (size_t)gr.most * g->col_img;
    CK_PAR_FOR_N(threads, gr.count > 1 && threads > 1 &&
                 want_parallel((double)gr.nb * g->oh * g->ow * p->o * g->kkc),
    for (int k = 0; k < gr.count; k++) {
        int i0, i1;
        group_range(gr, k, &i0, &i1);
        float *cols = g->pointwise ? NULL : workspace + (size_t)omp_get_thread_num() * scratch;
        if (pass == FORWARD) forward_group(p, g, in, w, b, activation, out, cols, i0, i1);
        else backward_data_group(p, g, in, w, out, cols, i0, i1);
    });
}

/* Forward or backward-data over the whole batch with the workspace given. */
static void run_batch(group_pass pass, const ck_conv2d_params *p, const geom *g,
                      const float *in, const float *w, const float *b, int activation,
                      float *out, float *workspace, size_t workspace_len) {
    const int nt = ck_threads();
    ck_groups gr = plan_groups(g, p->n);
    const size_t scratch = (size_t)gr.most * g->col_img;
    if (pass == FORWARD && p->n < omp_get_num_procs() && (g->pointwise || workspace_len >= (size_t)p->n * g->col_img)) {
        forward_split(p, g, in, w, b, activation, out, workspace, p->n);
        return;
    }
    if (g->pointwise) {
        run_groups(pass, p, g, gr, nt, in, w, b, activation, out, workspace);
        return;
    }
    const size_t fit = workspace_len / scratch;
    if (fit >= 1) {
        const int threads = ck_imin(fit < (size_t)nt ? (int)fit : nt, gr.count);
        run_groups(pass, p, g, gr, threads, in, w, b, activation, out, workspace);
    } else {
        /* Not even one group's scratch: chunks of as many images as fit,
         * each chunk's groups one after another in the workspace. */
        const int chunk = (int)(workspace_len / g->col_img);
        const size_t in_img = pass == FORWARD ? g->in_img : g->out_img;
        const size_t out_img = pass == FORWARD ? g->out_img : g->in_img;
        for (int n0 = 0; n0 < p->n; n0 += chunk)
            run_groups(pass, p, g, plan_groups(g, ck_imin(chunk, p->n - n0)), 1,
                       in + (size_t)n0 * in_img, w, b, activation, out + (size_t)n0 * out_img,
                       workspace);
    }
}

int ck_conv2d_forward(const ck_conv2d_params *p, const float *x, const float *w,
                      const float *b, int activation, float *y, float *workspace,
                      size_t workspace_len) {
    geom g;
    int st = conv_geom(p, &g);
    if (st != CK_OK) return st;
    CHECK(x != NULL && w != NULL && y != NULL);
    CHECK(ck_valid_act(activation));
    if (g.m == 0) return CK_OK; /* VALID with k > h: empty output */
    if (chunk_images(p, &g, workspace_len) == 0) return CK_ENOSPC;
    CHECK(g.pointwise || workspace != NULL);
    /* The workspace is checked even when the direct path needs none, so the
     * contract does not depend on which path runs. */
    if (use_direct_forward(p, &g)) {
        direct_forward(p, &g, x, w, b, activation, y);
        return CK_OK;
    }
    run_batch(FORWARD, p, &g, x, w, b, activation, y, workspace, workspace_len);
    return CK_OK;
}

int ck_conv2d_backward_data(const ck_conv2d_params *p, const float *dz,
                            const float *w, float *dx, float *workspace,
                            size_t workspace_len) {
    geom g;
    int st = conv_geom(p, &g);
    if (st != CK_OK) return st;
    CHECK(dz != NULL && w != NULL && dx != NULL);
    if (g.m == 0) {
        /* No output, so nothing depends on x. */
        memset(dx, 0, sizeof(float) * g.in_img * p->n);
        return CK_OK;
    }
    if (chunk_images(p, &g, workspace_len) == 0) return CK_ENOSPC;
    CHECK(g.pointwise || workspace != NULL);
    run_batch(BACKWARD_DATA, p, &g, dz, w, NULL, 0, dx, workspace, workspace_len);
    return CK_OK;
}

int ck_conv2d_backward_filter(const ck_conv2d_params *p, const float *x,
                              const float *dz, float *dw, float *db,
                              float *workspace, size_t workspace_len) {
    geom g;
    int st = conv_geom(p, &g);
    if (st != CK_OK) return st;
    CHECK(x != NULL && dz != NULL && dw != NULL);
    const int O = p->o;
    if (g.m == 0) {
        memset(dw, 0, sizeof(float) * (size_t)g.kkc * O);
        if (db) memset(db, 0, sizeof(float) * (size_t)O);
        return CK_OK;
    }
    int chunk = chunk_images(p, &g, workspace_len);
    if (chunk == 0) return CK_ENOSPC;
    CHECK(g.pointwise || workspace != NULL);
    if (use_direct(p, &g) && direct_backward_filter(p, &g, x, dz, dw, workspace, workspace_len))
        return db ? ck_sum_rows(g.m, O, dz, db) : CK_OK;
    /* At most ck_conv2d_scratch_size's images per chunk: one GEMM over the
     * whole batch's patches was slower than a few images at a time (as for
     * the groups above); so a larger workspace gives the same chunks, and the
     * same bits. */
    if (!g.pointwise) chunk = ck_imin(chunk, chunk_images(p, &g, ck_conv2d_scratch_size(p)));
    const int rows_img = g.oh * g.ow;

    for (int n0 = 0; n0 < p->n; n0 += chunk) {
        int nb = ck_imin(chunk, p->n - n0);
        int rows = nb * rows_img;
        const float *xs = x + (size_t)n0 * g.in_img;
        const float *cols = g.pointwise ? xs : workspace;
        const float *dzs = dz + (size_t)n0 * g.out_img;
        float beta = n0 == 0 ? 0.0f : 1.0f; /* chunks accumulate into dw */
        ck_gemm_plan pl = ck_plan_gemm(g.kkc, O, rows);
        const int par = want_parallel((double)rows * O * g.kkc);
        if (!g.pointwise)
            CK_PAR_FOR(par,
            for (int i = 0; i < nb; i++)
                im2col_img(p, &g, xs + (size_t)i * g.in_img, workspace + (size_t)i * g.col_img););
        CK_PAR_FOR(par,
        for (int blk = 0; blk < pl.nblocks; blk++) {
            int r0, r1, c0, c1;
            ck_sgemm_block(&pl, blk, 1, 0, g.kkc, O, rows, 1.0f, cols, g.kkc, dzs, O,
                           beta, dw, O, &r0, &r1, &c0, &c1);
        });
    }
    if (db) return ck_sum_rows(g.m, O, dz, db);
    return CK_OK;
}

/* ------------------------------------------------------------------ naive */
/* Direct loops straight from spec §1.3 and §1.5, double accumulation, each
 * output a gather (no scatter), sharing nothing with the fast path. */

int ck_conv2d_forward_naive(const ck_conv2d_params *p, const float *x,
                            const float *w, const float *b, float *y) {
    geom g;
    int st = conv_geom(p, &g);
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
    geom g;
    int st = conv_geom(p, &g);
    if (st != CK_OK) return st;
    CHECK(dy != NULL || g.m == 0);
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
