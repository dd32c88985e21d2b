/*
 * ckernels.h — the whole C API of Axon's kernel library.
 *
 * Conventions (the math of every kernel: docs/math.md in the repository):
 *  - float32, row-major. Images NHWC, convolution filters HWIO.
 *  - Pure functions over caller-owned buffers. Nothing allocates inside a
 *    kernel; scratch memory is passed in, sized by a *_workspace_size or
 *    *_scratch_size query (counted in floats).
 *  - Every entry point that takes sizes returns a ck_status: CK_OK, or an error
 *    for a bad argument (never a crash). Output buffers are untouched on error.
 *  - Threading: all parallelism is OpenMP; OpenBLAS (or Axon's own GEMM, see
 *    ck_gemm_path) is kept single-threaded and is called once per OpenMP
 *    thread on a block of rows (see gemm.c for why).
 *    Results are bitwise reproducible for a fixed thread count.
 *  - Randomness is counter-based (seed, counter) so a result does not depend
 *    on the thread count.
 */
#ifndef CKERNELS_H
#define CKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ status */

typedef enum {
    CK_OK = 0,
    CK_EINVAL = 1,   /* a size, stride, enum or pointer argument is invalid   */
    CK_ENOSPC = 2,   /* the workspace passed in is smaller than required       */
    CK_EIO = 3,      /* a file could not be read or written (file helpers)     */
    CK_EFORMAT = 4,  /* a file's content is malformed (file helpers)           */
} ck_status;

/* A short static English description of a status code. */
const char *ck_status_string(int status);

/* ------------------------------------------------------------- threading */

/* Sets the number of threads used by every kernel (OpenMP and OpenBLAS
 * together). n <= 0 selects the number of available cores. n above
 * ck_max_threads() is CK_EINVAL and changes nothing (a typo such as 100000
 * must not start that many threads). */
int ck_set_num_threads(int n);
/* The number of threads kernels currently use. */
int ck_get_num_threads(void);
/* The largest thread count ck_set_num_threads accepts: 4 per available core,
 * at most 256 (but never fewer than the cores). OMP_NUM_THREADS above it is
 * cut down to it. */
int ck_max_threads(void);

/* ------------------------------------------------------------------ enums */

typedef enum { CK_PAD_VALID = 0, CK_PAD_SAME = 1 } ck_padding;

typedef enum {
    CK_ACT_NONE = 0,     /* identity                        */
    CK_ACT_RELU = 1,     /* max(x, 0); relu'(0) = 0          */
    CK_ACT_SIGMOID = 2,  /* 1 / (1 + e^-x)                  */
    CK_ACT_TANH = 3,     /* tanh x                          */
    CK_ACT_RELU6 = 4,    /* min(max(x, 0), 6); relu6' = 1 on (0, 6) only */
} ck_activation;

/* ------------------------------------------------------------------ GEMM */

/* C = alpha * op(A) * op(B) + beta * C, row-major, op(X) = X or X^T.
 * op(A) is m x k, op(B) is k x n, C is m x n; lda/ldb/ldc are row strides.
 * Threaded by splitting C into row (or column) blocks across OpenMP threads;
 * the cut depends on the sizes only, so results are bitwise identical for any
 * thread count. Inside an OpenMP parallel region it runs on the calling thread. */
int ck_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha,
             const float *a, int lda, const float *b, int ldb, float beta,
             float *c, int ldc);

/* Which code multiplies matrices (ck_sgemm and every layer's products).
 * At load Axon compares the core OpenBLAS chose (openblas_get_corename) with
 * what the CPU supports (cpuid): when OpenBLAS runs kernels for an older ISA
 * than the CPU has (Debian's 0.3.21 falls back to its SSE "Prescott" kernels
 * on CPUs it does not know), Axon's own packed AVX2+FMA or AVX-512 kernels
 * run instead; on AVX-512 CPUs Axon's AVX-512 kernel always runs (it measured
 * faster than OpenBLAS's AVX-512 kernels on the models' products). The
 * environment variable AXON_GEMM=blas|axon forces either; AXON_GEMM=avx2
 * forces Axon's AVX2 kernel (an AVX2 machine's path, for tests on AVX-512 CPUs). */
typedef enum {
    CK_GEMM_AUTO = -1,   /* ck_gemm_set_path only: back to the choice made at load */
    CK_GEMM_BLAS = 0,    /* OpenBLAS cblas_sgemm, single-threaded per block */
    CK_GEMM_AVX2 = 1,    /* Axon's 6x16 AVX2+FMA micro-kernel               */
    CK_GEMM_AVX512 = 2,  /* Axon's 8x32 AVX-512 micro-kernel                */
} ck_gemm_path;

