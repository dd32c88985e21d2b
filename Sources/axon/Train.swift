import ArgumentParser
import Axon

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a model on MNIST-format data, printing loss and accuracy each epoch and the final test accuracy.",
        discussion: "Per-model defaults (flags override them):\n" + ModelKind.allCases.map { m in
            let r = ResolvedSettings(model: m, optimizer: nil, learningRate: nil, momentum: nil, batchSize: nil, epochs: nil)
            return "  \(m.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)) \(r.optimizerDescription), batch \(r.batchSize), \(r.epochs) epochs"
        }.joined(separator: "\n"))

    @Option(help: "The model to train (required unless --resume).")
    var model: ModelKind?

    @Option(help: ArgumentHelp("Directory holding train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each raw or .gz).", valueName: "dir"))
    var data: String = MNIST.defaultDirectory

    // `.unconditional` so that `--epochs -3` reaches validate() and gets a clear message
    // instead of being mistaken for an unknown flag.
    @Option(parsing: .unconditional, help: "Passes over the training set (default per model).")
    var epochs: Int?

    @Option(parsing: .unconditional, help: "Examples per mini-batch (default per model).")
    var batchSize: Int?

    @Option(help: "gd, momentum, adam, adagrad, adadelta, adagradda, ftrl, proximalgd, proximaladagrad or rmsprop (TensorFlow's names, e.g. GradientDescent or RMSPropOptimizer, accepted in any case).")
    var optimizer: OptimizerKind?

    @Option(parsing: .unconditional, help: "Learning rate, > 0 (default per model).")
    var learningRate: Float?

    @Option(parsing: .unconditional, help: "Momentum coefficient in [0, 1) for --optimizer momentum (default 0.9) or rmsprop (default 0).")
    var momentum: Float?

    @Option(parsing: .unconditional, help: "Seed of every random choice (initial weights, shuffling, dropout).")
    var seed: UInt64 = 1

    @Option(parsing: .unconditional, help: "Kernel threads; 0 uses every core (default: every core).")
    var threads: Int?

    @Option(parsing: .unconditional, help: "Use only the first N training examples.")
    var limit: Int?

    @Option(help: ArgumentHelp("Save the trained model to this file (safetensors; see `axon inspect`).", valueName: "file"))
    var save: String?

    @Option(help: ArgumentHelp("Save a checkpoint (model, optimizer state, counters, settings) after every epoch in this directory, keeping the last 5.", valueName: "dir"))
    var checkpointDir: String?

    @Option(help: ArgumentHelp("Continue the run checkpointed in this directory from its newest checkpoint, with its settings (--epochs may raise the total; checkpoints keep going to this directory unless --checkpoint-dir says otherwise).", valueName: "dir"))
    var resume: String?

    @OptionGroup(title: "Optimizer hyper-parameters and regularisation")
    var training: TrainingOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var classes: ClassOptions

    /// The settings after applying the model's recipe.
    var resolved: ResolvedSettings {
        ResolvedSettings(model: model ?? .lenet5, optimizer: optimizer, learningRate: learningRate, momentum: momentum,
                         batchSize: batchSize, epochs: epochs)
    }

    func validate() throws {
        if resume != nil {
            let given = [("--model", model != nil), ("--batch-size", batchSize != nil), ("--optimizer", optimizer != nil),
                         ("--learning-rate", learningRate != nil), ("--momentum", momentum != nil), ("--limit", limit != nil)]
            if let flag = given.first(where: { $0.1 })?.0 ?? training.givenFlags.first {
                throw ValidationError("\(flag) cannot be combined with --resume: the run's settings come from its checkpoint")
            }
        } else if model == nil {
            throw ValidationError("missing --model (one of \(ModelKind.allCases.map(\.rawValue).joined(separator: ", "))), or --resume DIR")
        }
        if let epochs, epochs <= 0 {
            throw ValidationError("--epochs must be a positive integer, got \(epochs)")
        }
        if let batchSize, batchSize <= 0 {
            throw ValidationError("--batch-size must be a positive integer, got \(batchSize)")
        }
        if let learningRate, !(learningRate > 0 && learningRate.isFinite) {
            throw ValidationError("--learning-rate must be a finite number > 0, got \(learningRate)")
        }
        if let momentum, model != nil {
            guard momentum >= 0 && momentum < 1 else {
                throw ValidationError("--momentum must be in [0, 1), got \(momentum)")
            }
            guard [.momentum, .rmsprop].contains(resolved.optimizer) else {
                throw ValidationError("--momentum applies only to --optimizer momentum or rmsprop (this run uses \(resolved.optimizer.rawValue))")
            }
        }
        if let model { try training.validate(optimizer: resolved.optimizer, model: model) }
        if training.earlyStopping != nil && (checkpointDir != nil || resume != nil) {
            throw ValidationError("--early-stopping cannot be combined with --checkpoint-dir or --resume: checkpoints do not hold the best weights and the patience count")
        }
        if let threads, threads < 0 {
            throw ValidationError("--threads must be >= 0 (0 = every core), got \(threads)")
        }
        if let limit, limit <= 0 {
            throw ValidationError("--limit must be a positive number of training examples, got \(limit)")
        }
        if let save { try checkCanWrite(save, flag: "--save") }
        if let checkpointDir { try checkCanCreateDirectory(checkpointDir, flag: "--checkpoint-dir") }
    }

    func run() throws {
        if let threads { setThreadCount(threads) }
        var flags = self
        var checkpoint: Checkpoint?
        if let resume {
            let c = try CheckpointDirectory.latest(in: resume)
            try flags.apply(c.configuration, path: resume)
            if flags.checkpointDir == nil { flags.checkpointDir = resume }
            checkpoint = c
        }
        try flags.train(from: checkpoint)
    }

    /// The flags a checkpoint must record to continue this run.
    var configuration: [String: String] {
        var c = ["model": (model ?? .lenet5).rawValue, "seed": String(seed), "data": data]
        if let epochs { c["epochs"] = String(epochs) }
        if let batchSize { c["batch_size"] = String(batchSize) }
        if let optimizer { c["optimizer"] = optimizer.rawValue }
        if let learningRate { c["learning_rate_bits"] = String(learningRate.bitPattern) }
        if let momentum { c["momentum_bits"] = String(momentum.bitPattern) }
        if let limit { c["limit"] = String(limit) }
        return c.merging(training.configuration) { a, _ in a }
    }

    /// Takes the run's flags from a checkpoint's configuration (an --epochs given now wins).
    mutating func apply(_ c: [String: String], path: String) throws {
        func bad(_ key: String) -> AxonError { .file(path: path, "checkpoint setting \"\(key)\" is missing or invalid") }
        func optional<T>(_ key: String, _ parse: (String) -> T?) throws -> T? {
            guard let text = c[key] else { return nil }
            guard let v = parse(text) else { throw bad(key) }
            return v
        }
        guard let m = c["model"].flatMap(ModelKind.init(rawValue:)) else { throw bad("model") }
        guard let s = c["seed"].flatMap({ UInt64($0) }) else { throw bad("seed") }
        guard let d = c["data"] else { throw bad("data") }
        model = m; seed = s; data = d
        if epochs == nil { epochs = try optional("epochs") { Int($0) } }
        batchSize = try optional("batch_size") { Int($0) }
        optimizer = try optional("optimizer") { OptimizerKind(rawValue: $0) }
        learningRate = try optional("learning_rate_bits") { UInt32($0).map(Float.init(bitPattern:)) }
        momentum = try optional("momentum_bits") { UInt32($0).map(Float.init(bitPattern:)) }
        limit = try optional("limit") { Int($0) }
        try training.apply(c, bad: bad)
        // A hand-edited checkpoint gets the same checks as flags.
        let resumed = resume
        resume = nil
        try validate()
        resume = resumed
    }

    func train(from checkpoint: Checkpoint?) throws {
        let model = self.model ?? .lenet5
        let settings = resolved
        let loaded = try MNIST.load(from: data)
        guard loaded.train.exampleShape == [28, 28, 1] else {
            throw ValidationError("\(data): images are \(loaded.train.exampleShape[0])×\(loaded.train.exampleShape[1]); the reference models need 28×28")
        }
        var train = limit.map { loaded.train.prefix($0) } ?? loaded.train
        let test = loaded.test
        let classNames = try classes.names(count: train.classCount) {
            try MNIST.classNames(in: data, testLabels: test.labels)
        } ?? MNIST.digitClassNames
        // Early stopping must not look at the test set: it watches the end of the
        // training set, held out; the test set is then measured once, at the end.
        var validation: Dataset?
        if training.earlyStopping != nil {
            let held = min(10000, train.count / 6)
            guard held > 0 else { throw ValidationError("--early-stopping needs at least 6 training examples to hold some out") }
            validation = train.slice((train.count - held)..<train.count)
            train = train.prefix(train.count - held)
        }

        output.say("\(model.displayName) on \(data): \(train.count) training, \(test.count) test images; "
              + "\(settings.optimizerDescription), batch \(settings.batchSize), \(plural(settings.epochs, "epoch")), "
              + "seed \(seed), threads \(threadCount())")

        let trainer = Trainer(loss: .softmaxCrossEntropy,
                              optimizer: settings.optimizer.make(learningRate: settings.learningRate, momentum: settings.momentum,
                                                                 training.hyperParameters(momentum: momentum)),
                              schedule: settings.schedule, l2: training.l2 ?? 0, l1: training.l1 ?? 0,
                              earlyStoppingPatience: training.earlyStopping)
        trainer.augmentation = try training.augmentation()
        output.say(trainer.optimizer.summary + regularisationSummary(validationCount: validation?.count ?? 0))
        var network: any Network
        if let checkpoint {
            network = checkpoint.model
            try checkpoint.restore(into: &trainer.optimizer)
            output.say("resuming from \(resume ?? "") after epoch \(checkpoint.epoch)")
        } else {
            network = try model.build(seed: seed, dropout: training.dropout)
        }
        let reporter = output.attach(to: trainer, epochs: settings.epochs)
        // One fit call per epoch (fit replays the earlier epochs' shuffles), so a
        // checkpoint can be taken between epochs; the batches are those of a single call.
        var records: [EpochRecord] = []
        let first = (checkpoint?.epoch ?? 0) + 1
        for epoch in first...max(first, settings.epochs) where epoch <= settings.epochs {
            let h = try trainer.fit(&network, on: train, epochs: epoch, batchSize: settings.batchSize,
                                    validation: validation, test: validation == nil ? test : nil, seed: seed,
                                    startEpoch: epoch)
            records += h.epochs
            for r in h.epochs { try reporter.epoch(r) }
            if let stop = h.earlyStop {
                output.say("early stopping after epoch \(stop.epoch): \(stop.reason); restored the weights of epoch \(stop.bestEpoch)")
                break
            }
            if let checkpointDir {
                try CheckpointDirectory.save(Checkpoint(model: network, optimizer: trainer.optimizer, epoch: epoch,
                                                        configuration: configuration), in: checkpointDir)
            }
        }
        guard let last = records.last else {
            print("nothing to do: the checkpoint already holds \(plural(first - 1, "epoch")) of \(settings.epochs); raise --epochs to continue")
            return
        }
        let seconds = records.reduce(0) { $0 + $1.seconds }
        var final = last.testAccuracy ?? .nan
        if training.earlyStopping != nil {
            if trainer.earlyStop == nil {
                try trainer.restoreBestWeights(&network)
                output.say("no early stop within \(plural(settings.epochs, "epoch")); kept the weights of epoch \(trainer.earlyStoppingBestEpoch) (best validation accuracy)")
            }
            // The kept weights are those after the best epoch: its row of the history gets their test figures.
            let (loss, accuracy) = try trainer.evaluate(network, on: test)
            try reporter.recordTest(epoch: trainer.earlyStoppingBestEpoch, loss: loss, accuracy: accuracy)
            final = accuracy
        }
        print("test accuracy \(percent(final)) (\(fixed(final * Double(test.count), 0))/\(test.count)) "
              + "after \(plural(last.epoch, "epoch")), \(fixed(seconds, 1)) s of training")
        if let save {
            try network.save(to: save, metadata: [
                "axon.training.model": model.rawValue, "axon.training.data": data,
                "axon.training.examples": String(train.count), "axon.training.epochs": String(last.epoch),
                "axon.training.optimizer": settings.optimizerDescription,
                "axon.training.batch_size": String(settings.batchSize), "axon.training.seed": String(seed),
                "axon.training.test_accuracy": fixed(final, 4),
            ].merging(ClassNames.metadata(classNames)) { a, _ in a })
            output.say("saved the model to \(save)")
        }
    }
}

extension Train {
    /// The regularisation part of the settings line ("" when none is on).
    func regularisationSummary(validationCount: Int) -> String {
        var parts: [String] = []
        if let l1 = training.l1 { parts.append("L1 λ \(l1)") }
        if let l2 = training.l2 { parts.append("L2 λ \(l2)") }
        if let d = training.dropout { parts.append("dropout \(d)") }
        if let a = try? training.augmentation() { parts.append("augmentation: \(a.summary)") }
        if let p = training.earlyStopping { parts.append("early stopping, patience \(p), on \(validationCount) held-out images") }
        return parts.isEmpty ? "" : "; " + parts.joined(separator: ", ")
    }
}

/// `x` with `digits` decimals (Foundation-free, so the CLI needs only Axon and ArgumentParser);
/// "nan", "inf" or Swift's exponent form ("1e+30") where a fixed form would overflow.
func fixed(_ x: Double, _ digits: Int) -> String {
    var scale = 1
    for _ in 0..<digits { scale *= 10 }
    guard x.isFinite, abs(x) * Double(scale) < 1e18 else { return "\(x)" }
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
