/* lstm.c — fused LSTM cell and sequence kernels, Keras packing (spec §4.2, §4.4).
 *
 * W [d, 4u], R [u, 4u], b [4u], gate blocks i, f, c̃, o.
 *
 * Threading. The recurrence couples time steps but never batch rows: row j of
 * h_t depends only on row j of x and of h_{t-1}. So each OpenMP thread takes a
 * contiguous block of batch rows and runs the WHOLE sequence for them with its
 * own single-threaded cblas calls: no barrier per step, and per step one small
 * GEMM plus one fused elementwise pass over data the thread just wrote. The
 * weight gradients, which sum over the batch, are done afterwards with the
 * output columns split across threads, so every element of dW, dR, db is summed
 * by one thread in a fixed order (bitwise reproducible for a thread count).
 * A forward pass with fewer batch rows than threads (batch-1 inference) splits
 * the hidden units across threads instead, with a barrier per step.
 *
 * Cache layout (ck_lstm_cache_size = 6·b·t·u floats). Rows are ordered
 * (batch, time) exactly like x [b, t, d], so one GEMM over all b·t rows pairs
 * each step's input with its gate gradient:
 *   gates [b, t, 4u]  activated i, f, c̃, o of every step
 *   cs    [b, t, u]   c_t of every step (c_{t-1} is the previous row, or c0)
 *   hprev [b, t, u]   h_{t-1} of every step (h0 or zeros at t = 0); stored so
 *                     backward needs no hs argument and dR = hprevᵀ·dZ is one GEMM
 *
 * Workspace (ck_lstm_workspace_size = b·t·4u + 2·b·u floats):
 *   forward with a cache: none (workspace may be NULL, workspace_len 0);
 *   forward without a cache: z/gates [b, t, 4u] then c state [b, u];
 *   backward: dZ [b, t, 4u], then δh [b, u], then δc [b, u].
 */
#include "ckernels.h"
#include "internal.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <string.h>

/* Rows [*lo, *hi) of n owned by this thread: an even split, fixed for a given
 * thread count so results are reproducible. */
static void split_rows(int n, int *lo, int *hi) {
    int nt = omp_get_num_threads(), id = omp_get_thread_num();
    *lo = (int)((long long)n * id / nt);
    *hi = (int)((long long)n * (id + 1) / nt);
}

/* Columns [*lo, *hi) of n for this thread, in whole 16-float blocks so a
 * thread's slice starts on a vector boundary. */
static void split_cols(int n, int *lo, int *hi) {
    int blocks = (n + 15) / 16;
    int a, b;
    split_rows(blocks, &a, &b);
    *lo = a * 16 < n ? a * 16 : n;
    *hi = b * 16 < n ? b * 16 : n;
}

/* z[n] += h[k]·R[k, n] for one row h, R row-major with leading dimension ldr:
 * 64 columns at a time held in eight vector registers while the k rows of R
 * stream past. Used on column slices of R (a thread's share of the units):
 * there OpenBLAS's sgemv hardly gained on the whole width (28 steps of four
 * 128 × 64 slices: 73 µs, against 85 µs for 128 × 512 and 49 µs here), while
 * on the whole width sgemv is the faster (85 µs against 109 µs). */
static void gemv_rows(int k, int n, const float *restrict h, const float *restrict r,
                      int ldr, float *restrict z) {
    int c0 = 0;
    for (; c0 + 64 <= n; c0 += 64) {
        float acc[64];
        for (int c = 0; c < 64; c++) acc[c] = z[c0 + c];
        for (int q = 0; q < k; q++) {
            float hq = h[q];
            const float *restrict row = r + (size_t)q * ldr + c0;
            for (int c = 0; c < 64; c++) acc[c] += hq * row[c];
        }
        for (int c = 0; c < 64; c++) z[c0 + c] = acc[c];
    }
    for (; c0 < n; c0++) {
        float a = z[c0];
        for (int q = 0; q < k; q++) a += h[q] * r[(size_t)q * ldr + c0];
        z[c0] = a;
    }
}

/* A batch of at most this many rows takes the recurrent products row by row
 * (decided on the whole batch, not a thread's share, so that a row's bits do
 * not depend on how the rows are split across threads). */
#define FEW_ROWS 4

