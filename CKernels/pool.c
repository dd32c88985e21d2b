/*
 * pool.c — max, average and stochastic pooling over NHWC (spec §2, §3), and
 * global average pooling.
 *
 * Every window is the set of its IN-BOUNDS cells: padding never takes part in
 * a maximum, never counts in an average's divisor and is never sampled. Cells
 * are scanned row-major (rows top to bottom, columns left to right), which
 * fixes the max tie rule (first maximal cell wins: only a strictly greater
 * value replaces the best) and the stochastic sampling order.
 *
 * Channels are innermost in NHWC, so the inner loops run over c and vectorise.
 * Forward kernels are parallel over (image, output row); the backward kernels
 * scatter into dx with += (windows may overlap), so they are parallel over
 * images only, each thread owning whole images of dx.
 */
#include "internal.h"

#include <stdint.h>
#include <string.h>

/* Below this many input elements a call runs on one thread. */
#define POOL_PAR_MIN 32768
/* Channel block for kernels that need two accumulators per channel. */
#define POOL_CBLOCK 64

typedef struct {
    long n, h, w, c;
    long kh, kw, sh, sw;
    long oh, ow, pad_top, pad_left;
    long in_total, out_total;
} geom;

static int geometry(const ck_pool2d_params *p, geom *g) {
    CHECK(p != NULL);
    CHECK(p->n >= 1 && p->h >= 1 && p->w >= 1 && p->c >= 1);
    CHECK(p->kh >= 1 && p->kw >= 1 && p->sh >= 1 && p->sw >= 1);
    g->n = p->n; g->h = p->h; g->w = p->w; g->c = p->c;
    g->kh = p->kh; g->kw = p->kw; g->sh = p->sh; g->sw = p->sw;
    /* Flat indices into x are int32 (argmax, switches). Multiplied one
     * factor at a time so that the check itself cannot overflow. */
    g->in_total = g->n;
    const long dims[3] = {g->h, g->w, g->c};
    for (int d = 0; d < 3; d++) {
        g->in_total *= dims[d];
        CHECK(g->in_total <= INT32_MAX);
    }
    int oh, ow, pt, pl; /* the output-size rule of every window (window.c) */
    int st = ck_output_size(p->h, p->kh, p->sh, p->padding, &oh, &pt);
    if (st != CK_OK) return st;
    st = ck_output_size(p->w, p->kw, p->sw, p->padding, &ow, &pl);
    if (st != CK_OK) return st;
    g->oh = oh; g->ow = ow; g->pad_top = pt; g->pad_left = pl;
    g->out_total = g->n * g->oh * g->ow * g->c;
    return CK_OK;
}

/* In-bounds range [*lo, *hi) of window `i` along an axis. Never empty:
 * SAME padding is less than the window and VALID windows start inside. */
static void window(long i, long s, long pad, long k, long in, long *lo, long *hi) {
    long a = i * s - pad, b = a + k;
    *lo = a < 0 ? 0 : a;
    *hi = b > in ? in : b;
}

int ck_pool2d_output_shape(const ck_pool2d_params *p, int *oh, int *ow) {
    geom g;
    CHECK(oh && ow && geometry(p, &g) == CK_OK);
    *oh = (int)g.oh;
    *ow = (int)g.ow;
    return CK_OK;
}

/* Longest input row (w·c floats) the vector form below works on. */
#define POOL_ROW_MAX 4096

/* Output row q of a 2×2, stride-2 max pool with fewer than 8 channels and
 * every window of the row inside the image. The per-channel loop of
 * maxpool_row barely vectorises with 6 channels; here maxpool_row's
 * tournament (the same three compare-and-selects, so the same result, NaN
 * included) runs over whole rows: m[k] is the winner of cells k and k + C of
 * the two input rows, for every k, with its flat index in mi[k] when argmax
 * is wanted, and the outputs are m at the even pixels. */
