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
 * the hidden units across threads instead. Every thread then needs all of
 * h_{t-1}; rather than a barrier per step, each thread publishes the step it
 * has finished (a flag per thread) and starts step t on its own units' rows of
 * R, waiting for another thread's h_{t-1} only when it reaches that thread's
 * rows (see rec_units).
 *
 * Cache layout (ck_lstm_cache_size = 6·b·t·u floats). Rows are ordered
 * (batch, time) exactly like x [b, t, d], so one GEMM over all b·t rows pairs
 * each step's input with its gate gradient:
 *   gates [b, t, 4u]  activated i, f, c̃, o of every step
 *   cs    [b, t, u]   c_t of every step (c_{t-1} is the previous row, or c0)
 *   hprev [b, t, u]   h_{t-1} of every step (h0 or zeros at t = 0); stored so
 *                     backward needs no hs argument and dR = hprevᵀ·dZ is one GEMM
 *
 * Workspace (ck_lstm_workspace_size = b·t·4u + 2·b·u floats, and for fewer
 * than PACK_ROWS rows 4u² + 32 more):
 *   forward with a cache: none (workspace may be NULL, workspace_len 0);
 *   forward without a cache: z/gates [b, t, 4u] then c state [b, u] (a unit
 *     split: each thread's block of both, see state_view), then (if there is
 *     room) the packed copy of R for a unit split (pack_r);
 *   backward: dZ [b, t, 4u], then δh [b, u], then δc [b, u].
 */
#include "ckernels.h"
#include "internal.h"

#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>

/* Rows [*lo, *hi) of n for block id of nt: an even split, fixed for a given
 * thread count so results are reproducible. */
static void rows_of(int n, int nt, int id, int *lo, int *hi) {
    *lo = (int)((long long)n * id / nt);
    *hi = (int)((long long)n * (id + 1) / nt);
}

/* Columns [*lo, *hi) of n for thread id of nt, in whole 16-float blocks so a
 * thread's slice starts on a vector (and, packed, a cache-line) boundary. */
static void cols_of(int n, int nt, int id, int *lo, int *hi) {
    int blocks = (n + 15) / 16;
    int a = (int)((long long)blocks * id / nt), b = (int)((long long)blocks * (id + 1) / nt);
    *lo = a * 16 < n ? a * 16 : n;
    *hi = b * 16 < n ? b * 16 : n;
}

/* This thread's columns of n. */
static void split_cols(int n, int *lo, int *hi) {
    cols_of(n, omp_get_num_threads(), omp_get_thread_num(), lo, hi);
}

/* z[n] += h[k]·R[k, n] for one row h, R row-major with leading dimension ldr:
 * 64 columns at a time held in eight vector registers while the k rows of R
 * stream past. Used on column slices of R and W (a thread's share of the
 * units): on such slices OpenBLAS's sgemv took about as long as on the whole
 * width, this loop a third less, while on the whole width sgemv is the
 * faster. */
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
 * for them every step (sgemm_itcopy + incopy), nearly half of batch-1
 * profiles. */
static void rec_gemm(int trans_b, int few, int nb, int n, int k, const float *a, int lda,
                     const float *b, int ldb, float *c, int ldc) {
    if (few) {
        for (int j = 0; j < nb; j++) {
            const float *aj = a + (size_t)j * lda;
            float *cj = c + (size_t)j * ldc;
            ck_gemv_serial(trans_b, n, k, 1.0f, b, ldb, aj, 1, 1.0f, cj);
        }
        return;
    }
    ck_gemm_serial(0, trans_b, nb, n, k, 1.0f, a, lda, b, ldb, 1.0f, c, ldc);
}

static float sigmoidf(float z) { return 1.0f / (1.0f + expf(-z)); }

/* tanh through expf, because clang maps expf but not tanhf to libmvec: a
 * vectorised loop would otherwise call scalar tanhf eight times per vector
 * (the fused pass then costs more than the step's GEMM). Both
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
    CHECK(dims_ok(b, 1, d, u));
    CHECK(x && h_prev && c_prev && w && r && bias && h && c && gates);
    const int g4 = 4 * u;
    /* Rows are the only split here: never more threads than rows (batch 1 runs on one). */
    const int nt = ck_imin(ck_par_ok() ? ck_threads() : 1, b);
    CK_PAR_FOR_N(nt, nt > 1,
    for (int id = 0; id < nt; id++) {
        int j0, j1;
        rows_of(b, nt, id, &j0, &j1);
        int nb = j1 - j0;
        if (nb > 0) {
            float *z = gates + (size_t)j0 * g4;
            for (int j = 0; j < nb; j++)
                memcpy(z + (size_t)j * g4, bias, sizeof(float) * g4);
            ck_gemm_serial(0, 0, nb, g4, d, 1.0f, x + (size_t)j0 * d, d, w, g4, 1.0f, z, g4);
            ck_gemm_serial(0, 0, nb, g4, u, 1.0f, h_prev + (size_t)j0 * u, u, r, g4, 1.0f, z,
                           g4);
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
    });
    return CK_OK;
}

