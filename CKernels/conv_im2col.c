/*
 * conv_im2col.c — conv2d as im2col + GEMM, the path for every layer the
 * direct forms (conv_direct.c) do not take.
 *
 * The im2col matrix of an NHWC batch is [(n·oh·ow), (kh·kw·c)] with the
 * columns in (p, q, c) order, which is exactly the row order of an HWIO filter
 * viewed as [(kh·kw·c), o]: so the product is the NHWC output, with no
 * transposes anywhere.
 */
#include <stdint.h>
#include <string.h>
#include "conv.h"

#define CK_IM2COL_SHORT 16

/* n floats from s to d, or zeros (s NULL): short runs element by element,
 * 8 to 64 floats by ck_copy_floats (a memcpy call per row of 30 floats cost
 * more than the copy), longer ones by the library. */
static inline __attribute__((always_inline)) void put_run(float *restrict d,
                                                          const float *restrict s, int n) {
    if (n <= 0) return;
    if (!s) {
        if (n > 16) memset(d, 0, sizeof(float) * (size_t)n);
        else for (int e = 0; e < n; e++) d[e] = 0.0f;
    } else if (n >= 8 && n <= 64) {
        ck_copy_floats(d, s, (size_t)n);
    } else if (n > 64) {
        memcpy(d, s, sizeof(float) * (size_t)n);
    } else {
        for (int e = 0; e < n; e++) d[e] = s[e];
    }
}

/* Columns [a, b) of rows [r0, r1) of the batch's im2col matrix (row r: image
 * r / (oh·ow), output pixel r % (oh·ow)), into cols, rows b − a floats apart.
 * Within a patch the in-bounds taps of one filter row are contiguous in x
 * (NHWC), so each is a single copy; padded taps are zeros. Whole patches
 * (a = 0, b = kkc) for the image groups; the filter gradient's blocks take
 * their own columns only. */
__attribute__((no_builtin("memcpy"))) /* to inline ck_copy_floats */
static void im2col_span(const ck_conv2d_params *p, const conv_geom *g, const float *x,
                        long r0, long r1, int a, int b, float *cols) {
    const int C = p->c, KW = p->kw, rowlen = KW * C, per = g->oh * g->ow, ow = g->ow;
    const int first = a / rowlen, last = (b - 1) / rowlen;
    for (long img = r0 / per; img * per < r1; img++) {
        const float *xi = x + (size_t)img * g->in_img;
        const long from = r0 - img * per, to = r1 - img * per; /* this image's pixels */
        const int pix0 = from > 0 ? (int)from : 0, pix1 = to < per ? (int)to : per;
        for (int i = pix0 / ow; i * ow < pix1; i++) {
            const int j0 = ck_imax(0, pix0 - i * ow), j1 = ck_imin(ow, pix1 - i * ow);
            for (int j = j0; j < j1; j++, cols += b - a) {
                const int t0 = j * p->sw - g->pl;
                const int lo = ck_imax(0, -t0) * C, hi = ck_imin(KW, p->w - t0) * C;
                float *d = cols - a; /* indexed by column */
                for (int pp = first; pp <= last; pp++) {
                    const int base = pp * rowlen, row = i * p->sh - g->pt + pp;
                    const int la = pp == first ? a - base : 0, lb = pp == last ? b - base : rowlen;
                    float *dr = d + base;
                    if (rowlen <= CK_IM2COL_SHORT) {
                        /* Short filter rows (few channels): one pass, element
                         * by element, costs less than three runs. */
                        const int in = row >= 0 && row < p->h;
                        const float *src = xi + ((long)row * p->w + t0) * C;
                        for (int e = la; e < lb; e++)
                            dr[e] = in && e >= lo && e < hi ? src[e] : 0.0f;
                        continue;
                    }
                    if (row < 0 || row >= p->h || hi <= lo) {
                        put_run(dr + la, NULL, lb - la);
                        continue;
                    }
                    const int c0 = ck_imin(lb, ck_imax(la, lo)), c1 = ck_imax(c0, ck_imin(lb, hi));
                    put_run(dr + la, NULL, c0 - la);
                    put_run(dr + c0, xi + ((long)row * p->w + t0) * C + c0, c1 - c0);
                    put_run(dr + c1, NULL, lb - c1);
                }
            }
        }
    }
}

static void im2col_img(const ck_conv2d_params *p, const conv_geom *g, const float *x,
                       float *cols) {
    im2col_span(p, g, x, 0, (long)g->oh * g->ow, 0, g->kkc, cols);
}

