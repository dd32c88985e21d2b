import ArgumentParser
import Axon

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a model on MNIST-format data, printing loss and accuracy each epoch and the final test accuracy.",
        discussion: """
            Per-model defaults (flags override them):
              lenet5  momentum, learning rate 0.01, momentum 0.9, batch 64
              cnn     adam, learning rate 1e-4, batch 50
              lstm    adam, learning rate 1e-3, batch 128
              mlp     adam, learning rate 1e-3, batch 100
            """)

    @Option(help: "The model to train: \(ModelKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var model: ModelKind

    @Option(help: ArgumentHelp("Directory holding train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each raw or .gz).", valueName: "dir"))
    var data: String = MNIST.defaultDirectory

    // `.unconditional` so that `--epochs -3` reaches validate() and gets a clear message
    // instead of being mistaken for an unknown flag.
    @Option(parsing: .unconditional, help: "Passes over the training set (default per model).")
    var epochs: Int?

    @Option(parsing: .unconditional, help: "Examples per mini-batch (default per model).")
    var batchSize: Int?

    @Option(help: "gd, momentum or adam (TensorFlow's GradientDescent, Momentum, Adam accepted).")
    var optimizer: OptimizerKind?

    @Option(parsing: .unconditional, help: "Learning rate, > 0 (default per model).")
    var learningRate: Float?

    @Option(parsing: .unconditional, help: "Momentum coefficient in [0, 1) for --optimizer momentum (default 0.9).")
    var momentum: Float?

    @Option(parsing: .unconditional, help: "Seed of every random choice (initial weights, shuffling, dropout).")
    var seed: UInt64 = 1

    @Option(parsing: .unconditional, help: "Kernel threads; 0 uses every core (default: every core).")
    var threads: Int?

    @Option(parsing: .unconditional, help: "Use only the first N training examples.")
    var limit: Int?

    /// The settings after applying the model's defaults.
    var resolved: (optimizer: OptimizerKind, learningRate: Float, momentum: Float, batchSize: Int, epochs: Int) {
        let d = TrainingDefaults.forModel(model)
        return (optimizer ?? d.optimizer, learningRate ?? d.learningRate, momentum ?? d.momentum,
                batchSize ?? d.batchSize, epochs ?? d.epochs)
    }

    func validate() throws {
        if let epochs, epochs <= 0 {
            throw ValidationError("--epochs must be a positive integer, got \(epochs)")
        }
        if let batchSize, batchSize <= 0 {
            throw ValidationError("--batch-size must be a positive integer, got \(batchSize)")
        }
        if let learningRate, !(learningRate > 0 && learningRate.isFinite) {
            throw ValidationError("--learning-rate must be a finite number > 0, got \(learningRate)")
        }
        if let momentum {
            guard momentum >= 0 && momentum < 1 else {
                throw ValidationError("--momentum must be in [0, 1), got \(momentum)")
            }
            guard resolved.optimizer == .momentum else {
                throw ValidationError("--momentum applies only to --optimizer momentum (this run uses \(resolved.optimizer.rawValue))")
            }
        }
        if let threads, threads < 0 {
            throw ValidationError("--threads must be >= 0 (0 = every core), got \(threads)")
        }
        if let limit, limit <= 0 {
            throw ValidationError("--limit must be a positive number of training examples, got \(limit)")
        }
    }

    func run() throws {
        let settings = resolved
        if let threads { setThreadCount(threads) }
        let loaded = try MNIST.load(from: data)
        guard loaded.train.exampleShape == [28, 28, 1] else {
            throw ValidationError("\(data): images are \(loaded.train.exampleShape[0])×\(loaded.train.exampleShape[1]); the reference models need 28×28")
        }
        let train = limit.map { loaded.train.prefix($0) } ?? loaded.train
        let test = loaded.test

        var optimizerText = "\(settings.optimizer.rawValue), learning rate \(settings.learningRate)"
        if settings.optimizer == .momentum { optimizerText += ", momentum \(settings.momentum)" }
        print("\(model.displayName) on \(data): \(train.count) training, \(test.count) test images; "
              + "\(optimizerText), batch \(settings.batchSize), \(settings.epochs) epochs, seed \(seed), threads \(threadCount())")

        try trainAndReport(model: model, train: train, test: test, optimizer: settings.optimizer,
                           learningRate: settings.learningRate, momentum: settings.momentum,
                           batchSize: settings.batchSize, epochs: settings.epochs, seed: seed)
    }
}
