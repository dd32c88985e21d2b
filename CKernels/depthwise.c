/*
 * depthwise.c — depthwise 2-D convolution, depth multiplier 1, as
 * tf.nn.depthwise_conv2d: x [n,h,w,c], filter [kh,kw,c] (TF's [kh,kw,c,1]),
 *
 *   y[n,i,j,ch] = act(b[ch] + Σ_{p,q} x[n, i·sh − pt + p, j·sw − pl + q, ch] · w[p,q,ch]),
 *
 * with SAME/VALID geometry from ck_output_size (TF's padding split). The
 * parameters are ck_conv2d_params with o == c.
 *
 * Each channel is its own small convolution and channels are contiguous, so
 * every loop keeps the channel loop innermost: a pixel is a short list of taps
 * (offsets into the input and the filter), and a block of up to 64 channels
 * runs down that list in vector registers. The forward pass gathers over the
 * taps of an output pixel, the data gradient over the outputs that read an
 * input pixel (a gather too: no scatter, no races), both parallel over rows.
 * The filter gradient is parallel over channel groups: every channel's sum is
 * taken in the same order (image, output row, the row's pixels summed in
 * float, each row's sum added in double) whichever group and thread hold it,
 * so all three passes give the same bits on any thread count. Nothing is
 * allocated: tap lists and accumulators are bounded arrays on the stack.
 */
#include <string.h>
#include "internal.h"

#define DW_TAPS 32          /* taps per list; larger windows go in chunks      */
#define DW_STRIP 64         /* channels per filter-gradient strip (L1 sums)    */
#define DW_ACC 4096         /* doubles of filter-gradient sums per task        */
#define DW_PAR_MIN 32768.0  /* multiply-adds below which a call runs on one thread */

typedef float v8 __attribute__((vector_size(32), aligned(4))); /* unaligned loads */

typedef struct {
    int oh, ow, pt, pl;
    size_t in_img, out_img; /* floats per image of x and of y */
} dw_geom;

static int dw_geometry(const ck_conv2d_params *p, dw_geom *g) {
    CHECK(p != NULL);
    CHECK(p->n >= 1 && p->h >= 1 && p->w >= 1 && p->c >= 1);
    CHECK(p->kh >= 1 && p->kw >= 1 && p->o == p->c);
    CHECK(p->sh >= 1 && p->sw >= 1);
    int st = ck_output_size(p->h, p->kh, p->sh, p->padding, &g->oh, &g->pt);
    if (st != CK_OK) return st;
    st = ck_output_size(p->w, p->kw, p->sw, p->padding, &g->ow, &g->pl);
    if (st != CK_OK) return st;
    const double big = 4e18;
    CHECK((double)p->kh * p->kw <= 2147483647.0); /* tap indices are ints */
    CHECK((double)p->n * p->h * p->w * p->c <= big);
    CHECK((double)p->n * g->oh * g->ow * p->c <= big);
    CHECK((double)p->kh * p->kw * p->c <= big);
    g->in_img = (size_t)p->h * p->w * p->c;
    g->out_img = (size_t)g->oh * g->ow * p->c;
    return CK_OK;
}

static int want_parallel(double madds) { return madds >= DW_PAR_MIN; }

/* ------------------------------------------------------- tap-list gather */

/* A pixel's taps: out[ch] = init[ch] + Σ_t a[ao[t] + ch] · f[fo[t] + ch]. */
typedef struct {
    long ao[DW_TAPS], fo[DW_TAPS];
    int n;
} taps;

static inline v8 ld(const float *p) { return *(const v8 *)p; }

/* V vectors (8·V channels) of one pixel; V is a constant once inlined, so the
 * accumulators stay in registers. init NULL means zero. */
static inline __attribute__((always_inline)) void gather_block(
    int V, const float *a, const float *f, const taps *t, const float *init, float *out) {
    v8 acc[8];
    for (int v = 0; v < V; v++) acc[v] = init ? ld(init + 8 * v) : (v8){0, 0, 0, 0, 0, 0, 0, 0};
    for (int k = 0; k < t->n; k++) {
        const float *ap = a + t->ao[k], *fp = f + t->fo[k];
        for (int v = 0; v < V; v++) acc[v] += ld(ap + 8 * v) * ld(fp + 8 * v);
    }
    for (int v = 0; v < V; v++) *(v8 *)(out + 8 * v) = acc[v];
}

