/* The MPI handles Swift cannot import: in Open MPI, MPI_COMM_WORLD, MPI_FLOAT,
 * MPI_BYTE, MPI_SUM and MPI_IN_PLACE are macros over the addresses of library
 * globals (or casts), which the Swift importer skips. */
#ifndef AXON_CMPI_SHIM_H
#define AXON_CMPI_SHIM_H
#include <mpi.h>

static inline MPI_Comm axon_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype axon_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype axon_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Op axon_mpi_sum(void) { return MPI_SUM; }
static inline void *axon_mpi_in_place(void) { return MPI_IN_PLACE; }

#endif
