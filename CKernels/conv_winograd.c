/*
 * conv_winograd.c — stride-1 3×3 and 5×5 convolutions by Winograd's minimal
 * filtering F(2×2, r×r) (Lavin and Gray, 2015): each 2×2 block of output
 * pixels ("tile") comes from an α×α block of input (α = r + 1) as
 *
 *     Y = Aᵀ [ Σ_c (G g_c Gᵀ) ⊙ (Bᵀ d_c B) ] A,
 *
 * so the multiply-adds over channels become α² GEMMs, one per position ξ of
 * the transformed tile: M_ξ [tiles × o] = V_ξ [tiles × c] · U_ξ [c × o].
 * Per tile that is 16 products instead of 36 for 3×3 (2.25 times fewer; 36%
 * of Inception-v3's multiply-adds), 36 instead of 100 for 5×5 (2.8 times;
 * deep-MNIST's second convolution). The forward pass runs here, and so does
 * the data gradient, which for stride 1 is itself such a convolution: of dz,
 * with the filter turned by 180° and its channels and filters swapped, padded
 * by k − 1 − p (winograd_backward_data).
 *
 * The matrices come from the points 0, ±1 (3×3) and 0, ±1, 2, −1/2 (5×5) and ∞
 * by the Toom-Cook construction; tools/winograd/matrices.py derives them and
 * checks them on exact fractions. The transforms are written once over those
 * tables and compiled for each size with the tables as constants, so the
 * zeros drop out and ±1 becomes an add or a subtraction. Results differ from
 * im2col + GEMM in the last bits (tests compare both with the naive
 * convolution).
 *
 * Tiles go in fixed blocks (from the sizes and the core count only, so the
 * bits do not depend on the thread count), each block on one thread with its
 * own V and M buffers; U is computed once per call, packed for the GEMM.
 */
#include <string.h>
#include "conv.h"

#define W_TILES_MIN 64              /* tiles per block: at least this many, */
#define W_BLOCK_FLOATS (192 * 1024) /* or as many as V and M fit in this    */
#define A_MAX 6                     /* the largest α                        */

/* F(2×2, 3×3): Lavin and Gray's matrices. */
static const float AT3[2 * 4] = {1, 1, 1, 0, 0, 1, -1, -1};
static const float G3[4 * 3] = {1, 0, 0, 0.5f, 0.5f, 0.5f, 0.5f, -0.5f, 0.5f, 0, 0, 1};
static const float BT3[4 * 4] = {1, 0, -1, 0, 0, 1, 1, 0, 0, -1, 1, 0, 0, 1, 0, -1};
/* F(2×2, 5×5): points 0, 1, −1, 2, −1/2, ∞ (more accurate in float than the
 * usual 0, ±1, ±2: see tools/winograd/matrices.py). */
static const float AT5[2 * 6] = {1, 1, 1, 1, 1, 0, 0, 1, -1, 2, -1.0f / 2, 1};
static const float G5[6 * 5] = {
    1,           0,          0,           0,          0,
    -1.0f / 3,   -1.0f / 3,  -1.0f / 3,   -1.0f / 3,  -1.0f / 3,
    1.0f / 3,    -1.0f / 3,  1.0f / 3,    -1.0f / 3,  1.0f / 3,
    1.0f / 15,   2.0f / 15,  4.0f / 15,   8.0f / 15,  16.0f / 15,
    -16.0f / 15, 8.0f / 15,  -4.0f / 15,  2.0f / 15,  -1.0f / 15,
    0,           0,          0,           0,          1};
static const float BT5[6 * 6] = {
    1, 3.0f / 2,  -2,        -3.0f / 2, 1,         0,
    0, -1,        -5.0f / 2, -1.0f / 2, 1,         0,
    0, 1,         1.0f / 2,  -5.0f / 2, 1,         0,
    0, -1.0f / 2, -1,        1.0f / 2,  1,         0,
    0, 2,         -1,        -2,        1,         0,
    0, 1,         3.0f / 2,  -2,        -3.0f / 2, 1};