/* All C channels of one pixel: blocks of 64, then 32, 16, 8, then single
 * channels, each summing the taps in list order. */
static void gather(int C, const float *a, const float *f, const taps *t, const float *init,
                   float *out) {
    int c0 = 0;
#define BLOCK(V)                                                                              \
    gather_block(V, a + c0, f + c0, t, init ? init + c0 : NULL, out + c0), c0 += 8 * (V)
    for (; c0 + 64 <= C;) BLOCK(8);
    if (c0 + 32 <= C) BLOCK(4);
    if (c0 + 16 <= C) BLOCK(2);
    if (c0 + 8 <= C) BLOCK(1);
#undef BLOCK
    for (; c0 < C; c0++) {
        float s = init ? init[c0] : 0.0f;
        for (int k = 0; k < t->n; k++) s += a[t->ao[k] + c0] * f[t->fo[k] + c0];
        out[c0] = s;
    }
}

/* Appends a tap; a full list is summed into out (the first time on top of
 * *init, then on top of out itself) and emptied. */
static inline void push(taps *t, long ao, long fo, int C, const float *a, const float *f,
                        const float **init, float *out) {
    if (t->n == DW_TAPS) {
        gather(C, a, f, t, *init, out);
        *init = out;
        t->n = 0;
    }
    t->ao[t->n] = ao;
    t->fo[t->n] = fo;
    t->n++;
}

/* ------------------------------------------------------------- forward */

/* Output row q (image q / oh, row q % oh): each pixel's in-bounds taps, then
 * the activation over the finished row. */
static void forward_row(const ck_conv2d_params *p, const dw_geom *g, const float *x,
                        const float *w, const float *b, int act, float *y, long q) {
    const int C = p->c, W = p->w;
    const long n = q / g->oh, i = q % g->oh;
    const long r0 = i * p->sh - g->pt;
    const int p0 = r0 < 0 ? (int)-r0 : 0, p1 = r0 + p->kh > p->h ? (int)(p->h - r0) : p->kh;
    const float *xi = x + (size_t)n * g->in_img;
    float *yr = y + (size_t)q * g->ow * C;
    taps t;
    for (int j = 0; j < g->ow; j++) {
        const long t0 = (long)j * p->sw - g->pl;
        const int q0 = t0 < 0 ? (int)-t0 : 0, q1 = t0 + p->kw > W ? (int)(W - t0) : p->kw;
        const float *init = b;
        float *yo = yr + (size_t)j * C;
        t.n = 0;
        for (int pp = p0; pp < p1; pp++)
            for (int qq = q0; qq < q1; qq++)
                push(&t, ((r0 + pp) * W + t0 + qq) * C, ((long)pp * p->kw + qq) * C, C, xi, w,
                     &init, yo);
        gather(C, xi, w, &t, init, yo);
    }
    /* ReLU, ReLU6, sigmoid, tanh on the row just written (bias already in). */
    if (act != CK_ACT_NONE) ck_bias_act(yr, C, 0, g->ow, 0, C, NULL, act);
}

int ck_depthwise_conv2d_forward(const ck_conv2d_params *p, const float *x, const float *w,
                                const float *b, int activation, float *y) {
    dw_geom g;
    int st = dw_geometry(p, &g);
    if (st != CK_OK) return st;
    CHECK(x != NULL && w != NULL && y != NULL);
    CHECK(ck_valid_act(activation));
    if (g.oh == 0 || g.ow == 0) return CK_OK; /* VALID with k > h: empty output */
    const long rows = (long)p->n * g.oh;
    CK_PAR_FOR(want_parallel((double)g.out_img * p->n * p->kh * p->kw),
    for (long q = 0; q < rows; q++) forward_row(p, &g, x, w, b, activation, y, q););
    return CK_OK;
}

/* --------------------------------------------------------- data gradient */

/* Input row q: dx[n,r,t,ch] = Σ dz[n,i,j,ch]·w[pp,qq,ch] over the outputs
 * (i, j) whose window reads (r, t) through tap (pp, qq): r = i·sh − pt + pp. */