int ck_lstm_cell_backward(int b, int d, int u, const float *x,
                          const float *h_prev, const float *c_prev,
                          const float *w, const float *r, const float *c,
                          const float *gates, const float *dh, const float *dc,
                          float *dx, float *dh_prev, float *dc_prev, float *dw,
                          float *dr, float *dbias, float *dz) {
    CHECK(dims_ok(b, 1, d, u));
    CHECK(x && h_prev && c_prev && w && r && c && gates && dh && dc);
    CHECK(dh_prev && dc_prev && dw && dr && dbias && dz);
    const int g4 = 4 * u;
    /* Rows first, then (the weight gradients sum over rows) columns. */
    const int nt = ck_par_ok() ? ck_threads() : 1;
    CK_PAR_FOR_N(nt, nt > 1,
    for (int id = 0; id < nt; id++) {
        int j0, j1;
        rows_of(b, nt, id, &j0, &j1);
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
            ck_gemm_serial(0, 1, nb, u, g4, 1.0f, dzb, g4, r, g4, 0.0f,
                           dh_prev + (size_t)j0 * u, u);
            if (dx)
                ck_gemm_serial(0, 1, nb, d, g4, 1.0f, dzb, g4, w, g4, 0.0f, dx + (size_t)j0 * d,
                               d);
        }
    });
    CK_PAR_FOR_N(nt, nt > 1,
    for (int id = 0; id < nt; id++) {
        int k0, k1;
        cols_of(g4, nt, id, &k0, &k1);
        int nc = k1 - k0;
        if (nc > 0) {
            ck_gemm_serial(1, 0, d, nc, b, 1.0f, x, d, dz + k0, g4, 1.0f, dw + k0, g4);
            ck_gemm_serial(1, 0, u, nc, b, 1.0f, h_prev, u, dz + k0, g4, 1.0f, dr + k0, g4);
            for (int j = 0; j < b; j++) {
                const float *row = dz + (size_t)j * g4;
                for (int k = k0; k < k1; k++) dbias[k] += row[k];
            }
        }
    });
    return CK_OK;
}

/* ------------------------------------------------------------- sequence */

/* A batch of fewer rows than this gets room in the workspace for a packed copy
 * of R (4u² floats): only such batches can have fewer rows than threads. */
#define PACK_ROWS 64

size_t ck_lstm_workspace_size(const ck_lstm_params *p) {
    if (!p || !dims_ok(p->b, p->t, p->d, p->u)) return 0;
    size_t n = (size_t)p->b * p->t * 4 * p->u + 2 * (size_t)p->b * p->u;
    if (p->b < PACK_ROWS) n += 4 * (size_t)p->u * p->u + 32; /* + two alignment skips */
    return n;
}

size_t ck_lstm_cache_size(const ck_lstm_params *p) {
    if (!p || !dims_ok(p->b, p->t, p->d, p->u)) return 0;
    return 6 * (size_t)p->b * p->t * p->u;
}

/* The step a thread of a unit split has finished, on a cache line of its own. */
typedef struct {
    int done;
    char pad[60];
} step_flag;

/* Waits until flag->done >= s. Spins (the wait is usually far shorter than
 * a sleep and wake-up), yielding now and then in case the other thread is
 * not running (more threads than cores). */
static void wait_step(step_flag *flag, int s) {
    unsigned spins = 0;
    while (__atomic_load_n(&flag->done, __ATOMIC_ACQUIRE) < s) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
        if (++spins == 1u << 14) {
            sched_yield();
            spins = 0;
        }
    }
}

/* Where a unit split reads R: the rows of R for the units [k0, k1) and gate
 * block gb start at base + gb·gstride, one row per ld floats. */
typedef struct {
    const float *base;
    size_t gstride;
    int ld;
} r_view;