/* The GEMM path in use (a ck_gemm_path, never CK_GEMM_AUTO). */
int ck_gemm_get_path(void);
/* Forces a GEMM path for the whole process (benchmarks, tests), or
 * CK_GEMM_AUTO for the automatic choice. CK_EINVAL if the CPU cannot run it. */
int ck_gemm_set_path(int path);
/* Whether this CPU (and OS) can run the path: 1 or 0. */
int ck_gemm_path_supported(int path);

/* ck_sgemm on a given path, whatever the process uses (tests and benchmarks
 * compare the paths side by side); CK_EINVAL if the CPU cannot run it. */
int ck_sgemm_on(int path, int trans_a, int trans_b, int m, int n, int k, float alpha,
                const float *a, int lda, const float *b, int ldb, float beta,
                float *c, int ldc);
/* The same product on one thread with op(B) packed once beforehand, the way
 * the LSTM reuses its recurrent matrix at every step (tests check it against
 * ck_sgemm_on: the same bits for m > 1). On the BLAS path nothing is packed. */
int ck_sgemm_prepacked_on(int path, int trans_a, int trans_b, int m, int n, int k, float alpha,
                          const float *a, int lda, const float *b, int ldb, float beta,
                          float *c, int ldc);

/* The instruction set of Axon's other kernels. Every kernel runs on AVX2+FMA
 * (the x86-64-v3 baseline the library is compiled for); those that measured
 * faster with AVX-512 (the random streams of dropout and ck_random_uniform,
 * whose generator needs 64-bit multiplies: ~3x) also have an AVX-512
 * version, chosen once at load where the CPU and OS support it. The
 * environment variable AXON_ISA=avx2 forces the baseline. Both versions give
 * the same bits. tools/isa measures every kernel both ways. */
typedef enum {
    CK_ISA_AUTO = -1,    /* ck_isa_set only: back to the choice made at load */
    CK_ISA_AVX2 = 0,
    CK_ISA_AVX512 = 1,
} ck_isa;

/* The ISA in use (a ck_isa, never CK_ISA_AUTO). */
int ck_isa_get(void);
/* Forces an ISA for the whole process (tests, benchmarks), or CK_ISA_AUTO;
 * CK_EINVAL if the CPU cannot run it. */
int ck_isa_set(int isa);
/* Whether this CPU (and OS) can run the ISA: 1 or 0. */
int ck_isa_supported(int isa);

/* One line describing the machine, for benchmark reports: CPU model, cores,
 * the ISA Axon's kernels use, and the GEMM path (with OpenBLAS's core name),
 * e.g. "AMD EPYC, 2 cores, AVX-512, GEMM: Axon AVX-512 kernels (OpenBLAS core
 * Prescott)". Writes at most size bytes including the terminating NUL
 * (truncating); returns CK_EINVAL if buf is NULL or size is 0. */
int ck_machine_info(char *buf, size_t size);

/* ------------------------------------------------------------ geometry */

/* Output length and leading padding of one spatial axis (spec §1.2):
 * input length `in`, window `k`, stride `s`, padding CK_PAD_*.
 * VALID with k > in gives *out = 0. */
int ck_output_size(int in, int k, int s, int padding, int *out, int *pad_before);

/* ----------------------------------------------------------------- dense */

/* y[n, out] = act(x[n, in] · w[in, out] + b[out]); b may be NULL. */
int ck_dense_forward(int n, int in, int out, const float *x, const float *w,
                     const float *b, int activation, float *y);

/* Given dz = ∂L/∂(pre-activation) [n, out] (apply ck_activation_backward
 * first), computes dx [n, in], dw [in, out] and db [out], each skipped when
 * NULL. dw and db are overwritten, not accumulated. */
int ck_dense_backward(int n, int in, int out, const float *x, const float *w,
                      const float *dz, float *dx, float *dw, float *db);

/* The kernel's gradient xᵀ·dz applied to w by `rule` where it is made, never
 * stored whole: each thread makes its rows of it a few at a time in a scratch
 * that stays in cache and updates the same rows of w and the rule's slots
 * from there. The same bits as dw from ck_dense_backward, then
 * ck_update_apply; call it after the dx that needs the old w. */
struct ck_update_rule; /* below, with the optimizers */
int ck_dense_update_kernel(int n, int in, int out, const float *x, const float *dz,
                           float *w, const struct ck_update_rule *rule);

/* ------------------------------------------------------------ conv2d */

