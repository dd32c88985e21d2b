import ArgumentParser
import Axon
import Foundation

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a model on MNIST-format data or on folders of images (--images), printing loss and accuracy each epoch and the final test accuracy.",
        discussion: "Per-model defaults (flags override them):\n" + ModelKind.allCases.map { m in
            let r = ResolvedSettings(model: m, optimizer: nil, learningRate: nil, momentum: nil, batchSize: nil, epochs: nil)
            return "  \(m.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0)) \(r.optimizerDescription), batch \(r.batchSize), \(r.epochs) epochs"
        }.joined(separator: "\n"))

    @Option(help: "The model to train (required unless --resume).")
    var model: ModelKind?

    @Option(help: ArgumentHelp("Directory holding train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each raw or .gz).", valueName: "dir"))
    var data: String = MNIST.defaultDirectory

    @Option(help: ArgumentHelp("Train on a folder of class folders of JPEG or PNG images instead of --data, split into training, validation and testing sets as `axon retrain` splits them; needs --input-size.", valueName: "dir"))
    var images: String?

    @Option(help: ArgumentHelp("With --images: the model's input, height×width (e.g. 28x28); every image is resized to it once and kept in memory as bytes. lenet5, mlp, cnn and lstm need 28x28 with --grayscale.", valueName: "HxW"))
    var inputSize: InputSize?

    @Flag(help: "With --images: turn the images to grey (one channel), as lenet5, mlp, cnn and lstm need.")
    var grayscale = false

    @Option(parsing: .unconditional, help: "With --images: percentage of images for validation (by retrain.py's hash of the file name).")
    var validationPercentage: Double = 10

    @Option(parsing: .unconditional, help: "With --images: percentage of images for the final test.")
    var testingPercentage: Double = 10

    // `.unconditional` so that `--epochs -3` reaches validate() and gets a clear message
    // instead of being mistaken for an unknown flag.
    @Option(parsing: .unconditional, help: "Passes over the training set (default per model).")
    var epochs: Int?

    @Option(parsing: .unconditional, help: "Examples per mini-batch (default per model).")
    var batchSize: Int?

    @Option(help: "gd, momentum, adam, adagrad, adadelta, adagradda, ftrl, proximalgd, proximaladagrad or rmsprop (TensorFlow's names, e.g. GradientDescent or RMSPropOptimizer, accepted in any case). AdagradDA and Ftrl forget the initial weights after one step: at their default learning rate 0.01 a deep net stays at chance; use them with --model softmax or a larger --learning-rate (`axon demo optimizers` compares all ten).")
    var optimizer: OptimizerKind?

    @Option(parsing: .unconditional, help: "Learning rate, > 0 (default per model).")
    var learningRate: Float?

    @Option(parsing: .unconditional, help: "Momentum coefficient in [0, 1) for --optimizer momentum (default \(shown(Momentum().momentum))) or rmsprop (default \(shown(RMSProp().momentum))).")
    var momentum: Float?

    @Option(parsing: .unconditional, help: "Learning-rate decay per epoch in (0, 1]: epoch k uses rate·F^(k−1); 1 keeps it constant (default: the model's, shown below and in the run's header).")
    var lrDecay: Float?

    @Option(parsing: .unconditional, help: "Seed of every random choice (initial weights, shuffling, dropout).")
    var seed: UInt64 = 1

    @OptionGroup var machine: MachineOptions

    @Option(parsing: .unconditional, help: "Use only the first N training examples (with --images: N spread evenly over the classes).")
    var limit: Int?

    @Option(help: ArgumentHelp("Save the trained model to this file (safetensors; see `axon inspect`).", valueName: "file"))
    var save: String?

    @Option(help: ArgumentHelp("Save a checkpoint (model, optimizer state, counters, settings) after every epoch in this directory, keeping the last 5 (see --keep).", valueName: "dir"))
    var checkpointDir: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Also save a checkpoint every N optimizer steps (batches) within epochs (epoch-NNNN-batch-NNNNNN.safetensors); --resume continues exactly from it.", valueName: "N"))
    var checkpointEvery: Int?

    @Option(parsing: .unconditional, help: ArgumentHelp("How many checkpoints the checkpoint directory keeps, newest first (default 5).", valueName: "N"))
    var keep: Int?

    @Option(help: ArgumentHelp("Continue the run checkpointed in this directory from its newest checkpoint, with its settings (--epochs may raise the total; checkpoints keep going to this directory unless --checkpoint-dir says otherwise).", valueName: "dir"))
    var resume: String?

    @OptionGroup(title: "Model choices")
    var architecture: ModelOptions
    @OptionGroup(title: "Optimizer hyper-parameters and regularisation")
    var training: TrainingOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup(title: "Data-parallel training (axon-mpi)")
    var parallelism: DistributedOptions
    @OptionGroup var classes: ClassOptions

    /// The settings after applying the model's recipe.
    var resolved: ResolvedSettings {
        ResolvedSettings(model: model ?? .lenet5, optimizer: optimizer, learningRate: learningRate, momentum: momentum,
                         batchSize: batchSize, epochs: epochs, lrDecay: lrDecay)
    }

    func validate() throws {
        if resume != nil {
            let given = [("--model", model != nil), ("--batch-size", batchSize != nil), ("--optimizer", optimizer != nil),
                         ("--images", images != nil), ("--input-size", inputSize != nil), ("--grayscale", grayscale),
                         ("--learning-rate", learningRate != nil), ("--lr-decay", lrDecay != nil), ("--momentum", momentum != nil),
                         ("--limit", limit != nil)]
            if let flag = given.first(where: { $0.1 })?.0 ?? (training.givenFlags + architecture.givenFlags).first {
                throw ValidationError("\(flag) cannot be combined with --resume: the run's settings come from its checkpoint")
            }
        } else if model == nil {
            throw ValidationError("missing --model (one of \(ModelKind.allCases.map(\.rawValue).joined(separator: ", "))), or --resume DIR")
        }
        if images == nil {
            if inputSize != nil || grayscale { throw ValidationError("--input-size and --grayscale apply only with --images DIR") }
            if let model, model.needsLargeImages {
                throw ValidationError("\(model.rawValue) trains on --images DIR with --input-size of at least \(model.minimumInputSide)x\(model.minimumInputSide) (Fashion-MNIST's 28×28 images are too small for it)")
            }
        } else if let model {
            guard let size = inputSize else {
                throw ValidationError("--images needs --input-size HxW (e.g. 28x28 --grayscale for \(model.rawValue))")
            }
            if let shape = model.fixedInputShape, shape != [size.height, size.width, grayscale ? 1 : 3] {
                throw ValidationError("\(model.rawValue) takes \(shape[0])×\(shape[1])×\(shape[2]) images: give --input-size \(shape[0])x\(shape[1]) --grayscale, or use --model small-cnn for other sizes and colour")
            }
            if size.height < model.minimumInputSide || size.width < model.minimumInputSide {
                throw ValidationError("\(model.rawValue) needs inputs of at least \(model.minimumInputSide)x\(model.minimumInputSide) pixels (its poolings and strides), got --input-size \(size)")
            }
            for (flag, v) in [("--validation-percentage", validationPercentage), ("--testing-percentage", testingPercentage)]
            where !(v >= 0 && v < 100) {
                throw ValidationError("\(flag) must be in [0, 100), got \(v)")
            }
            if validationPercentage + testingPercentage >= 100 {
                throw ValidationError("--validation-percentage and --testing-percentage must leave some images for training")
            }
        }
        if let epochs, !(1...maxEpochs).contains(epochs) {
            throw ValidationError("--epochs must be a positive integer, got \(epochs) (at most \(maxEpochs))")
        }
        if let batchSize { try checkBatchSize(batchSize) }
        if let lrDecay, !(lrDecay > 0 && lrDecay <= 1) {
            throw ValidationError("--lr-decay must be in (0, 1] (1 = constant learning rate), got \(lrDecay)")
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
        if let model {
            try training.validate(optimizer: resolved.optimizer, model: model)
            try architecture.validate(model: model)
        }
        for (flag, v) in [("--checkpoint-every", checkpointEvery), ("--keep", keep)] {
            guard let v else { continue }
            guard v >= 1 else { throw ValidationError("\(flag) must be a positive integer, got \(v)") }
            guard checkpointDir != nil || resume != nil else { throw ValidationError("\(flag) needs --checkpoint-dir DIR (or --resume DIR)") }
        }
        if let limit, limit <= 0 {
            throw ValidationError("--limit must be a positive number of training examples, got \(limit)")
        }
        if let save { try checkCanWrite(save, flag: "--save") }
        if let checkpointDir { try checkCanCreateDirectory(checkpointDir, flag: "--checkpoint-dir") }
    }

    func run() throws {
        try machine.apply()
        var flags = self
        var checkpoint: Checkpoint?
        // Under mpirun only rank 0 prints and writes: it alone takes the directory's lock.
        let parallel = try parallelism.start(), lead = parallel?.rank ?? 0 == 0
        if !lead { flags.output.quiet = true; flags.output.history = nil }
        // One run per checkpoint directory, taken before its newest checkpoint is read.
        var locks = lead ? try [checkpointDir ?? resume].compactMap { $0 }.map(CheckpointDirectory.lock) : []
        if let resume {
            let c = try CheckpointDirectory.latest(in: resume) { path, error in
                FileHandle.standardError.write(Data("axon: warning: skipping \(path), which cannot be loaded (\(error)); resuming from the checkpoint before it\n".utf8))
            }
            if flags.checkpointDir == nil { flags.checkpointDir = resume }
            try flags.apply(c.configuration, path: resume)
            if let dir = flags.checkpointDir, dir != checkpointDir ?? resume, lead { locks.append(try CheckpointDirectory.lock(dir)) }
            checkpoint = c
        }
        try withExtendedLifetime(locks) { try flags.train(from: checkpoint) }
    }

    /// The flags a checkpoint must record to continue this run.
    var configuration: [String: String] {
        var c = ["model": (model ?? .lenet5).rawValue, "seed": String(seed), "data": data]
        if let images {
            c["images"] = images
            c["input_size"] = inputSize.map { "\($0)" }
            if grayscale { c["grayscale"] = "true" }
            c["validation_percentage_bits"] = String(validationPercentage.bitPattern)
            c["testing_percentage_bits"] = String(testingPercentage.bitPattern)
        }
        if let epochs { c["epochs"] = String(epochs) }
        if let batchSize { c["batch_size"] = String(batchSize) }
        if let optimizer { c["optimizer"] = optimizer.rawValue }
        if let learningRate { c["learning_rate_bits"] = String(learningRate.bitPattern) }
        if let lrDecay { c["lr_decay_bits"] = String(lrDecay.bitPattern) }
        if let momentum { c["momentum_bits"] = String(momentum.bitPattern) }
        if let limit { c["limit"] = String(limit) }
        if let checkpointEvery { c["checkpoint_every"] = String(checkpointEvery) }
        if let keep { c["keep"] = String(keep) }
        return c.merging(training.configuration) { a, _ in a }.merging(architecture.configuration) { a, _ in a }
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
        lrDecay = try optional("lr_decay_bits") { UInt32($0).map(Float.init(bitPattern:)) }
        momentum = try optional("momentum_bits") { UInt32($0).map(Float.init(bitPattern:)) }
        limit = try optional("limit") { Int($0) }
        // Given now, these win: they change where checkpoints go, not the results.
        if checkpointEvery == nil { checkpointEvery = try optional("checkpoint_every") { Int($0) } }
        if keep == nil { keep = try optional("keep") { Int($0) } }
        images = c["images"]
        inputSize = try optional("input_size") { InputSize(argument: $0) }
        grayscale = c["grayscale"] == "true"
        validationPercentage = try optional("validation_percentage_bits") { UInt64($0).map(Double.init(bitPattern:)) } ?? 10
        testingPercentage = try optional("testing_percentage_bits") { UInt64($0).map(Double.init(bitPattern:)) } ?? 10
        try training.apply(c, bad: bad)
        try architecture.apply(c, bad: bad)
        // A hand-edited checkpoint gets the same checks as flags.
        let resumed = resume
        resume = nil
        try validate()
        resume = resumed
    }

    func train(from checkpoint: Checkpoint?) throws {
        let model = self.model ?? .lenet5
        // Under mpirun only rank 0 prints and writes files (history, checkpoints, the model).
        let parallel = try parallelism.start()
        let lead = parallel?.rank ?? 0 == 0
        let settings = resolved
        var data = TrainingData()
        if images != nil { data = try loadImages(model: model) } else { data = try loadMNIST() }
        // An image folder's training set is in class order: its --limit is spread over it (see loadImages).
        var train = images == nil ? limit.map { data.train.prefix($0) } ?? data.train : data.train
        let test = data.test
        let classNames = data.classNames
        // Early stopping must not look at the test set: it watches the validation
        // set (an image folder's, else the end of the training set, held out); the
        // test set is then measured once, at the end.
        var validation = data.validation
        if training.earlyStopping != nil && images == nil {
            let held = min(10000, train.count / 6)
            guard held > 0 else { throw ValidationError("--early-stopping needs at least 6 training examples to hold some out") }
            validation = train.slice((train.count - held)..<train.count)
            train = train.prefix(train.count - held)
        }
        if training.earlyStopping != nil, validation?.count ?? 0 == 0 {
            throw ValidationError("--early-stopping needs validation images; \(images ?? data.source) has none in its validation set (raise --validation-percentage)")
        }
        if images != nil, validation?.count == 0 { validation = nil }

        output.say("\(model.displayName) on \(data.source): \(train.count) training, "
              + (images != nil ? "\(validation?.count ?? 0) validation, " : "") + "\(test.count) test images; "
              + "\(settings.optimizerDescription), batch \(settings.batchSize), \(plural(settings.epochs, "epoch")), "
              + "seed \(seed), threads \(threadCount())")

        if architecture.givenFlags.count > 0 { output.say(architecture.summary) }
        if [.adagradda, .ftrl].contains(settings.optimizer), model != .softmax, settings.learningRate <= 0.01 {
            output.say("warning: \(settings.optimizer.tensorFlowName) computes the weights from the accumulated gradients alone, forgetting the initial ones after its first step: at learning rate \(settings.learningRate) they stay tiny and a deep net stays at chance; try --model softmax or a larger --learning-rate (0.1)")
        }
        let trainer = Trainer(loss: architecture.loss.loss,
                              optimizer: settings.optimizer.make(learningRate: settings.learningRate * parallelism.learningRateFactor(parallel), momentum: settings.momentum,
                                                                 training.hyperParameters(momentum: momentum)),
                              schedule: settings.schedule, l2: training.l2 ?? 0, l1: training.l1 ?? 0)
        trainer.augmentation = try training.augmentation(channels: train.exampleShape.last ?? 1)
        output.say(trainer.optimizer.summary + regularisationSummary(validationCount: validation?.count ?? 0, augmentation: trainer.augmentation))
        var network: any Network
        if let checkpoint {
            network = checkpoint.model
            try checkpoint.restore(into: &trainer.optimizer)
            output.say("resuming from \(resume ?? "") after epoch \(checkpoint.epoch)"
                       + (checkpoint.batch > 0 ? " and \(checkpoint.batch) batch\(checkpoint.batch == 1 ? "" : "es") of epoch \(checkpoint.epoch + 1)" : ""))
        } else {
            network = try architecture.build(model, seed: seed, dropout: training.dropout, classes: classNames.count)
            do { try network.build(inputShapes: [train.exampleShape]) } catch {
                throw ValidationError("\(model.rawValue) cannot take inputs of shape \(train.exampleShape): \(error)")
            }
        }
        if let parallel {
            trainer.parallel = parallel
            trainer.batchNormStatistics = parallelism.batchNormStatistics
            try trainer.synchronize(&network, fingerprint: DistributedOptions.fingerprint(
                settings: configuration, resumedAt: "epoch \(checkpoint?.epoch ?? 0), batch \(checkpoint?.batch ?? 0)",
                data: [("train", train), ("validation", validation), ("test", test)]))
            let share = settings.batchSize / parallel.size, extra = settings.batchSize % parallel.size == 0 ? "" : "-\(share + 1)"
            output.say("data-parallel over \(parallel.size) ranks: \(share)\(extra) examples per rank and batch, "
                       + "learning rate ×\(parallelism.learningRateFactor(parallel)) (--lr-scaling \(parallelism.lrScaling.rawValue)), "
                       + "BatchNorm statistics \(parallelism.batchNormStatistics.rawValue) (--batchnorm-stats)")
        }
        // The progress bar, epoch lines and history file; early stopping; checkpoints (rank 0 only).
        let reporter = output.reporter(epochs: settings.epochs)
        let stopping = try earlyStopping(resuming: checkpoint)
        let checkpointing = lead ? checkpointDir.map {
            Checkpointing(directory: $0, keep: keep ?? 5, everySteps: checkpointEvery, configuration: configuration,
                          earlyStopping: stopping)
        } : nil
        let callbacks: [(any TrainingCallback)?] = [reporter, stopping, checkpointing]
        let reduced = (calls: parallel?.allreduceCalls ?? 0, seconds: parallel?.allreduceSeconds ?? 0)
        // One run from the checkpoint's position: fit replays the shuffles of the epochs before it.
        var records: [EpochRecord] = []
        let first = (checkpoint?.epoch ?? 0) + 1
        if let stop = stopping?.stop {
            if lead { print("nothing to do: the run of this checkpoint stopped early after epoch \(stop.epoch) (\(stop.reason))") }
            return
        }
        if first <= settings.epochs {
            records = try trainer.fit(&network, on: train, epochs: settings.epochs, batchSize: settings.batchSize,
                                      validation: validation, test: validation == nil && test.count > 0 ? test : nil, seed: seed,
                                      startEpoch: first, startBatch: checkpoint?.batch ?? 0,
                                      callbacks: callbacks.compactMap { $0 }).epochs
        }
        if let stop = stopping?.stop {
            output.say("early stopping after epoch \(stop.epoch): \(stop.reason); restored the weights of epoch \(stop.bestEpoch)")
        }
        guard lead else { return }
        guard let last = records.last else {
            print("nothing to do: the checkpoint already holds \(plural(first - 1, "epoch")) of \(settings.epochs); raise --epochs to continue")
            return
        }
        let seconds = records.reduce(0) { $0 + $1.seconds }
        var final = last.testAccuracy ?? .nan
        if images != nil && stopping == nil && test.count > 0 {
            let (loss, accuracy) = try evaluate(network, on: test, loss: trainer.loss)
            try reporter.recordTest(epoch: last.epoch, loss: loss, accuracy: accuracy)
            final = accuracy
        }
        if let stopping {
            if stopping.stop == nil {
                output.say("no early stop within \(plural(settings.epochs, "epoch")); kept the weights of epoch \(stopping.bestEpoch) (best validation accuracy)")
            }
            // The kept weights are those after the best epoch: its row of the history gets their test figures.
            if test.count > 0 {
                let (loss, accuracy) = try evaluate(network, on: test, loss: trainer.loss)
                try reporter.recordTest(epoch: stopping.bestEpoch, loss: loss, accuracy: accuracy)
                final = accuracy
            }
        }
        print("test accuracy \(percent(final)) (\(fixed(final * Double(test.count), 0))/\(test.count)) "
              + "after \(plural(last.epoch, "epoch")), \(fixed(seconds, 1)) s of training")
        if let parallel { output.say(DistributedOptions.summary(parallel, since: reduced, trainingSeconds: seconds)) }
        if let save {
            var metadata = data.metadata
            metadata.merge([
                "axon.training.model": model.rawValue, "axon.training.data": data.source,
                "axon.training.examples": String(train.count), "axon.training.epochs": String(last.epoch),
                "axon.training.optimizer": settings.optimizerDescription,
                "axon.training.batch_size": String(settings.batchSize), "axon.training.seed": String(seed),
                "axon.training.test_accuracy": fixed(final, 4), LossKind.metadataKey: architecture.loss.rawValue,
            ].merging(ClassNames.metadata(classNames)) { a, _ in a }) { a, _ in a }
            try network.save(to: save, metadata: metadata)
            output.say("saved the model to \(save)")
        }
    }
}