/* A thread's columns of R (four gate blocks of units [k0, k1)) copied into
 * pk as [gate][row][unit]: each gate block's rows then follow each other in
 * memory from a cache-line boundary. R itself comes from the caller with
 * any alignment (a Swift array's storage is 16-byte aligned), and a
 * 256-byte slice of a row then spans five cache lines instead of four;
 * packed, every step streams the thread's 4u·(k1−k0) floats in order. */
static r_view pack_r(const float *r, int U, int k0, int k1, float *pk) {
    const int nu = k1 - k0, g4 = 4 * U;
    for (int gb = 0; gb < 4; gb++)
        for (int q = 0; q < U; q++) {
            const float *restrict src = r + (size_t)q * g4 + gb * U + k0;
            float *restrict dst = pk + ((size_t)gb * U + q) * nu;
            for (int c = 0; c < nu; c++) dst[c] = src[c];
        }
    return (r_view){pk, (size_t)U * nu, nu};
}

/* Where a thread's z and c state live. Shared: z [b, t, 4u] and c [b, u]
 * with every thread writing its units' columns (the cache's layout, and the
 * one a split of the rows uses). Private (a unit split without a cache): the
 * thread's own block of the workspace, z [b, t, 4·nu] and c [b, nu], so that
 * no cache line is written by two cores (two threads' columns meeting inside
 * a line, false sharing, when the workspace was not 64-byte aligned). Row i of z starts at z + i·ldz, its gate blocks gs apart;
 * row j of c at c + j·ldc. */
typedef struct {
    float *z, *c;
    size_t ldz, gs, ldc;
} state_view;

/* zs[j] += h_{s-1}[j]·R over the gate columns of units [k0, k1), rows j of
 * [0, nb) (row j of z at zs + j·ldzj), for thread id of a unit split over nt
 * threads. The thread starts with the rows of R that multiply its own units
 * of h_{s-1} (which it wrote itself), then takes each other thread's rows in
 * turn (id+1, id+2, ...), waiting only there for that thread to have finished
 * step s−1. So one thread's lateness is hidden behind the other's own work,
 * and the sum order of every element is fixed by the thread count. */
static void rec_units(int U, int nb, int nt, int id, int s, const float *hp, int ldh,
                      r_view rv, float *zs, size_t ldzj, size_t gs, int nu, step_flag *flags) {
    for (int m = 0; m < nt; m++) {
        int o = (id + m) % nt, q0, q1;
        cols_of(U, nt, o, &q0, &q1);
        if (q1 <= q0) continue;
        if (m > 0) wait_step(&flags[o], s);
        for (int j = 0; j < nb; j++)
            for (int gb = 0; gb < 4; gb++)
                gemv_rows(q1 - q0, nu, hp + (size_t)j * ldh + q0,
                          rv.base + gb * rv.gstride + (size_t)q0 * rv.ld, rv.ld,
                          zs + j * ldzj + gb * gs);
    }
}

/* The forward pass of batch rows [j0, j1) and hidden units [k0, k1) (the four
 * gate columns of each) over the whole sequence, z and the c state as sv says
 * (sv.c is NULL with a cache), cs and hprev as in ck_lstm_sequence_forward
 * (NULL without a cache). flags is NULL when this thread has all the units;
 * for a share of the units (a unit split) it holds every thread's step flag,
 * and pk (NULL or room for 4u² floats from a cache-line boundary) receives the
 * packed R. */