static int maxpool_row_2x2(const geom *g, long q, const float *x, float *y, int32_t *argmax) {
    const long C = g->c, b = q / g->oh, i = q % g->oh;
    long r0, r1;
    window(i, g->sh, g->pad_top, g->kh, g->h, &r0, &r1);
    if (r1 - r0 != 2) return 0;
    const long n = (2 * g->ow - 1) * C; /* the last even pixel ends at n */
    float m[POOL_ROW_MAX];
    int32_t mi[POOL_ROW_MAX];
    const long first = (b * g->h + r0) * g->w * C, wc = g->w * C;
    const float *restrict x0 = x + first, *restrict x1 = x0 + wc;
    if (argmax) {
        /* In range: geometry() keeps every flat index of x within int32. */
        const int32_t base = (int32_t)first, c1 = (int32_t)C, r = (int32_t)wc;
        for (long k = 0; k < n; k++) {
            const float v0 = x0[k], v1 = x0[k + C], v2 = x1[k], v3 = x1[k + C];
            const int a = v1 > v0, c = v3 > v2;
            const float va = a ? v1 : v0, vc = c ? v3 : v2;
            const int32_t ia = a ? c1 : 0, ic = c ? r + c1 : r;
            const int e = vc > va;
            m[k] = e ? vc : va;
            mi[k] = base + (int32_t)k + (e ? ic : ia);
        }
    } else {
        for (long k = 0; k < n; k++) {
            const float v0 = x0[k], v1 = x0[k + C], v2 = x1[k], v3 = x1[k + C];
            const float va = v1 > v0 ? v1 : v0, vc = v3 > v2 ? v3 : v2;
            m[k] = vc > va ? vc : va;
        }
    }
    /* The even pixels: m and mi hold 8 values of each but the last. */
    ck_pack_pixels(C, g->ow, m, 2 * C, y + q * g->ow * C);
    if (argmax) ck_pack_pixels(C, g->ow, mi, 2 * C, argmax + q * g->ow * C);
    return 1;
}

static void maxpool_row_cells(const geom *g, long q, long ja, long jb, const float *x, float *y,
                              int32_t *argmax);

/* Output pixels [j0, j1) of row q of a 2×2, stride-2 max pool with 8 or
 * more channels, each window whole (rows r0, r0 + 1; columns 2j − pad_left
 * and the next): the tournament of maxpool_row_2x2 across channel lanes, in
 * registers, every output and index stored once. Indices in int32 (in range:
 * geometry() keeps every flat index of x within it), so the lanes are 32-bit. */
static inline __attribute__((always_inline)) void maxpool_2x2_pixels(
    const geom *g, long q, long r0, long j0, long j1, const float *x, float *y, int32_t *argmax) {
    const long C = g->c, b = q / g->oh, wc = g->w * C;
    for (long j = j0; j < j1; j++) {
        const long first = ((b * g->h + r0) * g->w + 2 * j - g->pad_left) * C;
        const float *restrict x0 = x + first, *restrict x1 = x0 + wc;
        float *restrict yo = y + (q * g->ow + j) * C;
        if (argmax) {
            int32_t *restrict ao = argmax + (q * g->ow + j) * C;
            const int32_t i00 = (int32_t)first, i01 = i00 + (int32_t)C;
            const int32_t i10 = i00 + (int32_t)wc, i11 = i10 + (int32_t)C;
            for (long ch = 0; ch < C; ch++) {
                const float v0 = x0[ch], v1 = x0[ch + C], v2 = x1[ch], v3 = x1[ch + C];
                const int a = v1 > v0, c = v3 > v2;
                const float va = a ? v1 : v0, vc = c ? v3 : v2;
                const int e = vc > va;
                yo[ch] = e ? vc : va;
                ao[ch] = (e ? (c ? i11 : i10) : (a ? i01 : i00)) + (int32_t)ch;
            }
        } else {
            for (long ch = 0; ch < C; ch++) {
                const float v0 = x0[ch], v1 = x0[ch + C], v2 = x1[ch], v3 = x1[ch + C];
                const float va = v1 > v0 ? v1 : v0, vc = v3 > v2 ? v3 : v2;
                yo[ch] = vc > va ? vc : va;
            }
        }
    }
}
CK_ISA_VERSIONS(maxpool_2x2_pixels,
                (const geom *g, long q, long r0, long j0, long j1, const float *x, float *y,
                 int32_t *argmax),
                (g, q, r0, j0, j1, x, y, argmax))

