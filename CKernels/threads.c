/*
 * Threading policy: all parallelism is OpenMP; OpenBLAS is pinned to one
 * thread and called once per OpenMP thread on a block of the product. Letting
 * OpenBLAS spawn its own pool as well would oversubscribe the cores whenever a
 * GEMM runs inside one of our parallel regions, and two thread pools spinning
 * against each other cost more than either saves.
 */
#include "internal.h"

static int ck_nthreads = 0; /* 0 until the constructor runs */

int ck_max_threads(void) {
    const int cores = ck_imax(1, omp_get_num_procs());
    return ck_imax(cores, cores > 64 ? 256 : 4 * cores);
}

__attribute__((constructor)) static void ck_threads_init(void) {
    openblas_set_num_threads(1);
    /* omp_get_max_threads honours OMP_NUM_THREADS, so users keep that knob
     * (bounded like ck_set_num_threads). */
    int n = ck_imax(1, omp_get_max_threads());
    if (n > ck_max_threads()) {
        n = ck_max_threads();
        omp_set_num_threads(n);
    }
    __atomic_store_n(&ck_nthreads, n, __ATOMIC_RELAXED);
}

int ck_threads(void) {
    int n = __atomic_load_n(&ck_nthreads, __ATOMIC_RELAXED);
    return n > 0 ? n : ck_imax(1, omp_get_max_threads());
}

int ck_set_num_threads(int n) {
    CHECK(n <= ck_max_threads());
    if (n <= 0) n = ck_imax(1, omp_get_num_procs());
    __atomic_store_n(&ck_nthreads, n, __ATOMIC_RELAXED);
    /* For parallel regions that do not name a count, on the calling thread. */
    omp_set_num_threads(n);
    openblas_set_num_threads(1);
    return CK_OK;
}

int ck_get_num_threads(void) { return ck_threads(); }