/* C[nb, n] += A[nb, k]·B (or ·Bᵀ with trans_b), for the per-step recurrent
 * products. With few rows (a batch of FEW_ROWS or less) they go one by one to
 * a matrix-vector product: sgemm would pack all of R (64k floats for u = 128)
 * for them every step, which was ~45% of an LSTM batch-1 profile
 * (sgemm_itcopy + incopy) and made batch 2 on one thread five times slower
 * than batch 1. */
static void rec_gemm(int trans_b, int few, int nb, int n, int k, const float *a, int lda,
                     const float *b, int ldb, float *c, int ldc) {
    if (few) {
        for (int j = 0; j < nb; j++) {
            const float *aj = a + (size_t)j * lda;
            float *cj = c + (size_t)j * ldc;
            if (trans_b)
                cblas_sgemv(CblasRowMajor, CblasNoTrans, n, k, 1.0f, b, ldb, aj, 1, 1.0f, cj, 1);
            else if (n < ldb)
                gemv_rows(k, n, aj, b, ldb, cj);
            else
                cblas_sgemv(CblasRowMajor, CblasTrans, k, n, 1.0f, b, ldb, aj, 1, 1.0f, cj, 1);
        }
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, nb, n, k,
                1.0f, a, lda, b, ldb, 1.0f, c, ldc);
}

static float sigmoidf(float z) { return 1.0f / (1.0f + expf(-z)); }

/* tanh through expf, because clang maps expf but not tanhf to libmvec: a
 * vectorised loop would otherwise call scalar tanhf eight times per vector
 * (measured: the fused pass then costs more than the step's GEMM). Both
 * branches are computed and one selected, so the loop stays vectorisable.
 * Largest error over [-20, 20]: 9e-8 absolute, 4 ulp relative; the series
 * below |x| = 1/8 avoids the cancellation in 1 − e^{−2|x|}. ±inf → ±1, NaN
 * stays NaN. */
static float tanh_v(float x) {
    float a = fabsf(x);
    float e = expf(-2.0f * a);
    float big = (1.0f - e) / (1.0f + e);
    float x2 = x * x;
    float small = a * (1.0f + x2 * (-1.0f / 3.0f +
                                    x2 * (2.0f / 15.0f + x2 * (-17.0f / 315.0f))));
    return copysignf(a < 0.125f ? small : big, x);
}

/* The fused forward pass of n units of one row: the gate blocks are z, z + gs,
 * z + 2gs, z + 3gs (gs = u for a whole row); they hold x·W + h·R + b on entry
 * and the activated gates on exit; writes c and h [n]. c_prev may be NULL (zeros).
 * restrict and separate loops per case keep the vectoriser from falling back
 * to its scalar path (it did: the backward ran scalar behind a failed overlap
 * check until these were added). */
#define LSTM_FWD_BODY(CPREV)                                               \
    for (int k = 0; k < n; k++) {                                          \
        float i = sigmoidf(zi[k]), f = sigmoidf(zf[k]);                    \
        float g = tanh_v(zc[k]), o = sigmoidf(zo[k]);                      \
        float cn = f * (CPREV) + i * g;                                    \
        zi[k] = i; zf[k] = f; zc[k] = g; zo[k] = o;                        \
        c[k] = cn;                                                         \
        h[k] = o * tanh_v(cn);                                             \
    }

/* noinline: inlined into forward_part, these loops lost their vectorisation
 * (scalar expf: batch-64 inference took twice as long). */
__attribute__((noinline))
static void cell_row_forward(int n, int gs, float *restrict z,
                             const float *restrict c_prev, float *restrict c,
                             float *restrict h) {
    float *restrict zi = z, *restrict zf = z + gs, *restrict zc = z + 2 * gs,
                    *restrict zo = z + 3 * gs;
    if (c_prev) {
        LSTM_FWD_BODY(c_prev[k])
    } else {
        LSTM_FWD_BODY(0.0f)
    }
}

/* The same with the state c updated in place (inference without a cache). */
__attribute__((noinline))
static void cell_row_forward_inplace(int n, int gs, float *restrict z,
                                     float *restrict c, float *restrict h) {
    float *restrict zi = z, *restrict zf = z + gs, *restrict zc = z + 2 * gs,
                    *restrict zo = z + 3 * gs;
    LSTM_FWD_BODY(c[k])
}

