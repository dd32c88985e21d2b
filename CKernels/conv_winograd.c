/*
 * conv_winograd.c — the forward of a 3×3 stride-1 convolution by Winograd's
 * minimal filtering F(2×2, 3×3) (Lavin and Gray, 2015): each 2×2 block of
 * output pixels ("tile") comes from a 4×4 block of input as
 *
 *     Y = Aᵀ [ Σ_c (G g_c Gᵀ) ⊙ (Bᵀ d_c B) ] A,
 *
 * so the multiply-adds over channels become 16 GEMMs, one per position ξ of
 * the 4×4 transformed tile: M_ξ [tiles × o] = V_ξ [tiles × c] · U_ξ [c × o],
 * 16 products per tile instead of 36 (2.25 times fewer; 36% of
 * Inception-v3's multiply-adds are in such layers). The transforms only add
 * and halve, exact but for rounding; results differ from im2col + GEMM in
 * the last bits (tests compare both with the naive convolution).
 *
 * Tiles go in fixed blocks (from the sizes and the core count only, so the
 * bits do not depend on the thread count), each block on one thread with its
 * own V and M buffers; U is computed once per call, packed for the GEMM.
 */
#include <string.h>
#include "conv.h"

#define W_TILES_MIN 64              /* tiles per block: at least this many, */
#define W_BLOCK_FLOATS (192 * 1024) /* or as many as V and M fit in this    */

int ck_conv_winograd_fits(const ck_conv2d_params *p, const conv_geom *g) {
    return p->kh == 3 && p->kw == 3 && p->sh == 1 && p->sw == 1 && p->c >= 16 && p->o >= 16 &&
           g->oh >= 2 && g->ow >= 2;
}

/* Per-thread buffers: one for U (on the calling thread), one for a block's
 * V and M. */
static __thread ck_buffer u_buf, vm_buf;

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

/* U_ξ = (G g Gᵀ)_ξ for the filter pairs (c, o) of [e0, e1) of the plane
 * c·O + o: u [16][c][o], w [3][3][c][o]. */
static void transform_filters(size_t plane, const float *w, float *u, size_t e0, size_t e1) {
    for (size_t e = e0; e < e1; e += 8) {
        const int n = e1 - e < 8 ? (int)(e1 - e) : 8;
        v8 g[3][3], t[4][3];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) g[i][j] = load8(w + (size_t)(i * 3 + j) * plane + e, n);
        for (int j = 0; j < 3; j++) { /* t = G g */
            t[0][j] = g[0][j];
            t[1][j] = 0.5f * (g[0][j] + g[1][j] + g[2][j]);
            t[2][j] = 0.5f * (g[0][j] - g[1][j] + g[2][j]);
            t[3][j] = g[2][j];
        }
        for (int i = 0; i < 4; i++) { /* (G g) Gᵀ */
            float *row = u + (size_t)(i * 4) * plane + e;
            store8(row, t[i][0], n);
            store8(row + plane, 0.5f * (t[i][0] + t[i][1] + t[i][2]), n);
            store8(row + 2 * plane, 0.5f * (t[i][0] - t[i][1] + t[i][2]), n);
            store8(row + 3 * plane, t[i][2], n);
        }
    }
}

/* V_ξ of one tile (top-left input pixel r0, q0; pixels outside the image
 * read `zeros`, C floats): v [16][ldv] at column 0, channels contiguous. */
static void transform_input(const ck_conv2d_params *p, const float *x, int r0, int q0,
                            const float *zeros, float *restrict v, size_t ldv) {
    const int C = p->c;
    const float *px[4][4];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            const int r = r0 + i, q = q0 + j;
            px[i][j] = r >= 0 && r < p->h && q >= 0 && q < p->w ? x + ((size_t)r * p->w + q) * C
                                                                 : zeros;
        }
    for (int c = 0; c < C; c += 8) {
        const int n = C - c < 8 ? C - c : 8;
        v8 d[4][4], t[4][4];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) d[i][j] = load8(px[i][j] + c, n);
        for (int j = 0; j < 4; j++) { /* t = Bᵀ d */
            t[0][j] = d[0][j] - d[2][j];
            t[1][j] = d[1][j] + d[2][j];
            t[2][j] = d[2][j] - d[1][j];
            t[3][j] = d[1][j] - d[3][j];
        }
        for (int i = 0; i < 4; i++) { /* (Bᵀ d) B */
            store8(v + (size_t)(i * 4 + 0) * ldv + c, t[i][0] - t[i][2], n);
            store8(v + (size_t)(i * 4 + 1) * ldv + c, t[i][1] + t[i][2], n);
            store8(v + (size_t)(i * 4 + 2) * ldv + c, t[i][2] - t[i][1], n);
            store8(v + (size_t)(i * 4 + 3) * ldv + c, t[i][1] - t[i][3], n);
        }
    }
}

