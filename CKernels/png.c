/*
 * png.c — PNG files through Debian's libpng (for plots and tests).
 *
 * libpng reports errors by longjmp; its "simplified" png_image API does the
 * setjmp itself and turns every failure into a zero return, so nothing here
 * (nor any Swift caller) ever sees a jump. Its message is copied out so the
 * caller can say what went wrong.
 */
#include "internal.h"

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void copy_message(const png_image *image, char *msg, size_t msg_len) {
    if (!msg || msg_len == 0) return;
    strncpy(msg, image->message, msg_len - 1);
    msg[msg_len - 1] = '\0';
}

int ck_png_write_rgb(const char *path, int width, int height, const uint8_t *rgb,
                     char *msg, size_t msg_len) {
    if (msg && msg_len) msg[0] = '\0';
    CHECK(path && rgb && width > 0 && height > 0 && width <= (1 << 16) && height <= (1 << 16));
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = (png_uint_32)width;
    image.height = (png_uint_32)height;
    image.format = PNG_FORMAT_RGB;
    if (!png_image_write_to_file(&image, path, 0, rgb, 0, NULL)) {
        copy_message(&image, msg, msg_len);
        png_image_free(&image);
        return CK_EIO;
    }
    return CK_OK;
}

int ck_png_read_rgb(const char *path, int *width, int *height, uint8_t **rgb,
                    char *msg, size_t msg_len) {
    if (msg && msg_len) msg[0] = '\0';
    CHECK(path && width && height && rgb);
    *rgb = NULL;
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&image, path)) {
        copy_message(&image, msg, msg_len);
        png_image_free(&image);
        return CK_EFORMAT;
    }
    if ((size_t)image.width * image.height > CK_MAX_IMAGE_PIXELS) {
        if (msg && msg_len)
            snprintf(msg, msg_len, "%ux%u pixels, more than the limit of %zu", (unsigned)image.width,
                     (unsigned)image.height, (size_t)CK_MAX_IMAGE_PIXELS);
        png_image_free(&image);
        return CK_EFORMAT;
    }
    image.format = PNG_FORMAT_RGB;
    /* Without this flag libpng takes the samples of a 16-bit file that has no
     * gAMA/sRGB chunk as linear light and gamma-encodes them on the way to 8
     * bits; read them like 8-bit samples instead (v/65535 ≈ byte/255), so the
     * 8- and 16-bit versions of one picture give the same bytes. */
    image.flags |= PNG_IMAGE_FLAG_16BIT_sRGB;
    size_t size = PNG_IMAGE_SIZE(image);
    uint8_t *buffer = malloc(size ? size : 1);
    if (!buffer) {
        png_image_free(&image);
        return CK_EIO;
    }
    if (!png_image_finish_read(&image, NULL, buffer, 0, NULL)) {
        copy_message(&image, msg, msg_len);
        free(buffer);
        png_image_free(&image);
        return CK_EFORMAT;
    }
    *width = (int)image.width;
    *height = (int)image.height;
    *rgb = buffer;
    return CK_OK;
}
