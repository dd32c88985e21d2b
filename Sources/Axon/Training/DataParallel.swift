/// The collective operations of data-parallel training (Horovod's pattern):
/// every rank runs the same program on its own shard of each global batch, the
/// gradients are averaged by one in-place sum over one fused buffer per step, and
/// rank 0's weights and optimizer state are broadcast at the start.
///
/// The core only defines this hook; Axon's optional MPI product implements it
/// (`AxonMPI.MPIDataParallel`), so the library never needs MPI. Set
/// `Trainer.parallel` and call `Trainer.synchronize` once before `fit`.
public protocol DataParallel: AnyObject {
    /// This process's index in `0..<size`; rank 0 is the one that prints and writes.
    var rank: Int { get }
    var size: Int { get }
    /// Sums `values` over the ranks in place: afterwards every rank holds the sum.
    func allreduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws
    /// Overwrites `bytes` on every rank with rank `root`'s.
    func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws
    /// Seconds spent in `allreduceSum` so far, and how many calls.
    var allreduceSeconds: Double { get }
    var allreduceCalls: Int { get }
}

/// The ranks of a run were started with different models, settings or data
/// (every rank throws it, so the run ends the same way everywhere).
public struct DataParallelMismatch: Error, CustomStringConvertible {
    public var description: String
}

extension DataParallel {
    /// Rank `root`'s `values` on every rank (bit for bit: bytes are copied).
    func broadcast<T: BitwiseCopyable>(_ values: inout [T], root: Int = 0) throws {
        try values.withUnsafeMutableBytes { try broadcast($0, root: root) }
    }

    /// Sums `values` over the ranks in place.
    func allreduceSum(_ values: inout [Float]) throws {
        try values.withUnsafeMutableBufferPointer { try allreduceSum($0) }
    }
}

extension Trainer {
    /// Checks that every rank runs the same thing, then gives every rank rank 0's
    /// state: parameters, BatchNorm statistics, random-stream counters and the
    /// optimizer's slots, step and scalar state (at the start and on resume).
    /// Finally each rank's random streams (dropout) move to their own range: the
    /// counters of rank r start r·2⁴⁸ further, so rank 0 draws what one process
    /// would and a checkpoint (rank 0's) resumes in any number of ranks.
    ///
    /// `fingerprint` names the parts that must agree (settings, data, …); the
    /// model's tensor names and shapes and the optimizer's slots are added here.
    /// Throws `DataParallelMismatch` naming the parts that differ from rank 0.
    public func synchronize<Model: Layer>(_ model: inout Model, fingerprint: [String: String]) throws {
        guard let parallel else { return }
        var parts = fingerprint
        parts["model"] = model.parameters.map { "\($0.name)\($0.value.shape)" }.joined(separator: ";")
            + "|" + model.state.map { "\($0.name)\($0.value.shape)" }.joined(separator: ";")
        parts["batchnorm statistics"] = batchNormStatistics.rawValue
        parts["optimizer"] = optimizer.summary + "|" + optimizer.slots.keys.sorted()
            .map { "\($0)\(optimizer.slots[$0]!.shape)" }.joined(separator: ";")
            + "|" + optimizer.scalarState.keys.sorted().joined(separator: ";")
        let names = parts.keys.sorted()
        // The names themselves first, so that the buffers below have one size on every rank.
        let mine = names.map { Trainer.fnv1a($0 + "=" + parts[$0]!) }
        var hashes = mine
        hashes.append(Trainer.fnv1a(names.joined(separator: ",")))
        var namesHash = [hashes.last!]
        try parallel.broadcast(&namesHash)
        var differs: [Float] = [namesHash[0] == hashes.last! ? 0 : 1]
        try parallel.allreduceSum(&differs)
        guard differs[0] == 0 else {
            throw DataParallelMismatch(description: "the ranks do not run the same program version (their start checks differ)")
        }
        try parallel.broadcast(&hashes)
        var flags = zip(mine, hashes).map { Float($0 == $1 ? 0 : 1) }
        try parallel.allreduceSum(&flags)
        let bad = names.indices.filter { flags[$0] != 0 }
        guard bad.isEmpty else {
            let what = bad.map { "\(names[$0]) (\(Int(flags[$0])) of \(parallel.size) ranks)" }.joined(separator: ", ")
            throw DataParallelMismatch(description: "ranks refused to start: they differ from rank 0 in \(what); "
                                       + "start every rank with the same flags, model and data")
        }

        // Rank 0's state, as one byte copy.
        var buffer: [Float] = []
        for (_, t) in model.parameters + model.state { buffer += t.scalars }
        let slotNames = optimizer.slots.keys.sorted()
        for k in slotNames { buffer += optimizer.slots[k]!.scalars }
        let scalarNames = optimizer.scalarState.keys.sorted()
        for k in scalarNames { buffer.append(optimizer.scalarState[k]!) }
        func bits(_ v: UInt64) -> [Float] { [Float(bitPattern: UInt32(v & 0xFFFF_FFFF)), Float(bitPattern: UInt32(v >> 32))] }
        buffer += bits(UInt64(optimizer.step))
        for (_, c) in model.counters { buffer += bits(c) }
        try parallel.broadcast(&buffer)

        var at = 0
        func take(_ n: Int) -> ArraySlice<Float> { defer { at += n }; return buffer[at..<at + n] }
        func write(_ t: inout Tensor) {
            let values = take(t.count)
            t.withUnsafeMutableBufferPointer { p in for (i, v) in values.enumerated() { p[i] = v } }
        }
        func unbits() -> UInt64 {
            let w = take(2)
            return UInt64(w[w.startIndex].bitPattern) | UInt64(w[w.startIndex + 1].bitPattern) << 32
        }
        model.updateParameters { _, w, _ in write(&w) }
        model.updateState { _, t in write(&t) }
        for k in slotNames { write(&optimizer.slots[k]!) }
        for k in scalarNames { optimizer.scalarState[k] = take(1).first! }
        optimizer.step = Int(unbits())
        let rank = UInt64(parallel.rank)
        model.updateCounters { _, c in c = unbits() &+ rank << 48 }
    }