int ck_conv_winograd_fits(const ck_conv2d_params *p, const conv_geom *g) {
    return p->kh == p->kw && (p->kh == 3 || p->kh == 5) && p->sh == 1 && p->sw == 1 &&
           p->c >= 16 && p->o >= 16 && g->oh >= 2 && g->ow >= 2;
}

/* Per-thread buffers: one for U (on the calling thread), one for a block's
 * V and M; the turned filter of a data gradient on the calling thread. */
static __thread ck_buffer u_buf, vm_buf, turned_buf;

/* Eight floats at any alignment; the transforms run on eight channels (or
 * filters) at a time, a remainder of fewer in the low lanes of one more. */
typedef float v8 __attribute__((vector_size(32), aligned(4)));

static inline v8 load8(const float *p, int n) {
    if (n == 8) return *(const v8 *)p;
    v8 r = {0};
    for (int k = 0; k < n; k++) r[k] = p[k];
    return r;
}

static inline void store8(float *p, v8 x, int n) {
    if (n == 8) {
        *(v8 *)p = x;
        return;
    }
    for (int k = 0; k < n; k++) p[k] = x[k];
}

#define INLINE static inline __attribute__((always_inline))

/* Σ_l m[l]·x[l·xs] over the len coefficients of a matrix row m, with the
 * zero ones skipped and ±1 as an add or subtraction (m is a constant table
 * once inlined, so the tests fold away). */
INLINE v8 row_dot(const float *m, int len, const v8 *x, int xs) {
    v8 acc = {0};
    int first = 1;
    _Pragma("clang loop unroll(full)")
    for (int l = 0; l < len; l++) {
        const float k = m[l];
        if (k == 0.0f) continue;
        const v8 term = k == 1.0f ? x[l * xs] : k == -1.0f ? -x[l * xs] : k * x[l * xs];
        acc = first ? term : acc + term;
        first = 0;
    }
    return acc;
}

/* U_ξ = (G g Gᵀ)_ξ for the filter pairs (c, o) of [e0, e1) of the plane
 * c·O + o: u [α²][c][o], w [r][r][c][o]. */
INLINE void filters_t(int A, int R, const float *gm, size_t plane, const float *w, float *u,
                      size_t e0, size_t e1) {
    for (size_t e = e0; e < e1; e += 8) {
        const int n = e1 - e < 8 ? (int)(e1 - e) : 8;
        v8 g[A_MAX * A_MAX], t[A_MAX * A_MAX]; /* g [r][r], t = G g [α][r] */
        _Pragma("clang loop unroll(full)")
        for (int i = 0; i < R * R; i++) g[i] = load8(w + (size_t)i * plane + e, n);
        _Pragma("clang loop unroll(full)")
        for (int k = 0; k < A; k++)
            _Pragma("clang loop unroll(full)")
            for (int j = 0; j < R; j++) t[k * R + j] = row_dot(gm + k * R, R, g + j, R);
        _Pragma("clang loop unroll(full)")
        for (int k = 0; k < A; k++)
            _Pragma("clang loop unroll(full)")
            for (int l = 0; l < A; l++)
                store8(u + (size_t)(k * A + l) * plane + e, row_dot(gm + l * R, R, t + k * R, 1), n);
    }
}

/* Bᵀ d B for channels [c, c + n) of one tile (n ≤ 8; 8 is a constant where
 * it matters, so loads and stores are whole vectors). */