/* One output row q (image q / oh, row q % oh) of max pooling. */
static void maxpool_row(const geom *g, long q, const float *x, float *y, int32_t *argmax) {
    const long C = g->c;
    const int two = g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2;
    if (two && C < 8 && g->pad_left == 0 && 2 * g->ow <= g->w && g->w * C <= POOL_ROW_MAX &&
        maxpool_row_2x2(g, q, x, y, argmax))
        return;
    if (two && C >= 8) {
        long r0, r1;
        window(q % g->oh, 2, g->pad_top, 2, g->h, &r0, &r1);
        /* Whole windows: columns 2j − pad_left ≥ 0 and 2j − pad_left + 1 < w. */
        const long j0 = (g->pad_left + 1) / 2, j1 = ck_imin((int)g->ow, (int)((g->w + g->pad_left) / 2));
        if (r1 - r0 == 2 && j0 < j1) {
            if (j0 > 0 || j1 < g->ow) {
                maxpool_row_cells(g, q, 0, j0, x, y, argmax);
                maxpool_row_cells(g, q, j1, g->ow, x, y, argmax);
            }
            maxpool_2x2_pixels_isa(g, q, r0, j0, j1, x, y, argmax);
            return;
        }
    }
    maxpool_row_cells(g, q, 0, g->ow, x, y, argmax);
}

/* Output pixels [ja, jb) of row q, window by window, any size. */
static void maxpool_row_cells(const geom *g, long q, long ja, long jb, const float *x, float *y,
                              int32_t *argmax) {
    const long C = g->c;
    const long b = q / g->oh, i = q % g->oh;
    long r0, r1;
    window(i, g->sh, g->pad_top, g->kh, g->h, &r0, &r1);
    for (long j = ja; j < jb; j++) {
        long t0, t1;
        window(j, g->sw, g->pad_left, g->kw, g->w, &t0, &t1);
        float *restrict yo = y + (q * g->ow + j) * C;
        int32_t *restrict ao = argmax ? argmax + (q * g->ow + j) * C : NULL;
        /* Start from the first in-bounds cell, never from -inf or a padded 0:
         * an all-negative window has a negative maximum. Updates are selects, not
         * branches: the data-dependent branch of compare-and-store mispredicted
         * about half the time. With few channels each channel's window is
         * scanned in a register; with 8 or more the select runs across channel
         * lanes. */
        const long img = b * g->h * g->w * C;
        const float *restrict xb = x + img;
        if (C >= 8) {
            /* Enough channels for vector lanes: compare-and-select across c. */
            const long first = (r0 * g->w + t0) * C;
            for (long ch = 0; ch < C; ch++) yo[ch] = xb[first + ch];
            if (ao)
                for (long ch = 0; ch < C; ch++) ao[ch] = (int32_t)(img + first + ch);
            for (long r = r0; r < r1; r++) {
                for (long t = (r == r0 ? t0 + 1 : t0); t < t1; t++) {
                    const long base = (r * g->w + t) * C;
                    const float *restrict xc = xb + base;
                    if (ao) {
                        for (long ch = 0; ch < C; ch++) {
                            const int gt = xc[ch] > yo[ch];
                            yo[ch] = gt ? xc[ch] : yo[ch];
                            ao[ch] = gt ? (int32_t)(img + base + ch) : ao[ch];
                        }
                    } else {
                        for (long ch = 0; ch < C; ch++) yo[ch] = xc[ch] > yo[ch] ? xc[ch] : yo[ch];
                    }
                }
            }
            continue;
        }
        if (r1 - r0 == 2 && t1 - t0 == 2) {
            /* Full 2x2 window: a two-level tournament, whose two first
             * matches are independent, instead of a chain of three. Ties
             * keep the earlier cell at each level, so the first maximal cell
             * in scan order still wins (and a NaN first cell still stays). */
            const long k0 = (r0 * g->w + t0) * C, k2 = k0 + g->w * C;
            for (long ch = 0; ch < C; ch++) {
                const float v0 = xb[k0 + ch], v1 = xb[k0 + C + ch];
                const float v2 = xb[k2 + ch], v3 = xb[k2 + C + ch];
                const int a = v1 > v0, c = v3 > v2;
                const float va = a ? v1 : v0, vc = c ? v3 : v2;
                const long ia = (a ? k0 + C : k0) + ch, ic = (c ? k2 + C : k2) + ch;
                const int e = vc > va;
                yo[ch] = e ? vc : va;
                if (ao) ao[ch] = (int32_t)(img + (e ? ic : ia));
            }
            continue;
        }
        for (long ch = 0; ch < C; ch++) {
            long bi = (r0 * g->w + t0) * C + ch;
            float best = xb[bi];
            for (long r = r0; r < r1; r++) {
                for (long t = (r == r0 ? t0 + 1 : t0); t < t1; t++) {
                    const long k = (r * g->w + t) * C + ch;
                    const float v = xb[k];
                    const int gt = v > best;
                    best = gt ? v : best;
                    bi = gt ? k : bi;
                }
            }
            yo[ch] = best;
            if (ao) ao[ch] = (int32_t)(img + bi);
        }
    }
}

