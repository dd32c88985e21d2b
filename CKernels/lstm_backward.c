/* lstm_backward.c — the LSTM's backward passes: one cell, and BPTT over a
 * sequence (spec §4.4), threaded as lstm.c describes (rows first, then the
 * weight gradients by columns). */
#include <string.h>
#include "lstm.h"

/* The fused backward pass of one row (spec §4.4). dh [u] is the total gradient
 * of h_t; dc [u] holds the gradient of c_t from later steps on entry and that of
 * c_{t-1} on exit. Writes dz [4u]. c_prev may be NULL (zeros). Chunks of
 * CELL_CHUNK units: tanh(c) as a pass of its own (tanh_pass), then the rest. */
#define LSTM_BWD_BODY(CPREV)                                               \
    for (int k0 = 0; k0 < u; k0 += CELL_CHUNK) {                           \
        const int m = u - k0 < CELL_CHUNK ? u - k0 : CELL_CHUNK;           \
        float th[CELL_CHUNK];                                              \
        tanh_pass(wide, m, c + k0, th);                                    \
        for (int j = 0; j < m; j++) {                                      \
            const int k = k0 + j;                                          \
            float i = gi[k], f = gf[k], g = gc[k], o = go[k];              \
            float tau = th[j];                                             \
            float dhk = dh[k];                                             \
            float dck = dc[k] + dhk * o * (1.0f - tau * tau);              \
            float di = dck * g, dg = dck * i, df = dck * (CPREV);          \
            float dout = dhk * tau;                                        \
            dzi[k] = di * i * (1.0f - i);                                  \
            dzf[k] = df * f * (1.0f - f);                                  \
            dzc[k] = dg * (1.0f - g * g);                                  \
            dzo[k] = dout * o * (1.0f - o);                                \
            dc[k] = dck * f;                                               \
        }                                                                  \
    }

