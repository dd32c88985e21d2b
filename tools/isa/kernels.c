/* Times Axon's kernels in two builds of libckernels (tools/isa/compare.sh):
 * each kernel at a shape of the reference models, both libraries alternately,
 * best of the given rounds, one thread. The first library is forced to its
 * AVX2 versions (ck_isa_set), the second runs what it was compiled for. */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "ckernels.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static float *randoms(size_t n) {
    float *p = aligned_alloc(64, (n * 4 + 63) / 64 * 64);
    for (size_t i = 0; i < n; i++) p[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    return p;
}

#define FN(lib, name) ((__typeof__(&name))dlsym(lib, #name))

static const char *const names[] = {
    "LeNet conv1 forward (direct, 1 channel)", "LeNet conv2 forward (direct)", "LeNet conv1 filter gradient",
    "LeNet conv2 filter gradient", "LeNet conv2 data gradient", "max pooling 2x2 forward (argmax)",
    "max pooling gradient", "ReLU forward, 1M", "tanh forward, 1M", "sigmoid forward, 1M",
    "sigmoid gradient, 1M", "ReLU gradient, 1M", "Adam, 1M", "Adam, 70k (LSTM-128)", "Momentum, 1M",
    "RMSProp, 1M", "Adagrad, 1M", "LSTM-128 sequence forward", "LSTM-128 sequence backward",
    "im2col (deep-MNIST conv2)", "col2im (deep-MNIST conv2)", "BatchNorm training forward",
    "BatchNorm inference", "BatchNorm gradient", "depthwise 3x3 forward", "depthwise filter gradient",
    "depthwise data gradient", "average pooling forward", "global average pooling", "dropout forward, 1M",
    "uniform random, 1M", "L2 penalty, 1M", "softmax cross-entropy 64x10", "dense 64x400x120",
};
enum { NK = sizeof names / sizeof *names };

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s baseline.so candidate.so rounds\n", argv[0]);
        return 2;
    }
    void *lib[2];
    for (int i = 0; i < 2; i++)
        if (!(lib[i] = dlopen(argv[1 + i], RTLD_NOW | RTLD_LOCAL))) {
            fprintf(stderr, "%s\n", dlerror());
            return 1;
        }
    FN(lib[0], ck_isa_set)(CK_ISA_AVX2);
    const int rounds = atoi(argv[3]);
    const size_t big = 1 << 24, M = 1 << 20;
    float *x = randoms(big), *y = randoms(big), *z = randoms(big), *ws = randoms(big);
    float *w = randoms(M), *b = randoms(4096), *m = randoms(big), *v = randoms(big);
    for (size_t i = 0; i < big; i++) v[i] *= v[i];
    int32_t *labels = malloc(64 * sizeof *labels), *argmax = malloc(big / 4 * sizeof *argmax);
    uint8_t *mask = malloc(M);
    for (int i = 0; i < 64; i++) labels[i] = i % 10;
    const ck_conv2d_params c1 = {64, 28, 28, 1, 5, 5, 6, 1, 1, CK_PAD_SAME};
    const ck_conv2d_params c2 = {64, 14, 14, 6, 5, 5, 16, 1, 1, CK_PAD_VALID};
    const ck_conv2d_params dm = {50, 14, 14, 32, 5, 5, 64, 1, 1, CK_PAD_SAME};
    const ck_conv2d_params dw = {1, 112, 112, 32, 3, 3, 32, 1, 1, CK_PAD_SAME};
    const ck_pool2d_params p1 = {64, 28, 28, 6, 2, 2, 2, 2, CK_PAD_VALID};
    const ck_lstm_params lp = {128, 28, 28, 128};
    double best[NK][2];
    for (int k = 0; k < NK; k++) best[k][0] = best[k][1] = 1e30;
    for (int r = 0; r < rounds; r++)
        for (int li = 0; li < 2; li++) {
            void *l = lib[li];
            FN(l, ck_set_num_threads)(1);
            for (int k = 0; k < NK; k++) {
                int reps = 0, rc = 0;
                double t0 = now(), t;
                do {
                    float pen;
                    switch (k) {
                    case 0: rc = FN(l, ck_conv2d_forward)(&c1, x, w, b, CK_ACT_RELU, y, ws, big); break;
                    case 1: rc = FN(l, ck_conv2d_forward)(&c2, x, w, b, CK_ACT_RELU, y, ws, big); break;
                    case 2: rc = FN(l, ck_conv2d_backward_filter)(&c1, x, z, w, b, ws, big); break;
                    case 3: rc = FN(l, ck_conv2d_backward_filter)(&c2, x, z, w, b, ws, big); break;
                    case 4: rc = FN(l, ck_conv2d_backward_data)(&c2, z, w, y, ws, big); break;
                    case 5: rc = FN(l, ck_maxpool2d_forward)(&p1, x, y, argmax); break;
                    case 6: rc = FN(l, ck_pool2d_route_backward)(&p1, z, argmax, y); break;
                    case 7: rc = FN(l, ck_activation_forward)(CK_ACT_RELU, x, y, M); break;
                    case 8: rc = FN(l, ck_activation_forward)(CK_ACT_TANH, x, y, M); break;
                    case 9: rc = FN(l, ck_activation_forward)(CK_ACT_SIGMOID, x, y, M); break;
                    case 10: rc = FN(l, ck_activation_backward)(CK_ACT_SIGMOID, x, z, y, M); break;
                    case 11: rc = FN(l, ck_activation_backward)(CK_ACT_RELU, x, z, y, M); break;
                    case 12: rc = FN(l, ck_adam_update)(M, w, x, m, v, 1e-3f, 0.9f, 0.999f, 1e-8f); break;
                    case 13: rc = FN(l, ck_adam_update)(70000, w, x, m, v, 1e-3f, 0.9f, 0.999f, 1e-8f); break;
                    case 14: rc = FN(l, ck_momentum_update)(M, w, x, m, 1e-3f, 0.9f, 0); break;
                    case 15: rc = FN(l, ck_rmsprop_update)(M, w, x, v, m, NULL, 1e-3f, 0.9f, 0.0f, 1e-10f, 0); break;
                    case 16: rc = FN(l, ck_adagrad_update)(M, w, x, v, 1e-3f); break;
                    case 17: rc = FN(l, ck_lstm_sequence_forward)(&lp, x, NULL, NULL, w, w + 28 * 512, b, y, NULL,
                                                                   NULL, m, NULL, 0); break;
                    case 18: rc = FN(l, ck_lstm_sequence_backward)(&lp, x, NULL, NULL, w, w + 28 * 512, m, z, NULL,
                                                                    NULL, y, v, v + M, v + 2 * M, NULL, NULL, ws, big);
                        break;
                    case 19: rc = FN(l, ck_im2col)(&dm, x, ws); break;
                    case 20: rc = FN(l, ck_col2im)(&dm, ws, y); break;
                    case 21: rc = FN(l, ck_batchnorm_forward_train)(64 * 28 * 28, 32, x, w, b, 1e-3f, y, m, m + 64,
                                                                     m + 128); break;
                    case 22: rc = FN(l, ck_batchnorm_forward_infer)(64 * 28 * 28, 32, x, w, b, m, v, 1e-3f, y); break;
                    case 23: rc = FN(l, ck_batchnorm_backward)(64 * 28 * 28, 32, x, w, m, m + 64, z, y, m + 128,
                                                                m + 192); break;
                    case 24: rc = FN(l, ck_depthwise_conv2d_forward)(&dw, x, w, b, CK_ACT_RELU6, y); break;
                    case 25: rc = FN(l, ck_depthwise_conv2d_backward_filter)(&dw, x, z, w, b); break;
                    case 26: rc = FN(l, ck_depthwise_conv2d_backward_data)(&dw, z, w, y); break;
                    case 27: rc = FN(l, ck_avgpool2d_forward)(&p1, x, y); break;
                    case 28: rc = FN(l, ck_global_avgpool_forward)(64, 49, 1024, x, y); break;
                    case 29: rc = FN(l, ck_dropout_forward)(M, 0.5f, 1, 2, x, y, mask); break;
                    case 30: rc = FN(l, ck_random_uniform)(1, 2, y, M); break;
                    case 31: rc = FN(l, ck_l2_penalty)(M, w, 1e-4f, &pen, z); break;
                    case 32: rc = FN(l, ck_sparse_softmax_cross_entropy)(64, 10, x, labels, m, 1.0f / 64, y); break;
                    case 33: rc = FN(l, ck_dense_forward)(64, 400, 120, x, w, b, CK_ACT_RELU, y); break;
                    }
                    if (rc) {
                        fprintf(stderr, "%s: status %d\n", names[k], rc);
                        return 1;
                    }
                    reps++;
                    t = now() - t0;
                } while (t < 0.1);
                if (t / reps < best[k][li]) best[k][li] = t / reps;
            }
        }
    char machine[256];
    FN(lib[1], ck_machine_info)(machine, sizeof machine);
    printf("machine: %s\n%-42s %12s %12s %7s\n", machine, "kernel", "v3 (AVX2) us", "v4 (512) us", "v3/v4");
    for (int k = 0; k < NK; k++)
        printf("%-42s %12.1f %12.1f %7.2f\n", names[k], best[k][0] * 1e6, best[k][1] * 1e6, best[k][0] / best[k][1]);
    return 0;
}
