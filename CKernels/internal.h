/* internal.h — declarations shared by the kernel sources, not part of the API.
 * Swift's clang ships no omp.h, so the few OpenMP runtime calls are declared
 * here; they resolve against libomp at link time. */
#ifndef CK_INTERNAL_H
#define CK_INTERNAL_H

int omp_get_max_threads(void);
int omp_get_thread_num(void);
int omp_get_num_threads(void);

#endif /* CK_INTERNAL_H */
