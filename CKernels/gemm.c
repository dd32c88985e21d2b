/*
 * ck_sgemm: a single-threaded GEMM (OpenBLAS, or Axon's own kernels where
 * OpenBLAS would run generic code: machine.c) called once per block of C from
 * an OpenMP loop (see threads.c for why). The block cut comes from ck_plan_gemm,
 * which looks at the sizes only, so results do not depend on the thread count.
 */
#define _POSIX_C_SOURCE 200112L /* posix_memalign under -std=c99 (make lib) */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

/* Below this many multiply-adds a fork/join (a few microseconds) costs more
 * than a second core saves. */
#define CK_GEMM_SERIAL_WORK (1 << 18)
/* Blocks start and end on whole multiples of the register tile (but the
 * last ends with the product), so no block pays for a ragged edge that the
 * undivided product would not, and they are as even as that allows
 * (ck_plan_span): OpenBLAS's 16 on
 * AVX2/AVX-512, and for blocks of rows on Axon's kernels their tile's rows
 * (8 on AVX-512, 6 on AVX2; at 16, batch-1 Inception-v3's 17×17 layers,
 * 289 rows, were cut 160/129, one core doing 24% more). */
#define CK_GEMM_ALIGN 16

static int row_align(int path) {
    return path == CK_GEMM_AVX512 ? 8 : path == CK_GEMM_AVX2 ? 6 : CK_GEMM_ALIGN;
}

static ck_gemm_plan plan(int path, int m, int n, int k, int by_rows, int col_align) {
    ck_gemm_plan pl;
    pl.by_rows = by_rows;
    pl.len = pl.by_rows ? m : n;
    pl.align = pl.by_rows ? row_align(path) : col_align;
    int nb = ck_imax(1, omp_get_num_procs());
    if ((double)m * n * k < CK_GEMM_SERIAL_WORK) nb = 1;
    pl.nblocks = ck_imin(nb, ck_imax(1, pl.len / pl.align));
    pl.bs = 0;
    for (int blk = 0; blk < pl.nblocks; blk++) {
        int lo, hi;
        ck_plan_span(&pl, blk, &lo, &hi);
        pl.bs = ck_imax(pl.bs, hi - lo);
    }
    return pl;
}

ck_gemm_plan ck_plan_gemm(int m, int n, int k) {
    return plan(ck_gemm_get_path(), m, n, k, m >= n, CK_GEMM_ALIGN);
}

ck_gemm_plan ck_plan_gemm_rows(int m, int n, int k) {
    return plan(ck_gemm_get_path(), m, n, k, 1, CK_GEMM_ALIGN);
}

ck_gemm_plan ck_plan_gemm_packed(int m, int n, int k) {
    const int path = ck_gemm_get_path();
    return plan(path, m, n, k, m >= n,
                path == CK_GEMM_BLAS ? CK_GEMM_ALIGN : ck_axon_sliver_width(path, n));
}

/* ck_sgemm_block on a given GEMM path. */
static void block_on(int path, const ck_gemm_plan *pl, int blk, int trans_a, int trans_b,
                     int m, int n, int k, float alpha, const float *a, int lda,
                     const float *b, int ldb, float beta, float *c, int ldc,
                     int *r0, int *r1, int *c0, int *c1) {
    int i0 = 0, i1 = m, j0 = 0, j1 = n;
    if (pl->by_rows) {
        ck_plan_span(pl, blk, &i0, &i1);
        a += trans_a ? (size_t)i0 : (size_t)i0 * lda;
    } else {
        ck_plan_span(pl, blk, &j0, &j1);
        b += trans_b ? (size_t)j0 * ldb : (size_t)j0;
    }
    *r0 = i0; *r1 = i1; *c0 = j0; *c1 = j1;
    if (i1 <= i0 || j1 <= j0) return;
    if (i1 - i0 == 1) {
        /* One row of C (a batch-1 dense layer): a matrix-vector product
         * streams B once, where sgemm would pack all of B and scale C first
         * (sgemm_beta + itcopy + incopy: a sizeable share of a batch-1 step). */
        ck_gemv_serial_on(path, trans_b, j1 - j0, k, alpha, b, ldb, a, trans_a ? lda : 1, beta,
                          c + (size_t)i0 * ldc + j0);
        return;
    }
    ck_gemm_serial_on(path, trans_a, trans_b, i1 - i0, j1 - j0, k, alpha, a, lda, b, ldb,
                      beta, c + (size_t)i0 * ldc + j0, ldc);
}