/* Y = Aᵀ M A for one tile, written where it lies inside the output (pixels
 * past its edge go to `spare`, O floats), then bias and activation as the
 * GEMM path applies them. */
static void transform_output(const ck_conv2d_params *p, const conv_geom *g,
                             const float *restrict m, size_t ldm, const float *b, int act,
                             float *y, float *spare, int n, int r0, int q0) {
    const int O = p->o;
    float *out[2][2];
    int inside[2][2];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            inside[i][j] = r0 + i < g->oh && q0 + j < g->ow;
            out[i][j] = inside[i][j] ? y + (((size_t)n * g->oh + r0 + i) * g->ow + q0 + j) * O
                                     : spare;
        }
    for (int o = 0; o < O; o++) {
        float s[4][4], t[2][4];
        for (int k = 0; k < 16; k++) s[k / 4][k % 4] = m[(size_t)k * ldm + o];
        for (int j = 0; j < 4; j++) { /* t = Aᵀ s */
            t[0][j] = s[0][j] + s[1][j] + s[2][j];
            t[1][j] = s[1][j] - s[2][j] - s[3][j];
        }
        for (int i = 0; i < 2; i++) {
            const float y0 = t[i][0] + t[i][1] + t[i][2], y1 = t[i][1] - t[i][2] - t[i][3];
            out[i][0][o] = y0;
            out[i][1][o] = y1;
        }
    }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            if (inside[i][j]) ck_bias_act(out[i][j], O, 0, 1, 0, O, b, act);
}

int ck_conv_winograd_forward(const ck_conv2d_params *p, const conv_geom *g, const float *x,
                             const float *w, const float *b, int act, float *y) {
    const int C = p->c, O = p->o, th = (g->oh + 1) / 2, tw = (g->ow + 1) / 2;
    const int tiles = p->n * th * tw;
    /* Blocks of tiles: as many as V and M in W_BLOCK_FLOATS allow (at least
     * W_TILES_MIN), a multiple of the core count when there are enough. */
    const int per_max = ck_imax(W_TILES_MIN, (int)(W_BLOCK_FLOATS / (16 * (size_t)(C + O))));
    const int procs = ck_imax(1, omp_get_num_procs());
    int blocks = (tiles + per_max - 1) / per_max;
    blocks = ck_imin(tiles, (blocks + procs - 1) / procs * procs);
    const int per = (tiles + blocks - 1) / blocks;
    /* U, and its 16 copies packed for Axon's GEMM, in the calling thread's buffer. */
    const size_t plane = (size_t)C * O;
    const int path = ck_gemm_get_path();
    const size_t packed = path == CK_GEMM_BLAS ? 0 : ck_axon_packed_b_floats(path, C, O);
    float *u = ck_buffer_grow(&u_buf, 16 * (plane + packed));
    if (!u) return 0;
    const float *up = u + 16 * plane;
    const int par = conv_want_parallel((double)tiles * 16 * C * O);
    const size_t chunk = 4096;
    CK_PAR_FOR(par, for (size_t e = 0; e < plane; e += chunk)
        transform_filters(plane, w, u, e, e + chunk < plane ? e + chunk : plane););
    if (packed)
        CK_PAR_FOR(par, for (int k = 0; k < 16; k++)
            ck_axon_pack_b(path, 0, C, O, u + k * plane, O, u + 16 * plane + k * packed););
    int failed = 0;
    CK_PAR_FOR(blocks > 1 && par,
    for (int blk = 0; blk < blocks; blk++) {
        const int t0 = blk * per, t1 = ck_imin(tiles, t0 + per), nt = t1 - t0;
        /* V [16][nt][C], M [16][nt][O], then C zeros and O spare floats. */
        float *v = nt > 0 ? ck_buffer_grow(&vm_buf, 16 * (size_t)nt * (C + O) + C + O) : NULL;
        if (!v) {
            if (nt > 0) __atomic_store_n(&failed, 1, __ATOMIC_RELAXED);
            continue;
        }
        float *mm = v + 16 * (size_t)nt * C, *zeros = mm + 16 * (size_t)nt * O, *spare = zeros + C;
        memset(zeros, 0, sizeof(float) * C);
        for (int t = t0; t < t1; t++) {
            const int img = t / (th * tw), rest = t % (th * tw);
            transform_input(p, x + (size_t)img * g->in_img, rest / tw * 2 - g->pt,
                            rest % tw * 2 - g->pl, zeros, v + (size_t)(t - t0) * C, (size_t)nt * C);
        }
        for (int k = 0; k < 16; k++) {
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
            transform_output(p, g, mm + (size_t)(t - t0) * O, (size_t)nt * O, b, act, y, spare,
                             img, rest / tw * 2, rest % tw * 2);
        }
    });
    return !failed;
}