typedef struct {
    int n, h, w, c;  /* input  [n, h, w, c]                      */
    int kh, kw, o;   /* filter [kh, kw, c, o]                    */
    int sh, sw;      /* strides, >= 1                            */
    int padding;     /* CK_PAD_VALID or CK_PAD_SAME              */
} ck_conv2d_params;

/* Output height/width for the parameters; fails on invalid parameters. */
int ck_conv2d_output_shape(const ck_conv2d_params *p, int *oh, int *ow);

/* Scratch floats with which forward, backward_data and backward_filter run at
 * full speed: one group of images per core (0 for a 1×1 stride-1 convolution,
 * an empty output or invalid parameters). More changes no result: the most
 * any pass can use is the whole batch's im2col matrix, n·oh·ow·kh·kw·c floats.
 * A workspace holding one image's matrix (oh·ow·kh·kw·c) works too, the batch
 * then going in smaller chunks (forward and backward_data results may differ
 * in the last bits; backward_filter's do not); less than that is CK_ENOSPC. */
size_t ck_conv2d_scratch_size(const ck_conv2d_params *p);

/* im2col of the whole batch: cols [(n·oh·ow), (kh·kw·c)], zeros for padding. */
int ck_im2col(const ck_conv2d_params *p, const float *x, float *cols);
/* col2im: dx [n,h,w,c] = Σ of overlapping cols (dx is overwritten). */
int ck_col2im(const ck_conv2d_params *p, const float *cols, float *dx);

/* y [n, oh, ow, o] = act(conv(x, w) + b); b may be NULL. An empty output
 * (VALID with k > h) returns CK_OK and writes nothing. */
int ck_conv2d_forward(const ck_conv2d_params *p, const float *x,
                      const float *w, const float *b, int activation,
                      float *y, float *workspace, size_t workspace_len);

/* A convolution's filter prepared for the forward pass (Winograd's
 * transformed filters, or the GEMM's packed copy of w), kept by the caller
 * between inference calls, where the filter does not change: at batch 1,
 * preparing Inception-v3's filters on every call was a quarter of its time.
 * Zero-initialise it; ck_conv2d_forward_cached fills it on first use and
 * reuses it while the filter shape and GEMM path match. The caller must call
 * ck_conv2d_cache_clear (which frees it) whenever w's values change, and
 * before dropping it. */
typedef struct {
    int key[6];    /* what it holds: form, GEMM path, kh, kw, c, o */
    float *data;   /* NULL when empty */
    size_t floats;
} ck_conv2d_cache;
void ck_conv2d_cache_clear(ck_conv2d_cache *cache);
/* ck_conv2d_forward with the filter prepared once in cache (NULL: prepared
 * for this call only, as ck_conv2d_forward does). The same results. */
int ck_conv2d_forward_cached(const ck_conv2d_params *p, const float *x, const float *w,
                             const float *b, int activation, float *y, float *workspace,
                             size_t workspace_len, ck_conv2d_cache *cache);

/* dx [n,h,w,c] from dz [n,oh,ow,o] (gradient w.r.t. pre-activation). */
int ck_conv2d_backward_data(const ck_conv2d_params *p, const float *dz,
                            const float *w, float *dx, float *workspace,
                            size_t workspace_len);

/* dw [kh,kw,c,o] and db [o] (db may be NULL), overwritten. */
int ck_conv2d_backward_filter(const ck_conv2d_params *p, const float *x,
                              const float *dz, float *dw, float *db,
                              float *workspace, size_t workspace_len);

/* ---------------------------------------------------- depthwise conv2d */

/* Depthwise convolution, depth multiplier 1 (tf.nn.depthwise_conv2d): each
 * channel convolved with its own kh×kw filter. Parameters as conv2d with
 * p->o == p->c (CK_EINVAL otherwise); filter w [kh, kw, c] (TF's
 * [kh, kw, c, 1]); x [n, h, w, c]; y [n, oh, ow, c] with oh, ow and the
 * padding split of ck_output_size (ck_conv2d_output_shape gives them). No
 * workspace. Results are bitwise identical on any thread count. */

/* y = act(depthwise(x, w) + b); b [c] may be NULL; activation CK_ACT_*,
 * applied after the bias. An empty output (VALID with k > h) returns CK_OK
 * and writes nothing. x and y must not overlap. */
int ck_depthwise_conv2d_forward(const ck_conv2d_params *p, const float *x,
                                const float *w, const float *b, int activation,
                                float *y);

/* dx [n, h, w, c] (overwritten) from dz [n, oh, ow, c], the gradient with
 * respect to the pre-activation output (apply ck_activation_backward first). */
int ck_depthwise_conv2d_backward_data(const ck_conv2d_params *p, const float *dz,
                                      const float *w, float *dx);