void ck_sgemm_block(const ck_gemm_plan *pl, int blk, int trans_a, int trans_b,
                    int m, int n, int k, float alpha, const float *a, int lda,
                    const float *b, int ldb, float beta, float *c, int ldc,
                    int *r0, int *r1, int *c0, int *c1) {
    block_on(ck_gemm_get_path(), pl, blk, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb,
             beta, c, ldc, r0, r1, c0, c1);
}

void ck_gemm_serial_on(int path, int trans_a, int trans_b, int m, int n, int k, float alpha,
                       const float *a, int lda, const float *b, int ldb, float beta,
                       float *c, int ldc) {
    if (path != CK_GEMM_BLAS) {
        ck_axon_sgemm(path, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta,
                c, ldc);
}

void ck_gemv_serial_on(int path, int trans_b, int n, int k, float alpha, const float *b,
                       int ldb, const float *x, int incx, float beta, float *y) {
    if (path != CK_GEMM_BLAS) {
        ck_axon_sgemv(trans_b, n, k, alpha, b, ldb, x, incx, beta, y);
        return;
    }
    /* beta = 0 must not read y (BLAS rule, NaN-safe), so y is cleared and
     * accumulated into. */
    if (beta == 0.0f) {
        memset(y, 0, sizeof(float) * (size_t)n);
        beta = 1.0f;
    }
    if (trans_b)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, n, k, alpha, b, ldb, x, incx, beta, y, 1);
    else
        cblas_sgemv(CblasRowMajor, CblasTrans, k, n, alpha, b, ldb, x, incx, beta, y, 1);
}

void ck_gemv_serial(int trans_b, int n, int k, float alpha, const float *b, int ldb,
                    const float *x, int incx, float beta, float *y) {
    ck_gemv_serial_on(ck_gemm_get_path(), trans_b, n, k, alpha, b, ldb, x, incx, beta, y);
}

void ck_gemm_serial(int trans_a, int trans_b, int m, int n, int k, float alpha,
                    const float *a, int lda, const float *b, int ldb, float beta,
                    float *c, int ldc) {
    ck_gemm_serial_on(ck_gemm_get_path(), trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb,
                      beta, c, ldc);
}

float *ck_buffer_grow(ck_buffer *b, size_t floats) {
    if (floats > b->floats) {
        void *p = NULL;
        if (posix_memalign(&p, 64, floats * sizeof(float)) != 0) return NULL;
        free(b->mem);
        b->mem = p;
        b->floats = floats;
    }
    return b->mem;
}

/* The thread's buffer for a packed B, up to 8 MB: a larger B is not packed
 * ahead (its products pack it panel by panel as usual), so memory stays
 * bounded. */
#define PACKED_B_MAX_FLOATS ((size_t)2 << 20)
static __thread ck_buffer packed_buf;

static ck_packed_b pack_b_on(int path, int pack, int trans_b, int k, int n, const float *b,
                             int ldb) {
    ck_packed_b pb = {path, trans_b, k, n, ldb, b, NULL};
    if (!pack || path == CK_GEMM_BLAS) return pb;
    const size_t floats = ck_axon_packed_b_floats(path, k, n);
    float *dst = floats <= PACKED_B_MAX_FLOATS ? ck_buffer_grow(&packed_buf, floats) : NULL;
    if (!dst) return pb;
    ck_axon_pack_b(path, trans_b, k, n, b, ldb, dst);
    pb.packed = dst;
    return pb;
}

ck_packed_b ck_pack_b(int pack, int trans_b, int k, int n, const float *b, int ldb) {
    return pack_b_on(ck_gemm_get_path(), pack, trans_b, k, n, b, ldb);
}

void ck_gemm_serial_packed_cols(int trans_a, int m, float alpha, const float *a, int lda,
                                const ck_packed_b *pb, int c0, int c1, float beta, float *c,
                                int ldc) {
    if (!pb->packed) {
        const float *b = pb->b + (pb->trans_b ? (size_t)c0 * pb->ldb : (size_t)c0);
        ck_gemm_serial_on(pb->path, trans_a, pb->trans_b, m, c1 - c0, pb->k, alpha, a, lda, b,
                          pb->ldb, beta, c + c0, ldc);
        return;
    }
    ck_axon_sgemm_packed(pb->path, trans_a, pb->trans_b, m, pb->n, pb->k, alpha, a, lda, pb->b,
                         pb->ldb, pb->packed, c0, c1, beta, c, ldc);
}

