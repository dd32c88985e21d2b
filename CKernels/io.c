/*
 * io.c — whole-file reader for data sets (IDX files, raw or .gz).
 *
 * zlib's gz* interface reads gzip members and plain files alike (a file
 * without the gzip magic is passed through unchanged), so one loop serves
 * both. Errors are told apart afterwards through gzerror: a damaged or
 * truncated gzip stream is CK_EFORMAT, an operating-system failure CK_EIO.
 * Only regular files are read: a FIFO would block the reader forever and a
 * device never ends, so the file is opened without blocking and examined first.
 */
#define _POSIX_C_SOURCE 200809L /* O_CLOEXEC under -std=c99 (make lib) */
#include "internal.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* gzread takes an unsigned and returns an int: read at most this at a time. */
#define IO_CHUNK ((size_t)1 << 30)
#define IO_INITIAL ((size_t)1 << 20)

static int gz_status(gzFile f) {
    int err = Z_OK;
    gzerror(f, &err);
    return (err == Z_DATA_ERROR || err == Z_BUF_ERROR) ? CK_EFORMAT : CK_EIO;
}

/* Opens a regular file for gzip-or-plain reading; *size gets its on-disk size. */
static int open_regular(const char *path, gzFile *out, size_t *size) {
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return CK_EIO;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return CK_EIO;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return CK_EINVAL;
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        close(fd);
        return CK_EIO;
    }
    gzFile f = gzdopen(fd, "rb");
    if (!f) {
        close(fd);
        return CK_EIO;
    }
    gzbuffer(f, 1u << 17);
    *out = f;
    *size = (size_t)st.st_size;
    return CK_OK;
}

int ck_read_file(const char *path, size_t max_len, uint8_t **data, size_t *len) {
    CHECK(path && data && len);
    gzFile f;
    size_t size;
    int opened = open_regular(path, &f, &size);
    if (opened != CK_OK) return opened;

    /* Read up to max_len + 1 bytes: one byte more than allowed proves the
     * content is oversize without decompressing all of it. The on-disk size
     * is only a first guess at the buffer (a gzip file grows when read). */
    const size_t limit = max_len == SIZE_MAX ? SIZE_MAX : max_len + 1;
    size_t cap = size > 0 ? size + 1 : IO_INITIAL;
    if (cap > limit) cap = limit;
    if (cap == 0) cap = 1;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        gzclose(f);
        return CK_EIO;
    }
    size_t n = 0;
    int status = CK_OK;
    for (;;) {
        if (n == cap) {
            if (cap >= limit) break;
            size_t ncap = cap > limit / 2 ? limit : cap * 2;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) { status = CK_EIO; break; }
            buf = nb;
            cap = ncap;
        }
        size_t want = cap - n < IO_CHUNK ? cap - n : IO_CHUNK;
        int got = gzread(f, buf + n, (unsigned)want);
        if (got < 0) { status = gz_status(f); break; }
        if (got == 0) {
            /* End of input: gzread reports a truncated stream as 0 bytes
             * plus an error on some zlib versions, as -1 on others. */
            int err = Z_OK;
            gzerror(f, &err);
            if (err != Z_OK) status = gz_status(f);
            break;
        }
        n += (size_t)got;
    }
    if (status == CK_OK && n > max_len) status = CK_EFORMAT;
    int cerr = gzclose(f);
    if (status == CK_OK && cerr != Z_OK) status = cerr == Z_BUF_ERROR ? CK_EFORMAT : CK_EIO;
    if (status != CK_OK) {
        free(buf);
        return status;
    }
    *data = buf;
    *len = n;
    return CK_OK;
}

void ck_free(void *p) { free(p); }

struct ck_stream {
    gzFile file;
};

int ck_stream_open(const char *path, ck_stream **stream) {
    CHECK(path && stream);
    *stream = NULL;
    ck_stream *s = malloc(sizeof *s);
    if (!s) return CK_EIO;
    size_t size;
    int opened = open_regular(path, &s->file, &size);
    if (opened != CK_OK) {
        free(s);
        return opened;
    }
    *stream = s;
    return CK_OK;
}

int ck_stream_read(ck_stream *s, uint8_t *buf, size_t len, size_t *got) {
    CHECK(s && got && (buf || len == 0));
    size_t n = 0;
    while (n < len) {
        size_t want = len - n < IO_CHUNK ? len - n : IO_CHUNK;
        int r = gzread(s->file, buf + n, (unsigned)want);
        if (r < 0) return gz_status(s->file);
        if (r == 0) {
            int err = Z_OK;
            gzerror(s->file, &err);
            if (err != Z_OK) return gz_status(s->file);
            break;
        }
        n += (size_t)r;
    }
    *got = n;
    return CK_OK;
}

void ck_stream_close(ck_stream *s) {
    if (!s) return;
    gzclose(s->file);
    free(s);
}
