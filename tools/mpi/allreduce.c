/* The allreduce alone (make bench-mpi): the in-place MPI_Allreduce of
 * `count` floats (default 61708: LeNet-5's gradients, loss and count, the fused
 * buffer of one step), after a barrier so no rank waits for another; rank 0
 * prints the mean of `reps` calls in milliseconds.
 *   mpicc -O2 allreduce.c -o allreduce && mpirun -np 2 ./allreduce [count] [reps] */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    int count = argc > 1 ? atoi(argv[1]) : 61708, reps = argc > 2 ? atoi(argv[2]) : 500;
    float *buffer = calloc((size_t)count, sizeof(float));
    double total = 0;
    for (int i = 0; i < reps; i++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double start = MPI_Wtime();
        MPI_Allreduce(MPI_IN_PLACE, buffer, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        total += MPI_Wtime() - start;
    }
    if (rank == 0) printf("%.3f\n", total / reps * 1000);
    free(buffer);
    MPI_Finalize();
    return 0;
}
