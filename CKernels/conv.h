/*
 * conv.h — what the convolution sources share (not part of the public API):
 * conv.c validates, chooses the path and holds the entry points;
 * conv_im2col.c is the im2col + GEMM path (image groups, col2im);
 * conv_direct.c the direct forms for few input channels; conv_winograd.c
 * the stride-1 forward and data gradient by Winograd's minimal filtering.
 */
#ifndef CKERNELS_CONV_H
#define CKERNELS_CONV_H

#include <stddef.h>
#include "internal.h"

typedef struct {
    int oh, ow, pt, pl;
    int kkc;          /* kh·kw·c: columns of the im2col matrix      */
    int m;            /* n·oh·ow: rows of the im2col matrix          */
    size_t in_img;    /* h·w·c floats per input image                */
    size_t out_img;   /* oh·ow·o floats per output image             */
    size_t col_img;   /* oh·ow·kh·kw·c floats of im2col per image    */
    int pointwise;    /* 1×1, stride 1: x is its own im2col matrix   */
} conv_geom;

/* Validates p and fills g (conv.c). Sizes must fit BLAS's int dimensions. */
int ck_conv_geometry(const ck_conv2d_params *p, conv_geom *g);

/* Room for `floats` prepared floats in the cache, for key (form, GEMM path,
 * kh, kw, c, o; form CONV_CACHE_GEMM or CONV_CACHE_WINOGRAD): *fill is 0
 * when it already holds them, 1 when the caller must write them (it was
 * empty or held another key). NULL if it cannot be allocated (conv.c). */
enum { CONV_CACHE_GEMM = 1, CONV_CACHE_WINOGRAD = 2 };
float *conv_cache(ck_conv2d_cache *cache, int form, const ck_conv2d_params *p, size_t floats,
                  int *fill);

/* Parallel loops run only when the job is big enough to repay the fork. */
static inline int conv_want_parallel(double work) { return work >= (1 << 17); }

/* ------------------------------------------------ im2col + GEMM (conv_im2col.c) */

typedef enum { CONV_FORWARD, CONV_BACKWARD_DATA } conv_pass;

/* Forward (in = x, out = y) or backward-data (in = dz, out = dx, b NULL) of
 * the whole batch with the workspace given (at least one image's patches).
 * A forward with a cache takes w's packed copy from it (conv_cache). */
void ck_conv_gemm_batch(conv_pass pass, const ck_conv2d_params *p, const conv_geom *g,
                        const float *in, const float *w, const float *b, int activation,
                        float *out, float *workspace, size_t workspace_len, ck_conv2d_cache *cache);

/* dw = patchesᵀ·dz, with the workspace given (at least one image's patches). */
void ck_conv_gemm_backward_filter(const ck_conv2d_params *p, const conv_geom *g,
                                  const float *x, const float *dz, float *dw,
                                  float *workspace, size_t workspace_len);

/* -------------------------------------------- Winograd (conv_winograd.c) */

/* The forward through Winograd (stride 1, a 3×3, 5×5, 1×7, 7×1, 1×3 or 3×1
 * filter, at least 16 input channels and 16 filters, at least 64 tiles of
 * output), and the data gradient (for stride 1 a forward convolution of dz
 * with the turned filter, taken when that one fits too). 0, nothing written,
 * when the parameters do not fit or its buffers cannot be allocated: then the
 * caller takes im2col + GEMM. */
int ck_conv_winograd_forward(const ck_conv2d_params *p, const conv_geom *g, const float *x,
                             const float *w, const float *b, int act, float *y,
                             ck_conv2d_cache *cache);
int ck_conv_winograd_backward_data(const ck_conv2d_params *p, const conv_geom *g,
                                   const float *dz, const float *w, float *dx);

/* ------------------------- direct (conv_direct.c, conv_direct_filter.c) */

#define CK_DIRECT_MAX_W 4096 /* floats of lane-padded filter kept on the stack */
#define CK_C1_MAX_PAD 8192   /* floats of a bordered image kept on the stack */
typedef float ck_v8 __attribute__((vector_size(32)));

/* Whether one-channel images take the zero-bordered form, and the image xi
 * with its padding made explicit in buf (see conv_direct.c). */
int ck_conv_use_c1(const ck_conv2d_params *p, const conv_geom *g);
void ck_conv_c1_border(const ck_conv2d_params *p, const conv_geom *g, const float *xi, float *buf);
/* Whether the AVX-512 filter gradient of 9 to 16 filters without padding runs. */
int ck_conv_rows16_fits(const ck_conv2d_params *p, const conv_geom *g);

/* Whether the direct forward, and the direct filter gradient, take these
 * parameters (few input channels and filters; see conv_direct.c). */
int ck_conv_direct_forward_fits(const ck_conv2d_params *p, const conv_geom *g);
int ck_conv_direct_filter_fits(const ck_conv2d_params *p, const conv_geom *g);

void ck_conv_direct_forward(const ck_conv2d_params *p, const conv_geom *g, const float *x,
                            const float *w, const float *b, int act, float *y);
/* 0 when the workspace cannot hold the partial sums (then use the GEMM path). */
int ck_conv_direct_backward_filter(const ck_conv2d_params *p, const conv_geom *g,
                                   const float *x, const float *dz, float *dw, float *ws,
                                   size_t ws_len);

#endif /* CKERNELS_CONV_H */