/* dw [kh, kw, c] and db [c] (db may be NULL), overwritten, from x and dz. */
int ck_depthwise_conv2d_backward_filter(const ck_conv2d_params *p, const float *x,
                                        const float *dz, float *dw, float *db);

/* ---------------------------------------------------------- zero padding */

/* y [n, h+top+bottom, w+left+right, c] = x [n, h, w, c] with zeros around
 * (tf.pad / ZeroPadding2D on H and W). Pads >= 0; x and y must not overlap. */
int ck_pad2d_forward(int n, int h, int w, int c, int top, int bottom, int left,
                     int right, const float *x, float *y);
/* dx [n, h, w, c] (overwritten) = the interior of dy [n, h+top+bottom,
 * w+left+right, c]; the same sizes and pads as the forward call. */
int ck_pad2d_backward(int n, int h, int w, int c, int top, int bottom, int left,
                      int right, const float *dy, float *dx);

/* rows × width floats from src (rows lds floats apart) to dst (rows ldd
 * apart), in parallel when large: Concatenate's forward (each input into its
 * columns of the output) and gradient (back out of them). src and dst must
 * not overlap. */
int ck_copy_rows(long rows, long width, const float *src, long lds, float *dst, long ldd);

/* ------------------------------------------------------------ pooling */

typedef struct {
    int n, h, w, c;  /* input [n, h, w, c]            */
    int kh, kw;      /* window                        */
    int sh, sw;      /* strides, >= 1                 */
    int padding;     /* CK_PAD_VALID or CK_PAD_SAME   */
} ck_pool2d_params;

int ck_pool2d_output_shape(const ck_pool2d_params *p, int *oh, int *ow);

/* Max pooling. argmax [n,oh,ow,c] (may be NULL) receives the flat input index
 * (within the whole x) of the first maximal in-bounds cell. */
int ck_maxpool2d_forward(const ck_pool2d_params *p, const float *x, float *y,
                         int32_t *argmax);
/* dx (overwritten) = dy routed through argmax/switches; an index < 0 routes
 * nothing. Used by max and stochastic pooling. */
int ck_pool2d_route_backward(const ck_pool2d_params *p, const float *dy,
                             const int32_t *index, float *dx);

/* Average pooling; the divisor counts in-bounds cells only (spec §2.2). */
int ck_avgpool2d_forward(const ck_pool2d_params *p, const float *x, float *y);
int ck_avgpool2d_backward(const ck_pool2d_params *p, const float *dy, float *dx);

/* Global average pooling: y [n, c] = mean of x [n, hw, c] over its hw
 * positions (hw = h·w of an NHWC batch), summed in double. */
int ck_global_avgpool_forward(int n, int hw, int c, const float *x, float *y);
/* dx [n, hw, c] (overwritten) = dy [n, c] / hw at every position. */
int ck_global_avgpool_backward(int n, int hw, int c, const float *dy, float *dx);

/* Stochastic pooling, training: u [n,oh,ow,c] holds one uniform draw in [0,1)
 * per window; switches [n,oh,ow,c] get the sampled flat index, -1 for an
 * all-zero window (spec §3.1). */
int ck_stochpool2d_forward_train(const ck_pool2d_params *p, const float *x,
                                 const float *u, float *y, int32_t *switches);
/* Stochastic pooling, inference: y = Σ a_i² / Σ a_i, 0 for an all-zero window. */
int ck_stochpool2d_forward_infer(const ck_pool2d_params *p, const float *x,
                                 float *y);

/* ------------------------------------------------- batch normalization */

/* Batch normalization over the last axis of x viewed as [rows, c] (rows =
 * n·h·w for NHWC), as tf.keras.layers.BatchNormalization:
 *   y = gamma·(x − mean)·inv_std + beta,  inv_std = 1/sqrt(var + epsilon),
 * var the BIASED batch variance (divided by rows). gamma [c] may be NULL
 * (ones), beta [c] may be NULL (zeros); epsilon >= 0 and finite. Sums are in
 * double, over fixed row blocks added in a fixed order: the same bits on any
 * thread count. */

/* Training: the batch statistics mean, var (biased) and inv_std [c] are
 * written, then y [rows, c]. y may alias x. (Moving averages are the
 * caller's; TF's fused kernel feeds them the unbiased var·rows/(rows−1).) */
int ck_batchnorm_forward_train(int rows, int c, const float *x, const float *gamma,
                               const float *beta, float epsilon, float *y,
                               float *mean, float *var, float *inv_std);
/* Inference: the same formula with given statistics mean, var [c] (the
 * moving averages). y may alias x. */
