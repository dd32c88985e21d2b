/*
 * internal.h — shared by the kernel sources, not part of the public API.
 *
 * omp.h is not shipped with the toolchain's clang, so the few OpenMP runtime
 * functions the kernels use are declared here (they live in libomp).
 */
#ifndef CKERNELS_INTERNAL_H
#define CKERNELS_INTERNAL_H

#include <immintrin.h>
#include <stddef.h>
#include "ckernels.h"

int omp_get_max_threads(void);
int omp_get_thread_num(void);
int omp_get_num_threads(void);
void omp_set_num_threads(int);
int omp_in_parallel(void);
int omp_get_num_procs(void);
void openblas_set_num_threads(int);

/* Copies n >= 8 floats: whole 8-float vectors and one last vector that may
 * overlap the previous one. For the short runs of packing and im2col (8 to
 * 64 floats), where a memcpy call costs more than the copy; no_builtin keeps
 * the compiler from turning the loop back into that call (give the caller
 * the same attribute, or the two do not inline). */
typedef float ck_v8u __attribute__((vector_size(32), aligned(4)));
__attribute__((no_builtin("memcpy")))
static inline void ck_copy_floats(float *restrict d, const float *restrict s, size_t n) {
    size_t e = 0;
    for (; e + 8 <= n; e += 8) *(ck_v8u *)(d + e) = *(const ck_v8u *)(s + e);
    if (e < n) *(ck_v8u *)(d + n - 8) = *(const ck_v8u *)(s + n - 8);
}

/* d[i·ldd + q] = s[q·lds + i] for i, q < 8: eight rows of eight floats
 * transposed in registers (packing for the GEMM, the direct convolutions'
 * outputs). */
static inline __attribute__((always_inline)) void transpose8(const float *s, size_t lds,
                                                             float *d, size_t ldd) {
    __m256 r[8], t[8], u[8];
    for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(s + i * lds);
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
    }
    for (int i = 0; i < 4; i++) {
        _mm256_storeu_ps(d + i * ldd, _mm256_permute2f128_ps(u[i], u[i + 4], 0x20));
        _mm256_storeu_ps(d + (i + 4) * ldd, _mm256_permute2f128_ps(u[i], u[i + 4], 0x31));
    }
}

/* Packs n pixels of c 4-byte values (floats or int32), src_stride values
 * apart in src, contiguously into dst: dst[j·c + v] = src[j·src_stride + v].
 * With 4 ≤ c ≤ 8 every pixel but the last is one 8-value move over the
 * previous pixel's spare values (so 8 values of each of the first n − 1
 * pixels must be readable); the last is copied exactly, and nothing is
 * written past dst[n·c]. */
static inline void ck_pack_pixels(long c, long n, const void *src, long src_stride, void *dst) {
    const char *s = src;
    char *d = dst;
    long j = 0;
    if (c >= 4 && c <= 8)
        for (; j + 1 < n; j++) __builtin_memcpy(d + 4 * j * c, s + 4 * j * src_stride, 32);
    for (; j < n; j++)
        for (long v = 0; v < c; v++) __builtin_memcpy(d + 4 * (j * c + v), s + 4 * (j * src_stride + v), 4);
}

/* A per-thread scratch buffer that grows when asked for more and is kept
 * (OpenMP threads live on), so nothing is allocated in the steady state:
 * the GEMM's packing buffers, a packed B, Winograd's transformed tiles.
 * Declare it `static __thread ck_buffer`. ck_buffer_grow returns at least
 * `floats` floats, 64-byte aligned (the micro-kernels' aligned loads), or
 * NULL if it cannot grow (the old buffer stays). */
typedef struct {
    float *mem;
    size_t floats;
} ck_buffer;
float *ck_buffer_grow(ck_buffer *b, size_t floats);

/* Argument validation, the one form every entry point uses: a bad size,
 * pointer or value returns CK_EINVAL (never a crash), before any output is
 * touched. Optional pointers are checked as (p == NULL || ...) or, when there
 * is nothing to do, (n == 0 || p != NULL): a Swift empty array may hand over
 * NULL. */
#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) return CK_EINVAL;                                         \
    } while (0)

/* The thread count set by ck_set_num_threads. Kernels pass it to every
 * parallel region (num_threads(ck_threads())) because omp_set_num_threads only
 * changes the calling thread's setting, and Swift may call from any thread. */
int ck_threads(void);

/* Whether a parallel region may run: more than one thread and not already
 * inside one (nested regions are serialized anyway). */
static inline int ck_par_ok(void) { return ck_threads() > 1 && !omp_in_parallel(); }

