import AxonCLI
import AxonMPI

// `axon` with data-parallel training: `mpirun -np N axon-mpi train ... --distributed`.
AxonProgram.main(name: "axon-mpi", distributed: { try MPIDataParallel.start() },
                 endCollectively: { MPIDataParallel.finish() })
MPIDataParallel.finish()