int ck_batchnorm_forward_infer(int rows, int c, const float *x, const float *gamma,
                               const float *beta, const float *mean,
                               const float *var, float epsilon, float *y);
/* The statistics pass of ck_batchnorm_forward_train alone, for a caller that
 * combines the moments of several shards of a batch (synchronized BatchNorm):
 * per channel, the mean [c] to twice float precision (mean + mean_lo, mean_lo
 * may be NULL) and m2 [c] = Σ_rows (x − mean)² (so var = m2/rows). */
int ck_batchnorm_moments(int rows, int c, const float *x, float *mean, float *mean_lo,
                         float *m2);
/* The normalising pass with given statistics (inference's, and a synchronized
 * batch's): mean + mean_lo (mean_lo may be NULL: zeros; a channel whose mean
 * is far larger than its spread keeps its digits with it) and var [c]. y may
 * alias x. inv_std [c], if not NULL, receives the 1/sqrt(var + epsilon) used. */
int ck_batchnorm_normalize(int rows, int c, const float *x, const float *gamma, const float *beta,
                           const float *mean, const float *mean_lo, const float *var,
                           float epsilon, float *y, float *inv_std);
/* Training-mode backward (the statistics depend on x), with mean and inv_std
 * from ck_batchnorm_forward_train and x̂ = (x − mean)·inv_std:
 *   dbeta = Σ_rows dy,  dgamma = Σ_rows dy·x̂,
 *   dx = gamma·inv_std/rows · (rows·dy − dbeta − x̂·dgamma).
 * gamma may be NULL (ones). dx [rows, c], dgamma and dbeta [c] may each be
 * NULL (not computed); those given are overwritten. dx may alias dy. */
int ck_batchnorm_backward(int rows, int c, const float *x, const float *gamma,
                          const float *mean, const float *inv_std, const float *dy,
                          float *dx, float *dgamma, float *dbeta);
/* dx alone from given sums: dx = gamma·inv_std/n · (n·dy − dbeta − x̂·dgamma)
 * for this shard's rows of a batch of n >= rows rows whose statistics (mean,
 * inv_std) and sums dgamma, dbeta [c] are the whole batch's (synchronized
 * BatchNorm: the shards' sums from ck_batchnorm_backward, added). gamma may
 * be NULL (ones). dx may alias dy. */
int ck_batchnorm_backward_dx(int rows, int c, double n, const float *x, const float *gamma,
                             const float *mean, const float *inv_std, const float *dgamma,
                             const float *dbeta, const float *dy, float *dx);

/* ----------------------------------------------------- random numbers */

/* out[i] = uniform [0,1) draw number (counter + i) of stream `seed`.
 * Counter-based: independent of thread count and of how a range is split. */
int ck_random_uniform(uint64_t seed, uint64_t counter, float *out, size_t n);

/* ------------------------------------------------------ activations */

/* y = act(x) elementwise, n elements; x and y may alias. */
int ck_activation_forward(int activation, const float *x, float *y, size_t n);
/* dx = dy ⊙ act'(·) computed from the forward OUTPUT y; dx may alias dy. */
int ck_activation_backward(int activation, const float *y, const float *dy,
                           float *dx, size_t n);

/* Row-wise stable softmax over [rows, cols]; y may alias x. */
int ck_softmax_forward(int rows, int cols, const float *x, float *y);
/* dx = y ⊙ (dy − Σ dy·y) row-wise. */
int ck_softmax_backward(int rows, int cols, const float *y, const float *dy,
                        float *dx);

/* --------------------------------------------------------------- losses */

/* Per-row softmax cross-entropy with logits [rows, k] and soft labels
 * [rows, k]: loss[rows] (may be NULL); dlogits = scale·(softmax·Σz − z)
 * (may be NULL). */
int ck_softmax_cross_entropy(int rows, int k, const float *logits,
                             const float *labels, float *loss, float scale,
                             float *dlogits);
/* Same with integer class ids in [0, k); an id out of range is CK_EINVAL. */
int ck_sparse_softmax_cross_entropy(int rows, int k, const float *logits,
                                    const int32_t *labels, float *loss,
                                    float scale, float *dlogits);
/* Elementwise sigmoid cross-entropy with logits (stable form, spec §5.3):
 * loss[n] (may be NULL), dlogits = scale·(σ(x) − z) (may be NULL). */
int ck_sigmoid_cross_entropy(size_t n, const float *logits,
                             const float *labels, float *loss, float scale,
                             float *dlogits);
/* Quadratic cost per row: loss[rows] = ½Σ_k (t − y)² (may be NULL);
 * dy = scale·(y − t) (may be NULL). */
