/// How BatchNorm normalises in data-parallel training (`Trainer.batchNormStatistics`).
public enum BatchNormStatistics: String, Sendable, CaseIterable {
    /// The statistics of the whole global batch (synchronized BatchNorm): every
    /// BatchNorm adds its shard's per-channel moments over the ranks in the
    /// forward pass (two allreduces of C floats) and its per-channel sums in the
    /// backward pass (one of 2C), so N ranks compute what one process would.
    case global
    /// Each rank normalises its shard with the shard's own statistics (Horovod
    /// without SyncBatchNorm): no extra communication, but a small shard's
    /// statistics are noisier and N ranks differ from one process.
    case perRank = "per-rank"
}

/// The data-parallel context of one training step, set by `Trainer.step` for
/// the forward and backward passes when BatchNorm is synchronized (more than
/// one rank, `BatchNormStatistics.global`): a BatchNorm in training mode that
/// finds it normalises with the global batch's statistics. Task-local, so a
/// layer used outside a step (or in another thread) never sees it; absent, the
/// layers run exactly as in one process.
///
/// Every rank runs the same layers in the same order, so their collective
/// calls pair up across the ranks.
final class SyncedBatch: @unchecked Sendable {
    @TaskLocal static var current: SyncedBatch?

    let parallel: any DataParallel
    /// This rank's share of the global batch: its loss, hence dy, is a mean over
    /// its shard, which the step's gradient allreduce weights by this share.
    let share: Float

    init(parallel: any DataParallel, share: Float) {
        self.parallel = parallel
        self.share = share
    }

    /// Turns this shard's per-channel `mean` and m2 = Σ (x − mean)² (over `rows`
    /// rows) into the global batch's mean and biased variance; returns the global
    /// row count. Chan's combination: the means first (one allreduce of
    /// rows·mean), then Σ m2 + rows·(mean − global mean)² (another), which needs
    /// no sums of squares that could cancel.
    func combine(rows: Int, mean: inout Tensor, variance m2: inout Tensor) throws -> Double {
        let c = mean.count
        // The row count rides along split in 12-bit parts: float sums stay exact
        // up to 2³⁶ rows over 4096 ranks.
        var sums = [Float](repeating: 0, count: c + 2)
        for j in 0..<c { sums[j] = Float(Double(rows) * Double(mean[flat: j])) }
        sums[c] = Float(rows >> 12)
        sums[c + 1] = Float(rows & 4095)
        try parallel.allreduceSum(&sums)
        let total = Double(sums[c]) * 4096 + Double(sums[c + 1])
        var spreads = [Float](repeating: 0, count: c)
        for j in 0..<c {
            let global = Float(Double(sums[j]) / total)
            let d = Double(mean[flat: j]) - Double(global)
            spreads[j] = Float(Double(m2[flat: j]) + Double(rows) * d * d)
            mean[flat: j] = global
        }
        try parallel.allreduceSum(&spreads)
        for j in 0..<c { m2[flat: j] = Float(Double(spreads[j]) / total) }
        return total
    }

    /// The global batch's sums Σ dy·x̂ and Σ dy from this shard's, in this rank's
    /// units: dy here is the gradient of the shard's mean loss, the global loss
    /// is Σ share·(shard loss), so the shards' sums are weighted by their shares
    /// and the total divided by this rank's.
    func globalSums(dgamma: inout Tensor, dbeta: inout Tensor) throws {
        let c = dgamma.count
        var sums = [Float](repeating: 0, count: 2 * c)
        for j in 0..<c {
            sums[j] = dgamma[flat: j] * share
            sums[c + j] = dbeta[flat: j] * share
        }
        try parallel.allreduceSum(&sums)
        for j in 0..<c {
            dgamma[flat: j] = sums[j] / share
            dbeta[flat: j] = sums[c + j] / share
        }
    }
}