static void forward_part(const ck_lstm_params *p, const float *x, const float *h0,
                         const float *c0, const float *w, const float *r,
                         const float *bias, float *hs, float *h_last, float *c_last,
                         state_view sv, float *cs, float *hprev,
                         int j0, int j1, int k0, int k1, step_flag *flags, float *pk) {
    const int T = p->t, D = p->d, U = p->u, g4 = 4 * U;
    const int nb = j1 - j0, nu = k1 - k0, mine = nb > 0 && nu > 0;
    const int nt = flags ? omp_get_num_threads() : 1, id = flags ? omp_get_thread_num() : 0;
    r_view rv = {r + k0, U, g4};
    if (mine) {
        /* Input projection of all steps of these rows: their rows of x are
         * contiguous, (batch, time) ordered, exactly the rows of z. All units:
         * one GEMM; a share of them: one matrix-vector product per row and
         * gate block (the thread's 4·nu columns of W stay in L1; OpenBLAS's
         * packing made four small GEMMs cost several times as much). */
        float *zb = sv.z + (size_t)j0 * T * sv.ldz;
        const float *xb = x + (size_t)j0 * T * D;
        if (!flags) {
            for (int q = 0; q < nb * T; q++) memcpy(zb + (size_t)q * g4, bias, sizeof(float) * g4);
            ck_gemm_serial(0, 0, nb * T, g4, D, 1.0f, xb, D, w, g4, 1.0f, zb, g4);
        } else {
            for (int gb = 0; gb < 4; gb++) {
                int col = gb * U + k0;
                for (int q = 0; q < nb * T; q++) {
                    float *zq = zb + q * sv.ldz + gb * sv.gs;
                    memcpy(zq, bias + col, sizeof(float) * nu);
                    gemv_rows(D, nu, xb + (size_t)q * D, w + col, g4, zq);
                }
            }
            if (pk) rv = pack_r(r, U, k0, k1, pk + (size_t)4 * U * k0);
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
            float *zs = sv.z + ((size_t)j0 * T + s) * sv.ldz;
            if (hp && flags)
                rec_units(U, nb, nt, id, s, hp, ldh, rv, zs, T * sv.ldz, sv.gs, nu, flags);
            else if (hp)
                rec_gemm(0, p->b <= FEW_ROWS, nb, g4, U, hp, ldh, r, g4, zs, T * g4);
            for (int j = j0; j < j1; j++) {
                size_t row = (size_t)j * T + s;
                float *zr = sv.z + row * sv.ldz, *hr = hs + row * U + k0;
                if (!cs) {
                    float *cn = sv.c + j * sv.ldc;
                    if (s > 0)
                        cell_row_forward_inplace(nu, sv.gs, zr, cn, hr);
                    else
                        cell_row_forward(nu, sv.gs, zr, c0 ? c0 + (size_t)j * U + k0 : NULL, cn, hr);
                    continue;
                }
                float *hpv = hprev + row * U + k0;
                if (hp)
                    memcpy(hpv, hp + (size_t)(j - j0) * ldh + k0, sizeof(float) * nu);
                else
                    memset(hpv, 0, sizeof(float) * nu);
                const float *cp = s > 0 ? cs + (row - 1) * U : (c0 ? c0 + (size_t)j * U : NULL);
                cell_row_forward(nu, sv.gs, zr, cp ? cp + k0 : NULL, cs + row * U + k0, hr);
            }
        }
        /* Release: the other threads read this step's h after seeing it. */
        if (flags) __atomic_store_n(&flags[id].done, s + 1, __ATOMIC_RELEASE);
    }
    for (int j = j0; mine && j < j1; j++) {
        size_t last = (size_t)j * T + T - 1;
        if (h_last)
            memcpy(h_last + (size_t)j * U + k0, hs + last * U + k0, sizeof(float) * nu);
        if (c_last)
            memcpy(c_last + (size_t)j * U + k0, cs ? cs + last * U + k0 : sv.c + j * sv.ldc,
                   sizeof(float) * nu);
    }
}

/* Floats to skip from f to the next 64-byte boundary. */
static size_t to_line(const float *f) {
    return (64 - (uintptr_t)f % 64) % 64 / sizeof(float);
}