INLINE void input_vec(int A, const float *bt, const float *const *px, int c, int n,
                      float *restrict v, size_t ldv) {
    v8 d[A_MAX * A_MAX], t[A_MAX * A_MAX];
    _Pragma("clang loop unroll(full)")
    for (int i = 0; i < A * A; i++) d[i] = load8(px[i] + c, n);
    _Pragma("clang loop unroll(full)")
    for (int k = 0; k < A; k++) /* t = Bᵀ d */
        _Pragma("clang loop unroll(full)")
        for (int j = 0; j < A; j++) t[k * A + j] = row_dot(bt + k * A, A, d + j, A);
    _Pragma("clang loop unroll(full)")
    for (int k = 0; k < A; k++) /* (Bᵀ d) B */
        _Pragma("clang loop unroll(full)")
        for (int l = 0; l < A; l++)
            store8(v + (size_t)(k * A + l) * ldv + c, row_dot(bt + l * A, A, t + k * A, 1), n);
}

/* V_ξ of one tile (top-left input pixel r0, q0; pixels outside the image
 * read `zeros`, C floats): v [α²][ldv] at column 0, channels contiguous. */
INLINE void input_t(int A, const float *bt, const ck_conv2d_params *p, const float *x, int r0,
                    int q0, const float *zeros, float *restrict v, size_t ldv) {
    const int C = p->c;
    const float *px[A_MAX * A_MAX];
    _Pragma("clang loop unroll(full)")
    for (int i = 0; i < A; i++)
        _Pragma("clang loop unroll(full)")
        for (int j = 0; j < A; j++) {
            const int r = r0 + i, q = q0 + j;
            px[i * A + j] = r >= 0 && r < p->h && q >= 0 && q < p->w
                                ? x + ((size_t)r * p->w + q) * C : zeros;
        }
    int c = 0;
    for (; c + 8 <= C; c += 8) input_vec(A, bt, px, c, 8, v, ldv);
    if (c < C) input_vec(A, bt, px, c, C - c, v, ldv);
}

/* Aᵀ s A for filters [o, o + n) of one tile (n ≤ 8), into out[2][2]. */
INLINE void output_vec(int A, const float *at, const float *restrict m, size_t ldm, int o, int n,
                       float *out[2][2]) {
    v8 s[A_MAX * A_MAX], t[2 * A_MAX];
    _Pragma("clang loop unroll(full)")
    for (int e = 0; e < A * A; e++) s[e] = load8(m + (size_t)e * ldm + o, n);
    _Pragma("clang loop unroll(full)")
    for (int i = 0; i < 2; i++) /* t = Aᵀ s */
        _Pragma("clang loop unroll(full)")
        for (int j = 0; j < A; j++) t[i * A + j] = row_dot(at + i * A, A, s + j, A);
    _Pragma("clang loop unroll(full)")
    for (int i = 0; i < 2; i++)
        _Pragma("clang loop unroll(full)")
        for (int j = 0; j < 2; j++) store8(out[i][j] + o, row_dot(at + j * A, A, t + i * A, 1), n);
}

/* Y = Aᵀ M A for one tile (m [α²][ldm], filters contiguous), written where
 * it lies inside the output (pixels past its edge go to `spare`, O floats),
 * then bias and activation as the GEMM path applies them. */
INLINE void output_t(int A, const float *at, const ck_conv2d_params *p, const conv_geom *g,
                     const float *restrict m, size_t ldm, const float *b, int act, float *y,
                     float *spare, int n, int r0, int q0) {
    const int O = p->o;
    float *out[2][2];
    int inside[2][2];
    _Pragma("clang loop unroll(full)")
    for (int i = 0; i < 2; i++)
        _Pragma("clang loop unroll(full)")
        for (int j = 0; j < 2; j++) {
            inside[i][j] = r0 + i < g->oh && q0 + j < g->ow;
            out[i][j] = inside[i][j] ? y + (((size_t)n * g->oh + r0 + i) * g->ow + q0 + j) * O
                                     : spare;
        }
    int o = 0;
    for (; o + 8 <= O; o += 8) output_vec(A, at, m, ldm, o, 8, out);
    if (o < O) output_vec(A, at, m, ldm, o, O - o, out);
    _Pragma("clang loop unroll(full)")
    for (int i = 0; i < 2; i++)
        _Pragma("clang loop unroll(full)")
        for (int j = 0; j < 2; j++)
            if (inside[i][j]) ck_bias_act(out[i][j], O, 0, 1, 0, O, b, act);
}

