import Foundation
import Testing
@testable import Axon

/// A rank of a run without other processes: sums and broadcasts leave the
/// values as they are (exact for one rank; enough for the shard arithmetic otherwise).
final class LoneRank: DataParallel {
    let rank: Int, size: Int
    var allreduceSeconds = 0.0, allreduceCalls = 0
    init(rank: Int = 0, size: Int = 1) { self.rank = rank; self.size = size }
    func allreduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws { allreduceCalls += 1 }
    func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws {}
}

/// The core's data-parallel hook without MPI (Tests/Integration/mpi.sh runs it over MPI).
@Suite struct DataParallelTests {
    @Test func oneRankTrainsExactlyAsWithoutTheHook() throws {
        let data = try toyDataset(count: 40, seed: 3)
        var a = everyLayerModel(seed: 1), b = everyLayerModel(seed: 1)
        try a.build(inputShapes: [data.exampleShape])
        try b.build(inputShapes: [data.exampleShape])
        let plain = Trainer(optimizer: Momentum(learningRate: 0.05, momentum: 0.9), l2: 0.01)
        let hooked = Trainer(optimizer: Momentum(learningRate: 0.05, momentum: 0.9), l2: 0.01)
        let rank = LoneRank()
        hooked.parallel = rank
        try hooked.synchronize(&b, fingerprint: ["data": "40"])
        let h1 = try plain.fit(&a, on: data, epochs: 2, batchSize: 8, validation: data, seed: 5)
        let h2 = try hooked.fit(&b, on: data, epochs: 2, batchSize: 8, validation: data, seed: 5)
        #expect(rank.allreduceCalls == 2 + 2 * 5, "the start's two checks, then one fused allreduce per step")
        for ((name, x), (_, y)) in zip(a.parameters, b.parameters) { #expect(x.scalars == y.scalars, "\(name)") }
        #expect(h1 == h2.withTimesOf(h1))
    }

    @Test func shardsSplitEachBatchAndNoneIsEmpty() throws {
        let trainer = Trainer(optimizer: GradientDescent(learningRate: 0.1))
        var shards: [Range<Int>] = []
        for r in 0..<3 { trainer.parallel = LoneRank(rank: r, size: 3); shards.append(trainer.shard(10, 30)) }
        #expect(shards == [10..<16, 16..<23, 23..<30])
        #expect(throws: AxonError.self) { try trainer.checkShards(examples: 61, batchSize: 10) }  // last batch: 1 example
        #expect(throws: AxonError.self) { try trainer.checkShards(examples: 60, batchSize: 2) }
        try trainer.checkShards(examples: 63, batchSize: 10)
    }

    /// With per-rank statistics, BatchNorm's moving statistics leave the step's
    /// allreduce as the shards' weighted mean, so every rank holds the same ones. Two ranks rehearsed in
    /// one process: rank 1's fused buffer is captured, rank 0's sum adds it.
    @Test func movingStatisticsAreAveragedOverTheRanks() throws {
        final class Rehearsal: DataParallel {
            let rank: Int, size = 2
            var other: [Float]?, captured: [Float] = []
            var allreduceSeconds = 0.0, allreduceCalls = 0
            init(rank: Int, other: [Float]?) { self.rank = rank; self.other = other }
            func allreduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws {
                captured = Array(values)
                if let other { for i in values.indices { values[i] += other[i] } }
            }
            func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws {}
        }
        let images = randomTensor([6, 5, 5, 2], seed: 1), labels: [Int32] = [0, 1, 0, 1, 1, 0]
        let shards = [0..<2, 2..<6]  // shares 2/6 and 4/6
        func shard(_ r: Range<Int>) throws -> Tensor {
            try Tensor(shape: [r.count, 5, 5, 2], scalars: Array(images.scalars[r.lowerBound * 50..<r.upperBound * 50]))
        }
        func stepped(_ r: Range<Int>, parallel: Rehearsal?) throws -> Sequential {
            var m = Sequential(seed: 3) { Conv2D(filters: 3, kernelSize: 3); BatchNorm(momentum: 0.5); ReLU(); Flatten(); Dense(2) }
            try m.build(inputShape: [5, 5, 2])
            let trainer = Trainer(optimizer: GradientDescent(learningRate: 0.1))
            trainer.parallel = parallel
            trainer.batchNormStatistics = .perRank  // the sequential rehearsal has one allreduce per step
            _ = try trainer.step(&m, images: try shard(r), labels: Array(labels[r]), trainingSetSize: 6, batchExamples: 6)
            return m
        }
        let alone = try shards.map { try stepped($0, parallel: nil).state.flatMap(\.value.scalars) }
        let rank1 = Rehearsal(rank: 1, other: nil)
        _ = try stepped(shards[1], parallel: rank1)
        let rank0 = try stepped(shards[0], parallel: Rehearsal(rank: 0, other: rank1.captured))
        let averaged = rank0.state.flatMap(\.value.scalars)
        #expect(averaged.count == 6 && alone[0] != alone[1])
        for i in averaged.indices {
            #expect(abs(averaged[i] - (alone[0][i] * 2 / 6 + alone[1][i] * 4 / 6)) <= 1e-6 * max(1, abs(averaged[i])), "\(i)")
        }
    }

    /// Synchronized BatchNorm: three ranks rehearsed on threads (uneven shards
    /// 2, 2, 3 of a batch of 7) compute what one process computes on the whole
    /// batch: the outputs, the input gradients (a rank's are of its shard's mean
    /// loss: its share of the whole batch's), the parameter gradients (the
    /// shares' weighted sum), the moving statistics; then after two Trainer steps
    /// the weights and statistics, with every rank's bits the same.
    @Test func syncedBatchNormOnThreeRanksEqualsOneProcess() throws {
        let batch = 7, images = GraphTests.batch(batch, seed: 21), labels: [Int32] = [0, 1, 2, 1, 0, 2, 2]
        let shards = (0..<3).map { r in batch * r / 3..<batch * (r + 1) / 3 }  // as Trainer.shard
        func rows(_ t: Tensor, _ r: Range<Int>) throws -> Tensor {
            let n = t.count / t.shape[0]
            return try Tensor(shape: [r.count] + t.shape.dropFirst(), scalars: Array(t.scalars[r.lowerBound * n..<r.upperBound * n]))
        }
        func model() throws -> Graph {
            var g = try GraphTests.smallGraph(momentum: 0.5)
            try g.build(inputShapes: [[6, 6, 2]])
            return g
        }
        func gradients(_ g: inout Graph) -> [[Float]] {
            var out: [[Float]] = []
            g.updateParameters { _, _, d in out.append(d.scalars) }
            return out
        }
        typealias Pass = (y: Tensor, dx: Tensor, grads: [[Float]], state: [Float])
        func pass(_ g: inout Graph, _ x: Tensor, _ l: [Int32]) throws -> Pass {
            let y = try g.forward(x, training: true)
            let (_, dy) = try Loss.softmaxCrossEntropy.compute(logits: y, labels: l)
            let dx = try g.backward(dy, inputGradient: true)
            return (y, dx, gradients(&g), g.state.flatMap(\.value.scalars))
        }
        var alone = try model()
        let whole = try pass(&alone, images, labels)

        let ranks = ThreadedRanks(size: 3)
        let passes = try ranks.run { rank in
            var g = try model()
            let share = Float(shards[rank.rank].count) / Float(batch)
            return try SyncedBatch.$current.withValue(SyncedBatch(parallel: rank, share: share)) {
                try pass(&g, try rows(images, shards[rank.rank]), Array(labels[shards[rank.rank]]))
            }
        }
        var worst: [String: Float] = [:]
        func close(_ a: [Float], _ b: [Float], _ what: String, _ kind: String) {
            #expect(a.count == b.count, "\(what)")
            let scale = max(b.map(abs).max() ?? 0, 1e-3)
            let d = zip(a, b).map { abs($0 - $1) }.max() ?? 0
            worst[kind] = max(worst[kind] ?? 0, d / scale)
            #expect(d <= 1e-5 * scale, "\(what): differs by \(d) (scale \(scale))")
        }
        for (r, p) in passes.enumerated() {
            let share = Float(shards[r].count) / Float(batch)
            close(p.y.scalars, try rows(whole.y, shards[r]).scalars, "rank \(r) outputs", "outputs")
            close(p.dx.scalars.map { $0 * share }, try rows(whole.dx, shards[r]).scalars, "rank \(r) input gradients", "input gradients")
            close(p.state, whole.state, "rank \(r) moving statistics", "moving statistics")
            #expect(p.state == passes[0].state, "rank \(r): the same moving statistics on every rank")
        }
        for k in whole.grads.indices {
            var sum = [Float](repeating: 0, count: whole.grads[k].count)
            for (r, p) in passes.enumerated() {
                let share = Float(shards[r].count) / Float(batch)
                for i in sum.indices { sum[i] += p.grads[k][i] * share }
            }
            close(sum, whole.grads[k], "parameter gradient \(k)", "parameter gradients")
        }

        // Two Trainer steps (its fused allreduce after the synchronized passes).
        func train(_ g: inout Graph, parallel: (any DataParallel)?) throws {
            let trainer = Trainer(optimizer: Momentum(learningRate: 0.1, momentum: 0.9))
            trainer.parallel = parallel
            for k in 0..<2 {
                let x = GraphTests.batch(batch, seed: 40 + UInt64(k))
                let mine = parallel.map { shards[$0.rank] } ?? 0..<batch
                try trainer.step(&g, images: try rows(x, mine), labels: Array(labels[mine]), batchExamples: batch)
            }
        }
        var single = try model()
        try train(&single, parallel: nil)
        let trained = try ranks.run { rank in
            var g = try model()
            try train(&g, parallel: rank)
            return g.parameters.flatMap(\.value.scalars) + g.state.flatMap(\.value.scalars)
        }
        close(trained[0], single.parameters.flatMap(\.value.scalars) + single.state.flatMap(\.value.scalars),
              "weights and statistics after two steps", "after two steps")
        print("synchronized BatchNorm, 3 rehearsed ranks vs one process, max difference / max |value|: "
              + worst.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        #expect(trained[1] == trained[0] && trained[2] == trained[0], "every rank holds the same bits")
    }

    /// Ranks that differ in --batchnorm-stats are refused at the start.
    @Test func ranksWithDifferentBatchNormStatisticsAreRefused() throws {
        let ranks = ThreadedRanks(size: 2)
        let outcomes = try ranks.run { rank -> String in
            var g = try GraphTests.smallGraph()
            try g.build(inputShapes: [[6, 6, 2]])
            let trainer = Trainer(optimizer: GradientDescent(learningRate: 0.1))
            trainer.parallel = rank
            trainer.batchNormStatistics = rank.rank == 0 ? .global : .perRank
            do { try trainer.synchronize(&g, fingerprint: [:]); return "started" } catch { return "\(error)" }
        }
        for o in outcomes { #expect(o.contains("batchnorm statistics (1 of 2 ranks)"), "\(o)") }
    }

    /// Each rank augments its shard with the draws of those images' places in
    /// the whole batch, so N ranks train on what one process would.
    @Test func aShardIsAugmentedAsItsPartOfTheWholeBatch() throws {
        let images = randomTensor([10, 6, 5, 3], seed: 9, range: 0...1)
        var augmentation = Augmentation(cropPadding: 2, flip: true, brightness: 0.2, contrast: 0.5..<1.5, saturation: 0.3..<1.7)
        var whole = images
        try augmentation.apply(to: &whole, seed: 4, counter: 7 << 20)
        var pieces: [Float] = []
        for range in [0..<3, 3..<7, 7..<10] {
            var part = try Tensor(shape: [range.count, 6, 5, 3], scalars: Array(images.scalars[range.lowerBound * 90..<range.upperBound * 90]))
            try augmentation.apply(to: &part, seed: 4, counter: 7 << 20, first: range.lowerBound)
            pieces += part.scalars
        }
        #expect(pieces == whole.scalars)
        #expect(whole.scalars != images.scalars)
    }
}

extension History {
    /// This history with the wall-clock figures of `other` (all else compared).
    func withTimesOf(_ other: History) -> History {
        var h = self
        for i in h.epochs.indices where i < other.epochs.count {
            h.epochs[i].seconds = other.epochs[i].seconds
            h.epochs[i].imagesPerSecond = other.epochs[i].imagesPerSecond
        }
        return h
    }
}

/// Ranks rehearsed on threads of one process (`run` starts one thread per
/// rank): every collective waits for all the ranks; sums are added in rank
/// order, so every rank gets the same bits, as from MPI.
final class ThreadedRanks: @unchecked Sendable {
    let size: Int
    private let condition = NSCondition()
    private var deposits: [[UInt8]]
    private var result: [UInt8] = []
    private var arrived = 0, generation = 0

    init(size: Int) {
        self.size = size
        deposits = Array(repeating: [], count: size)
    }

    /// Rank `rank`'s bytes in; when all have arrived, `combine` of every rank's
    /// (in rank order) out to each.
    /// A rank that waits a minute throws (another rank failed): the test fails
    /// instead of hanging.
    fileprivate func collective(_ rank: Int, _ bytes: UnsafeMutableRawBufferPointer,
                                _ combine: ([[UInt8]]) -> [UInt8]) throws {
        condition.lock()
        defer { condition.unlock() }
        let mine = generation
        deposits[rank] = Array(bytes)
        arrived += 1
        if arrived == size {
            result = combine(deposits)
            arrived = 0
            generation += 1
            condition.broadcast()
        } else {
            let deadline = Date(timeIntervalSinceNow: 60)
            while generation == mine {
                guard condition.wait(until: deadline) || generation != mine else {
                    throw AxonError.invalidArgument("rehearsed rank \(rank): the other ranks did not reach the collective")
                }
            }
        }
        // No later round can finish before this rank has read this one's result.
        result.withUnsafeBytes { bytes.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<bytes.count])) }
    }

