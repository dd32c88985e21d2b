/*
 * internal.h — declarations shared by the kernel sources, not part of the API.
 *
 * omp.h is not shipped with Swift's clang, so the few OpenMP runtime calls
 * the kernels make are declared here (they resolve against libomp).
 */
#ifndef CK_INTERNAL_H
#define CK_INTERNAL_H

int omp_get_max_threads(void);
int omp_get_thread_num(void);
int omp_get_num_threads(void);

#endif /* CK_INTERNAL_H */