static void backward_data_row(const ck_conv2d_params *p, const dw_geom *g, const float *dz,
                              const float *w, float *dx, long q) {
    const int C = p->c;
    const long n = q / p->h, r = q % p->h;
    const float *dzi = dz + (size_t)n * g->out_img;
    float *dr = dx + (size_t)q * p->w * C;
    const long rp = r + g->pt;
    taps t;
    for (int col = 0; col < p->w; col++) {
        const long cp = (long)col + g->pl;
        const float *init = NULL;
        float *out = dr + (size_t)col * C;
        t.n = 0;
        /* taps pp ≡ rp (mod sh), i = (rp − pp)/sh decreasing; likewise columns */
        for (long pp = rp % p->sh; pp < p->kh; pp += p->sh) {
            const long i = (rp - pp) / p->sh;
            if (i < 0) break;
            if (i >= g->oh) continue;
            for (long qq = cp % p->sw; qq < p->kw; qq += p->sw) {
                const long j = (cp - qq) / p->sw;
                if (j < 0) break;
                if (j >= g->ow) continue;
                push(&t, (i * g->ow + j) * C, (pp * p->kw + qq) * C, C, dzi, w, &init, out);
            }
        }
        gather(C, dzi, w, &t, init, out);
    }
}

int ck_depthwise_conv2d_backward_data(const ck_conv2d_params *p, const float *dz,
                                      const float *w, float *dx) {
    dw_geom g;
    int st = dw_geometry(p, &g);
    if (st != CK_OK) return st;
    CHECK(dz != NULL && w != NULL && dx != NULL);
    if (g.oh == 0 || g.ow == 0) { /* no output reads x */
        memset(dx, 0, sizeof(float) * g.in_img * p->n);
        return CK_OK;
    }
    const long rows = (long)p->n * p->h;
    CK_PAR_FOR(want_parallel((double)g.out_img * p->n * p->kh * p->kw),
    for (long q = 0; q < rows; q++) backward_data_row(p, &g, dz, w, dx, q););
    return CK_OK;
}

/* ------------------------------------------------------- filter gradient */

/* ra += a ⊙ b over n floats, in explicit 8-lane vectors (the compiler's own
 * loop ran 32 at a time, leaving a 16-channel strip to its scalar tail). */
static inline void madd(float *restrict ra, const float *restrict a, const float *restrict b, int n) {
    int l = 0;
    for (; l + 8 <= n; l += 8) *(v8 *)(ra + l) += ld(a + l) * ld(b + l);
    for (; l < n; l++) ra[l] += a[l] * b[l];
}

/* dw for channels [c0, c1) and taps [k0, k1) (at most DW_TAPS), and db for
 * those channels when db is not NULL. The group's sums are doubles, kept in
 * acc as [tap][channel] with db's after the taps' (at most DW_ACC in all).
 * Per output row, 64-channel strips run one after another: each sums its
 * products in float in L1 (racc), pixel by pixel along the row with the
 * channel loop innermost, and adds those row sums into acc at the row's end.
 * A channel's order is thus fixed (rows in order, pixels in order within a
 * row) whatever group, strip or thread holds it. All strips of a row before
 * the next row: the row's pixels are read whole, not a slice per pass over
 * the batch (a gapped sweep that ran several times slower from DRAM). */
