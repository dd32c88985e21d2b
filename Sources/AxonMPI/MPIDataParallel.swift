import Axon
import CMPI
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Axon's data-parallel hook over Open MPI's MPI_COMM_WORLD: one process per
/// rank, started by `mpirun`. Errors are MPI's default, fatal: a rank that dies
/// makes mpirun stop the others.
///
/// ```swift
/// let mpi = try MPIDataParallel.start()
/// trainer.parallel = mpi
/// try trainer.synchronize(&model, fingerprint: ["data": "\(train.count)"])
/// try trainer.fit(&model, on: train, epochs: 5, batchSize: 64)
/// MPIDataParallel.finish()
/// ```
public final class MPIDataParallel: DataParallel {
    public let rank: Int
    public let size: Int
    public private(set) var allreduceSeconds = 0.0
    public private(set) var allreduceCalls = 0

    nonisolated(unsafe) private static var shared: MPIDataParallel?

    private init(rank: Int, size: Int) { self.rank = rank; self.size = size }

    /// Initialises MPI (once per process) and returns this process's rank in MPI_COMM_WORLD.
    public static func start() throws -> MPIDataParallel {
        if let shared { return shared }
        var initialized: Int32 = 0
        MPI_Initialized(&initialized)
        if initialized == 0 { try check(MPI_Init(nil, nil), "MPI_Init") }
        var rank: Int32 = 0, size: Int32 = 0
        try check(MPI_Comm_rank(axon_mpi_comm_world(), &rank), "MPI_Comm_rank")
        try check(MPI_Comm_size(axon_mpi_comm_world(), &size), "MPI_Comm_size")
        let p = MPIDataParallel(rank: Int(rank), size: Int(size))
        shared = p
        return p
    }

    /// Ends MPI if `start` began it (every rank must call it; a no-op otherwise).
    public static func finish() {
        guard shared != nil else { return }
        var finalized: Int32 = 0
        MPI_Finalized(&finalized)
        if finalized == 0 { MPI_Finalize() }
    }

    public func allreduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws {
        let t = Self.now()
        try Self.check(MPI_Allreduce(axon_mpi_in_place(), values.baseAddress, Int32(values.count), axon_mpi_float(),
                                     axon_mpi_sum(), axon_mpi_comm_world()), "MPI_Allreduce")
        allreduceSeconds += Self.now() - t
        allreduceCalls += 1
    }

    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws {
        guard bytes.count <= Int(Int32.max) else { throw AxonError.invalidArgument("MPI broadcast of \(bytes.count) bytes: over 2 GiB") }
        try Self.check(MPI_Bcast(bytes.baseAddress, Int32(bytes.count), axon_mpi_byte(), Int32(root), axon_mpi_comm_world()),
                       "MPI_Bcast")
    }

    private static func now() -> Double { MPI_Wtime() }

    private static func check(_ code: Int32, _ call: String) throws {
        guard code != MPI_SUCCESS else { return }
        var text = [CChar](repeating: 0, count: 1024)
        var length: Int32 = 0
        MPI_Error_string(code, &text, &length)
        throw AxonError.invalidArgument("\(call) failed: \(String(decoding: text.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self))")
    }
}