    final class Rank: DataParallel, @unchecked Sendable {
        let rank: Int, group: ThreadedRanks
        var size: Int { group.size }
        var allreduceSeconds = 0.0, allreduceCalls = 0
        init(rank: Int, group: ThreadedRanks) { self.rank = rank; self.group = group }
        func allreduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws {
            allreduceCalls += 1
            try group.collective(rank, UnsafeMutableRawBufferPointer(values)) { all in
                var sum = [Float](repeating: 0, count: values.count)
                for d in all { d.withUnsafeBytes { b in for (i, v) in b.bindMemory(to: Float.self).enumerated() { sum[i] += v } } }
                return sum.withUnsafeBytes { Array($0) }
            }
        }
        func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws {
            try group.collective(rank, bytes) { $0[root] }
        }
    }

    /// `body` on every rank, each on its own thread; its results in rank order.
    func run<T>(_ body: @escaping (Rank) throws -> T) throws -> [T] {
        let results = RankResults(size, body), done = DispatchGroup()
        for r in 0..<size {
            done.enter()
            let rank = Rank(rank: r, group: self)
            let thread = Thread {
                let outcome = Result { try results.body(rank) }
                results.lock.lock()
                results.values[r] = outcome
                results.lock.unlock()
                done.leave()
            }
            thread.stackSize = 16 << 20
            thread.start()
        }
        done.wait()
        return try results.values.map { try $0!.get() }
    }
}

private final class RankResults<T>: @unchecked Sendable {
    let lock = NSLock()
    var values: [Result<T, any Error>?]
    let body: (ThreadedRanks.Rank) throws -> T
    init(_ n: Int, _ body: @escaping (ThreadedRanks.Rank) throws -> T) { values = Array(repeating: nil, count: n); self.body = body }
}
