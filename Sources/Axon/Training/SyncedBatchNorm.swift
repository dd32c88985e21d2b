/// How BatchNorm normalises in data-parallel training (`Trainer.batchNormStatistics`).
public enum BatchNormStatistics: String, Sendable, CaseIterable {
    /// The statistics of the whole global batch (synchronized BatchNorm): every
    /// BatchNorm adds its shard's per-channel moments over the ranks in the
    /// forward pass (two allreduces, of C + 2 and 2C floats) and its per-channel
    /// sums in the backward pass (one of 2C), so N ranks compute what one
    /// process would.
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

    /// Turns this shard's per-channel mean (`mean` + `meanLow`, twice float
    /// precision) and m2 = Σ (x − mean)² over `rows` rows into the global batch's
    /// mean (the same two parts) and biased variance; returns the global row
    /// count. Chan's combination about a common shift: the first allreduce gives
    /// every rank the same approximate mean m̃ (and the row count); the second
    /// adds rows·(mean − m̃) and m2 + rows·(mean − m̃)², small numbers whose float
    /// sums keep the mean's digits (m = m̃ + δ, M2 = Σ … − N·δ²), with no sums of
    /// squares that could cancel.
    func combine(rows: Int, mean: inout Tensor, meanLow: inout Tensor, variance m2: inout Tensor) throws -> Double {
        let c = mean.count
        func local(_ j: Int) -> Double { Double(mean[flat: j]) + Double(meanLow[flat: j]) }
        // The row count rides along split in 12-bit parts: float sums stay exact
        // up to 2³⁶ rows over 4096 ranks.
        var first = [Float](repeating: 0, count: c + 2)
        for j in 0..<c { first[j] = Float(Double(rows) * local(j)) }
        first[c] = Float(rows >> 12)
        first[c + 1] = Float(rows & 4095)
        try parallel.allreduceSum(&first)
        let total = Double(first[c]) * 4096 + Double(first[c + 1])
        let shift = (0..<c).map { Double(Float(Double(first[$0]) / total)) }
        var second = [Float](repeating: 0, count: 2 * c)
        for j in 0..<c {
            let d = local(j) - shift[j]
            second[j] = Float(Double(rows) * d)
            second[c + j] = Float(Double(m2[flat: j]) + Double(rows) * d * d)
        }
        try parallel.allreduceSum(&second)
        for j in 0..<c {
            let delta = Double(second[j]) / total, global = shift[j] + delta
            mean[flat: j] = Float(global)
            meanLow[flat: j] = Float(global - Double(mean[flat: j]))
            m2[flat: j] = Float(max(0, Double(second[c + j]) / total - delta * delta))
        }
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