/* The fused backward pass of one row (spec §4.4). dh [u] is the total gradient
 * of h_t; dc [u] holds the gradient of c_t from later steps on entry and that of
 * c_{t-1} on exit. Writes dz [4u]. c_prev may be NULL (zeros). */
#define LSTM_BWD_BODY(CPREV)                                               \
    for (int k = 0; k < u; k++) {                                          \
        float i = gi[k], f = gf[k], g = gc[k], o = go[k];                  \
        float tau = tanh_v(c[k]);                                          \
        float dhk = dh[k];                                                 \
        float dck = dc[k] + dhk * o * (1.0f - tau * tau);                  \
        float di = dck * g, dg = dck * i, df = dck * (CPREV);              \
        float dout = dhk * tau;                                            \
        dzi[k] = di * i * (1.0f - i);                                      \
        dzf[k] = df * f * (1.0f - f);                                      \
        dzc[k] = dg * (1.0f - g * g);                                      \
        dzo[k] = dout * o * (1.0f - o);                                    \
        dc[k] = dck * f;                                                   \
    }

static void cell_row_backward(int u, const float *restrict gates,
                              const float *restrict c,
                              const float *restrict c_prev,
                              const float *restrict dh, float *restrict dc,
                              float *restrict dz) {
    const float *restrict gi = gates, *restrict gf = gates + u,
                          *restrict gc = gates + 2 * u,
                          *restrict go = gates + 3 * u;
    float *restrict dzi = dz, *restrict dzf = dz + u, *restrict dzc = dz + 2 * u,
                    *restrict dzo = dz + 3 * u;
    if (c_prev) {
        LSTM_BWD_BODY(c_prev[k])
    } else {
        LSTM_BWD_BODY(0.0f)
    }
}

/* Sizes must be positive and every matrix index must fit an int (cblas). */
static int dims_ok(long long b, long long t, long long d, long long u) {
    if (b < 1 || t < 1 || d < 1 || u < 1) return 0;
    long long rows = b * t;
    /* ld of z per step is t·4u; the flat buffers are indexed in size_t. */
    return rows <= INT_MAX && t * 4 * u <= INT_MAX && rows * 6 * u <= INT_MAX * 64LL &&
           rows * d <= INT_MAX * 64LL;
}

/* ------------------------------------------------------------- one cell */

int ck_lstm_cell_forward(int b, int d, int u, const float *x,
                         const float *h_prev, const float *c_prev,
                         const float *w, const float *r, const float *bias,
                         float *h, float *c, float *gates) {
    if (!dims_ok(b, 1, d, u) || !x || !h_prev || !c_prev || !w || !r || !bias ||
        !h || !c || !gates)
        return CK_EINVAL;
    const int g4 = 4 * u;
    /* Rows are the only split here: never more threads than rows (batch 1 runs on one). */
#pragma omp parallel num_threads(ck_imin(ck_threads(), b))
    {
        int j0, j1;
        split_rows(b, &j0, &j1);
        int nb = j1 - j0;
        if (nb > 0) {
            float *z = gates + (size_t)j0 * g4;
            for (int j = 0; j < nb; j++)
                memcpy(z + (size_t)j * g4, bias, sizeof(float) * g4);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nb, g4, d,
                        1.0f, x + (size_t)j0 * d, d, w, g4, 1.0f, z, g4);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nb, g4, u,
                        1.0f, h_prev + (size_t)j0 * u, u, r, g4, 1.0f, z, g4);
            for (int j = j0; j < j1; j++) {
                float *cj = c + (size_t)j * u;
                if (c == c_prev)
                    cell_row_forward_inplace(u, u, gates + (size_t)j * g4, cj,
                                             h + (size_t)j * u);
                else
                    cell_row_forward(u, u, gates + (size_t)j * g4,
                                     c_prev + (size_t)j * u, cj,
                                     h + (size_t)j * u);
            }
        }
    }
    return CK_OK;
}

