import Foundation
import Testing
@testable import Axon

// MARK: early stopping (spec §9)

/// A layer whose validation accuracy follows a script: its one parameter counts
/// the updates (gradient −1, GradientDescent lr 1), i.e. the epochs with one
/// batch each, and inference predicts class 0 for the first ⌊script[epoch]·N⌋ rows.
private struct ScriptedLayer: Layer {
    var script: [Double]
    var kernel = Tensor(zeros: [1])
    var gradient = Tensor(zeros: [1])
    var isBuilt: Bool { true }
    mutating func build(inputShape: [Int], generator: inout SeededGenerator) throws {}
    func outputShape(for inputShape: [Int]) throws -> [Int] { [2] }
    mutating func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        let n = x.shape[0]
        let epoch = Int(kernel[flat: 0].rounded())
        let correct = training ? n : Int((script[max(epoch - 1, 0)] * Double(n)).rounded())
        var out = [Float](repeating: 0, count: 2 * n)
        for r in 0..<n { out[2 * r + (r < correct ? 0 : 1)] = 1 }
        return Tensor(uncheckedShape: [n, 2], scalars: out)
    }
    mutating func backward(_ dy: Tensor) throws -> Tensor {
        gradient = Tensor(repeating: -1, shape: [1])
        return .empty
    }
    var parameterNames: [String] { ["kernel"] }
    mutating func updateParameters(_ body: (String, inout Tensor, inout Tensor) throws -> Void) rethrows {
        try body("kernel", &kernel, &gradient)
    }
    var summary: String { "Scripted" }
}

@Suite struct EarlyStoppingTests {
    private func run(_ script: [Double], patience: Int, epochs: Int) throws -> (History, ScriptedLayer, EarlyStopping) {
        let data = try Dataset(images: Tensor(zeros: [100, 1]), labels: [Int32](repeating: 0, count: 100), classCount: 2)
        var layer = ScriptedLayer(script: script)
        let stopping = EarlyStopping(patience: patience)
        let trainer = Trainer(optimizer: GradientDescent(learningRate: 1))
        let h = try trainer.fit(&layer, on: data, epochs: epochs, batchSize: 100, validation: data, callbacks: [stopping])
        return (h, layer, stopping)
    }

    @Test func stopsWhenWaitReachesPatienceAndRestoresTheBest() throws {
        // Best 0.7 at epoch 5; epochs 6–9 bring a tie (not a new best) and lower values.
        let script = [0.5, 0.6, 0.6, 0.55, 0.7, 0.7, 0.65, 0.69, 0.7, 0.4, 0.9, 0.95]
        let (h, layer, stopping) = try run(script, patience: 4, epochs: 12)
        #expect(h.epochs.count == 9, "trained \(h.epochs.count) epochs, expected to stop after epoch 9")
        #expect(stopping.stop == EarlyStop(epoch: 9, bestEpoch: 5, bestAccuracy: 0.7, patience: 4))
        #expect(stopping.stop?.reason.contains("4 epochs") == true)
        #expect(layer.kernel[flat: 0] == 5, "weights after the run: those of epoch \(layer.kernel[flat: 0]), expected 5")
        #expect(h.epochs.map(\.validationAccuracy) == script.prefix(9).map { Optional($0) })
    }

    @Test func noStopAtTheLimitStillRestoresTheBest() throws {
        let (h, layer, stopping) = try run([0.5, 0.9, 0.6, 0.7], patience: 10, epochs: 4)
        #expect(h.epochs.count == 4)
        #expect(stopping.stop == nil && stopping.bestEpoch == 2)
        #expect(layer.kernel[flat: 0] == 2)
    }

    @Test func patienceOneStopsAtTheFirstNonImprovement() throws {
        let (h, layer, stopping) = try run([0.5, 0.6, 0.6, 0.9], patience: 1, epochs: 4)
        #expect(stopping.stop?.epoch == 3 && h.epochs.count == 3)
        #expect(layer.kernel[flat: 0] == 2)
    }
}

@Suite struct CheckpointingTests {
    /// One `fit` with a `Checkpointing` writes a checkpoint every 3 steps and at
    /// every epoch's end; resuming from a mid-epoch one (`startEpoch`/`startBatch`)
    /// ends with the uninterrupted run's weights, bit for bit.
    @Test func midEpochCheckpointsResumeTheSameRun() throws {
        let dir = try makeTempDir("checkpointing")
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = try toyDataset(count: 40, seed: 2)  // batches of 8: 5 steps per epoch
        func model() -> Sequential { Sequential(seed: 4) { Flatten(); Dense(8, activation: .relu); Dropout(rate: 0.3); Dense(4) } }
        var straight = model()
        let a = Trainer(optimizer: Adam(learningRate: 0.01))
        try a.fit(&straight, on: data, epochs: 2, batchSize: 8, seed: 3,
                  callbacks: [Checkpointing(directory: dir.path, keep: 10, everySteps: 3, configuration: ["k": "v"])])
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { !$0.hasPrefix(".") }.sorted()
        // Steps 3 (epoch 1), 5 (its end), 6 and 9 (epoch 2), 10 (its end).
        #expect(names == ["epoch-0001-batch-000003.safetensors", "epoch-0001.safetensors", "epoch-0002-batch-000001.safetensors",
                          "epoch-0002-batch-000004.safetensors", "epoch-0002.safetensors"], "\(names)")
        let mid = try Checkpoint.load(from: dir.appendingPathComponent("epoch-0002-batch-000001.safetensors").path)
        #expect(mid.epoch == 1 && mid.batch == 1 && mid.optimizerStep == 6 && mid.configuration == ["k": "v"])
        var resumed = mid.model
        let b = Trainer(optimizer: Adam(learningRate: 0.01))
        try mid.restore(into: &b.optimizer)
        try b.fit(&resumed, on: data, epochs: 2, batchSize: 8, seed: 3, startEpoch: 2, startBatch: 1)
        #expect(resumed.parameters.map(\.value) == straight.parameters.map(\.value))
    }
}
