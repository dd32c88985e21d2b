/*
 * window.c — the geometry of a sliding window along one axis (spec §1.2),
 * the one rule convolution, depthwise convolution and pooling all use.
 */
#include "internal.h"

int ck_output_size(int in, int k, int s, int padding, int *out, int *pad_before) {
    CHECK(in >= 1 && k >= 1 && s >= 1);
    CHECK(padding == CK_PAD_VALID || padding == CK_PAD_SAME);
    CHECK(out != NULL);
    int o, pb = 0;
    if (padding == CK_PAD_VALID) {
        o = in >= k ? (in - k) / s + 1 : 0;
    } else {
        o = (int)(((long long)in + s - 1) / s); /* in + s may pass INT_MAX */
        /* Total padding P; its odd extra cell goes after (TF's split). */
        long long p = (long long)(o - 1) * s + k - in;
        if (p < 0) p = 0;
        pb = (int)(p / 2);
    }
    *out = o;
    if (pad_before) *pad_before = pb;
    return CK_OK;
}

/* Everything the kernels derive from the parameters. */