    /// Averages the gradients of this rank's shard with the other ranks': one
    /// fused buffer (every gradient scaled by this shard's share of the global
    /// batch, then with `state` the non-parameter state such as BatchNorm's
    /// moving statistics, scaled the same way, then the batch loss and correct
    /// count) and one in-place allreduce, so the update equals one process's on
    /// the whole batch and every rank holds the same moving statistics (their
    /// shard-weighted mean; synchronized BatchNorm computed the same ones on
    /// every rank already, and leaves `state` false).
    func reduceGradients<Model: Layer>(_ model: inout Model, share: Float, loss: Float,
                                       correct: Int, state: Bool = true) throws -> (loss: Float, correct: Int) {
        guard let parallel else { return (loss, correct) }
        var n = 0
        model.updateParameters { _, _, g in n += g.count }
        if state { model.updateState { _, t in n += t.count } }
        if fusedGradients.count != n + 2 { fusedGradients = [Float](repeating: 0, count: n + 2) }
        try fusedGradients.withUnsafeMutableBufferPointer { fused in
            var at = 0
            func gather(_ t: inout Tensor) {
                t.withUnsafeBufferPointer { p in for i in 0..<p.count { fused[at + i] = p[i] * share } }
                at += t.count
            }
            func scatter(_ t: inout Tensor) {
                t.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] = fused[at + i] } }
                at += t.count
            }
            model.updateParameters { _, _, g in gather(&g) }
            if state { model.updateState { _, t in gather(&t) } }
            fused[n] = loss * share
            fused[n + 1] = Float(correct)
            try parallel.allreduceSum(fused)
            at = 0
            model.updateParameters { _, _, g in scatter(&g) }
            if state { model.updateState { _, t in scatter(&t) } }
        }
        return (fusedGradients[n], Int(fusedGradients[n + 1].rounded()))
    }

    /// Rank 0's validation and test figures on every rank (only rank 0 evaluates),
    /// so early stopping decides the same on every rank.
    func shareEvaluation(_ record: inout EpochRecord) throws {
        guard let parallel else { return }
        var v: [Double] = [Double(record.validationLoss ?? .nan), record.validationAccuracy ?? .nan,
                           Double(record.testLoss ?? .nan), record.testAccuracy ?? .nan]
        try parallel.broadcast(&v)
        func opt(_ x: Double) -> Double? { x.isNaN ? nil : x }
        record.validationLoss = opt(v[0]).map(Float.init); record.validationAccuracy = opt(v[1])
        record.testLoss = opt(v[2]).map(Float.init); record.testAccuracy = opt(v[3])
    }

    /// Refuses batch sizes that would leave a rank an empty shard.
    func checkShards(examples: Int, batchSize: Int) throws {
        guard let parallel, parallel.size > 1 else { return }
        let last = examples % batchSize
        guard batchSize >= parallel.size, last == 0 || last >= parallel.size else {
            throw AxonError.invalidArgument("fit: every batch must hold at least one example per rank (\(parallel.size) ranks): "
                + "batch size \(batchSize), \(examples) examples, last batch \(last == 0 ? batchSize : last)")
        }
    }

    /// The half-open range of the global batch `begin..<end` that this rank trains on.
    func shard(_ begin: Int, _ end: Int) -> Range<Int> {
        guard let parallel else { return begin..<end }
        let n = end - begin
        return (begin + n * parallel.rank / parallel.size)..<(begin + n * (parallel.rank + 1) / parallel.size)
    }

    static func fnv1a(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }
}