static inline __attribute__((always_inline)) void cell_row_backward(
    int wide, int u, const float *restrict gates, const float *restrict c,
    const float *restrict c_prev, const float *restrict dh, float *restrict dc,
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
CK_ISA_VERSIONS_W(cell_row_backward,
                  (int u, const float *restrict gates, const float *restrict c,
                   const float *restrict c_prev, const float *restrict dh, float *restrict dc,
                   float *restrict dz),
                  (u, gates, c, c_prev, dh, dc, dz))

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
    const int rb = row_blocks(b), cb = col_blocks(g4);
    CK_PAR_FOR_N(block_threads(rb), rb > 1,
    for (int id = 0; id < rb; id++) {
        int j0, j1;
        rows_of(b, rb, id, &j0, &j1);
        int nb = j1 - j0;
        if (nb > 0) {
            for (int j = j0; j < j1; j++) {
                size_t o = (size_t)j * u;
                /* dc_prev doubles as the running δc, so dc stays read-only
                 * (memmove: the caller may pass dc_prev == dc). */
                memmove(dc_prev + o, dc + o, sizeof(float) * u);
                cell_row_backward_isa(u, gates + (size_t)j * g4, c + o, c_prev + o,
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
    CK_PAR_FOR_N(block_threads(cb), cb > 1,
    for (int id = 0; id < cb; id++) {
        int k0, k1;
        cols_of(g4, cb, id, &k0, &k1);
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

/* Prefetches into L1 what the BPTT step of row `row` (of b·t, time-major
 * within each batch row) reads and writes: its gates (4u floats), c_{t-1}
 * and c_t (adjacent rows of cs, unless t = 0), its row of dZ and of dhs. */
static void prefetch_row(size_t row, int T, int U, const float *gates, const float *cs,
                         const float *dZ, const float *dhs) {
    const size_t g4 = 4 * (size_t)U;
    const char *cp = (const char *)(cs + (row % T ? row - 1 : row) * U);
    const size_t cbytes = sizeof(float) * U * (row % T ? 2 : 1);
    for (size_t o = 0; o < sizeof(float) * g4; o += 64) {
        __builtin_prefetch((const char *)(gates + row * g4) + o, 0, 3);
        __builtin_prefetch((const char *)(dZ + row * g4) + o, 1, 3);
    }
    for (size_t o = 0; o < cbytes; o += 64) __builtin_prefetch(cp + o, 0, 3);
    if (dhs)
        for (size_t o = 0; o < sizeof(float) * U; o += 64)
            __builtin_prefetch((const char *)(dhs + row * U) + o, 0, 3);
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
    float *zsum = dc + (size_t)B * U; /* [B, 4U]: Σ over steps of each row's dZ */
    const int BT = B * T;
    const int rb = row_blocks(B), cb = col_blocks(g4);
    CK_PAR_FOR_N(block_threads(rb), rb > 1,
    for (int id = 0; id < rb; id++) {
        int j0, j1;
        rows_of(B, rb, id, &j0, &j1);
        int nb = j1 - j0;
        if (nb > 0) {
            const int few = B <= FEW_ROWS;
            const ck_packed_b rp = ck_pack_b(!few, 1, g4, U, r, g4); /* op(R) = Rᵀ */
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
                    rec_gemm(few, nb, dZ + ((size_t)j0 * T + s + 1) * g4, T * g4, &rp,
                             dh + (size_t)j0 * U, U);
                for (int j = j0; j < j1; j++) {
                    size_t row = (size_t)j * T + s;
                    /* The next row's cache lines (this step's next batch row,
                     * or the block's first at the step before): its rows of
                     * the cache lie t·4u floats apart, each a new start for
                     * the hardware prefetchers, and the first read of each
                     * was a quarter of this loop's time. */
                    if (j + 1 < j1 || s > 0)
                        prefetch_row(j + 1 < j1 ? row + T : (size_t)j0 * T + s - 1, T, U,
                                     gates, cs, dZ, dhs);
                    const float *cp = s > 0 ? cs + (row - 1) * U
                                            : (c0 ? c0 + (size_t)j * U : NULL);
                    cell_row_backward_isa(U, gates + row * g4, cs + row * U, cp,
                                      dh + (size_t)j * U, dc + (size_t)j * U,
                                      dZ + row * g4);
                    float *zs = zsum + (size_t)j * g4;
                    const float *dz = dZ + row * g4;
                    if (s == T - 1) memcpy(zs, dz, sizeof(float) * g4);
                    else for (int k = 0; k < g4; k++) zs[k] += dz[k];
                }
            }
            if (dh0)
                ck_gemm_serial_packed(0, nb, 1.0f, dZ + (size_t)j0 * T * g4, T * g4, &rp, 0.0f,
                                      dh0 + (size_t)j0 * U, U);
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
     * dR = hprevᵀ·dZ, db = Σ dZ, each block a slice of columns. */
    CK_PAR_FOR_N(block_threads(cb), cb > 1,
    for (int id = 0; id < cb; id++) {
        int k0, k1;
        cols_of(g4, cb, id, &k0, &k1);
        int nc = k1 - k0;
        if (nc > 0) {
            /* Both products read the same columns of dZ: packed once. */
            const ck_packed_b dzp = ck_pack_b(1, 0, BT, nc, dZ + k0, g4);
            ck_gemm_serial_packed(1, D, 1.0f, x, D, &dzp, 0.0f, dw + k0, g4);
            ck_gemm_serial_packed(1, U, 1.0f, hprev, U, &dzp, 0.0f, dr + k0, g4);
            /* db from each row's sum over steps (made while its dZ was in
             * L1): reading all of dZ again here took 4% of an LSTM step. */
            memset(dbias + k0, 0, sizeof(float) * nc);
            for (int j = 0; j < B; j++) {
                const float *zs = zsum + (size_t)j * g4;
                for (int k = k0; k < k1; k++) dbias[k] += zs[k];
            }
        }
    });
    return CK_OK;
}