int ck_maxpool2d_forward(const ck_pool2d_params *p, const float *x, float *y,
                         int32_t *argmax) {
    geom g;
    CHECK(geometry(p, &g) == CK_OK && x);
    if (g.out_total == 0) return CK_OK;
    CHECK(y);
    const long rows = g.n * g.oh;
    CK_PAR_FOR(g.in_total >= POOL_PAR_MIN,
    for (long q = 0; q < rows; q++) maxpool_row(&g, q, x, y, argmax););
    return CK_OK;
}

int ck_pool2d_route_backward(const ck_pool2d_params *p, const float *dy,
                             const int32_t *index, float *dx) {
    geom g;
    CHECK(geometry(p, &g) == CK_OK && dx);
    CHECK(g.out_total == 0 || (dy && index));
    const long img_in = g.h * g.w * g.c, img_out = g.oh * g.ow * g.c;
    /* Each index must lie in its own image: that is what lets images be
     * scattered in parallel without races (and a bad index never writes
     * outside dx). Checked before dx is touched, in a fixed number of blocks
     * of the outputs, each with its own flag. */
    enum { INDEX_BLOCKS = 64 };
    int bad[INDEX_BLOCKS] = {0};
    CK_PAR_FOR(g.out_total >= POOL_PAR_MIN,
    for (long blk = 0; blk < INDEX_BLOCKS; blk++) {
        const long k0 = g.out_total * blk / INDEX_BLOCKS, k1 = g.out_total * (blk + 1) / INDEX_BLOCKS;
        for (long k = k0; k < k1;) { /* image by image: one division each */
            const long b = k / img_out, lo = b * img_in, hi = lo + img_in;
            const long end = (b + 1) * img_out < k1 ? (b + 1) * img_out : k1;
            int out = 0;
            for (; k < end; k++) out |= index[k] >= 0 && (index[k] < lo || index[k] >= hi);
            bad[blk] |= out;
        }
    });
    for (int blk = 0; blk < INDEX_BLOCKS; blk++) CHECK(!bad[blk]);
    CK_PAR_FOR(g.in_total >= POOL_PAR_MIN,
    for (long b = 0; b < g.n; b++) {
        float *restrict d = dx + b * img_in;
        memset(d, 0, (size_t)img_in * sizeof(float));
        const float *restrict gy = dy ? dy + b * img_out : NULL;
        const int32_t *restrict ix = index ? index + b * img_out : NULL;
        for (long k = 0; k < img_out; k++)
            if (ix[k] >= 0) dx[ix[k]] += gy[k];
    });
    return CK_OK;
}

/* The mean of nr × nt cells (rows w·C floats apart, cells C apart) for cw
 * channels from xw, into yo: the sums in registers (a constant AVG_CHUNK
 * channels keeps them there; through yo in memory, each cell cost a load and
 * a store of every sum: Inception-v3's 3×3 pools took 2.7% of batch 1), the
 * cells added in order from zero. */
#define AVG_CHUNK 64
static inline __attribute__((always_inline)) void avg_cells(long cw, long C, long w, long nr,
                                                            long nt, float cnt, const float *xw,
                                                            float *restrict yo) {
    float acc[AVG_CHUNK];
    for (long ch = 0; ch < cw; ch++) acc[ch] = 0.0f;
    for (long r = 0; r < nr; r++)
        for (long t = 0; t < nt; t++) {
            const float *restrict xc = xw + (r * w + t) * C;
            for (long ch = 0; ch < cw; ch++) acc[ch] += xc[ch];
        }
    for (long ch = 0; ch < cw; ch++) yo[ch] = acc[ch] / cnt;
}