/* The transforms of one filter size, compiled with its tables as constants. */
typedef struct {
    int r, a;
    void (*filters)(size_t plane, const float *w, float *u, size_t e0, size_t e1);
    void (*input)(const ck_conv2d_params *p, const float *x, int r0, int q0, const float *zeros,
                  float *restrict v, size_t ldv);
    void (*output)(const ck_conv2d_params *p, const conv_geom *g, const float *restrict m,
                   size_t ldm, const float *b, int act, float *y, float *spare, int n, int r0,
                   int q0);
} wino_size;

#define WINO_SIZE(R, A)                                                                          \
    static void filters##R(size_t plane, const float *w, float *u, size_t e0, size_t e1) {      \
        filters_t(A, R, G##R, plane, w, u, e0, e1);                                             \
    }                                                                                           \
    static void input##R(const ck_conv2d_params *p, const float *x, int r0, int q0,             \
                         const float *zeros, float *restrict v, size_t ldv) {                   \
        input_t(A, BT##R, p, x, r0, q0, zeros, v, ldv);                                         \
    }                                                                                           \
    static void output##R(const ck_conv2d_params *p, const conv_geom *g, const float *restrict m, \
                          size_t ldm, const float *b, int act, float *y, float *spare, int n,   \
                          int r0, int q0) {                                                     \
        output_t(A, AT##R, p, g, m, ldm, b, act, y, spare, n, r0, q0);                          \
    }                                                                                           \
    static const wino_size size##R = {R, A, filters##R, input##R, output##R};

WINO_SIZE(3, 4)
WINO_SIZE(5, 6)

/* y = conv(x, w) + b, act, for parameters that ck_conv_winograd_fits. */
static int winograd(const ck_conv2d_params *p, const conv_geom *g, const float *x,
                    const float *w, const float *b, int act, float *y) {
    const wino_size *ws = p->kh == 3 ? &size3 : &size5;
    const int C = p->c, O = p->o, a2 = ws->a * ws->a, th = (g->oh + 1) / 2, tw = (g->ow + 1) / 2;
    const int tiles = p->n * th * tw;
    /* Blocks of tiles: as many as V and M in W_BLOCK_FLOATS allow (at least
     * W_TILES_MIN), a multiple of the core count when there are enough. */
    const int per_max = ck_imax(W_TILES_MIN, (int)(W_BLOCK_FLOATS / (a2 * (size_t)(C + O))));
    const int procs = ck_imax(1, omp_get_num_procs());
    int blocks = (tiles + per_max - 1) / per_max;
    blocks = ck_imin(tiles, (blocks + procs - 1) / procs * procs);
    const int per = (tiles + blocks - 1) / blocks;
    /* U, and its α² copies packed for Axon's GEMM, in the calling thread's buffer. */
    const size_t plane = (size_t)C * O;
    const int path = ck_gemm_get_path();
    const size_t packed = path == CK_GEMM_BLAS ? 0 : ck_axon_packed_b_floats(path, C, O);
    float *u = ck_buffer_grow(&u_buf, a2 * (plane + packed));
    if (!u) return 0;
    const float *up = u + a2 * plane;
    const int par = conv_want_parallel((double)tiles * a2 * C * O);
    const size_t chunk = 4096;
    CK_PAR_FOR(par, for (size_t e = 0; e < plane; e += chunk)
        ws->filters(plane, w, u, e, e + chunk < plane ? e + chunk : plane););
    if (packed)
        CK_PAR_FOR(par, for (int k = 0; k < a2; k++)
            ck_axon_pack_b(path, 0, C, O, u + k * plane, O, u + a2 * plane + k * packed););
    int failed = 0;
    CK_PAR_FOR(blocks > 1 && par,
    for (int blk = 0; blk < blocks; blk++) {
        const int t0 = blk * per, t1 = ck_imin(tiles, t0 + per), nt = t1 - t0;
        /* V [α²][nt][C], M [α²][nt][O], then C zeros and O spare floats. */
        float *v = nt > 0 ? ck_buffer_grow(&vm_buf, a2 * (size_t)nt * (C + O) + C + O) : NULL;
        if (!v) {
            if (nt > 0) __atomic_store_n(&failed, 1, __ATOMIC_RELAXED);
            continue;
        }
        float *mm = v + a2 * (size_t)nt * C, *zeros = mm + a2 * (size_t)nt * O, *spare = zeros + C;
        memset(zeros, 0, sizeof(float) * C);
        for (int t = t0; t < t1; t++) {
            const int img = t / (th * tw), rest = t % (th * tw);
            ws->input(p, x + (size_t)img * g->in_img, rest / tw * 2 - g->pt, rest % tw * 2 - g->pl,
                      zeros, v + (size_t)(t - t0) * C, (size_t)nt * C);
        }
        for (int k = 0; k < a2; k++) {
            const float *vk = v + (size_t)k * nt * C;
            float *mk = mm + (size_t)k * nt * O;
            if (packed)
                ck_axon_sgemm_packed(path, 0, 0, nt, O, C, 1.0f, vk, C, u + k * plane, O,
                                     up + k * packed, 0.0f, mk, O);
            else
                ck_gemm_serial_on(path, 0, 0, nt, O, C, 1.0f, vk, C, u + k * plane, O, 0.0f, mk, O);
        }
        for (int t = t0; t < t1; t++) {
            const int img = t / (th * tw), rest = t % (th * tw);
            ws->output(p, g, mm + (size_t)(t - t0) * O, (size_t)nt * O, b, act, y, spare, img,
                       rest / tw * 2, rest % tw * 2);
        }
    });
    return !failed;
}

int ck_conv_winograd_forward(const ck_conv2d_params *p, const conv_geom *g, const float *x,
                             const float *w, const float *b, int act, float *y) {
    return ck_conv_winograd_fits(p, g) && winograd(p, g, x, w, b, act, y);
}

/* The data gradient of a stride-1 convolution is the forward convolution of
 * dz (oh × ow × o) with the filter turned by 180° and transposed,
 * w'[i][j][o][c] = w[r−1−i][r−1−j][c][o], padded by r − 1 − p on each side,
 * giving h × w × c: dx[y][x] = Σ dz[y + p − i][x + p − j]·w[i][j] over the
 * window, with i' = r − 1 − i. */
int ck_conv_winograd_backward_data(const ck_conv2d_params *p, const conv_geom *g,
                                   const float *dz, const float *w, float *dx) {
    const int R = p->kh, C = p->c, O = p->o;
    const ck_conv2d_params q = {.n = p->n, .h = g->oh, .w = g->ow, .c = O, .kh = R, .kw = R,
                                .o = C, .sh = 1, .sw = 1, .padding = p->padding};
    const conv_geom h = {.oh = p->h, .ow = p->w, .pt = R - 1 - g->pt, .pl = R - 1 - g->pl,
                         .in_img = (size_t)g->oh * g->ow * O};
    if (!ck_conv_winograd_fits(p, g) || !ck_conv_winograd_fits(&q, &h)) return 0;
    float *wt = ck_buffer_grow(&turned_buf, (size_t)R * R * C * O);
    if (!wt) return 0;
    for (int i = 0; i < R * R; i++) {
        const float *src = w + (size_t)(R * R - 1 - i) * C * O;
        float *dst = wt + (size_t)i * C * O;
        for (int c = 0; c < C; c++)
            for (int o = 0; o < O; o++) dst[(size_t)o * C + c] = src[(size_t)c * O + o];
    }
    return winograd(&q, &h, dz, wt, NULL, CK_ACT_NONE, dx);
}
