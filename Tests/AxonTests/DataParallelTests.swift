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

    /// BatchNorm's moving statistics leave the step's allreduce as the shards'
    /// weighted mean, so every rank holds the same ones. Two ranks rehearsed in
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
