import ArgumentParser
import Axon

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a model on MNIST-format data, printing loss and accuracy each epoch and the final test accuracy.",
        discussion: "Per-model defaults (flags override them):\n" + ModelKind.allCases.map { m in
            let r = ResolvedSettings(model: m, optimizer: nil, learningRate: nil, momentum: nil, batchSize: nil, epochs: nil)
            return "  \(m.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)) \(r.optimizerDescription), batch \(r.batchSize), \(r.epochs) epochs"
        }.joined(separator: "\n"))

    @Option(help: "The model to train.")
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

    @Option(help: ArgumentHelp("Save the trained model to this file (safetensors; see `axon inspect`).", valueName: "file"))
    var save: String?

    /// The settings after applying the model's recipe.
    var resolved: ResolvedSettings {
        ResolvedSettings(model: model, optimizer: optimizer, learningRate: learningRate, momentum: momentum,
                         batchSize: batchSize, epochs: epochs)
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
        if let save { try checkCanWrite(save, flag: "--save") }
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

        print("\(model.displayName) on \(data): \(train.count) training, \(test.count) test images; "
              + "\(settings.optimizerDescription), batch \(settings.batchSize), \(plural(settings.epochs, "epoch")), "
              + "seed \(seed), threads \(threadCount())")

        var network = try model.build(seed: seed)
        let trainer = Trainer(loss: .softmaxCrossEntropy,
                              optimizer: settings.optimizer.make(learningRate: settings.learningRate,
                                                                 momentum: settings.momentum),
                              schedule: settings.schedule)
        let width = String(settings.epochs).count
        trainer.onEpoch = { r in
            let epoch = String(r.epoch).leftPadded(to: width)
            print("epoch \(epoch)/\(settings.epochs)  loss \(fixed(Double(r.trainLoss), 4))  "
                  + "train acc \(percent(r.trainAccuracy))  test acc \(percent(r.validationAccuracy ?? .nan))  "
                  + "\(fixed(r.seconds, 1)) s  \(Int(r.imagesPerSecond.rounded())) images/s")
        }
        let history = try trainer.fit(&network, on: train, epochs: settings.epochs, batchSize: settings.batchSize,
                                      validation: test, seed: seed)
        let seconds = history.epochs.reduce(0) { $0 + $1.seconds }
        let final = history.last?.validationAccuracy ?? .nan
        print("test accuracy \(percent(final)) (\(Int((final * Double(test.count)).rounded()))/\(test.count)) "
              + "after \(plural(history.epochs.count, "epoch")), \(fixed(seconds, 1)) s of training")
        if let save {
            try network.save(to: save, metadata: [
                "axon.training.model": model.rawValue, "axon.training.data": data,
                "axon.training.examples": String(train.count), "axon.training.epochs": String(history.epochs.count),
                "axon.training.optimizer": settings.optimizerDescription,
                "axon.training.batch_size": String(settings.batchSize), "axon.training.seed": String(seed),
                "axon.training.test_accuracy": fixed(final, 4),
            ])
            print("saved the model to \(save)")
        }
    }
}

/// `x` with `digits` decimals (Foundation-free, so the CLI needs only Axon and ArgumentParser).
func fixed(_ x: Double, _ digits: Int) -> String {
    guard x.isFinite else { return "\(x)" }
    var scale = 1
    for _ in 0..<digits { scale *= 10 }
    let r = Int((abs(x) * Double(scale)).rounded())
    let whole = (x < 0 && r != 0 ? "-" : "") + String(r / scale)
    guard digits > 0 else { return whole }
    let frac = String(r % scale)
    return whole + "." + String(repeating: "0", count: digits - frac.count) + frac
}

func plural(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }

func percent(_ fraction: Double) -> String { fixed(fraction * 100, 2) + "%" }

extension String {
    func leftPadded(to n: Int) -> String { String(repeating: " ", count: max(0, n - count)) + self }
}