int ck_quadratic_cost(int rows, int k, const float *y, const float *t,
                      float *loss, float scale, float *dy);

/* -------------------------------------------------------------- dropout */

/* Inverted dropout (spec §6): keep = u >= rate with u from stream
 * (seed, counter); y = keep ? x/(1−rate) : 0; mask[i] = keep. rate in [0,1). */
int ck_dropout_forward(size_t n, float rate, uint64_t seed, uint64_t counter,
                       const float *x, float *y, uint8_t *mask);
/* dx = mask ? dy/(1−rate) : 0. */
int ck_dropout_backward(size_t n, float rate, const uint8_t *mask,
                        const float *dy, float *dx);

/* ---------------------------------------------------------- penalties */

/* L2: *penalty = coef/2 · Σ w², grad += coef · w (grad may be NULL).
 * With coef = λ/n this is the course's (λ/2n)·Σw² (spec §7). */
int ck_l2_penalty(size_t n, const float *w, float coef, float *penalty,
                  float *grad);
/* L1: *penalty = coef · Σ|w|, grad += coef · sign(w), sign(0) = 0. */
int ck_l1_penalty(size_t n, const float *w, float coef, float *penalty,
                  float *grad);

/* ------------------------------------------------------------------ LSTM */

/* Keras packing (spec §4.2): W [d, 4u], R [u, 4u], b [4u], gate order
 * i, f, c, o. gates caches the activated gates [b, 4u] (i, f, c̃, o). */

/* One step: h, c [b, u] from x [b, d], h_prev, c_prev [b, u]. */
int ck_lstm_cell_forward(int b, int d, int u, const float *x,
                         const float *h_prev, const float *c_prev,
                         const float *w, const float *r, const float *bias,
                         float *h, float *c, float *gates);
/* Backward of one step. dh, dc [b, u] are the upstream gradients of h and c.
 * Outputs: dx [b, d] (may be NULL), dh_prev, dc_prev [b, u]; dw, dr, dbias are
 * ACCUMULATED (+=). dz is scratch [b, 4u]. */
int ck_lstm_cell_backward(int b, int d, int u, const float *x,
                          const float *h_prev, const float *c_prev,
                          const float *w, const float *r, const float *c,
                          const float *gates, const float *dh, const float *dc,
                          float *dx, float *dh_prev, float *dc_prev, float *dw,
                          float *dr, float *dbias, float *dz);

typedef struct {
    int b, t, d, u;  /* batch, steps, input size, hidden size */
} ck_lstm_params;

/* Scratch floats needed by the sequence kernels (0 for invalid params). The
 * forward pass needs it only when cache is NULL (with a cache: NULL, 0). */
size_t ck_lstm_workspace_size(const ck_lstm_params *p);

/* Size (floats) of the cache the forward pass fills for the backward pass. */
size_t ck_lstm_cache_size(const ck_lstm_params *p);

/* x [b, t, d] batch-major; h0, c0 [b, u] (NULL = zeros). Outputs: hs [b, t, u]
 * (every h_t), h_last and c_last [b, u] (each may be NULL); cache (may be NULL
 * at inference) keeps what backward needs. */
int ck_lstm_sequence_forward(const ck_lstm_params *p, const float *x,
                             const float *h0, const float *c0, const float *w,
                             const float *r, const float *bias, float *hs,
                             float *h_last, float *c_last, float *cache,
                             float *workspace, size_t workspace_len);

/* BPTT (spec §4.4). dhs [b, t, u] upstream gradient of every h_t (NULL =
 * zeros), dh_last / dc_last [b, u] gradient of h_T / c_T (NULL = zeros).
 * Outputs dx [b, t, d] (may be NULL), dw, dr, dbias (overwritten), dh0 and
 * dc0 [b, u] (may be NULL). c0 must be the forward's c0; h0 is not read (the
 * cache holds every h_{t-1}). */
int ck_lstm_sequence_backward(const ck_lstm_params *p, const float *x,
                              const float *h0, const float *c0,
                              const float *w, const float *r,
                              const float *cache, const float *dhs,
                              const float *dh_last, const float *dc_last,
                              float *dx, float *dw, float *dr, float *dbias,
                              float *dh0, float *dc0, float *workspace,
                              size_t workspace_len);

/* ---------------------------------------------------------- optimizers */

/* Fused per-element updates of tf.compat.v1.train (spec §8) over n elements:
 * w parameters, g gradient, the rest slots updated in place. */
int ck_sgd_update(size_t n, float *w, const float *g, float lr);
int ck_momentum_update(size_t n, float *w, const float *g, float *accum,
                       float lr, float momentum, int nesterov);
