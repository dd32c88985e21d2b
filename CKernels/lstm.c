/* lstm.c — fused LSTM cell and sequence kernels, Keras packing (spec §4.2, §4.4):
 * the forward passes here, the backward passes in lstm_backward.c.
 *
 * W [d, 4u], R [u, 4u], b [4u], gate blocks i, f, c̃, o.
 *
 * Threading. The recurrence couples time steps but never batch rows: row j of
 * h_t depends only on row j of x and of h_{t-1}. So the batch rows are cut into
 * blocks (row_blocks in lstm.h: by core count and batch size, not by thread
 * count) and each OpenMP thread runs the WHOLE sequence for its blocks with
 * single-threaded GEMM calls: no barrier per step, and per step one small
 * GEMM plus one fused elementwise pass over data the thread just wrote. The
 * weight gradients, which sum over the batch, are done afterwards with the
 * output columns cut into blocks the same way, so every element of dW, dR, db
 * is summed in one fixed order (the same bits on any thread count).
 * A forward pass with fewer batch rows than threads (batch-1 inference) splits
 * the hidden units across threads instead (its bits depend on the count).
 * Every thread then needs all of h_{t-1}; rather than a barrier per step,
 * each thread publishes the step it has finished (a flag per thread) and
 * starts step t on its own units' rows of R, waiting for another thread's
 * h_{t-1} only when it reaches that thread's rows (see rec_units).
 *
 * Cache layout (ck_lstm_cache_size = 6·b·t·u floats). Rows are ordered
 * (batch, time) exactly like x [b, t, d], so one GEMM over all b·t rows pairs
 * each step's input with its gate gradient:
 *   gates [b, t, 4u]  activated i, f, c̃, o of every step
 *   cs    [b, t, u]   c_t of every step (c_{t-1} is the previous row, or c0)
 *   hprev [b, t, u]   h_{t-1} of every step (h0 or zeros at t = 0); stored so
 *                     backward needs no hs argument and dR = hprevᵀ·dZ is one GEMM
 *
 * Workspace (ck_lstm_workspace_size = b·(t+1)·4u + 2·b·u floats, and for
 * fewer than PACK_ROWS rows 4u² + 32 more):
 *   forward with a cache: none (workspace may be NULL, workspace_len 0);
 *   forward without a cache: z/gates [b, t, 4u] then c state [b, u] (a unit
 *     split: each thread's block of both, see state_view), then (if there is
 *     room) the packed copy of R for a unit split (pack_r);
 *   backward: dZ [b, t, 4u], then δh [b, u], then δc [b, u], then each batch
 *     row's Σ_t dZ [b, 4u] (summed while dZ's rows are in L1; db adds them).
 */
#include "lstm.h"

#include <immintrin.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>

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

/* e^{−x} of the sigmoid gates i, f, o and e^{−2|x|} of the tanh gate c̃, for
 * x = z + b over n ≤ CELL_CHUNK units, into e [4][CELL_CHUNK]: the arguments,
 * then the exponentials as passes of their own (exp_pass). Fused into the
 * gate loop, each of its five libmvec calls per vector made the compiler
 * spill every live vector around it (measured alone: the fused forward 115 →
 * 93 µs for 256 rows of 128 units, the same bits). */
static inline __attribute__((always_inline)) void gate_exps(int wide, int n, int gs,
                                                            const float *restrict z,
                                                            const float *restrict b, int bs,
                                                            float *restrict e) {
    for (int q = 0; q < 4; q++) {
        for (int k = 0; k < n; k++) {
            const float x = z[q * gs + k] + b[q * bs + k];
            e[q * CELL_CHUNK + k] = q == 2 ? -2.0f * fabsf(x) : -x;
        }
        exp_pass(wide, n, e + q * CELL_CHUNK);
    }
}

/* The fused forward pass of n units of one row: the gate blocks are z, z + gs,
 * z + 2gs, z + 3gs (gs = u for a whole row); they hold x·W + h·R on entry and
 * the activated gates on exit, the bias b, b + bs, b + 2bs, b + 3bs added here
 * (filling z with it before the products wrote and read all of z once more:
 * 2% of an LSTM training step); writes c and h [n]. c_prev may be NULL (zeros).
 * restrict and separate loops per case keep the vectoriser from falling back
 * to its scalar path (it did: the backward ran scalar behind a failed overlap
 * check until these were added). Chunks of CELL_CHUNK units: the gates'
 * exponentials, then the gates and c, then h = o·tanh(c). */
