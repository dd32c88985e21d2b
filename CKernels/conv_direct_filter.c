/*
 * conv_direct_filter.c — the direct filter gradient of conv2d for inputs with
 * very few channels (the forward forms are in conv_direct.c). Benchmarks/README.md
 * has the measurements behind its limits.
 */
#include <immintrin.h>
#include "conv.h"

/* The filter gradient of one image in the one-channel forward's zero-bordered
 * form (ck_conv_c1_border), added into
 * acc [kh·kw][o] (8-lane partial sums over pixels). Per filter, its dz is
 * first laid out as rows of pixels (zero beyond ow); then per filter row pp,
 * each tap's sum runs over every output row in registers, two sums per tap
 * (even and odd vectors of the row: 2·kw independent chains), and acc is
 * touched once per image, not once per output row. Needs ow ≤ 256, kw ≤ 8. */
/* ar[q·o_stride] += Σ_i Σ_v x_i[v·8 + q ..] · d_i[v] for the kw taps of one filter row,
 * x_i = rows + i·rstride and d_i = dt + i·nv·8; nv is even. */
static inline __attribute__((always_inline)) void c1_taps(int kw, int nv, int oh, const float *rows,
                                                          size_t rstride, const float *dt,
                                                          ck_v8 *ar, int o_stride) {
    ck_v8 t0[8], t1[8];
    for (int q = 0; q < kw; q++) t0[q] = t1[q] = (ck_v8){0, 0, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < oh; i++) {
        const float *row = rows + (size_t)i * rstride;
        const ck_v8 *d = (const ck_v8 *)(dt + (size_t)i * nv * 8);
        for (int v = 0; v < nv; v += 2) {
            const ck_v8 d0 = d[v], d1 = d[v + 1];
            for (int q = 0; q < kw; q++) {
                ck_v8 x0, x1;
                __builtin_memcpy(&x0, row + v * 8 + q, sizeof x0);
                __builtin_memcpy(&x1, row + v * 8 + 8 + q, sizeof x1);
                t0[q] += x0 * d0;
                t1[q] += x1 * d1;
            }
        }
    }
    for (int q = 0; q < kw; q++) ar[(size_t)q * o_stride] += t0[q] + t1[q];
}

/* The same with 16-lane vectors (the AVX-512 version): 16 pixels a register
 * and two output rows at a time, each with its own sum per tap. */
typedef float ck_v16 __attribute__((vector_size(64)));
static inline __attribute__((always_inline)) void c1_taps16(int kw, int nv, int oh,
                                                            const float *rows, size_t rstride,
                                                            const float *dt, ck_v8 *ar,
                                                            int o_stride) {
    ck_v16 t0[8], t1[8];
    for (int q = 0; q < kw; q++) t0[q] = t1[q] = (ck_v16){0};
    int i = 0;
    for (; i + 2 <= oh; i += 2) {
        const float *r0 = rows + (size_t)i * rstride, *r1 = r0 + rstride;
        const float *d0 = dt + (size_t)i * nv * 8, *d1 = d0 + (size_t)nv * 8;
        for (int v = 0; v < nv * 8; v += 16) {
            ck_v16 da, db;
            __builtin_memcpy(&da, d0 + v, sizeof da);
            __builtin_memcpy(&db, d1 + v, sizeof db);
            for (int q = 0; q < kw; q++) {
                ck_v16 xa, xb;
                __builtin_memcpy(&xa, r0 + v + q, sizeof xa);
                __builtin_memcpy(&xb, r1 + v + q, sizeof xb);
                t0[q] += xa * da;
                t1[q] += xb * db;
            }
        }
    }
    if (i < oh) { /* an odd last row */
        const float *r0 = rows + (size_t)i * rstride, *d0 = dt + (size_t)i * nv * 8;
        for (int v = 0; v < nv * 8; v += 16) {
            ck_v16 da;
            __builtin_memcpy(&da, d0 + v, sizeof da);
            for (int q = 0; q < kw; q++) {
                ck_v16 xa;
                __builtin_memcpy(&xa, r0 + v + q, sizeof xa);
                t0[q] += xa * da;
            }
        }
    }
    for (int q = 0; q < kw; q++) {
        const ck_v16 t = t0[q] + t1[q];
        ar[(size_t)q * o_stride] += __builtin_shufflevector(t, t, 0, 1, 2, 3, 4, 5, 6, 7) +
                                    __builtin_shufflevector(t, t, 8, 9, 10, 11, 12, 13, 14, 15);
    }
}