void ck_gemm_serial_packed(int trans_a, int m, float alpha, const float *a, int lda,
                           const ck_packed_b *pb, float beta, float *c, int ldc) {
    ck_gemm_serial_packed_cols(trans_a, m, alpha, a, lda, pb, 0, pb->n, beta, c, ldc);
}

int ck_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha,
             const float *a, int lda, const float *b, int ldb, float beta,
             float *c, int ldc) {
    return ck_sgemm_on(ck_gemm_get_path(), trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb,
                       beta, c, ldc);
}

static int check_args(int path, int trans_a, int trans_b, int m, int n, int k, int lda, int ldb,
                      int ldc) {
    CHECK(path == CK_GEMM_BLAS || ((path == CK_GEMM_AVX2 || path == CK_GEMM_AVX512) &&
                                   ck_gemm_path_supported(path)));
    CHECK(trans_a == 0 || trans_a == 1);
    CHECK(trans_b == 0 || trans_b == 1);
    CHECK(m >= 0 && n >= 0 && k >= 0);
    CHECK(lda >= ck_imax(1, trans_a ? m : k));
    CHECK(ldb >= ck_imax(1, trans_b ? k : n));
    CHECK(ldc >= ck_imax(1, n));
    return CK_OK;
}

int ck_sgemm_prepacked_on(int path, int trans_a, int trans_b, int m, int n, int k, float alpha,
                          const float *a, int lda, const float *b, int ldb, float beta,
                          float *c, int ldc) {
    const int st = check_args(path, trans_a, trans_b, m, n, k, lda, ldb, ldc);
    if (st != CK_OK) return st;
    if (m == 0 || n == 0 || k == 0)
        return ck_sgemm_on(path, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    CHECK(a != NULL && b != NULL && c != NULL);
    const ck_packed_b pb = pack_b_on(path, 1, trans_b, k, n, b, ldb);
    ck_gemm_serial_packed(trans_a, m, alpha, a, lda, &pb, beta, c, ldc);
    return CK_OK;
}

int ck_sgemm_on(int path, int trans_a, int trans_b, int m, int n, int k, float alpha,
                const float *a, int lda, const float *b, int ldb, float beta,
                float *c, int ldc) {
    const int st = check_args(path, trans_a, trans_b, m, n, k, lda, ldb, ldc);
    if (st != CK_OK) return st;
    if (m == 0 || n == 0) return CK_OK;
    CHECK(c != NULL);
    if (k == 0) {
        /* C = beta·C; beta = 0 clears C without reading it (BLAS rule). */
        for (int i = 0; i < m; i++) {
            float *row = c + (size_t)i * ldc;
            if (beta == 0.0f) memset(row, 0, sizeof(float) * (size_t)n);
            else for (int j = 0; j < n; j++) row[j] *= beta;
        }
        return CK_OK;
    }
    CHECK(a != NULL && b != NULL);

    ck_gemm_plan pl = plan(path, m, n, k, m >= n, CK_GEMM_ALIGN);
    /* Inside someone else's parallel region the blocks run serially on the
     * calling thread (ck_par_ok): same cut, same bits, no nested
     * oversubscription. */
    CK_PAR_FOR(pl.nblocks > 1,
    for (int blk = 0; blk < pl.nblocks; blk++) {
        int r0, r1, c0, c1;
        block_on(path, &pl, blk, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c,
                 ldc, &r0, &r1, &c0, &c1);
    });
    return CK_OK;
}

/* Rows are added in order (vertical adds vectorise across columns), narrow
 * ones as a flat stream (sum_narrow), and wide matrices are split by fixed
 * column chunks: thread-count independent. */
#define CK_SUM_COLS_CHUNK 256

/* A matrix whose rows are narrow, lcm(cols, 8) ≤ NARROW_PERIOD floats, is
 * summed as one flat stream of periods of that length in vector sums, two
 * sets of them (independent chains); lane t of a period belongs to column
 * t % cols. Row by row, a 6-column bias gradient ran one latency-bound chain of
 * adds per column. */
#define NARROW_PERIOD 64

static inline __attribute__((always_inline)) void narrow_sums(int nv, size_t steps, const float *x,
                                                              float *lane) {
    const int len = nv * 8;
    ck_v8u a[NARROW_PERIOD / 8], b[NARROW_PERIOD / 8];
    for (int v = 0; v < nv; v++) a[v] = b[v] = (ck_v8u){0, 0, 0, 0, 0, 0, 0, 0};
    size_t s = 0;
    for (; s + 2 <= steps; s += 2)
        for (int v = 0; v < nv; v++) {
            a[v] += *(const ck_v8u *)(x + s * len + v * 8);
            b[v] += *(const ck_v8u *)(x + (s + 1) * len + v * 8);
        }
    if (s < steps)
        for (int v = 0; v < nv; v++) a[v] += *(const ck_v8u *)(x + s * len + v * 8);
    for (int v = 0; v < nv; v++) *(ck_v8u *)(lane + v * 8) = a[v] + b[v];
}

static void sum_narrow(int rows, int cols, int period, const float *x, float *out) {
    const size_t total = (size_t)rows * cols, steps = total / period;
    float lane[NARROW_PERIOD];
    switch (period / 8) { /* constant vector counts keep the sums in registers */
    case 1: narrow_sums(1, steps, x, lane); break;
    case 2: narrow_sums(2, steps, x, lane); break;
    case 3: narrow_sums(3, steps, x, lane); break;
    case 4: narrow_sums(4, steps, x, lane); break;
    case 5: narrow_sums(5, steps, x, lane); break;
    case 6: narrow_sums(6, steps, x, lane); break;
    case 7: narrow_sums(7, steps, x, lane); break;
    default: narrow_sums(8, steps, x, lane); break;
    }
    for (int j = 0; j < cols; j++) out[j] = 0.0f;
    for (int t = 0; t < period; t++) out[t % cols] += lane[t];
    for (size_t f = steps * period; f < total; f++) out[f % cols] += x[f];
}

static void sum_chunk(int rows, int cols, int ch, const float *x, float *out) {
    int period = cols;
    while (period % 8) period += cols; /* lcm(cols, 8) */
    if (period <= NARROW_PERIOD) {
        sum_narrow(rows, cols, period, x, out);
        return;
    }
    int j0 = ch * CK_SUM_COLS_CHUNK;
    int j1 = ck_imin(cols, j0 + CK_SUM_COLS_CHUNK);
    for (int j = j0; j < j1; j++) out[j] = 0.0f;
    for (int i = 0; i < rows; i++) {
        const float *row = x + (size_t)i * cols;
        for (int j = j0; j < j1; j++) out[j] += row[j];
    }
}

/* A tall matrix of at most one chunk of columns (a convolution's bias
 * gradient: 50176 × 6 for 6 filters over 64 images of 28×28) is summed in
 * row blocks, one per core, whose partial sums are then added in block order. The blocks depend on the
 * core count only, and are used however many threads run them, so the result
 * does not depend on the thread count. */
#define CK_SUM_ROWS_BLOCK_MIN 4096

int ck_sum_rows(int rows, int cols, const float *x, float *out) {
    CHECK(rows >= 0 && cols >= 0);
    if (cols == 0) return CK_OK;
    CHECK(out != NULL);
    CHECK(rows == 0 || x != NULL);
    int nchunks = (cols + CK_SUM_COLS_CHUNK - 1) / CK_SUM_COLS_CHUNK;
    int nblk = ck_imin(ck_imax(1, omp_get_num_procs()), 8);
    if (nchunks == 1 && nblk > 1 && rows >= CK_SUM_ROWS_BLOCK_MIN) {
        float part[8][CK_SUM_COLS_CHUNK];
        CK_PAR_FOR((double)rows * cols >= (1 << 16),
            for (int b = 0; b < nblk; b++) {
                int r0 = (int)((long long)rows * b / nblk), r1 = (int)((long long)rows * (b + 1) / nblk);
                sum_chunk(r1 - r0, cols, 0, x + (size_t)r0 * cols, part[b]);
            });
        for (int j = 0; j < cols; j++) {
            float s = part[0][j];
            for (int b = 1; b < nblk; b++) s += part[b][j];
            out[j] = s;
        }
        return CK_OK;
    }
    CK_PAR_FOR(nchunks > 1 && (double)rows * cols >= (1 << 16),
    for (int ch = 0; ch < nchunks; ch++) sum_chunk(rows, cols, ch, x, out););
    return CK_OK;
}