#define LSTM_FWD_BODY(CPREV)                                                   \
    for (int k0 = 0; k0 < n; k0 += CELL_CHUNK) {                               \
        const int m = n - k0 < CELL_CHUNK ? n - k0 : CELL_CHUNK;               \
        float e[4 * CELL_CHUNK], th[CELL_CHUNK];                               \
        gate_exps(wide, m, gs, z + k0, b + k0, bs, e);                         \
        for (int j = 0; j < m; j++) {                                          \
            const int k = k0 + j;                                              \
            float i = 1.0f / (1.0f + e[j]);                                    \
            float f = 1.0f / (1.0f + e[CELL_CHUNK + j]);                       \
            float g = tanh_e(zc[k] + b[2 * bs + k], e[2 * CELL_CHUNK + j]);    \
            float o = 1.0f / (1.0f + e[3 * CELL_CHUNK + j]);                   \
            float cn = f * (CPREV) + i * g;                                    \
            zi[k] = i; zf[k] = f; zc[k] = g; zo[k] = o;                        \
            c[k] = cn;                                                         \
        }                                                                      \
        tanh_pass(wide, m, c + k0, th);                                        \
        for (int j = 0; j < m; j++) h[k0 + j] = zo[k0 + j] * th[j];            \
    }

static inline __attribute__((always_inline)) void cell_row_forward(
    int wide, int n, int gs, float *restrict z, const float *restrict b, int bs,
    const float *restrict c_prev, float *restrict c, float *restrict h) {
    float *restrict zi = z, *restrict zf = z + gs, *restrict zc = z + 2 * gs,
                    *restrict zo = z + 3 * gs;
    if (c_prev) {
        LSTM_FWD_BODY(c_prev[k])
    } else {
        LSTM_FWD_BODY(0.0f)
    }
}
CK_ISA_VERSIONS_W(cell_row_forward,
                  (int n, int gs, float *restrict z, const float *restrict b, int bs,
                   const float *restrict c_prev, float *restrict c, float *restrict h),
                  (n, gs, z, b, bs, c_prev, c, h))

/* The same with the state c updated in place (inference without a cache). */
static inline __attribute__((always_inline)) void cell_row_forward_inplace(
    int wide, int n, int gs, float *restrict z, const float *restrict b, int bs,
    float *restrict c, float *restrict h) {
    float *restrict zi = z, *restrict zf = z + gs, *restrict zc = z + 2 * gs,
                    *restrict zo = z + 3 * gs;
    LSTM_FWD_BODY(c[k])
}
CK_ISA_VERSIONS_W(cell_row_forward_inplace,
                  (int n, int gs, float *restrict z, const float *restrict b, int bs,
                   float *restrict c, float *restrict h),
                  (n, gs, z, b, bs, c, h))

/* x[k] = e^{x[k]}, k < n, through glibc's 16-lane expf (lstm.h, exp_pass). */
CK_TARGET_AVX512 __m512 _ZGVeN16v_expf(__m512);
CK_TARGET_AVX512 void ck_exp16_pass(int n, float *x) {
    int k = 0;
    for (; k + 16 <= n; k += 16) _mm512_storeu_ps(x + k, _ZGVeN16v_expf(_mm512_loadu_ps(x + k)));
    if (k < n) {
        const __mmask16 lanes = (__mmask16)((1u << (n - k)) - 1);
        _mm512_mask_storeu_ps(x + k, lanes, _ZGVeN16v_expf(_mm512_maskz_loadu_ps(lanes, x + k)));
    }
}

/* ------------------------------------------------------------- one cell */

