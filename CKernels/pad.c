/*
 * pad.c — explicit zero padding of NHWC images (tf.pad / keras ZeroPadding2D
 * on the H and W axes), and its gradient, which is the interior crop.
 *
 * MobileNet and EfficientNet pad before their stride-2 convolutions with
 * asymmetric pads (Keras' correct_pad gives top/left 0 or 1 and bottom/right
 * 1), which SAME padding cannot express; the convolution then runs VALID.
 *
 * Both passes are copies: parallel over output rows, each row a memset of its
 * borders and a memcpy of its interior, so any thread count gives the same bytes.
 * So is ck_copy_rows, the strided row copy of Concatenate and its gradient.
 */
#include <string.h>
#include "internal.h"

/* Below this many output floats a call runs on one thread. */
#define PAD_PAR_MIN 65536
/* ck_copy_rows: one branch of an Inception module at 17×17 is 55k floats, a
 * copy of ~20 µs against a fork/join of a few. */
#define COPY_PAR_MIN 16384

/* Sizes in floats, checked to fit in size_t arithmetic with room to spare. */
static int pad_sizes(int n, int h, int w, int c, int top, int bottom, int left, int right,
                     size_t *out_total) {
    CHECK(n >= 1 && h >= 1 && w >= 1 && c >= 1);
    CHECK(top >= 0 && bottom >= 0 && left >= 0 && right >= 0);
    const double oh = (double)h + top + bottom, ow = (double)w + left + right;
    CHECK(oh <= 2147483647.0 && ow <= 2147483647.0);
    CHECK((double)n * oh * ow * c <= 4e18);
    *out_total = (size_t)n * (size_t)oh * (size_t)ow * (size_t)c;
    return CK_OK;
}

int ck_pad2d_forward(int n, int h, int w, int c, int top, int bottom, int left, int right,
                     const float *x, float *y) {
    size_t total;
    int st = pad_sizes(n, h, w, c, top, bottom, left, right, &total);
    if (st != CK_OK) return st;
    CHECK(x != NULL && y != NULL);
    const long oh = (long)h + top + bottom, ow = (long)w + left + right;
    const size_t orow = (size_t)ow * c, irow = (size_t)w * c;
    const size_t lbytes = (size_t)left * c * sizeof(float), rbytes = (size_t)right * c * sizeof(float);
    const long rows = (long)n * oh;
    CK_PAR_FOR(total >= PAD_PAR_MIN,
    for (long q = 0; q < rows; q++) {
        const long b = q / oh, r = q % oh - top;
        float *yr = y + (size_t)q * orow;
        if (r < 0 || r >= h) {
            memset(yr, 0, orow * sizeof(float));
            continue;
        }
        memset(yr, 0, lbytes);
        memcpy(yr + (size_t)left * c, x + ((size_t)b * h + r) * irow, irow * sizeof(float));
        memset(yr + (size_t)left * c + irow, 0, rbytes);
    });
    return CK_OK;
}

int ck_pad2d_backward(int n, int h, int w, int c, int top, int bottom, int left, int right,
                      const float *dy, float *dx) {
    size_t total;
    int st = pad_sizes(n, h, w, c, top, bottom, left, right, &total);
    if (st != CK_OK) return st;
    CHECK(dy != NULL && dx != NULL);
    const long oh = (long)h + top + bottom, ow = (long)w + left + right;
    const size_t orow = (size_t)ow * c, irow = (size_t)w * c;
    const long rows = (long)n * h;
    CK_PAR_FOR(total >= PAD_PAR_MIN,
    for (long q = 0; q < rows; q++) {
        const long b = q / h, r = q % h;
        memcpy(dx + (size_t)q * irow, dy + ((size_t)b * oh + r + top) * orow + (size_t)left * c,
               irow * sizeof(float));
    });
    return CK_OK;
}

int ck_copy_rows(long rows, long width, const float *src, long lds, float *dst, long ldd) {
    CHECK(rows >= 0 && width >= 0 && lds >= width && ldd >= width);
    CHECK(rows == 0 || width == 0 || (src != NULL && dst != NULL));
    CHECK((double)rows * (lds > ldd ? lds : ldd) <= 4e18);
    CK_PAR_FOR((double)rows * width >= COPY_PAR_MIN,
    for (long q = 0; q < rows; q++)
        memcpy(dst + (size_t)q * ldd, src + (size_t)q * lds, (size_t)width * sizeof(float)););
    return CK_OK;
}