/* lr_t = lr·√(1−β2^t)/(1−β1^t) is computed by the caller (TF's form). */
int ck_adam_update(size_t n, float *w, const float *g, float *m, float *v,
                   float lr_t, float beta1, float beta2, float epsilon);
int ck_adagrad_update(size_t n, float *w, const float *g, float *accum,
                      float lr);
int ck_adadelta_update(size_t n, float *w, const float *g, float *accum,
                       float *accum_update, float lr, float rho, float epsilon);
/* mg may be NULL when not centered. */
int ck_rmsprop_update(size_t n, float *w, const float *g, float *ms,
                      float *mom, float *mg, float lr, float decay,
                      float momentum, float epsilon, int centered);
int ck_proximal_sgd_update(size_t n, float *w, const float *g, float lr,
                           float l1, float l2);
int ck_proximal_adagrad_update(size_t n, float *w, const float *g,
                               float *accum, float lr, float l1, float l2);
/* global_step is the counter read before the update (spec §8.9); the kernel
 * uses T = global_step + 1, so steps 0, 1, 2, ... give T = 1, 2, 3, .... */
int ck_adagrad_da_update(size_t n, float *w, const float *g, float *gacc,
                         float *gsq, float lr, float l1, float l2,
                         int64_t global_step);
int ck_ftrl_update(size_t n, float *w, const float *g, float *accum,
                   float *linear, float lr, float lr_power, float l1,
                   float l2, float l2_shrinkage, float beta);

/* One step of one of the rules above as data, for a kernel that makes a
 * gradient and applies the rule where it is made (ck_dense_update_kernel):
 * h holds the rule's float arguments in the order of its function above,
 * slot its slot arrays in that order (each as long as the parameter). */
enum {
    CK_RULE_SGD, CK_RULE_MOMENTUM, CK_RULE_ADAM, CK_RULE_ADAGRAD, CK_RULE_ADADELTA,
    CK_RULE_RMSPROP, CK_RULE_PROXIMAL_SGD, CK_RULE_PROXIMAL_ADAGRAD, CK_RULE_ADAGRAD_DA,
    CK_RULE_FTRL
};
typedef struct ck_update_rule {
    int kind;         /* CK_RULE_* */
    int flag;         /* Momentum: nesterov; RMSProp: centered */
    int64_t step;     /* AdagradDA: global_step */
    float h[6];
    float *slot[3];
} ck_update_rule;

/* Applies rule r to w[offset, offset + n) and its slots' same elements, g
 * holding those elements' gradient (g[0] is element `offset`'s). */
int ck_update_apply(const ck_update_rule *r, size_t offset, size_t n, float *w,
                    const float *g);

/* ---------------------------------------------------------- augmentation */

/* tf.image augmentation on NHWC batches [n, h, w, c] (spec §10), each image
 * drawing its own random values from stream `seed`: image i uses draw
 * counter + i (and counter + n + i for a second quantity), so results depend
 * on (seed, counter) only, not on the thread count. Outputs are not clipped. */

/* Pad every image with `pad` zeros on each side, then crop back h×w at offsets
 * drawn uniformly from [0, 2·pad] (rows: draw counter + i, columns:
 * counter + CK_AUGMENT_COLUMN_DRAWS + i; n at most that). x and y must be
 * different buffers. */
#define CK_AUGMENT_COLUMN_DRAWS ((uint64_t)1 << 17)
int ck_augment_random_crop(int n, int h, int w, int c, int pad, uint64_t seed,
                           uint64_t counter, const float *x, float *y);
/* Reverse the W axis of image i when draw counter + i is < ½; y may alias x. */
int ck_augment_random_flip(int n, int h, int w, int c, uint64_t seed,
                           uint64_t counter, const float *x, float *y);
/* y = x + δ_i, δ_i = −max_delta + 2·max_delta·u (u draw counter + i); max_delta >= 0. */
int ck_augment_random_brightness(int n, int h, int w, int c, float max_delta,
                                 uint64_t seed, uint64_t counter,
                                 const float *x, float *y);
/* Deterministic forms (tf.image.flip_left_right, adjust_brightness): reverse
 * the W axis of every image; y = x + deltas[i] for image i. y may alias x. */
int ck_flip_left_right(int n, int h, int w, int c, const float *x, float *y);
int ck_adjust_brightness(int n, int h, int w, int c, const float *deltas,
                         const float *x, float *y);
/* adjust_contrast: y = (x − μ_c)·factors[i] + μ_c, μ_c the mean of channel c
 * of image i; factors >= 0. Any channel count; y may alias x. */
int ck_adjust_contrast(int n, int h, int w, int c, const float *factors,
                       const float *x, float *y);