int ck_lstm_cell_forward(int b, int d, int u, const float *x,
                         const float *h_prev, const float *c_prev,
                         const float *w, const float *r, const float *bias,
                         float *h, float *c, float *gates) {
    CHECK(dims_ok(b, 1, d, u));
    CHECK(x && h_prev && c_prev && w && r && bias && h && c && gates);
    const int g4 = 4 * u;
    /* Rows are the only split here (a small batch runs as one block). */
    const int rb = row_blocks(b);
    CK_PAR_FOR_N(block_threads(rb), rb > 1,
    for (int id = 0; id < rb; id++) {
        int j0, j1;
        rows_of(b, rb, id, &j0, &j1);
        int nb = j1 - j0;
        if (nb > 0) {
            float *z = gates + (size_t)j0 * g4;
            ck_gemm_serial(0, 0, nb, g4, d, 1.0f, x + (size_t)j0 * d, d, w, g4, 0.0f, z, g4);
            ck_gemm_serial(0, 0, nb, g4, u, 1.0f, h_prev + (size_t)j0 * u, u, r, g4, 1.0f, z,
                           g4);
            for (int j = j0; j < j1; j++) {
                float *cj = c + (size_t)j * u;
                if (c == c_prev)
                    cell_row_forward_inplace_isa(u, u, gates + (size_t)j * g4, bias, u, cj,
                                             h + (size_t)j * u);
                else
                    cell_row_forward_isa(u, u, gates + (size_t)j * g4, bias, u,
                                     c_prev + (size_t)j * u, cj,
                                     h + (size_t)j * u);
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
    size_t n = (size_t)p->b * (p->t + 1) * 4 * p->u + 2 * (size_t)p->b * p->u;
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

/* A forward pass's arguments, as ck_lstm_sequence_forward's; cs and hprev
 * are the cache's parts (NULL without a cache). */
typedef struct {
    const ck_lstm_params *p;
    const float *x, *h0, *c0, *w, *r, *bias;
    float *hs, *h_last, *c_last;
    float *cs, *hprev;
} fwd_args;

/* h_{s-1} of rows from j0: rows of h0 (NULL for zeros) at s = 0, else of hs
 * one step back; *ldh is its row stride. */
static const float *prev_h(const fwd_args *a, int j0, int s, int *ldh) {
    const int T = a->p->t, U = a->p->u;
    *ldh = s > 0 ? T * U : U;
    if (s > 0) return a->hs + ((size_t)j0 * T + s - 1) * U;
    return a->h0 ? a->h0 + (size_t)j0 * U : NULL;
}

/* Step s of rows [j0, j1) and units [k0, k1), whose z (x·W + h·R) is in
 * place: the activated gates, c and h, and with a cache h_{s-1} (hp, ldh) kept
 * for the backward pass. */
static void cell_step(const fwd_args *a, state_view sv, int j0, int j1, int k0, int k1, int s,
                      const float *hp, int ldh) {
    const int T = a->p->t, U = a->p->u, nu = k1 - k0;
    for (int j = j0; j < j1; j++) {
        size_t row = (size_t)j * T + s;
        float *zr = sv.z + row * sv.ldz, *hr = a->hs + row * U + k0;
        if (!a->cs) {
            float *cn = sv.c + j * sv.ldc;
            if (s > 0)
                cell_row_forward_inplace_isa(nu, sv.gs, zr, a->bias + k0, U, cn, hr);
            else
                cell_row_forward_isa(nu, sv.gs, zr, a->bias + k0, U,
                                 a->c0 ? a->c0 + (size_t)j * U + k0 : NULL, cn, hr);
            continue;
        }
        float *hpv = a->hprev + row * U + k0;
        if (hp)
            memcpy(hpv, hp + (size_t)(j - j0) * ldh + k0, sizeof(float) * nu);
        else
            memset(hpv, 0, sizeof(float) * nu);
        const float *cp = s > 0 ? a->cs + (row - 1) * U : (a->c0 ? a->c0 + (size_t)j * U : NULL);
        cell_row_forward_isa(nu, sv.gs, zr, a->bias + k0, U, cp ? cp + k0 : NULL, a->cs + row * U + k0,
                         hr);
    }
}

/* h_last and c_last of rows [j0, j1), units [k0, k1) (each if asked for). */
static void finish(const fwd_args *a, state_view sv, int j0, int j1, int k0, int k1) {
    const int T = a->p->t, U = a->p->u, nu = k1 - k0;
    for (int j = j0; j < j1; j++) {
        size_t last = (size_t)j * T + T - 1;
        if (a->h_last)
            memcpy(a->h_last + (size_t)j * U + k0, a->hs + last * U + k0, sizeof(float) * nu);
        if (a->c_last)
            memcpy(a->c_last + (size_t)j * U + k0,
                   a->cs ? a->cs + last * U + k0 : sv.c + j * sv.ldc, sizeof(float) * nu);
    }
}

/* The row split: batch rows [j0, j1), all units, over the whole sequence.
 * The input projection of all steps is one GEMM (the rows of x are
 * contiguous, (batch, time) ordered, exactly the rows of z), then each step
 * one recurrent product and the cell update. */
static void forward_rows(const fwd_args *a, state_view sv, int j0, int j1) {
    const int T = a->p->t, D = a->p->d, U = a->p->u, g4 = 4 * U, nb = j1 - j0;
    if (nb <= 0) return;
    float *zb = sv.z + (size_t)j0 * T * sv.ldz;
    ck_gemm_serial(0, 0, nb * T, g4, D, 1.0f, a->x + (size_t)j0 * T * D, D, a->w, g4, 0.0f, zb, g4);
    const int few = a->p->b <= FEW_ROWS;
    const ck_packed_b rp = ck_pack_b(!few, 0, U, g4, a->r, g4);
    for (int s = 0; s < T; s++) {
        int ldh;
        const float *hp = prev_h(a, j0, s, &ldh);
        if (hp)
            rec_gemm(few, nb, hp, ldh, &rp, sv.z + ((size_t)j0 * T + s) * sv.ldz, T * g4);
        cell_step(a, sv, j0, j1, 0, U, s, hp, ldh);
    }
    finish(a, sv, j0, j1, 0, U);
}

/* The unit split, run by every thread of a team at once: hidden units
 * [k0, k1) (the four gate columns of each) of all rows over the whole
 * sequence. flags holds every thread's step flag; pk (NULL or room for 4u²
 * floats from a cache-line boundary) receives the packed R. The input
 * projection is one matrix-vector product per row and gate block (the
 * thread's 4·nu columns of W stay in L1; OpenBLAS's packing made four small
 * GEMMs cost several times as much). */
static void forward_units(const fwd_args *a, state_view sv, int k0, int k1, step_flag *flags,
                          float *pk) {
    const int B = a->p->b, T = a->p->t, D = a->p->d, U = a->p->u, g4 = 4 * U, nu = k1 - k0;
    const int nt = omp_get_num_threads(), id = omp_get_thread_num(), mine = nu > 0;
    r_view rv = {a->r + k0, U, g4};
    if (mine) {
        for (int gb = 0; gb < 4; gb++) {
            int col = gb * U + k0;
            for (int q = 0; q < B * T; q++) {
                float *zq = sv.z + q * sv.ldz + gb * sv.gs;
                memset(zq, 0, sizeof(float) * nu);
                gemv_rows(D, nu, a->x + (size_t)q * D, a->w + col, g4, zq);
            }
        }
        if (pk) rv = pack_r(a->r, U, k0, k1, pk + (size_t)4 * U * k0);
    }
    for (int s = 0; s < T; s++) {
        if (mine) {
            int ldh;
            const float *hp = prev_h(a, 0, s, &ldh);
            if (hp)
                rec_units(U, B, nt, id, s, hp, ldh, rv, sv.z + (size_t)s * sv.ldz, T * sv.ldz,
                          sv.gs, nu, flags);
            cell_step(a, sv, 0, B, k0, k1, s, hp, ldh);
        }
        /* Release: the other threads read this step's h after seeing it. */
        __atomic_store_n(&flags[id].done, s + 1, __ATOMIC_RELEASE);
    }
    if (mine) finish(a, sv, 0, B, k0, k1);
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
    const fwd_args a = {p, x, h0, c0, w, r, bias, hs, h_last, c_last, cs, hprev};
    const int nt = ck_par_ok() ? ck_threads() : 1;
    if (B >= nt || U < 32) {
        /* Split the batch rows: each block runs the whole sequence for its
         * rows with no barrier. */
        state_view sv = {cache ? cache : workspace, cache ? NULL : workspace + zlen, g4, U, U};
        const int rb = row_blocks(B);
        CK_PAR_FOR_N(block_threads(rb), rb > 1,
        for (int id = 0; id < rb; id++) {
            int j0, j1;
            rows_of(B, rb, id, &j0, &j1);
            forward_rows(&a, sv, j0, j1);
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
        forward_units(&a, sv, k0, k1, flags, pk);
    }
    return CK_OK;
}