static inline __attribute__((always_inline)) void c1_backward_filter_image(
    int wide, const ck_conv2d_params *p, const conv_geom *g, const float *xi, const float *dzi,
    ck_v8 *acc) {
    const int O = p->o, KW = p->kw, KH = p->kh, OW = g->ow;
    const int nv = (OW + 15) / 16 * 2, pw = nv * 8 + KW - 1;
    float buf[CK_C1_MAX_PAD];
    /* oh·nv·8 ≤ ph·pw ≤ CK_C1_MAX_PAD (use_c1) */
    float dt[CK_C1_MAX_PAD] __attribute__((aligned(32)));
    ck_conv_c1_border(p, g, xi, buf);
    for (int o = 0; o < O; o++) {
        for (int i = 0; i < g->oh; i++) {
            const float *dr = dzi + (size_t)i * OW * O + o;
            float *di = dt + (size_t)i * nv * 8;
            for (int j = 0; j < OW; j++) di[j] = dr[(size_t)j * O];
            for (int j = OW; j < nv * 8; j++) di[j] = 0.0f;
        }
        for (int pp = 0; pp < KH; pp++) {
            const float *rows = buf + (size_t)pp * pw;
            const size_t rstride = (size_t)p->sh * pw;
            ck_v8 *ar = acc + (size_t)pp * KW * O + o;
            /* A constant filter width keeps the taps' sums in registers. */
            if (wide) {
                switch (KW) {
                case 3: c1_taps16(3, nv, g->oh, rows, rstride, dt, ar, O); break;
                case 5: c1_taps16(5, nv, g->oh, rows, rstride, dt, ar, O); break;
                default: c1_taps16(KW, nv, g->oh, rows, rstride, dt, ar, O); break;
                }
                continue;
            }
            switch (KW) {
            case 3: c1_taps(3, nv, g->oh, rows, rstride, dt, ar, O); break;
            case 5: c1_taps(5, nv, g->oh, rows, rstride, dt, ar, O); break;
            default: c1_taps(KW, nv, g->oh, rows, rstride, dt, ar, O); break;
            }
        }
    }
}
CK_ISA_VERSIONS_W(c1_backward_filter_image,
                  (const ck_conv2d_params *p, const conv_geom *g, const float *xi, const float *dzi,
                   ck_v8 *acc),
                  (p, g, xi, dzi, acc))

/* AVX-512, 9 to 16 filters without padding (LeNet-5's second convolution,
 * 6 channels: through im2col its patches and a GEMM of 16 columns, on the
 * AVX2 tile, took a quarter of a training step): per filter row pp, the
 * sums of a chunk of R16_CHUNK taps for all 16 filters stay in registers
 * while every output pixel of images [n0, n1) passes, each one load of its
 * dz (16 filters, lanes past o zero) and a broadcast input per tap; a tap
 * e = q·c + ch of row pp reads the input pixel row's float j·sw·c + e.
 * Writes part [kkc][16]. */
#define R16_CHUNK 15
int ck_conv_rows16_fits(const ck_conv2d_params *p, const conv_geom *g) {
    return ck_use_avx512() && (p->o + 7) / 8 == 2 && p->padding == CK_PAD_VALID && !g->pointwise;
}