extension Train {
    /// --early-stopping's callback: new, or where the checkpoint's run left it.
    func earlyStopping(resuming checkpoint: Checkpoint?) throws -> EarlyStopping? {
        guard let patience = training.earlyStopping else { return nil }
        guard let checkpoint else { return EarlyStopping(patience: patience) }
        guard let saved = checkpoint.earlyStopping, saved.patience == patience else {
            throw ValidationError("\(resume ?? ""): its newest checkpoint holds no early-stopping state for patience \(patience)")
        }
        return EarlyStopping(resuming: saved)
    }
}

/// The data of one run, from MNIST files or an image folder.
struct TrainingData {
    var train = try! Dataset(bytes: [], exampleShape: [1], labels: [])
    var validation: Dataset?
    var test = try! Dataset(bytes: [], exampleShape: [1], labels: [])
    var classNames: [String] = []
    var source = ""
    /// What the model file keeps beside the class names (an image folder's preprocessing).
    var metadata: [String: String] = [:]
}

/// `--input-size HxW`.
struct InputSize: ExpressibleByArgument, CustomStringConvertible, Equatable {
    var height: Int, width: Int
    init?(argument: String) {
        let parts = argument.lowercased().split(separator: "x", omittingEmptySubsequences: false)
        guard parts.count == 2, let h = Int(parts[0]), let w = Int(parts[1]), h >= 1, w >= 1, h <= 4096, w <= 4096 else { return nil }
        height = h; width = w
    }
    var description: String { "\(height)x\(width)" }
}

