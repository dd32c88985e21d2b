/*
 * jpeg.c — JPEG decoding through libjpeg-turbo, and bilinear resizing.
 *
 * libjpeg reports fatal errors through error_exit, which must not return: it
 * longjmps back here, so a corrupt file becomes a status and a message, never
 * an exit() of the process.
 */
#include "internal.h"

#include <setjmp.h>
#include <stdio.h> /* before jpeglib.h, which uses FILE */
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

typedef struct {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
} jpeg_failure;

static void on_error(j_common_ptr cinfo) {
    jpeg_failure *f = (jpeg_failure *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, f->message);
    longjmp(f->jump, 1);
}

/* Warnings (e.g. "premature end of data") are not fatal: libjpeg fills the rest grey. */
static void on_message(j_common_ptr cinfo) { (void)cinfo; }

int ck_jpeg_decode_rgb(const uint8_t *data, size_t len, int *width, int *height, uint8_t **rgb,
                       char *msg, size_t msg_len) {
    if (msg && msg_len) msg[0] = '\0';
    CHECK(data && width && height && rgb && len > 0 && len <= ((size_t)1 << 31));
    *rgb = NULL;
    struct jpeg_decompress_struct cinfo;
    jpeg_failure failure;
    /* volatile: changed between setjmp and a longjmp back to it */
    uint8_t *volatile buffer = NULL;
    cinfo.err = jpeg_std_error(&failure.mgr);
    failure.mgr.error_exit = on_error;
    failure.mgr.output_message = on_message;
    failure.message[0] = '\0';
    if (setjmp(failure.jump)) {
        if (msg && msg_len) {
            strncpy(msg, failure.message, msg_len - 1);
            msg[msg_len - 1] = '\0';
        }
        jpeg_destroy_decompress(&cinfo);
        free(buffer);
        return CK_EFORMAT;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    if ((size_t)cinfo.image_width * cinfo.image_height > CK_MAX_IMAGE_PIXELS) {
        snprintf(failure.message, sizeof failure.message, "%ux%u pixels, more than the limit of %zu",
                 (unsigned)cinfo.image_width, (unsigned)cinfo.image_height, (size_t)CK_MAX_IMAGE_PIXELS);
        longjmp(failure.jump, 1);
    }
    /* Grey and CMYK/YCCK come out as RGB too (libjpeg-turbo converts them). */
    cinfo.out_color_space = JCS_RGB;
    /* TensorFlow's DecodeJpeg default ("INTEGER_FAST"), so pixels match its. */
    cinfo.dct_method = JDCT_IFAST;
    jpeg_start_decompress(&cinfo);
    const int w = (int)cinfo.output_width, h = (int)cinfo.output_height;
    if (w <= 0 || h <= 0 || w > (1 << 15) || h > (1 << 15) || cinfo.output_components != 3) {
        snprintf(failure.message, sizeof failure.message, "unsupported size %dx%d or %d components", w, h,
                 cinfo.output_components);
        longjmp(failure.jump, 1);
    }
    buffer = malloc((size_t)w * h * 3);
    if (!buffer) {
        snprintf(failure.message, sizeof failure.message, "out of memory for %dx%d pixels", w, h);
        longjmp(failure.jump, 1);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = buffer + (size_t)cinfo.output_scanline * w * 3;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    *width = w;
    *height = h;
    *rgb = buffer;
    return CK_OK;
}

int ck_resize_bilinear(int n, int h, int w, int c, int oh, int ow, int align_corners,
                       int half_pixel_centers, const float *x, float *y) {
#pragma STDC FP_CONTRACT OFF /* no fused multiply-adds: the same roundings as TensorFlow */
    CHECK(n >= 1 && h >= 1 && w >= 1 && c >= 1 && oh >= 1 && ow >= 1);
    CHECK(x != NULL && y != NULL);
    CHECK(!(align_corners && half_pixel_centers));
    /* TensorFlow's arithmetic, in float as its kernel does it (double would
     * move source positions by up to ~1e-4 pixel on large pictures): scale
     * in/out, or (in-1)/(out-1) with aligned corners; source = out·scale, or
     * (out + ½)·scale − ½ with half-pixel centres. */
    const float sy = align_corners && oh > 1 ? (float)(h - 1) / (float)(oh - 1) : (float)h / (float)oh;
    const float sx = align_corners && ow > 1 ? (float)(w - 1) / (float)(ow - 1) : (float)w / (float)ow;
    CK_PAR_FOR((double)n * oh * ow * c > 65536, for (int r = 0; r < n * oh; r++) {
        const int img = r / oh, i = r % oh;
        const float fy = half_pixel_centers ? ((float)i + 0.5f) * sy - 0.5f : (float)i * sy;
        int y0 = fy < 0 ? 0 : (int)fy;
        if (y0 > h - 1) y0 = h - 1;
        const int y1 = y0 + 1 < h ? y0 + 1 : h - 1;
        const float dy = fy < 0 ? 0.0f : fy - floorf(fy);
        const float *top = x + ((size_t)img * h + y0) * w * c, *bottom = x + ((size_t)img * h + y1) * w * c;
        float *out = y + (size_t)r * ow * c;
        for (int j = 0; j < ow; j++) {
            const float fx = half_pixel_centers ? ((float)j + 0.5f) * sx - 0.5f : (float)j * sx;
            int x0 = fx < 0 ? 0 : (int)fx;
            if (x0 > w - 1) x0 = w - 1;
            const int x1 = x0 + 1 < w ? x0 + 1 : w - 1;
            const float dx = fx < 0 ? 0.0f : fx - floorf(fx);
            for (int k = 0; k < c; k++) {
                const float t = top[x0 * c + k] + (top[x1 * c + k] - top[x0 * c + k]) * dx;
                const float b = bottom[x0 * c + k] + (bottom[x1 * c + k] - bottom[x0 * c + k]) * dx;
                out[j * c + k] = t + (b - t) * dy;
            }
        }
    });
    return CK_OK;
}