int ck_avgpool2d_forward(const ck_pool2d_params *p, const float *x, float *y) {
    geom g;
    CHECK(geometry(p, &g) == CK_OK && x);
    if (g.out_total == 0) return CK_OK;
    CHECK(y);
    const long C = g.c, rows = g.n * g.oh;
    CK_PAR_FOR(g.in_total >= POOL_PAR_MIN,
    for (long q = 0; q < rows; q++) {
        const long b = q / g.oh, i = q % g.oh;
        long r0, r1;
        window(i, g.sh, g.pad_top, g.kh, g.h, &r0, &r1);
        for (long j = 0; j < g.ow; j++) {
            long t0, t1;
            window(j, g.sw, g.pad_left, g.kw, g.w, &t0, &t1);
            float *restrict yo = y + (q * g.ow + j) * C;
            /* In-bounds cells only (spec §2.2): SAME edges average fewer cells. */
            const float cnt = (float)((r1 - r0) * (t1 - t0));
            const float *xw = x + ((b * g.h + r0) * g.w + t0) * C;
            long c0 = 0;
            for (; c0 + AVG_CHUNK <= C; c0 += AVG_CHUNK)
                avg_cells(AVG_CHUNK, C, g.w, r1 - r0, t1 - t0, cnt, xw + c0, yo + c0);
            if (c0 < C) avg_cells(C - c0, C, g.w, r1 - r0, t1 - t0, cnt, xw + c0, yo + c0);
        }
    });
    return CK_OK;
}

int ck_avgpool2d_backward(const ck_pool2d_params *p, const float *dy, float *dx) {
    geom g;
    CHECK(geometry(p, &g) == CK_OK && dx);
    CHECK(g.out_total == 0 || dy);
    const long C = g.c, img_in = g.h * g.w * C;
    CK_PAR_FOR(g.in_total >= POOL_PAR_MIN,
    for (long b = 0; b < g.n; b++) {
        float *restrict d = dx + b * img_in;
        memset(d, 0, (size_t)img_in * sizeof(float));
        for (long i = 0; i < g.oh; i++) {
            long r0, r1;
            window(i, g.sh, g.pad_top, g.kh, g.h, &r0, &r1);
            for (long j = 0; j < g.ow; j++) {
                long t0, t1;
                window(j, g.sw, g.pad_left, g.kw, g.w, &t0, &t1);
                const float cnt = (float)((r1 - r0) * (t1 - t0));
                const float *restrict gy = dy + ((b * g.oh + i) * g.ow + j) * C;
                for (long r = r0; r < r1; r++)
                    for (long t = t0; t < t1; t++) {
                        float *restrict dc = d + (r * g.w + t) * C;
                        for (long ch = 0; ch < C; ch++) dc[ch] += gy[ch] / cnt;
                    }
            }
        }
    });
    return CK_OK;
}

int ck_stochpool2d_forward_train(const ck_pool2d_params *p, const float *x,
                                 const float *u, float *y, int32_t *switches) {
    geom g;
    CHECK(geometry(p, &g) == CK_OK && x);
    if (g.out_total == 0) return CK_OK;
    CHECK(u && y && switches);
    const long C = g.c, rows = g.n * g.oh;
    CK_PAR_FOR(g.in_total >= POOL_PAR_MIN,
    for (long q = 0; q < rows; q++) {
        const long b = q / g.oh, i = q % g.oh;
        long r0, r1;
        window(i, g.sh, g.pad_top, g.kh, g.h, &r0, &r1);
        for (long j = 0; j < g.ow; j++) {
            long t0, t1;
            window(j, g.sw, g.pad_left, g.kw, g.w, &t0, &t1);
            const long o = (q * g.ow + j) * C;
            for (long ch = 0; ch < C; ch++) {
                /* S = Σ a⁺ in scan order; a⁺ = max(a, 0) (spec §3 input domain). */
                float s = 0.0f;
                for (long r = r0; r < r1; r++)
                    for (long t = t0; t < t1; t++) {
                        const float a = x[((b * g.h + r) * g.w + t) * C + ch];
                        s += a > 0.0f ? a : 0.0f;
                    }
                if (!(s > 0.0f)) { /* all-zero region: y = 0, no switch */
                    y[o + ch] = 0.0f;
                    switches[o + ch] = -1;
                    continue;
                }
                /* First cell whose cumulative probability exceeds u. A cell
                 * with a⁺ = 0 adds nothing, so it can only be reached after a
                 * cell that already exceeded u: it is never picked. If rounding
                 * leaves cum <= u at the end, the last cell with p > 0 wins. */
                const float uu = u[o + ch];
                float cum = 0.0f;
                long pick = -1, last = -1;
                for (long r = r0; r < r1 && pick < 0; r++)
                    for (long t = t0; t < t1; t++) {
                        const long idx = ((b * g.h + r) * g.w + t) * C + ch;
                        const float a = x[idx];
                        if (!(a > 0.0f)) continue;
                        last = idx;
                        cum += a / s;
                        if (cum > uu) { pick = idx; break; }
                    }
                if (pick < 0) pick = last;
                y[o + ch] = x[pick];
                switches[o + ch] = (int32_t)pick;
            }
        }
    });
    return CK_OK;
}

