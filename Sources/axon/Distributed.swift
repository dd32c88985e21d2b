import ArgumentParser
import Axon

/// `--lr-scaling`: Horovod's choice for the learning rate of N ranks.
enum LearningRateScaling: String, CaseIterable, ExpressibleByArgument {
    /// The rate as given (the global batch is --batch-size whatever the rank count).
    case none
    /// The rate times the number of ranks.
    case linear
}

/// `--batchnorm-stats`: whose statistics BatchNorm normalises with (Trainer.batchNormStatistics).
extension BatchNormStatistics: ExpressibleByArgument {}

/// `axon-mpi train --distributed`: data-parallel training over MPI (see README,
/// "Several machines"). --batch-size stays the global batch: each of N ranks
/// trains on its B/N share and the gradients are averaged (Trainer.parallel).
struct DistributedOptions: ParsableArguments {
    @Flag(help: "Data-parallel training over MPI, one rank per process: `mpirun -np N axon-mpi train ... --distributed` (axon-mpi only). --batch-size is the global batch, split over the ranks; only rank 0 prints and writes files.")
    var distributed = false

    @Option(help: ArgumentHelp("With --distributed: none keeps --learning-rate, linear multiplies it by the number of ranks (Horovod's rule for a batch per rank that stays the same).", valueName: "none|linear"))
    var lrScaling: LearningRateScaling = .none

    @Option(name: .customLong("batchnorm-stats"), help: ArgumentHelp("With --distributed: global normalises every BatchNorm in training with the whole global batch's mean and variance (synchronized BatchNorm: N ranks train as one process does; three small allreduces per BatchNorm and step, of C+2, 2C and 2C floats for C channels), per-rank with each rank's own shard's (Horovod's default without SyncBatchNorm: no extra communication, noisier statistics on small shards).", valueName: "global|per-rank"))
    var batchNormStatistics: BatchNormStatistics = .global

    func validate() throws {
        if lrScaling != .none && !distributed { throw ValidationError("--lr-scaling applies only with --distributed") }
        if batchNormStatistics != .global && !distributed {
            throw ValidationError("--batchnorm-stats applies only with --distributed")
        }
        if distributed && AxonProgram.startDistributed == nil {
            throw ValidationError("--distributed needs axon-mpi, the MPI build of axon (make release builds it where Open MPI is installed), run under mpirun: mpirun -np 2 axon-mpi train ... --distributed")
        }
    }

    /// Starts MPI with --distributed (nil otherwise).
    func start() throws -> (any DataParallel)? {
        guard distributed, let start = AxonProgram.startDistributed else { return nil }
        let parallel = try start()
        AxonProgram.parallel = parallel
        return parallel
    }

    /// The factor --lr-scaling puts on the learning rate.
    func learningRateFactor(_ parallel: (any DataParallel)?) -> Float {
        lrScaling == .linear ? Float(parallel?.size ?? 1) : 1
    }

    /// What every rank must share, in parts that `Trainer.synchronize` compares
    /// with rank 0's: the run's settings (not file paths, which may differ between
    /// machines), where a resumed run resumes and the data's sizes, shapes and labels.
    static func fingerprint(settings: [String: String], resumedAt: String,
                            data: [(String, Dataset?)]) -> [String: String] {
        var parts = ["settings": settings.filter { $0.key != "data" && $0.key != "images" }.sorted { $0.key < $1.key }
            .map { "\($0.key)=\($0.value)" }.joined(separator: ","), "resumed at": resumedAt]
        parts["data"] = data.map { name, set in
            guard let set else { return name + ": none" }
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            for l in set.labels { h = (h ^ UInt64(UInt32(bitPattern: l))) &* 0x100_0000_01b3 }
            return "\(name): \(set.count) × \(set.exampleShape), labels \(h)"
        }.joined(separator: "; ")
        return parts
    }

    /// The closing line of a distributed run: time in the allreduces (the
    /// gradients' and, with synchronized BatchNorm, the BatchNorms' sums)
    /// (those after `since`, the counters when training began), waiting for the
    /// slowest rank included.
    static func summary(_ parallel: any DataParallel, since: (calls: Int, seconds: Double), trainingSeconds: Double) -> String {
        let calls = parallel.allreduceCalls - since.calls, seconds = parallel.allreduceSeconds - since.seconds
        return "\(plural(parallel.size, "rank")): \(calls) allreduces, "
            + "\(fixed(seconds / Double(max(calls, 1)) * 1000, 2)) ms each, "
            + "\(fixed(seconds / max(trainingSeconds, 1e-9) * 100, 1))% of the training time (rank 0)"
    }
}