/* One chunk: taps [e0, e0 + ne) of filter row pp (ne a constant when whole). */
CK_TARGET_AVX512 static inline __attribute__((always_inline)) void rows16_chunk(
    const ck_conv2d_params *p, const conv_geom *g, const float *x, const float *dz, int n0,
    int n1, int pp, int e0, int ne, __mmask16 lanes, float *part) {
    const int C = p->c, O = p->o;
    __m512 acc[R16_CHUNK];
    for (int e = 0; e < R16_CHUNK; e++) acc[e] = _mm512_setzero_ps();
    for (int n = n0; n < n1; n++)
        for (int i = 0; i < g->oh; i++) {
            const float *xr = x + (size_t)n * g->in_img + (size_t)(i * p->sh + pp) * p->w * C + e0;
            const float *dr = dz + ((size_t)n * g->oh + i) * g->ow * O;
            for (int j = 0; j < g->ow; j++) {
                const __m512 d = _mm512_maskz_loadu_ps(lanes, dr + (size_t)j * O);
                const float *xp = xr + (size_t)j * p->sw * C;
                for (int e = 0; e < R16_CHUNK; e++)
                    if (e < ne) acc[e] = _mm512_fmadd_ps(_mm512_set1_ps(xp[e]), d, acc[e]);
            }
        }
    for (int e = 0; e < ne; e++)
        _mm512_storeu_ps(part + ((size_t)pp * p->kw * C + e0 + e) * 16, acc[e]);
}

CK_TARGET_AVX512 static void filter_rows16(const ck_conv2d_params *p, const conv_geom *g,
                                           const float *x, const float *dz, int n0, int n1,
                                           float *part) {
    const int E = p->kw * p->c;
    const __mmask16 lanes = (__mmask16)((1u << p->o) - 1);
    for (int pp = 0; pp < p->kh; pp++)
        for (int e0 = 0; e0 < E; e0 += R16_CHUNK) {
            if (E - e0 >= R16_CHUNK)
                rows16_chunk(p, g, x, dz, n0, n1, pp, e0, R16_CHUNK, lanes, part);
            else
                rows16_chunk(p, g, x, dz, n0, n1, pp, e0, E - e0, lanes, part);
        }
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
int ck_conv_direct_backward_filter(const ck_conv2d_params *p, const conv_geom *g, const float *x,
                                   const float *dz, float *dw, float *ws, size_t ws_len) {
    const int C = p->c, O = p->o, O8 = (O + 7) / 8, KW = p->kw, KKC = g->kkc;
    const size_t plen = (size_t)KKC * O8 * 8;
    int nblk = ck_imin(ck_imax(1, omp_get_num_procs()), p->n);
    while (nblk > 1 && (size_t)nblk * plen > ws_len) nblk--;
    if (plen > ws_len) return 0;
    int par = nblk > 1 && conv_want_parallel((double)g->m * O * KKC);
    const int c1 = ck_conv_use_c1(p, g) && g->ow <= 256 && KW <= 8 && KKC * O <= CK_DIRECT_MAX_W / 8;
    const int rows16 = ck_conv_rows16_fits(p, g);
    CK_PAR_FOR(par,
    for (int blk = 0; blk < nblk; blk++) {
        if (rows16) {
            filter_rows16(p, g, x, dz, (int)((long long)blk * p->n / nblk),
                          (int)((long long)(blk + 1) * p->n / nblk), ws + (size_t)blk * plen);
            continue;
        }
        ck_v8 acc[CK_DIRECT_MAX_W / 8];
        const ck_v8 zero = {0, 0, 0, 0, 0, 0, 0, 0};
        for (int k = 0; k < KKC * (c1 ? O : O8); k++) acc[k] = zero;
        const int n0 = (int)((long long)blk * p->n / nblk), n1 = (int)((long long)(blk + 1) * p->n / nblk);
        if (c1) {
            /* acc is [tap][o] here; lanes are summed into part below. */
            for (int n = n0; n < n1; n++)
                c1_backward_filter_image_isa(p, g, x + (size_t)n * g->in_img,
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