int ck_lstm_cell_backward(int b, int d, int u, const float *x,
                          const float *h_prev, const float *c_prev,
                          const float *w, const float *r, const float *c,
                          const float *gates, const float *dh, const float *dc,
                          float *dx, float *dh_prev, float *dc_prev, float *dw,
                          float *dr, float *dbias, float *dz) {
    if (!dims_ok(b, 1, d, u) || !x || !h_prev || !c_prev || !w || !r || !c ||
        !gates || !dh || !dc || !dh_prev || !dc_prev || !dw || !dr || !dbias ||
        !dz)
        return CK_EINVAL;
    const int g4 = 4 * u;
#pragma omp parallel num_threads(ck_threads())
    {
        int j0, j1;
        split_rows(b, &j0, &j1);
        int nb = j1 - j0;
        if (nb > 0) {
            for (int j = j0; j < j1; j++) {
                size_t o = (size_t)j * u;
                /* dc_prev doubles as the running δc, so dc stays read-only
                 * (memmove: the caller may pass dc_prev == dc). */
                memmove(dc_prev + o, dc + o, sizeof(float) * u);
                cell_row_backward(u, gates + (size_t)j * g4, c + o, c_prev + o,
                                  dh + o, dc_prev + o, dz + (size_t)j * g4);
            }
            const float *dzb = dz + (size_t)j0 * g4;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, u, g4,
                        1.0f, dzb, g4, r, g4, 0.0f, dh_prev + (size_t)j0 * u, u);
            if (dx)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, d, g4,
                            1.0f, dzb, g4, w, g4, 0.0f, dx + (size_t)j0 * d, d);
        }
#pragma omp barrier
        int k0, k1;
        split_cols(g4, &k0, &k1);
        int nc = k1 - k0;
        if (nc > 0) {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d, nc, b, 1.0f,
                        x, d, dz + k0, g4, 1.0f, dw + k0, g4);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, u, nc, b, 1.0f,
                        h_prev, u, dz + k0, g4, 1.0f, dr + k0, g4);
            for (int j = 0; j < b; j++) {
                const float *row = dz + (size_t)j * g4;
                for (int k = k0; k < k1; k++) dbias[k] += row[k];
            }
        }
    }
    return CK_OK;
}

/* ------------------------------------------------------------- sequence */

size_t ck_lstm_workspace_size(const ck_lstm_params *p) {
    if (!p || !dims_ok(p->b, p->t, p->d, p->u)) return 0;
    return (size_t)p->b * p->t * 4 * p->u + 2 * (size_t)p->b * p->u;
}

size_t ck_lstm_cache_size(const ck_lstm_params *p) {
    if (!p || !dims_ok(p->b, p->t, p->d, p->u)) return 0;
    return 6 * (size_t)p->b * p->t * p->u;
}

/* The forward pass of batch rows [j0, j1) and hidden units [k0, k1) (the four
 * gate columns of each) over the whole sequence. z, cs, hprev, cstate as in
 * ck_lstm_sequence_forward (cs and hprev NULL without a cache, cstate NULL with
 * one). When the units are split across threads, every thread needs all of
 * h_{t-1}: step_barrier then makes each step wait for the others. */