extension Train {
    func loadMNIST() throws -> TrainingData {
        let loaded = try MNIST.load(from: data, trainLimit: limit)
        guard loaded.train.exampleShape == [28, 28, 1] else {
            throw ValidationError("\(data): images are \(loaded.train.exampleShape[0])×\(loaded.train.exampleShape[1]); the reference models need 28×28")
        }
        let names = try classes.names(count: loaded.train.classCount) {
            try MNIST.classNames(in: data, testLabels: loaded.test.labels)
        } ?? MNIST.digitClassNames
        return TrainingData(train: loaded.train, validation: nil, test: loaded.test, classNames: names, source: data)
    }

    /// The folder's three sets, decoded and resized once into byte datasets.
    func loadImages(model: ModelKind) throws -> TrainingData {
        let dir = images!, size = inputSize!
        let folder = try ImageFolder(directory: dir, validationPercentage: validationPercentage, testingPercentage: testingPercentage)
        let preprocessing = ImagePreprocessing.unitScale(height: size.height, width: size.width, channels: grayscale ? 1 : 3)
        output.say("\(folder.classNames.count) classes, \(folder.images.count) images in \(dir)"
                   + (folder.skipped > 0 ? " (\(folder.skipped) files that are not JPEG or PNG skipped)" : ""))
        let start = monotonicSeconds()
        func load(_ s: ImageFolder.Subset) throws -> Dataset {
            try folder.dataset(s, preprocessing: preprocessing, limit: s == .training ? limit : nil)
        }
        let train = try load(.training), validation = try load(.validation), test = try load(.testing)
        guard train.count > 0 else { throw ValidationError("\(dir): no image fell into the training set") }
        output.say("decoded and resized to \(size) \(grayscale ? "grey" : "RGB") in \(fixed(monotonicSeconds() - start, 1)) s; kept in memory")
        let names = try classes.names(count: folder.classNames.count) { folder.classNames } ?? folder.classNames
        let prep = String(decoding: try JSONEncoder().encode(preprocessing), as: UTF8.self)
        return TrainingData(train: train, validation: validation, test: test, classNames: names, source: dir,
                            metadata: [Pretrained.preprocessingKey: prep])
    }

    /// The regularisation part of the settings line ("" when none is on).
    func regularisationSummary(validationCount: Int, augmentation: Augmentation?) -> String {
        var parts: [String] = []
        if let l1 = training.l1 { parts.append("L1 λ \(l1)") }
        if let l2 = training.l2 { parts.append("L2 λ \(l2)") }
        if let d = training.dropout { parts.append("dropout \(d)") }
        if let a = augmentation { parts.append("augmentation: \(a.summary)") }
        if let p = training.earlyStopping { parts.append("early stopping, patience \(p), on \(validationCount) \(images == nil ? "held-out" : "validation") images") }
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
