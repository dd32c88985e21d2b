/* A C program that uses Axon's kernels without Swift: links against `make lib`
 * and checks the spec's worked convolution example (semantics.md §1.4). */
#include <stdio.h>
#include <stdlib.h>
#include "ckernels.h"

int main(void) {
    const float image[25] = {1,1,1,0,0, 0,1,1,1,0, 0,0,1,1,1, 0,0,1,1,0, 0,1,1,0,0};
    const float kernel[9] = {1,0,1, 0,1,0, 1,0,1};
    const float expected[9] = {4,3,4, 2,4,3, 2,3,4};
    ck_conv2d_params p = {.n = 1, .h = 5, .w = 5, .c = 1, .kh = 3, .kw = 3, .o = 1,
                          .sh = 1, .sw = 1, .padding = CK_PAD_VALID};
    int oh = 0, ow = 0;
    if (ck_conv2d_output_shape(&p, &oh, &ow) != CK_OK || oh != 3 || ow != 3) {
        fprintf(stderr, "c_consumer: output shape %dx%d, expected 3x3\n", oh, ow);
        return 1;
    }
    size_t ws_len = ck_conv2d_scratch_size(&p);
    float *ws = malloc((ws_len ? ws_len : 1) * sizeof(float));
    float y[9];
    int st = ck_conv2d_forward(&p, image, kernel, NULL, CK_ACT_NONE, y, ws, ws_len);
    free(ws);
    if (st != CK_OK) { fprintf(stderr, "c_consumer: %s\n", ck_status_string(st)); return 1; }
    for (int i = 0; i < 9; i++) {
        if (y[i] != expected[i]) {
            fprintf(stderr, "c_consumer: y[%d] = %g, expected %g\n", i, y[i], expected[i]);
            return 1;
        }
    }
    /* A bad argument must come back as a status, not a crash. */
    p.sh = 0;
    if (ck_conv2d_forward(&p, image, kernel, NULL, CK_ACT_NONE, y, NULL, 0) != CK_EINVAL) {
        fprintf(stderr, "c_consumer: stride 0 was not rejected\n");
        return 1;
    }
    printf("c_consumer: VALID 3x3 convolution of the 5x5 example = [[4,3,4],[2,4,3],[2,3,4]] (threads: %d)\n",
           ck_get_num_threads());
    return 0;
}