static void forward_part(const ck_lstm_params *p, const float *x, const float *h0,
                         const float *c0, const float *w, const float *r,
                         const float *bias, float *hs, float *h_last, float *c_last,
                         float *z, float *cs, float *hprev, float *cstate,
                         int j0, int j1, int k0, int k1, int step_barrier) {
    const int T = p->t, D = p->d, U = p->u, g4 = 4 * U;
    const int nb = j1 - j0, nu = k1 - k0, mine = nb > 0 && nu > 0;
    /* All units: each product is one call over the 4u columns; a share of the
     * units: one call per gate block. */
    const int blocks = nu == U ? 1 : 4, width = nu == U ? g4 : nu;
    if (mine) {
        /* Input projection of all steps of these rows: their rows of x are
         * contiguous, (batch, time) ordered, exactly the rows of z. */
        float *zb = z + (size_t)j0 * T * g4;
        for (int gb = 0; gb < blocks; gb++) {
            int col = gb * U + k0;
            for (int q = 0; q < nb * T; q++)
                memcpy(zb + (size_t)q * g4 + col, bias + col, sizeof(float) * width);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nb * T, width, D,
                        1.0f, x + (size_t)j0 * T * D, D, w + col, g4, 1.0f, zb + col, g4);
        }
    }
    for (int s = 0; s < T; s++) {
        if (mine) {
            /* h_{s-1} of the rows: rows of h0, or of hs one step back. */
            const float *hp = NULL;
            int ldh = U;
            if (s > 0) {
                hp = hs + ((size_t)j0 * T + s - 1) * U;
                ldh = T * U;
            } else if (h0) {
                hp = h0 + (size_t)j0 * U;
            }
            float *zs = z + ((size_t)j0 * T + s) * g4;
            if (hp)
                for (int gb = 0; gb < blocks; gb++)
                    rec_gemm(0, p->b <= FEW_ROWS, nb, width, U, hp, ldh, r + gb * U + k0, g4,
                             zs + gb * U + k0, T * g4);
            for (int j = j0; j < j1; j++) {
                size_t row = (size_t)j * T + s;
                float *zr = z + row * g4 + k0, *hr = hs + row * U + k0;
                if (!cs) {
                    float *cn = cstate + (size_t)j * U + k0;
                    if (s > 0)
                        cell_row_forward_inplace(nu, U, zr, cn, hr);
                    else
                        cell_row_forward(nu, U, zr, c0 ? c0 + (size_t)j * U + k0 : NULL, cn, hr);
                    continue;
                }
                float *hpv = hprev + row * U + k0;
                if (hp)
                    memcpy(hpv, hp + (size_t)(j - j0) * ldh + k0, sizeof(float) * nu);
                else
                    memset(hpv, 0, sizeof(float) * nu);
                const float *cp = s > 0 ? cs + (row - 1) * U : (c0 ? c0 + (size_t)j * U : NULL);
                cell_row_forward(nu, U, zr, cp ? cp + k0 : NULL, cs + row * U + k0, hr);
            }
        }
        if (step_barrier) {
#pragma omp barrier
        }
    }
    for (int j = j0; mine && j < j1; j++) {
        size_t last = (size_t)j * T + T - 1;
        if (h_last)
            memcpy(h_last + (size_t)j * U + k0, hs + last * U + k0, sizeof(float) * nu);
        if (c_last)
            memcpy(c_last + (size_t)j * U + k0,
                   (cs ? cs + last * U : cstate + (size_t)j * U) + k0, sizeof(float) * nu);
    }
}

int ck_lstm_sequence_forward(const ck_lstm_params *p, const float *x,
                             const float *h0, const float *c0, const float *w,
                             const float *r, const float *bias, float *hs,
                             float *h_last, float *c_last, float *cache,
                             float *workspace, size_t workspace_len) {
    if (!p || !dims_ok(p->b, p->t, p->d, p->u) || !x || !w || !r || !bias ||
        !hs)
        return CK_EINVAL;
    const int B = p->b, T = p->t, U = p->u, g4 = 4 * U;
    const size_t zlen = (size_t)B * T * g4;
    float *z, *cs = NULL, *hprev = NULL, *cstate = NULL;
    if (cache) {
        z = cache;
        cs = cache + zlen;
        hprev = cs + (size_t)B * T * U;
    } else {
        if (!workspace) return CK_EINVAL;
        if (workspace_len < zlen + (size_t)B * U) return CK_ENOSPC;
        z = workspace;
        cstate = workspace + zlen;
    }
    const int nt = ck_par_ok() ? ck_threads() : 1;
    if (B >= nt || U < 32) {
        /* Split the batch rows: each thread runs the whole sequence for its
         * rows with no barrier (never more threads than rows). */
        if (nt > 1 && B > 1) {
#pragma omp parallel num_threads(ck_imin(nt, B))
            {
                int j0, j1;
                split_rows(B, &j0, &j1);
                forward_part(p, x, h0, c0, w, r, bias, hs, h_last, c_last, z, cs, hprev,
                             cstate, j0, j1, 0, U, 0);
            }
        } else {
            forward_part(p, x, h0, c0, w, r, bias, hs, h_last, c_last, z, cs, hprev,
                         cstate, 0, B, 0, U, 0);
        }
    } else {
        /* Fewer rows than threads (batch-1 inference above all): split the
         * hidden units instead, at the price of a barrier per step. The step's
         * h·R is bound by reading R (256 KB at u = 128, from L2); a thread
         * reads only its units' columns, which stay in its own core's cache. */
#pragma omp parallel num_threads(ck_imin(nt, U / 16))
        {
            int k0, k1;
            split_cols(U, &k0, &k1);
            forward_part(p, x, h0, c0, w, r, bias, hs, h_last, c_last, z, cs, hprev,
                         cstate, 0, B, k0, k1, 1);
        }
    }
    return CK_OK;
}