/* One image's col2im: overlapping patches add up; padded taps are dropped. */
static void col2im_img(const ck_conv2d_params *p, const conv_geom *g, const float *cols,
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

int ck_im2col(const ck_conv2d_params *p, const float *x, float *cols) {
    conv_geom g;
    int st = ck_conv_geometry(p, &g);
    if (st != CK_OK) return st;
    CHECK(x != NULL && cols != NULL);

    CK_PAR_FOR(conv_want_parallel((double)g.col_img * p->n),
    for (int i = 0; i < p->n; i++)
        im2col_img(p, &g, x + (size_t)i * g.in_img, cols + (size_t)i * g.col_img););
    return CK_OK;
}

int ck_col2im(const ck_conv2d_params *p, const float *cols, float *dx) {
    conv_geom g;
    int st = ck_conv_geometry(p, &g);
    if (st != CK_OK) return st;
    CHECK(cols != NULL && dx != NULL);

    /* Each image's dx is written by one thread only: no races, no atomics. */
    CK_PAR_FOR(conv_want_parallel((double)g.col_img * p->n),
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

static ck_groups plan_groups(const conv_geom *g, int nb) {
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
    conv_geom g;
    if (ck_conv_geometry(p, &g) != CK_OK || g.m == 0 || g.pointwise) return 0;
    ck_groups gr = plan_groups(&g, p->n);
    size_t threads = (size_t)ck_imin(ck_imax(1, omp_get_num_procs()), gr.count);
    size_t scratch = threads * (size_t)gr.most * g.col_img, whole = (size_t)p->n * g.col_img;
    return scratch < whole ? scratch : whole;
}

/* One group of the forward: patches (into cols), one GEMM with the packed
 * filter wp, then bias and activation. */
static void forward_group(const ck_conv2d_params *p, const conv_geom *g, const float *x,
                          const ck_packed_b *wp, const float *b, int activation, float *y,
                          float *cols, int i0, int i1) {
    const int O = p->o, rows = (i1 - i0) * g->oh * g->ow;
    if (g->pointwise) {
        cols = (float *)(x + (size_t)i0 * g->in_img);
    } else {
        for (int i = i0; i < i1; i++)
            im2col_img(p, g, x + (size_t)i * g->in_img, cols + (size_t)(i - i0) * g->col_img);
    }
    float *yg = y + (size_t)i0 * g->out_img;
    ck_gemm_serial_packed(0, rows, 1.0f, cols, g->kkc, wp, 0.0f, yg, O);
    ck_bias_act(yg, O, 0, rows, 0, O, b, activation);
}

/* The forward of images [0, nb) as one group whose GEMM is cut into
 * ck_plan_gemm blocks over the threads, each block with its bias and
 * activation: for batches smaller than the core count (batch-1 inference),
 * where groups of whole images would leave cores idle. The cut depends on the
 * sizes and the core count only, so the bits do not depend on the thread count.
 * The threads build the patches too (built by one, the other core waited: 2%
 * of batch-1 Inception-v3): with w packed and blocks of rows, each block its
 * own rows right before its product; otherwise all of them first, a share
 * each. */
static void forward_split(const ck_conv2d_params *p, const conv_geom *g, const float *x,
                          const float *w, const ck_packed_b *wp, const float *b, int activation,
                          float *y, float *cols, int nb) {
    const int O = p->o, rows = nb * g->oh * g->ow;
    const int kkc = g->kkc, par = conv_want_parallel((double)rows * kkc);
    if (g->pointwise) cols = (float *)x;
    const ck_gemm_plan pl = wp ? ck_plan_gemm_packed(rows, O, kkc) : ck_plan_gemm(rows, O, kkc);
    if (wp && pl.by_rows) { /* w already packed: blocks of rows, each reading all of it */
        CK_PAR_FOR(pl.nblocks > 1, for (int blk = 0; blk < pl.nblocks; blk++) {
            int r0, r1;
            ck_plan_span(&pl, blk, &r0, &r1);
            if (r1 > r0) {
                float *a = cols + (size_t)r0 * kkc;
                if (!g->pointwise) im2col_span(p, g, x, r0, r1, 0, kkc, a);
                ck_gemm_serial_packed(0, r1 - r0, 1.0f, a, kkc, wp, 0.0f, y + (size_t)r0 * O, O);
                ck_bias_act(y, O, r0, r1, 0, O, b, activation);
            }
        });
        return;
    }
    if (!g->pointwise) {
        const int nt = ck_threads();
        CK_PAR_FOR(par, for (int t = 0; t < nt; t++) {
            const long r0 = (long)rows * t / nt, r1 = (long)rows * (t + 1) / nt;
            im2col_span(p, g, x, r0, r1, 0, kkc, cols + (size_t)r0 * kkc);
        });
    }
    /* Fewer pixels than filters (Inception-v3's 8×8 layers): blocks of
     * columns, each reading its own part of the packed w once for all rows
     * (blocks of rows would each read all of w, from memory at batch 1). */
    CK_PAR_FOR(pl.nblocks > 1, for (int blk = 0; blk < pl.nblocks; blk++) {
        int r0 = 0, r1 = rows, c0, c1;
        if (wp) {
            ck_plan_span(&pl, blk, &c0, &c1);
            ck_gemm_serial_packed_cols(0, rows, 1.0f, cols, kkc, wp, c0, c1, 0.0f, y, O);
        } else {
            ck_sgemm_block(&pl, blk, 0, 0, rows, O, kkc, 1.0f, cols, kkc, w, O, 0.0f, y, O,
                           &r0, &r1, &c0, &c1);
        }
        ck_bias_act(y, O, r0, r1, c0, c1, b, activation);
    });
}

/* One group of backward-data: patch gradients dz·wᵀ (wp: the packed wᵀ, into
 * dcols), then col2im. */
static void backward_data_group(const ck_conv2d_params *p, const conv_geom *g, const float *dz,
                                const ck_packed_b *wp, float *dx, float *dcols, int i0, int i1) {
    const int O = p->o, rows = (i1 - i0) * g->oh * g->ow;
    /* Pointwise: the patch gradients are dx itself. */
    if (g->pointwise) dcols = dx + (size_t)i0 * g->in_img;
    ck_gemm_serial_packed(0, rows, 1.0f, dz + (size_t)i0 * g->out_img, O, wp, 0.0f, dcols,
                          g->kkc);
    if (!g->pointwise)
        for (int i = i0; i < i1; i++)
            col2im_img(p, g, dcols + (size_t)(i - i0) * g->col_img, dx + (size_t)i * g->in_img);
}

/* Runs every group of images [0, nb) of x/dz: in parallel when worth it.
 * The groups are dealt out in `threads` (>= 1) contiguous shares, each with
 * its own scratch of gr.most images (all of them fit in the workspace), and
 * each share packs the filter once for all its groups (ck_pack_b): at 8×8
 * pixels a group's GEMM is small beside repacking Inception's 2048×320
 * filters. */
static void run_groups(conv_pass pass, const ck_conv2d_params *p, const conv_geom *g,
                       ck_groups gr, int threads, const float *in, const float *w,
                       const ck_packed_b *packed, const float *b, int activation, float *out,
                       float *workspace) {
    const size_t scratch = (size_t)gr.most * g->col_img;
    const int shares = ck_imin(threads, gr.count), O = p->o;
    CK_PAR_FOR_N(shares, shares > 1 &&
                 conv_want_parallel((double)gr.nb * g->oh * g->ow * p->o * g->kkc),
    for (int t = 0; t < shares; t++) {
        float *cols = g->pointwise ? NULL : workspace + (size_t)t * scratch;
        const ck_packed_b wp = packed                ? *packed
                               : pass == CONV_FORWARD ? ck_pack_b(1, 0, g->kkc, O, w, O)
                                                      : ck_pack_b(1, 1, O, g->kkc, w, O);
        for (int k = gr.count * t / shares; k < gr.count * (t + 1) / shares; k++) {
            int i0, i1;
            group_range(gr, k, &i0, &i1);
            if (pass == CONV_FORWARD) forward_group(p, g, in, &wp, b, activation, out, cols, i0, i1);
            else backward_data_group(p, g, in, &wp, out, cols, i0, i1);
        }
    });
}

/* The path of a forward or backward-data pass, on one screen: a batch smaller
 * than the core count (batch-1 inference) as one GEMM cut over the threads;
 * otherwise groups of whole images in parallel, each thread with its own
 * scratch; or, when not even one group's scratch fits, chunks of images. */
void ck_conv_gemm_batch(conv_pass pass, const ck_conv2d_params *p, const conv_geom *g,
                        const float *in, const float *w, const float *b, int activation,
                        float *out, float *workspace, size_t workspace_len, ck_conv2d_cache *cache) {
    const int nt = ck_threads();
    ck_groups gr = plan_groups(g, p->n);
    const size_t scratch = (size_t)gr.most * g->col_img;
    /* A forward with a cache on Axon's GEMM: w packed once, kept there. */
    ck_packed_b cached = {0};
    const ck_packed_b *wp = NULL;
    const int path = ck_gemm_get_path();
    if (pass == CONV_FORWARD && cache && path != CK_GEMM_BLAS) {
        int fill;
        float *d = conv_cache(cache, CONV_CACHE_GEMM, p,
                              ck_axon_packed_b_floats(path, g->kkc, p->o), &fill);
        if (d && fill) ck_axon_pack_b(path, 0, g->kkc, p->o, w, p->o, d);
        if (d) {
            cached = (ck_packed_b){path, 0, g->kkc, p->o, p->o, w, d};
            wp = &cached;
        }
    }
    if (pass == CONV_FORWARD && p->n < omp_get_num_procs() && (g->pointwise || workspace_len >= (size_t)p->n * g->col_img)) {
        forward_split(p, g, in, w, wp, b, activation, out, workspace, p->n);
        return;
    }
    if (g->pointwise) {
        run_groups(pass, p, g, gr, nt, in, w, wp, b, activation, out, workspace);
        return;
    }
    const size_t fit = workspace_len / scratch;
    if (fit >= 1) {
        const int threads = ck_imin(fit < (size_t)nt ? (int)fit : nt, gr.count);
        run_groups(pass, p, g, gr, threads, in, w, wp, b, activation, out, workspace);
    } else {
        /* Not even one group's scratch: chunks of as many images as fit,
         * each chunk's groups one after another in the workspace. */
        const int chunk = (int)(workspace_len / g->col_img);
        const size_t in_img = pass == CONV_FORWARD ? g->in_img : g->out_img;
        const size_t out_img = pass == CONV_FORWARD ? g->out_img : g->in_img;
        for (int n0 = 0; n0 < p->n; n0 += chunk)
            run_groups(pass, p, g, plan_groups(g, ck_imin(chunk, p->n - n0)), 1,
                       in + (size_t)n0 * in_img, w, wp, b, activation, out + (size_t)n0 * out_img,
                       workspace);
    }
}

/* dw = patchesᵀ·dz in the blocks ck_plan_gemm gives (the sizes and the core
 * count, never the thread count, so the bits do not depend on it). Wide
 * patches (kkc >= O): each block is a range of dw's rows, for which it builds
 * only its own columns of the patches. Narrow ones (the first layers: 25
 * columns for 32 filters): each block is a range of the batch's patch rows
 * summed into its own partial (block 0: dw), and dw = partial 0 + 1 + ...
 * in that order after. Either way a block goes a few hundred patch rows at
 * a time, built in its thread's scratch just before their product (pointwise:
 * x read in place), so patches are built once, by the core that reads them,
 * while still in its cache; the whole batch's patch matrix never exists. */
void ck_conv_gemm_backward_filter(const ck_conv2d_params *p, const conv_geom *g,
                                  const float *x, const float *dz, float *dw,
                                  float *workspace, size_t workspace_len) {
    static __thread ck_buffer partial_buf;
    const int O = p->o, kkc = g->kkc, R = g->m;
    const size_t size = (size_t)kkc * O;
    ck_gemm_plan pl = ck_plan_gemm(kkc, O, R);
    float *partials = NULL;
    if (!pl.by_rows && pl.nblocks > 1) {
        partials = ck_buffer_grow(&partial_buf, (pl.nblocks - 1) * size);
        if (!partials) pl.nblocks = 1; /* no memory for them: one block */
    }
    const int width = pl.by_rows ? pl.bs : kkc; /* patch columns a block builds */
    /* Patch rows per product: a scratch of about CK_GROUP_FLOATS, at least 64
     * rows (the GEMM's k), at most one image's (the least workspace there is). */
    const int rows =
        g->pointwise ? R : ck_imin(ck_imax(64, CK_GROUP_FLOATS / width), g->oh * g->ow);
    const size_t slot = g->pointwise ? 0 : (size_t)rows * width;
    const size_t fit = slot ? workspace_len / slot : (size_t)ck_threads();
    const int nt = fit < (size_t)ck_threads() ? (int)fit : ck_threads();
    CK_PAR_FOR_N(nt, nt > 1 && pl.nblocks > 1,
    for (int blk = 0; blk < pl.nblocks; blk++) {
        int a0 = 0, a1 = kkc, r0 = 0, r1 = R;
        float *out = dw;
        if (pl.by_rows) {
            ck_plan_span(&pl, blk, &a0, &a1);
            out = dw + (size_t)a0 * O;
        } else {
            r0 = (int)((long long)R * blk / pl.nblocks);
            r1 = (int)((long long)R * (blk + 1) / pl.nblocks);
            if (blk > 0) out = partials + (blk - 1) * size;
            if (r1 == r0) memset(out, 0, sizeof(float) * size); /* fewer rows than blocks */
        }
        float *cols = workspace + (size_t)omp_get_thread_num() * slot;
        for (int r = r0; r < r1; r += rows) {
            const int k = ck_imin(rows, r1 - r);
            const float *a = x + (size_t)r * kkc + a0;
            if (!g->pointwise) {
                im2col_span(p, g, x, r, r + k, a0, a1, cols);
                a = cols;
            }
            ck_gemm_serial(1, 0, a1 - a0, O, k, 1.0f, a, g->pointwise ? kkc : a1 - a0,
                           dz + (size_t)r * O, O, r == r0 ? 0.0f : 1.0f, out, O);
        }
    });
    if (partials)
        CK_PAR_FOR(size >= (1 << 16),
        for (size_t e = 0; e < size; e++) {
            float v = dw[e];
            for (int b = 1; b < pl.nblocks; b++) v += partials[(b - 1) * size + e];
            dw[e] = v;
        });
}
