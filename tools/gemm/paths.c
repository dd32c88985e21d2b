/* sgemm GFLOP/s on every GEMM path this CPU runs (OpenBLAS as loaded, Axon's
 * AVX2+FMA and AVX-512 kernels, through ck_sgemm_on) at the reference models'
 * products, the paths alternating within each round, best of 7 rounds: the
 * figures behind the automatic choice in CKernels/machine.c. See paths.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ckernels.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

int main(int argc, char **argv) {
    const int threads = argc > 1 ? atoi(argv[1]) : 1;
    if (ck_set_num_threads(threads) != CK_OK) return 1;
    static const struct { const char *name; int ta, tb, m, n, k; } shapes[] = {
        {"1024^3 NN", 0, 0, 1024, 1024, 1024},
        {"LeNet-5 conv2 filter gradient TN", 1, 0, 150, 16, 6400},
        {"LeNet-5 dense 120 NN", 0, 0, 64, 120, 400},
        {"deep-MNIST conv2 forward NN", 0, 0, 3136, 64, 800},
        {"deep-MNIST conv2 data gradient NT", 0, 1, 3136, 800, 64},
        {"deep-MNIST conv2 filter gradient TN", 1, 0, 800, 64, 3136},
        {"deep-MNIST dense 1024 NN", 0, 0, 50, 1024, 3136},
        {"deep-MNIST dense 1024 data gradient NT", 0, 1, 50, 3136, 1024},
        {"LSTM-128 recurrent step NN", 0, 0, 128, 512, 128},
        {"LSTM-128 recurrent-weight gradient TN", 1, 0, 128, 512, 3584},
        {"Inception-v3 35x35 3x3 conv NN", 0, 0, 1225, 96, 576},
        {"Inception-v3 17x17 7x1 conv NN", 0, 0, 289, 192, 1120},
        {"Inception-v3 batch 16 17x17 1x1 conv NN", 0, 0, 4624, 192, 768},
    };
    static const char *const names[] = {"OpenBLAS", "Axon AVX2", "Axon AVX-512"};
    char machine[512];
    ck_machine_info(machine, sizeof machine);
    printf("machine: %s\nthreads %d, GFLOP/s, best of 7 alternating rounds\n\n", machine, threads);
    printf("| product | m×n×k |");
    for (int p = 0; p < 3; p++)
        if (ck_gemm_path_supported(p)) printf(" %s |", names[p]);
    printf("\n|---|---|");
    for (int p = 0; p < 3; p++)
        if (ck_gemm_path_supported(p)) printf("---:|");
    printf("\n");
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        const int ta = shapes[s].ta, tb = shapes[s].tb, m = shapes[s].m, n = shapes[s].n,
                  k = shapes[s].k;
        float *a = malloc(sizeof(float) * m * k), *b = malloc(sizeof(float) * k * n),
              *c = malloc(sizeof(float) * m * n);
        if (!a || !b || !c) return 1;
        srand(1);
        for (long i = 0; i < (long)m * k; i++) a[i] = rand() / (float)RAND_MAX - 0.5f;
        for (long i = 0; i < (long)k * n; i++) b[i] = rand() / (float)RAND_MAX - 0.5f;
        const double flops = 2.0 * m * n * k;
        const int reps = (int)(2e9 / flops) + 1;
        double best[3] = {1e30, 1e30, 1e30};
        for (int round = 0; round < 7; round++)
            for (int p = 0; p < 3; p++) {
                if (!ck_gemm_path_supported(p)) continue;
                const double t0 = now();
                for (int r = 0; r < reps; r++)
                    ck_sgemm_on(p, ta, tb, m, n, k, 1.0f, a, ta ? m : k, b, tb ? k : n, 0.0f, c, n);
                const double t = (now() - t0) / reps;
                if (t < best[p]) best[p] = t;
            }
        printf("| %s | %d×%d×%d |", shapes[s].name, m, n, k);
        for (int p = 0; p < 3; p++)
            if (ck_gemm_path_supported(p)) printf(" %.0f |", flops / best[p] / 1e9);
        printf("\n");
        free(a);
        free(b);
        free(c);
    }
    return 0;
}