int ck_lstm_sequence_backward(const ck_lstm_params *p, const float *x,
                              const float *h0, const float *c0,
                              const float *w, const float *r,
                              const float *cache, const float *dhs,
                              const float *dh_last, const float *dc_last,
                              float *dx, float *dw, float *dr, float *dbias,
                              float *dh0, float *dc0, float *workspace,
                              size_t workspace_len) {
    (void)h0; /* h_{t-1} of every step, h0 included, is in the cache */
    if (!p || !dims_ok(p->b, p->t, p->d, p->u) || !x || !w || !r || !cache ||
        !dw || !dr || !dbias || !workspace)
        return CK_EINVAL;
    const int B = p->b, T = p->t, D = p->d, U = p->u, g4 = 4 * U;
    const size_t zlen = (size_t)B * T * g4;
    if (workspace_len < ck_lstm_workspace_size(p)) return CK_ENOSPC;
    const float *gates = cache, *cs = cache + zlen,
                *hprev = cs + (size_t)B * T * U;
    float *dZ = workspace, *dh = workspace + zlen, *dc = dh + (size_t)B * U;
    const int BT = B * T;
#pragma omp parallel num_threads(ck_threads())
    {
        int j0, j1;
        split_rows(B, &j0, &j1);
        int nb = j1 - j0;
        if (nb > 0) {
            for (int j = j0; j < j1; j++) {
                if (dc_last)
                    memcpy(dc + (size_t)j * U, dc_last + (size_t)j * U,
                           sizeof(float) * U);
                else
                    memset(dc + (size_t)j * U, 0, sizeof(float) * U);
            }
            for (int s = T - 1; s >= 0; s--) {
                for (int j = j0; j < j1; j++) {
                    float *dhj = dh + (size_t)j * U;
                    if (dhs)
                        memcpy(dhj, dhs + ((size_t)j * T + s) * U,
                               sizeof(float) * U);
                    else
                        memset(dhj, 0, sizeof(float) * U);
                    if (s == T - 1 && dh_last) {
                        const float *a = dh_last + (size_t)j * U;
                        for (int k = 0; k < U; k++) dhj[k] += a[k];
                    }
                }
                /* δh_rec = δz_{s+1}·Rᵀ, added into the upstream gradient. */
                if (s < T - 1)
                    rec_gemm(1, B <= FEW_ROWS, nb, U, g4, dZ + ((size_t)j0 * T + s + 1) * g4,
                             T * g4, r, g4, dh + (size_t)j0 * U, U);
                for (int j = j0; j < j1; j++) {
                    size_t row = (size_t)j * T + s;
                    const float *cp = s > 0 ? cs + (row - 1) * U
                                            : (c0 ? c0 + (size_t)j * U : NULL);
                    cell_row_backward(U, gates + row * g4, cs + row * U, cp,
                                      dh + (size_t)j * U, dc + (size_t)j * U,
                                      dZ + row * g4);
                }
            }
            if (dh0)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, U, g4,
                            1.0f, dZ + (size_t)j0 * T * g4, T * g4, r, g4, 0.0f,
                            dh0 + (size_t)j0 * U, U);
            if (dc0)
                memcpy(dc0 + (size_t)j0 * U, dc + (size_t)j0 * U,
                       sizeof(float) * (size_t)nb * U);
            /* dx of every step of the block in one GEMM: dZ·Wᵀ. */
            if (dx)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb * T, D,
                            g4, 1.0f, dZ + (size_t)j0 * T * g4, g4, w, g4, 0.0f,
                            dx + (size_t)j0 * T * D, D);
        }
#pragma omp barrier
        /* Weight gradients summed over all b·t rows: dW = xᵀ·dZ,
         * dR = hprevᵀ·dZ, db = Σ dZ, each thread owning a slice of columns. */
        int k0, k1;
        split_cols(g4, &k0, &k1);
        int nc = k1 - k0;
        if (nc > 0) {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, D, nc, BT, 1.0f,
                        x, D, dZ + k0, g4, 0.0f, dw + k0, g4);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, U, nc, BT, 1.0f,
                        hprev, U, dZ + k0, g4, 0.0f, dr + k0, g4);
            memset(dbias + k0, 0, sizeof(float) * nc);
            for (int q = 0; q < BT; q++) {
                const float *row = dZ + (size_t)q * g4;
                for (int k = k0; k < k1; k++) dbias[k] += row[k];
            }
        }
    }
    return CK_OK;
}
