import ArgumentParser
import Axon
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Throughput of the reference models on random 28×28 inputs: no dataset needed,
/// so it measures the kernels and layers alone.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure training and inference throughput (images/s) of the reference models on random input.")

    @Option(help: "Models to measure (default: the four reference models lenet5, mlp, cnn, lstm).")
    var model: [ModelKind] = [.lenet5, .mlp, .cnn, .lstm]

    @Option(parsing: .unconditional, help: "Examples per batch (default: each model's training batch size).")
    var batchSize: Int?

    @Option(parsing: .unconditional, help: "Timed training steps per model, after one untimed warm-up step.")
    var steps: Int = 20

    @OptionGroup var machine: MachineOptions

    @Flag(help: "Measure Inception-v3 inference instead (299×299×3 random input, BatchNorm folded): batch-1 latency and batch-16 images/s.")
    var inception = false

    func validate() throws {
        if let batchSize { try checkBatchSize(batchSize) }
        if !(1...1_000_000).contains(steps) { throw ValidationError("--steps must be a positive integer, got \(steps) (at most 1000000)") }
        if let big = model.first(where: \.needsLargeImages) {
            throw ValidationError("--model \(big.rawValue) does not take 28×28 input; axon bench --inception measures it")
        }
    }

    func run() throws {
        try machine.apply()
        print("machine: \(machineDescription())")
        if inception { return try benchInception() }
        print("threads \(threadCount()), \(plural(steps, "timed step")) per model, random 28×28×1 input")
        for kind in model {
            let settings = ResolvedSettings(model: kind, optimizer: nil, learningRate: nil, momentum: nil,
                                            batchSize: batchSize, epochs: nil)
            let n = settings.batchSize
            var network = try kind.build(seed: 1)
            try network.checkMemory(batch: n, training: true, inputShapes: [[28, 28, 1]])
            var generator = SeededGenerator(seed: 1)
            let images = try Tensor(shape: [n, 28, 28, 1], scalars: (0..<(n * 784)).map { _ in generator.nextUniform() })
            let labels = (0..<n).map { _ in Int32(generator.next() % 10) }
            let trainer = Trainer(optimizer: settings.optimizer.make(learningRate: settings.learningRate,
                                                                     momentum: settings.momentum))
            try trainer.step(&network, images: images, labels: labels)  // builds the model and its workspaces
            var start = monotonicSeconds()
            for _ in 0..<steps { try trainer.step(&network, images: images, labels: labels) }
            let train = monotonicSeconds() - start
            _ = try predict(&network, images, batchSize: n)
            start = monotonicSeconds()
            for _ in 0..<steps { _ = try predict(&network, images, batchSize: n) }
            let infer = monotonicSeconds() - start
            let done = Double(n * steps)
            print("\(kind.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)) batch \(n)  "
                  + "train \(fixed(done / train, 0)) images/s (\(fixed(1000 * train / Double(steps), 2)) ms/step)  "
                  + "inference \(fixed(done / infer, 0)) images/s")
        }
    }
}

extension Bench {
    /// Inference only, as `make compare` measures it against Keras' InceptionV3.
    func benchInception() throws {
        var net = try Models.inceptionV3(seed: 1)
        try net.build(inputShapes: [[299, 299, 3]])
        var folded = try net.foldedForInference()
        print("threads \(threadCount()), Inception-v3 (\(grouped(net.parameterCount + net.stateCount)) parameters, "
              + "\(folded.nodes.count) nodes after folding BatchNorm), random 299×299×3 input")
        var generator = SeededGenerator(seed: 1)
        for n in [1, batchSize ?? 16] {
            try folded.checkMemory(batch: n, training: false, inputShapes: [[299, 299, 3]])
            let x = try Tensor(shape: [n, 299, 299, 3], scalars: (0..<(n * 268_203)).map { _ in generator.nextUniform() })
            _ = try folded(x)
            let start = monotonicSeconds()
            for _ in 0..<steps { _ = try folded(x) }
            let seconds = (monotonicSeconds() - start) / Double(steps)
            print("batch \(n)  \(fixed(1000 * seconds, 1)) ms per call  \(fixed(Double(n) / seconds, 0)) images/s")
        }
    }
}

func monotonicSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}