int ck_stochpool2d_forward_infer(const ck_pool2d_params *p, const float *x,
                                 float *y) {
    geom g;
    CHECK(geometry(p, &g) == CK_OK && x);
    if (g.out_total == 0) return CK_OK;
    CHECK(y);
    const long C = g.c, rows = g.n * g.oh;
    CK_PAR_FOR(g.in_total >= POOL_PAR_MIN,
    for (long q = 0; q < rows; q++) {
        const long b = q / g.oh, i = q % g.oh;
        long r0, r1;
        window(i, g.sh, g.pad_top, g.kh, g.h, &r0, &r1);
        for (long j = 0; j < g.ow; j++) {
            long t0, t1;
            window(j, g.sw, g.pad_left, g.kw, g.w, &t0, &t1);
            float *yo = y + (q * g.ow + j) * C;
            for (long c0 = 0; c0 < C; c0 += POOL_CBLOCK) {
                const long cn = C - c0 < POOL_CBLOCK ? C - c0 : POOL_CBLOCK;
                float s[POOL_CBLOCK], num[POOL_CBLOCK];
                for (long ch = 0; ch < cn; ch++) s[ch] = num[ch] = 0.0f;
                for (long r = r0; r < r1; r++)
                    for (long t = t0; t < t1; t++) {
                        const float *restrict xc = x + ((b * g.h + r) * g.w + t) * C + c0;
                        for (long ch = 0; ch < cn; ch++) {
                            const float a = xc[ch] > 0.0f ? xc[ch] : 0.0f;
                            s[ch] += a;
                            num[ch] += a * xc[ch]; /* Σ p_i a_i · S = Σ a⁺ a */
                        }
                    }
                for (long ch = 0; ch < cn; ch++)
                    yo[c0 + ch] = s[ch] > 0.0f ? num[ch] / s[ch] : 0.0f;
            }
        }
    });
    return CK_OK;
}

/* ------------------------------------------------- global average pooling */

/* Channels per task: the sums of one block live in doubles on the stack. */
#define GAP_CBLOCK 64

/* y[n, c] = mean of x[n, ·, c] over the hw positions. Each (image, channel
 * block) is one task summing its positions in order in double, so every
 * thread count gives the same bits, and a 112×112 map loses nothing to a
 * long float sum. */
int ck_global_avgpool_forward(int n, int hw, int c, const float *x, float *y) {
    CHECK(n >= 1 && hw >= 1 && c >= 1);
    CHECK((double)n * hw * c <= 4e18);
    CHECK(x != NULL && y != NULL);
    const long nblk = (c + GAP_CBLOCK - 1) / GAP_CBLOCK, tasks = (long)n * nblk;
    const size_t img = (size_t)hw * c;
    CK_PAR_FOR((double)n * hw * c >= POOL_PAR_MIN,
    for (long t = 0; t < tasks; t++) {
        const long b = t / nblk, c0 = (t % nblk) * GAP_CBLOCK;
        const long cn = c - c0 < GAP_CBLOCK ? c - c0 : GAP_CBLOCK;
        double s[GAP_CBLOCK];
        for (long ch = 0; ch < cn; ch++) s[ch] = 0.0;
        const float *xb = x + (size_t)b * img + c0;
        for (long k = 0; k < hw; k++) {
            const float *restrict xc = xb + (size_t)k * c;
            for (long ch = 0; ch < cn; ch++) s[ch] += xc[ch];
        }
        for (long ch = 0; ch < cn; ch++) y[(size_t)b * c + c0 + ch] = (float)(s[ch] / hw);
    });
    return CK_OK;
}

/* dx[n, k, c] = dy[n, c] / hw for every position k. */
int ck_global_avgpool_backward(int n, int hw, int c, const float *dy, float *dx) {
    CHECK(n >= 1 && hw >= 1 && c >= 1);
    CHECK((double)n * hw * c <= 4e18);
    CHECK(dy != NULL && dx != NULL);
    const long rows = (long)n * hw;
    const float div = (float)hw;
    CK_PAR_FOR((double)n * hw * c >= POOL_PAR_MIN,
    for (long q = 0; q < rows; q++) {
        const float *restrict g = dy + (size_t)(q / hw) * c;
        float *restrict d = dx + (size_t)q * c;
        for (long ch = 0; ch < c; ch++) d[ch] = g[ch] / div;
    });
    return CK_OK;
}