/* The one parallel-loop form. CK_PAR_FOR(cond, for (...) body) runs the loop
 * as an OpenMP parallel for (num_threads(ck_threads()), static schedule) only
 * when cond holds and more than one thread may run (ck_par_ok); otherwise it
 * is a plain C loop that makes no OpenMP call at all. Not `parallel for
 * if (cond)`: serialized, that still enters libomp's __kmpc_fork_call and
 * __kmpc_for_static_init, which formats a string with vsnprintf on every
 * loop. CK_PAR_FOR_N(nt, cond, loop) is the same on at most nt threads.
 * Results must not depend on which thread runs an iteration (the serial loop
 * runs them all on thread 0). The loop must not contain preprocessor
 * directives (they cannot appear in macro arguments). */
#define CK_PAR_FOR_N(nt, cond, ...)                                            \
    do {                                                                       \
        if ((cond) && ck_par_ok()) {                                           \
            const int ck_par_nt_ = (nt);                                       \
            _Pragma("omp parallel for num_threads(ck_par_nt_) schedule(static)") \
            __VA_ARGS__                                                        \
        } else {                                                               \
            __VA_ARGS__                                                        \
        }                                                                      \
    } while (0)
#define CK_PAR_FOR(cond, ...) CK_PAR_FOR_N(ck_threads(), cond, __VA_ARGS__)

/* CK_PAR_FOR over [0, n) in spans of CK_SPAN elements: `body` runs once per
 * span with `lo` and `len` declared. For elementwise loops whose results
 * must not depend on where the threads' shares begin: glibc's vector math
 * (expf, powf, ... through -fveclib) and its scalar tail can round
 * differently, so an element must fall in the same place of a vector loop
 * whatever the thread count. CK_SPAN is a multiple of every vector width and
 * unroll; only the last span ends off it, as the whole range does. */
#define CK_SPAN 4096
#define CK_PAR_SPANS(n, cond, lo, len, ...)                                    \
    do {                                                                       \
        const size_t ck_n_ = (n), ck_spans_ = (ck_n_ + CK_SPAN - 1) / CK_SPAN;  \
        CK_PAR_FOR(cond, for (size_t ck_s_ = 0; ck_s_ < ck_spans_; ck_s_++) {  \
            const size_t lo = ck_s_ * CK_SPAN;                                 \
            const size_t len = ck_n_ - lo < CK_SPAN ? ck_n_ - lo : CK_SPAN;    \
            __VA_ARGS__                                                        \
        });                                                                    \
    } while (0)

static inline int ck_imin(int a, int b) { return a < b ? a : b; }
static inline int ck_imax(int a, int b) { return a > b ? a : b; }

/* How a GEMM is cut into blocks for the threads: along the rows of C when
 * m >= n, otherwise along its columns (each block repacks the operand that is
 * not split, so split the larger side). The cut depends on the sizes and the
 * machine's core count only, never on the thread count, so every thread count
 * gives bitwise identical results. */
typedef struct {
    int nblocks;  /* >= 1                                    */
    int by_rows;  /* 1: blocks of rows of C, 0: of columns   */
    int bs;       /* the most rows (or columns) of any block */
    int len;      /* rows (or columns) in all                */
    int align;    /* every block but the last starts and ends on a multiple */
} ck_gemm_plan;

/* Block blk's rows (or columns) [*lo, *hi): len·blk/nblocks rounded to the
 * nearest multiple of align, so the blocks are as even as whole register
 * tiles allow (Inception-v3's 289 rows of a 17×17 layer: 144 + 145, where
 * equal blocks rounded up gave 152 + 137 and one core waited). */
static inline void ck_plan_span(const ck_gemm_plan *pl, int blk, int *lo, int *hi) {
    const int a = pl->align, nb = pl->nblocks;
    const long long l = pl->len;
    *lo = blk <= 0 ? 0 : (int)((l * blk / nb + a / 2) / a * a);
    *hi = blk + 1 >= nb ? pl->len : (int)((l * (blk + 1) / nb + a / 2) / a * a);
    if (*lo > pl->len) *lo = pl->len;
    if (*hi > pl->len) *hi = pl->len;
    if (*hi < *lo) *hi = *lo;
}

ck_gemm_plan ck_plan_gemm(int m, int n, int k);
/* The same cut by rows whatever the shape (for a B packed once and read by
 * every block). */
ck_gemm_plan ck_plan_gemm_rows(int m, int n, int k);
/* ck_plan_gemm for a B packed once (ck_axon_pack_b): blocks of columns hold
 * whole slivers of it (ck_axon_sliver_width, 32 on AVX-512), so each block
 * reads its own part of the copy. */
ck_gemm_plan ck_plan_gemm_packed(int m, int n, int k);

/* One single-threaded GEMM (arguments as ck_sgemm's, already checked) on the
 * path chosen at load: cblas_sgemm or Axon's kernels. Every product in the
 * kernels goes through it; safe inside a parallel region. */
