/*
 * ckernels_reference.h — naive references of the fast kernels, for tests
 * only (the CKernelsReference target; not part of libckernels). Direct loops
 * from the definitions with double accumulation; arguments, validation and
 * aliasing as the fast kernels' in ckernels.h.
 */
#ifndef CKERNELS_REFERENCE_H
#define CKERNELS_REFERENCE_H

#include "ckernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* conv2d (spec §1.3, §1.5). In the backward, dx, dw and db may each be NULL;
 * those given are overwritten. */
int ck_conv2d_forward_naive(const ck_conv2d_params *p, const float *x,
                            const float *w, const float *b, float *y);
int ck_conv2d_backward_naive(const ck_conv2d_params *p, const float *x,
                             const float *w, const float *dy, float *dx,
                             float *dw, float *db);

/* Depthwise conv2d, depth multiplier 1; the backward as conv2d's. */
int ck_depthwise_conv2d_forward_naive(const ck_conv2d_params *p, const float *x,
                                      const float *w, const float *b, float *y);
int ck_depthwise_conv2d_backward_naive(const ck_conv2d_params *p, const float *x,
                                       const float *w, const float *dz, float *dx,
                                       float *dw, float *db);

/* Batch normalization per channel in double (two-pass variance). */
int ck_batchnorm_forward_naive(int rows, int c, const float *x, const float *gamma,
                               const float *beta, float epsilon, float *y,
                               float *mean, float *var, float *inv_std);
int ck_batchnorm_backward_naive(int rows, int c, const float *x, const float *gamma,
                                const float *mean, const float *inv_std,
                                const float *dy, float *dx, float *dgamma,
                                float *dbeta);
int ck_batchnorm_moments_naive(int rows, int c, const float *x, float *mean, float *mean_lo,
                               float *m2);
int ck_batchnorm_normalize_naive(int rows, int c, const float *x, const float *gamma,
                                 const float *beta, const float *mean, const float *mean_lo,
                                 const float *var, float epsilon, float *y, float *inv_std);
int ck_batchnorm_backward_dx_naive(int rows, int c, double n, const float *x, const float *gamma,
                                   const float *mean, const float *inv_std, const float *dgamma,
                                   const float *dbeta, const float *dy, float *dx);

#ifdef __cplusplus
}
#endif
#endif /* CKERNELS_REFERENCE_H */