/* adjust_saturation (closed form of TF's HSV round trip): C must be 3
 * (CK_EINVAL otherwise, as TF rejects grayscale); factors >= 0. */
int ck_adjust_saturation(int n, int h, int w, int c, const float *factors,
                         const float *x, float *y);
/* Random forms: factors[i] = lower + (upper − lower)·u (u draw counter + i) is
 * written to the caller's factors[n], then applied; 0 <= lower < upper. */
int ck_augment_random_contrast(int n, int h, int w, int c, float lower,
                               float upper, uint64_t seed, uint64_t counter,
                               float *factors, const float *x, float *y);
int ck_augment_random_saturation(int n, int h, int w, int c, float lower,
                                 float upper, uint64_t seed, uint64_t counter,
                                 float *factors, const float *x, float *y);

/* ------------------------------------------------------------ utilities */

/* out[cols] = Σ over rows of x [rows, cols] (e.g. a bias gradient). */
int ck_sum_rows(int rows, int cols, const float *x, float *out);

/* Reads a whole file, gunzipping it if it starts with the gzip magic.
 * On success *data is malloc'ed (free with ck_free) and *len its size.
 * Limits the decompressed size to max_len bytes (CK_EFORMAT beyond).
 * Anything but a regular file (a FIFO, a device, a directory) is CK_EINVAL,
 * found without blocking. */
int ck_read_file(const char *path, size_t max_len, uint8_t **data, size_t *len);
void ck_free(void *p);

/* A file read piece by piece, gunzipped if it starts with the gzip magic, so
 * a caller can check a header before it allocates for what follows. Opening
 * anything but a regular file is CK_EINVAL (without blocking on a FIFO). */
typedef struct ck_stream ck_stream;
int ck_stream_open(const char *path, ck_stream **stream);
/* Reads up to len bytes into buf; *got < len only at the end of the data.
 * CK_EFORMAT for corrupt or truncated gzip data, CK_EIO for a read error. */
int ck_stream_read(ck_stream *stream, uint8_t *buf, size_t len, size_t *got);
void ck_stream_close(ck_stream *stream);

/* ----------------------------------------------------------------- PNG */

/* Writes an 8-bit RGB image (rows top to bottom, 3 bytes a pixel, no padding)
 * as a PNG file through libpng. CK_EIO if libpng fails; then msg (if not NULL)
 * holds libpng's message, truncated to msg_len bytes. */
int ck_png_write_rgb(const char *path, int width, int height, const uint8_t *rgb,
                     char *msg, size_t msg_len);
/* Reads any PNG as 8-bit RGB; 16-bit samples scale linearly to 8 bits (not
 * through a gamma curve) unless the file's gAMA/sRGB chunk says otherwise.
 * On success *rgb is malloc'ed (free with ck_free), width*height*3 bytes. CK_EFORMAT if the file cannot be read or decoded
 * (msg as above). */
/* Images above CK_MAX_IMAGE_PIXELS pixels (64 Mi, e.g. 8192×8192) are refused
 * (CK_EFORMAT with a message) from their header, before any pixel is allocated. */
#define CK_MAX_IMAGE_PIXELS ((size_t)1 << 26)
int ck_png_read_rgb(const char *path, int *width, int *height, uint8_t **rgb,
                    char *msg, size_t msg_len);

/* ------------------------------------------------------------ images */

/* Decodes a JPEG held in memory (len bytes) as 8-bit RGB: *rgb receives
 * height·width·3 bytes (free with ck_free). Grey and CMYK files come out as
 * RGB. A corrupt or unsupported file gives CK_EFORMAT with libjpeg's message
 * in msg (msg_len bytes, may be NULL); sizes above 32768 or
 * CK_MAX_IMAGE_PIXELS pixels are refused from the header. */
int ck_jpeg_decode_rgb(const uint8_t *data, size_t len, int *width, int *height,
                       uint8_t **rgb, char *msg, size_t msg_len);

/* Bilinear resize of x [n,h,w,c] to y [n,oh,ow,c] with TensorFlow's
 * tf.image.resize_bilinear conventions: source coordinate = out·(in/out),
 * or out·(in−1)/(out−1) with align_corners, or (out+0.5)·(in/out)−0.5
 * (clamped at 0) with half_pixel_centers (TF2's tf.image.resize); the two
 * flags exclude each other. Neighbours past the edge repeat the last pixel. */
int ck_resize_bilinear(int n, int h, int w, int c, int oh, int ow, int align_corners,
                       int half_pixel_centers, const float *x, float *y);

#ifdef __cplusplus
}
#endif
#endif /* CKERNELS_H */