void ck_gemm_serial(int trans_a, int trans_b, int m, int n, int k, float alpha,
                    const float *a, int lda, const float *b, int ldb, float beta,
                    float *c, int ldc);
/* The same on a given ck_gemm_path (supported by the CPU). */
void ck_gemm_serial_on(int path, int trans_a, int trans_b, int m, int n, int k, float alpha,
                       const float *a, int lda, const float *b, int ldb, float beta,
                       float *c, int ldc);

/* One row of C: y[j] = alpha * sum_p x[p * incx] * B(p, j) + beta * y[j] for
 * j < n, p < k, B(p, j) = b[p * ldb + j] (or b[j * ldb + p] with trans_b);
 * beta = 0 does not read y. OpenBLAS's sgemv or Axon's, as ck_gemm_serial. */
void ck_gemv_serial(int trans_b, int n, int k, float alpha, const float *b, int ldb,
                    const float *x, int incx, float beta, float *y);
void ck_gemv_serial_on(int path, int trans_b, int n, int k, float alpha, const float *b,
                       int ldb, const float *x, int incx, float beta, float *y);
void ck_axon_sgemv(int trans_b, int n, int k, float alpha, const float *b, int ldb,
                   const float *x, int incx, float beta, float *y);

/* Axon's packed GEMM (gemm_kernels.c), single-threaded; isa is CK_GEMM_AVX2
 * or CK_GEMM_AVX512 and must be supported by the CPU. */
void ck_axon_sgemm(int isa, int trans_a, int trans_b, int m, int n, int k, float alpha,
                   const float *a, int lda, const float *b, int ldb, float beta,
                   float *c, int ldc);

/* The same with op(B) read from a whole packed copy made by ck_axon_pack_b
 * (ck_axon_packed_b_floats floats, 64-byte aligned); b and ldb still name
 * op(B) itself (the fallback if the packing buffers cannot be allocated).
 * Only C's columns [c0, c1) are computed (0 and n: all of them); a c0 on a
 * sliver boundary (a multiple of ck_axon_sliver_width) reads the packed copy,
 * any other packs those columns as it goes. */
void ck_axon_sgemm_packed(int isa, int trans_a, int trans_b, int m, int n, int k, float alpha,
                          const float *a, int lda, const float *b, int ldb, const float *packed,
                          int c0, int c1, float beta, float *c, int ldc);
/* The width of the packed slivers of a B n columns wide. */
int ck_axon_sliver_width(int isa, int n);
size_t ck_axon_packed_b_floats(int isa, int k, int n);
void ck_axon_pack_b(int isa, int trans_b, int k, int n, const float *b, int ldb, float *dst);

/* op(B) [k x n] packed once for many single-threaded products with it (an
 * LSTM's recurrent matrix, used at every step of a sequence). On Axon's GEMM
 * paths ck_pack_b copies it into the panels the micro-kernels read, so that
 * the products skip their own packing. It keeps only the pointer (each
 * product then packs as before) on the BLAS path, without memory, for a B of
 * more than 8 MB, and with pack = 0 (products of a few rows, which go through
 * gemv and read B in place). Same results either way. The copy lives in a
 * per-thread buffer, so a thread holds one packed B at a time (other threads
 * may read it while the thread that packed it packs nothing else). */
typedef struct {
    int path, trans_b, k, n, ldb;
    const float *b;
    const float *packed; /* NULL: not packed */
} ck_packed_b;
ck_packed_b ck_pack_b(int pack, int trans_b, int k, int n, const float *b, int ldb);
/* C [m x n] = alpha * op(A) * op(B) + beta * C, as ck_gemm_serial. */
void ck_gemm_serial_packed(int trans_a, int m, float alpha, const float *a, int lda,
                           const ck_packed_b *pb, float beta, float *c, int ldc);
/* The same for C's columns [c0, c1) only (c still points at column 0). */
void ck_gemm_serial_packed_cols(int trans_a, int m, float alpha, const float *a, int lda,
                                const ck_packed_b *pb, int c0, int c1, float beta, float *c,
                                int ldc);

/* Computes block `blk` of the plan with one single-threaded GEMM and
 * returns the rectangle of C it wrote: rows [*r0, *r1), columns [*c0, *c1).
 * Safe inside a parallel region. Arguments are as ck_sgemm's, already checked. */
void ck_sgemm_block(const ck_gemm_plan *pl, int blk, int trans_a, int trans_b,
                    int m, int n, int k, float alpha, const float *a, int lda,
                    const float *b, int ldb, float beta, float *c, int ldc,
                    int *r0, int *r1, int *c0, int *c1);

/* The bias + activation pass fused after a GEMM, over rows [r0, r1) and
 * columns [c0, c1) of y (row stride ldy); bias may be NULL. Kept identical for
 * conv and dense so the two layers agree bit for bit. */