static void filter_group(const ck_conv2d_params *p, const dw_geom *g, const float *x,
                         const float *dz, int c0, int c1, int k0, int k1, float *dw, float *db) {
    const int C = p->c, KW = p->kw, cg = c1 - c0, nk = k1 - k0;
    double acc[DW_ACC];
    float racc[DW_TAPS + 1][DW_STRIP]; /* taps, then the bias sums */
    double *bacc = acc + (size_t)nk * cg;
    for (int k = 0; k < (nk + 1) * cg; k++) acc[k] = 0.0;
    const int pk0 = k0 / KW, pk1 = (k1 - 1) / KW + 1; /* filter rows the chunk touches */
    for (long n = 0; n < p->n; n++) {
        const float *xi = x + (size_t)n * g->in_img + c0;
        for (long i = 0; i < g->oh; i++) {
            const float *dr = dz + (size_t)n * g->out_img + (size_t)i * g->ow * C + c0;
            const long r0 = i * p->sh - g->pt;
            const int p0 = ck_imax(pk0, (int)-r0), p1 = ck_imin(pk1, (int)(p->h - r0));
            /* input rows first read by the next output row */
            const long nr0 = r0 + (p->kh > p->sh ? p->kh : p->sh);
            const long nr1 = r0 + p->sh + p->kh < p->h ? r0 + p->sh + p->kh : p->h;
            for (int s0 = 0; s0 < cg; s0 += DW_STRIP) {
                const int sn = ck_imin(DW_STRIP, cg - s0);
                for (int k = 0; k <= nk; k++)
                    for (int l = 0; l < sn; l++) racc[k][l] = 0.0f;
                for (int j = 0; j < g->ow; j++) {
                    const float *d = dr + (size_t)j * C + s0;
                    const long t0 = (long)j * p->sw - g->pl;
                    const int q0 = t0 < 0 ? (int)-t0 : 0, q1 = t0 + KW > p->w ? (int)(p->w - t0) : KW;
                    /* Fetch the next output row's new input pixels and its dz
                     * pixel while this row runs: a strip reads a slice of each
                     * pixel, which the hardware prefetchers follow poorly. */
                    const long te = (long)(j + 1) * p->sw < p->w ? (long)(j + 1) * p->sw : p->w;
                    for (long rr = nr0; rr < nr1; rr++)
                        for (long t = (long)j * p->sw; t < te; t++)
                            for (int l = 0; l < sn; l += 16)
                                __builtin_prefetch(xi + ((size_t)rr * p->w + t) * C + s0 + l);
                    if (i + 1 < g->oh)
                        for (int l = 0; l < sn; l += 16) __builtin_prefetch(d + (size_t)g->ow * C + l);
                    for (int pp = p0; pp < p1; pp++) {
                        const int qa = ck_imax(q0, k0 - pp * KW), qb = ck_imin(q1, k1 - pp * KW);
                        for (int qq = qa; qq < qb; qq++)
                            madd(racc[pp * KW + qq - k0],
                                 xi + ((size_t)(r0 + pp) * p->w + t0 + qq) * C + s0, d, sn);
                    }
                    if (db) {
                        float *restrict rb = racc[nk];
                        for (int l = 0; l < sn; l++) rb[l] += d[l];
                    }
                }
                for (int k = 0; k <= nk; k++) {
                    double *restrict a = acc + (size_t)k * cg + s0;
                    for (int l = 0; l < sn; l++) a[l] += racc[k][l];
                }
            }
        }
    }
    for (int k = 0; k < nk; k++)
        for (int l = 0; l < cg; l++) dw[(size_t)(k0 + k) * C + c0 + l] = (float)acc[(size_t)k * cg + l];
    if (db)
        for (int l = 0; l < cg; l++) db[c0 + l] = (float)bacc[l];
}

int ck_depthwise_conv2d_backward_filter(const ck_conv2d_params *p, const float *x,
                                        const float *dz, float *dw, float *db) {
    dw_geom g;
    int st = dw_geometry(p, &g);
    if (st != CK_OK) return st;
    CHECK(x != NULL && dz != NULL && dw != NULL);
    const int C = p->c, ktot = p->kh * p->kw;
    if (g.oh == 0 || g.ow == 0) {
        memset(dw, 0, sizeof(float) * (size_t)ktot * C);
        if (db) memset(db, 0, sizeof(float) * (size_t)C);
        return CK_OK;
    }
    /* Groups of whole 8-channel blocks, about one per thread, as wide as acc
     * allows for the chunk's taps. The bits do not depend on the groups. */
    const int nchunks = (ktot + DW_TAPS - 1) / DW_TAPS;
    const int nk = ktot < DW_TAPS ? ktot : DW_TAPS;
    const int nt = ck_par_ok() ? ck_threads() : 1;
    int group = (C + nt - 1) / nt;
    group = ck_imin((group + 7) / 8 * 8, DW_ACC / (nk + 1) / 8 * 8);
    group = ck_imax(group, 8);
    const int ngroups = (C + group - 1) / group, tasks = ngroups * nchunks;
    CK_PAR_FOR(tasks > 1 && want_parallel((double)g.out_img * p->n * ktot),
    for (int t = 0; t < tasks; t++) {
        const int gi = t / nchunks, ch = t % nchunks;
        const int c0 = gi * group, k0 = ch * DW_TAPS;
        filter_group(p, &g, x, dz, c0, ck_imin(C, c0 + group), k0, ck_imin(ktot, k0 + DW_TAPS),
                     dw, ch == 0 ? db : NULL);
    });
    return CK_OK;
}