int ck_lstm_sequence_forward(const ck_lstm_params *p, const float *x,
                             const float *h0, const float *c0, const float *w,
                             const float *r, const float *bias, float *hs,
                             float *h_last, float *c_last, float *cache,
                             float *workspace, size_t workspace_len) {
    CHECK(p && dims_ok(p->b, p->t, p->d, p->u));
    CHECK(x && w && r && bias && hs);
    const int B = p->b, T = p->t, U = p->u, g4 = 4 * U;
    const size_t zlen = (size_t)B * T * g4, clen = (size_t)B * U;
    float *cs = NULL, *hprev = NULL;
    if (cache) {
        cs = cache + zlen;
        hprev = cs + (size_t)B * T * U;
    } else {
        CHECK(workspace);
        if (workspace_len < zlen + clen) return CK_ENOSPC;
    }
    const int nt = ck_par_ok() ? ck_threads() : 1;
    if (B >= nt || U < 32) {
        /* Split the batch rows: each thread runs the whole sequence for its
         * rows with no barrier (never more threads than rows). */
        state_view sv = {cache ? cache : workspace, cache ? NULL : workspace + zlen, g4, U, U};
        const int nr = ck_imin(nt, B);
        CK_PAR_FOR_N(nr, nr > 1,
        for (int id = 0; id < nr; id++) {
            int j0, j1;
            rows_of(B, nr, id, &j0, &j1);
            forward_part(p, x, h0, c0, w, r, bias, hs, h_last, c_last, sv, cs, hprev,
                         j0, j1, 0, U, NULL, NULL);
        });
        return CK_OK;
    }
    /* Fewer rows than threads (batch-1 inference above all): split the hidden
     * units instead. The step's h·R is bound by reading R (256 KB at u = 128,
     * from L2); a thread reads only its units' columns, which stay in its own
     * core's cache. Without a cache, z and c go to each thread's own block of
     * the workspace, from a cache-line boundary if there is room, and so does
     * the packed R if there is room for it. */
    float *base = workspace, *pk = NULL;
    if (!cache) {
        size_t skip = to_line(workspace);
        if (workspace_len >= skip + zlen + clen) base += skip;
        size_t used = (size_t)(base - workspace) + zlen + clen;
        used += to_line(workspace + used);
        if (workspace_len >= used + (size_t)g4 * U) pk = workspace + used;
    }
    const int threads = ck_imin(ck_imin(nt, U / 16), 64);
    step_flag flags[64] __attribute__((aligned(64)));
    memset(flags, 0, sizeof(step_flag) * (size_t)threads);
#pragma omp parallel num_threads(threads)
    {
        int k0, k1;
        split_cols(U, &k0, &k1);
        const size_t nu = (size_t)(k1 - k0);
        state_view sv = cache ? (state_view){cache + k0, NULL, g4, U, U}
                              : (state_view){base + (size_t)B * T * 4 * k0,
                                             base + zlen + (size_t)B * k0, 4 * nu, nu, nu};
        forward_part(p, x, h0, c0, w, r, bias, hs, h_last, c_last, sv, cs, hprev, 0, B, k0,
                     k1, flags, pk);
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
    CHECK(p && dims_ok(p->b, p->t, p->d, p->u));
    CHECK(x && w && r && cache && dw && dr && dbias && workspace);
    const int B = p->b, T = p->t, D = p->d, U = p->u, g4 = 4 * U;
    const size_t zlen = (size_t)B * T * g4;
    if (workspace_len < ck_lstm_workspace_size(p)) return CK_ENOSPC;
    const float *gates = cache, *cs = cache + zlen,
                *hprev = cs + (size_t)B * T * U;
    float *dZ = workspace, *dh = workspace + zlen, *dc = dh + (size_t)B * U;
    const int BT = B * T;
    const int nt = ck_par_ok() ? ck_threads() : 1;
    CK_PAR_FOR_N(nt, nt > 1,
    for (int id = 0; id < nt; id++) {
        int j0, j1;
        rows_of(B, nt, id, &j0, &j1);
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
                ck_gemm_serial(0, 1, nb, U, g4, 1.0f, dZ + (size_t)j0 * T * g4, T * g4, r, g4,
                               0.0f, dh0 + (size_t)j0 * U, U);
            if (dc0)
                memcpy(dc0 + (size_t)j0 * U, dc + (size_t)j0 * U,
                       sizeof(float) * (size_t)nb * U);
            /* dx of every step of the block in one GEMM: dZ·Wᵀ. */
            if (dx)
                ck_gemm_serial(0, 1, nb * T, D, g4, 1.0f, dZ + (size_t)j0 * T * g4, g4, w, g4,
                               0.0f, dx + (size_t)j0 * T * D, D);
        }
    });
    /* Weight gradients summed over all b·t rows: dW = xᵀ·dZ,
     * dR = hprevᵀ·dZ, db = Σ dZ, each thread owning a slice of columns. */
    CK_PAR_FOR_N(nt, nt > 1,
    for (int id = 0; id < nt; id++) {
        int k0, k1;
        cols_of(g4, nt, id, &k0, &k1);
        int nc = k1 - k0;
        if (nc > 0) {
            ck_gemm_serial(1, 0, D, nc, BT, 1.0f, x, D, dZ + k0, g4, 0.0f, dw + k0, g4);
            ck_gemm_serial(1, 0, U, nc, BT, 1.0f, hprev, U, dZ + k0, g4, 0.0f, dr + k0, g4);
            memset(dbias + k0, 0, sizeof(float) * nc);
            for (int q = 0; q < BT; q++) {
                const float *row = dZ + (size_t)q * g4;
                for (int k = k0; k < k1; k++) dbias[k] += row[k];
            }
        }
    });
    return CK_OK;
}