static inline void ck_bias_act(float *y, int ldy, int r0, int r1, int c0, int c1,
                               const float *bias, int act);

#include <math.h>

static inline void ck_bias_act(float *y, int ldy, int r0, int r1, int c0, int c1,
                               const float *bias, int act) {
    if (!bias && act == CK_ACT_NONE) return;
    const int w = c1 - c0;
    if (bias && w == ldy && w < 64 && (act == CK_ACT_RELU || act == CK_ACT_NONE)) {
        /* Whole short rows (a convolution's 6 or 16 filters): one pass over the
         * block with the bias repeated to a period of whole vectors, instead of
         * a loop of 6 per row that barely vectorised. Same operations per
         * element, so the same bits. */
        float rep[512];
        int period = w;
        while (period % 8) period += w;
        for (int k = 0; k < period; k++) rep[k] = bias[k % w];
        float *p = y + (size_t)r0 * ldy;
        const size_t total = (size_t)(r1 - r0) * w;
        for (size_t s0 = 0; s0 < total; s0 += period) {
            float *restrict q = p + s0;
            const int n = total - s0 < (size_t)period ? (int)(total - s0) : period;
            if (act == CK_ACT_RELU)
                for (int k = 0; k < n; k++) {
                    float v = q[k] + rep[k];
                    q[k] = v > 0.0f ? v : 0.0f;
                }
            else
                for (int k = 0; k < n; k++) q[k] += rep[k];
        }
        return;
    }
    for (int r = r0; r < r1; r++) {
        float *row = y + (size_t)r * ldy;
        /* One loop per activation so each vectorises (expf/tanhf via libmvec). */
        switch (act) {
        case CK_ACT_RELU:
            for (int j = c0; j < c1; j++) {
                float v = row[j] + (bias ? bias[j] : 0.0f);
                row[j] = v > 0.0f ? v : 0.0f;
            }
            break;
        case CK_ACT_SIGMOID:
            for (int j = c0; j < c1; j++) {
                float v = row[j] + (bias ? bias[j] : 0.0f);
                row[j] = 1.0f / (1.0f + expf(-v));
            }
            break;
        case CK_ACT_TANH:
            for (int j = c0; j < c1; j++) {
                float v = row[j] + (bias ? bias[j] : 0.0f);
                row[j] = tanhf(v);
            }
            break;
        case CK_ACT_RELU6:
            for (int j = c0; j < c1; j++) {
                float v = row[j] + (bias ? bias[j] : 0.0f);
                v = v > 0.0f ? v : 0.0f;
                row[j] = v < 6.0f ? v : 6.0f;
            }
            break;
        default:
            for (int j = c0; j < c1; j++) row[j] += bias[j];
            break;
        }
    }
}

static inline int ck_valid_act(int act) { return act >= CK_ACT_NONE && act <= CK_ACT_RELU6; }

/* Kernels with an AVX-512 version (ck_isa in ckernels.h). The loop is
 * written once, as an always-inline function `name`; CK_ISA_VERSIONS(name,
 * (params), (args)) defines name_avx2 and name_avx512, the same loop compiled
 * for each ISA (the AVX-512 one through a target attribute, so one binary runs
 * on every x86-64-v3 CPU), and name_isa, which calls the one in use. */
extern int ck_isa_in_use;
#define CK_TARGET_AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq")))
static inline int ck_use_avx512(void) { return __atomic_load_n(&ck_isa_in_use, __ATOMIC_RELAXED) == CK_ISA_AVX512; }
#define CK_ISA_VERSIONS(name, params, args)                                    \
    static void name##_avx2 params { name args; }                              \
    CK_TARGET_AVX512 static void name##_avx512 params { name args; }           \
    static void name##_isa params {                                            \
        if (ck_use_avx512())                                                   \
            name##_avx512 args;                                                \
        else                                                                   \
            name##_avx2 args;                                                  \
    }

/* The same for loops whose body needs to know which version it is compiled
 * into (an explicit 16-lane call, say): the inline function `name` takes an
 * int `wide` (0 or 1, a constant after inlining) before its own arguments.
 * The versions are not inlined into name_isa (inlined into callers' loops,
 * such bodies have lost their vectorisation). */
#define CK_UNPAREN(...) __VA_ARGS__
#define CK_ISA_VERSIONS_W(name, params, args)                                  \
    __attribute__((noinline)) static void name##_avx2 params { name(0, CK_UNPAREN args); } \
    __attribute__((noinline)) CK_TARGET_AVX512 static void name##_avx512 params {          \
        name(1, CK_UNPAREN args);                                              \
    }                                                                          \
    static void name##_isa params {                                            \
        if (ck_use_avx512())                                                   \
            name##_avx512 args;                                                \
        else                                                                   \
            name##_avx2 args;                                                  \
    }

#endif /* CKERNELS_INTERNAL_H */
