/*
 * conv.c — conv2d's entry points (NHWC input, HWIO filter, spec §1): the
 * parameters' checks and the choice of path, each on one screen.
 *
 *   forward          direct (conv_direct.c) when the input has few channels
 *                    and few filters (ck_conv_direct_forward_fits); Winograd
 *                    (conv_winograd.c) for stride-1 3×3, 5×5, 1×7, 7×1, 1×3
 *                    and 3×1 with 16 or more channels and filters;
 *                    otherwise im2col + GEMM over image groups
 *                    (conv_im2col.c);
 *   backward_data    Winograd for the same shapes with 64 or more tiles (a
 *                    forward convolution of dz with the turned filter, whose
 *                    U is made on every call), otherwise im2col + GEMM
 *                    (col2im of dz·wᵀ);
 *   backward_filter  direct for the same small layers when the workspace
 *                    holds its partial sums, otherwise im2col + GEMM in
 *                    blocks, each building only its own patch columns (wide
 *                    patches) or rows (narrow ones, into a partial sum).
 *
 * Workspace (floats): forward and backward_filter hold patches there,
 * backward_data patch gradients dz·wᵀ, a few images (backward_filter: a few
 * hundred patch rows) per thread at a time. All three run at full speed with
 * ck_conv2d_scratch_size floats (one group of images per core); more changes
 * nothing (the whole batch's im2col matrix, n·oh·ow·kh·kw·c, is the most any
 * pass can use). Less still works as long as it holds one image's matrix
 * (oh·ow·kh·kw·c): forward and backward_data then process the batch in chunks
 * of as many images as fit (results may differ in the last bits;
 * backward_filter's never do). A 1×1 stride-1 convolution needs no workspace:
 * x already is its im2col matrix.
 * The workspace is checked even when the direct or Winograd path needs none,
 * so the contract does not depend on which path runs (Winograd keeps its own
 * per-thread buffers, as the GEMM keeps its packing buffers).
 */
#define _POSIX_C_SOURCE 200112L /* posix_memalign under -std=c99 (make lib) */
#include <stdlib.h>
#include <string.h>
#include "conv.h"

int ck_conv_geometry(const ck_conv2d_params *p, conv_geom *g) {
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
    conv_geom g;
    CHECK(oh != NULL && ow != NULL);
    int st = ck_conv_geometry(p, &g);
    if (st != CK_OK) return st;
    *oh = g.oh;
    *ow = g.ow;
    return CK_OK;
}

/* Images per chunk for a workspace of len floats, 0 if not even one fits. */
static int chunk_images(const ck_conv2d_params *p, const conv_geom *g, size_t len) {
    if (g->pointwise) return p->n;
    size_t k = len / g->col_img;
    return k >= (size_t)p->n ? p->n : (int)k;
}

void ck_conv2d_cache_clear(ck_conv2d_cache *cache) {
    if (!cache) return;
    free(cache->data);
    memset(cache, 0, sizeof *cache);
}

float *conv_cache(ck_conv2d_cache *cache, int form, const ck_conv2d_params *p, size_t floats,
                  int *fill) {
    const int key[6] = {form, ck_gemm_get_path(), p->kh, p->kw, p->c, p->o};
    *fill = 0;
    if (cache->data && cache->floats == floats && memcmp(cache->key, key, sizeof key) == 0)
        return cache->data;
    ck_conv2d_cache_clear(cache);
    void *d = NULL;
    if (floats == 0 || posix_memalign(&d, 64, sizeof(float) * floats) != 0) return NULL;
    cache->data = d;
    cache->floats = floats;
    memcpy(cache->key, key, sizeof key);
    *fill = 1;
    return cache->data;
}

int ck_conv2d_forward_cached(const ck_conv2d_params *p, const float *x, const float *w,
                             const float *b, int activation, float *y, float *workspace,
                             size_t workspace_len, ck_conv2d_cache *cache) {
    conv_geom g;
    int st = ck_conv_geometry(p, &g);
    if (st != CK_OK) return st;
    CHECK(x != NULL && w != NULL && y != NULL);
    CHECK(ck_valid_act(activation));
    if (g.m == 0) return CK_OK; /* VALID with k > h: empty output */
    if (chunk_images(p, &g, workspace_len) == 0) return CK_ENOSPC;
    CHECK(g.pointwise || workspace != NULL);
    if (ck_conv_direct_forward_fits(p, &g))
        ck_conv_direct_forward(p, &g, x, w, b, activation, y);
    else if (!ck_conv_winograd_forward(p, &g, x, w, b, activation, y, cache))
        ck_conv_gemm_batch(CONV_FORWARD, p, &g, x, w, b, activation, y, workspace, workspace_len,
                           cache);
    return CK_OK;
}

int ck_conv2d_forward(const ck_conv2d_params *p, const float *x, const float *w, const float *b,
                      int activation, float *y, float *workspace, size_t workspace_len) {
    return ck_conv2d_forward_cached(p, x, w, b, activation, y, workspace, workspace_len, NULL);
}

int ck_conv2d_backward_data(const ck_conv2d_params *p, const float *dz,
                            const float *w, float *dx, float *workspace,
                            size_t workspace_len) {
    conv_geom g;
    int st = ck_conv_geometry(p, &g);
    if (st != CK_OK) return st;
    CHECK(dz != NULL && w != NULL && dx != NULL);
    if (g.m == 0) {
        /* No output, so nothing depends on x. */
        memset(dx, 0, sizeof(float) * g.in_img * p->n);
        return CK_OK;
    }
    if (chunk_images(p, &g, workspace_len) == 0) return CK_ENOSPC;
    CHECK(g.pointwise || workspace != NULL);
    if (!ck_conv_winograd_backward_data(p, &g, dz, w, dx))
        ck_conv_gemm_batch(CONV_BACKWARD_DATA, p, &g, dz, w, NULL, 0, dx, workspace, workspace_len,
                           NULL);
    return CK_OK;
}

int ck_conv2d_backward_filter(const ck_conv2d_params *p, const float *x,
                              const float *dz, float *dw, float *db,
                              float *workspace, size_t workspace_len) {
    conv_geom g;
    int st = ck_conv_geometry(p, &g);
    if (st != CK_OK) return st;
    CHECK(x != NULL && dz != NULL && dw != NULL);
    const int O = p->o;
    if (g.m == 0) {
        memset(dw, 0, sizeof(float) * (size_t)g.kkc * O);
        if (db) memset(db, 0, sizeof(float) * (size_t)O);
        return CK_OK;
    }
    if (chunk_images(p, &g, workspace_len) == 0) return CK_ENOSPC;
    CHECK(g.pointwise || workspace != NULL);
    if (!(ck_conv_direct_filter_fits(p, &g) &&
          ck_conv_direct_backward_filter(p, &g, x, dz, dw, workspace, workspace_len)))
        ck_conv_gemm_backward_filter(p, &g, x, dz, dw, workspace, workspace_len);
    if (db) return ck_sum_rows(g.m, O, dz, db);
    return CK_OK;
}
