import Foundation

/// Figures of one training epoch.
public struct EpochRecord: Sendable, Equatable, Codable {
    public var epoch: Int
    public var learningRate: Float
    /// Mean training loss (with any L1/L2 penalty) and accuracy over the epoch,
    /// measured on the training forward passes (dropout active).
    public var trainLoss: Float
    public var trainAccuracy: Double
    /// Figures on the `validation` set given to `fit` (the one early stopping watches).
    public var validationLoss: Float?
    public var validationAccuracy: Double?
    /// Figures on the `test` set given to `fit`, which only reports them.
    public var testLoss: Float? = nil
    public var testAccuracy: Double? = nil
    /// Wall-clock seconds of the training passes (validation excluded).
    public var seconds: Double
    public var imagesPerSecond: Double
}

/// Where an epoch of `fit` stands, after one of its batches.
public struct BatchProgress: Sendable, Equatable {
    public var epoch: Int
    public var examplesDone: Int
    public var examples: Int
    /// 1-based index of the batch just done, of `batches`.
    public var batch: Int
    public var batches: Int
    /// Mean training loss over the epoch's batches so far.
    public var meanLoss: Float
    /// Seconds since the epoch started.
    public var seconds: Double
}

/// Per-epoch records of a `fit`.
public struct History: Sendable, Equatable, Codable {
    public var epochs: [EpochRecord] = []
    /// Epoch (1-based) with the best validation accuracy, if validated.
    public var bestEpoch: Int? {
        var best: (Int, Double)?
        for r in epochs { if let a = r.validationAccuracy, a > (best?.1 ?? -1) { best = (r.epoch, a) } }
        return best?.0
    }
    public var last: EpochRecord? { epochs.last }
    /// Set when early stopping ended the run (spec §9).
    public var earlyStop: EarlyStop?
}

/// Why and when early stopping ended a run (spec §9).
public struct EarlyStop: Sendable, Equatable, Codable {
    /// The epoch after which training stopped.
    public var epoch: Int
    /// The epoch whose weights were restored (best validation accuracy).
    public var bestEpoch: Int
    public var bestAccuracy: Double
    public var patience: Int
    public var reason: String {
        "no new best validation accuracy in \(patience) epoch\(patience == 1 ? "" : "s") "
            + "(best \(bestAccuracy) at epoch \(bestEpoch))"
    }
}

/// Learning rate as a function of the epoch.
public enum LearningRateSchedule: Sendable, Equatable {
    case constant
    /// lr · rate^(epoch − 1): multiply by `rate` after every epoch.
    case exponentialDecay(rate: Float)
    /// lr · factor^⌊(epoch − 1)/every⌋.
    case step(every: Int, factor: Float)

    /// The learning rate of epoch `epoch` (1-based) given the base rate.
    public func learningRate(base: Float, epoch: Int) -> Float {
        switch self {
        case .constant: return base
        case .exponentialDecay(let rate): return base * Float(pow(Double(rate), Double(epoch - 1)))
        case .step(let every, let factor):
            return base * Float(pow(Double(factor), Double((epoch - 1) / max(every, 1))))
        }
    }
}

/// Mini-batch training, evaluation and prediction of a classifier.
///
/// ```swift
/// let trainer = Trainer(loss: .softmaxCrossEntropy, optimizer: Momentum(learningRate: 0.01, momentum: 0.9))
/// trainer.onEpoch = { print($0) }
/// let history = try trainer.fit(&model, on: data.train, epochs: 10, batchSize: 64, validation: data.test)
/// ```
/// The optimizer (with its slots) lives in the trainer, so calling `fit` again
/// continues the same run.
public final class Trainer {
    public var loss: Loss
    public var optimizer: any Optimizer
    public var schedule: LearningRateSchedule
    /// The course's regularisation parameters λ (spec §7): the penalty is
    /// (λ₂/2n)·Σw² + (λ₁/n)·Σ|w| over kernels (not biases), n = training set size.
    public var l2: Float
    public var l1: Float
    /// Stop when validation accuracy has not improved for this many epochs (spec §9):
    /// a new best must be strictly greater; training stops when `wait == patience`,
    /// and at the end (stop or epoch limit) the best epoch's weights are put back.
    /// The state lives in the trainer, so consecutive `fit` calls with
    /// `startEpoch` continue the same count (`startEpoch == 1` resets it).
    public var earlyStoppingPatience: Int?
    /// Applied to every training batch before the forward pass (seeded by `fit`'s seed,
    /// the epoch and the batch index, so a resumed run sees the same images).
    public var augmentation: Augmentation?
    /// Set by `fit` when early stopping ended the run.
    public private(set) var earlyStop: EarlyStop?

    private var best = -Double.infinity, bestEpoch = 0, wait = 0
    private var bestParameters: [(name: String, value: Tensor)] = []
    /// Called after every epoch (e.g. to print a line or save a checkpoint).
    public var onEpoch: ((EpochRecord) -> Void)?
    /// Called after every training batch (e.g. to draw a progress bar).
    public var onBatch: ((BatchProgress) -> Void)?
    /// Called with the model, the epoch and the number of its batches done after
    /// every `stepInterval`-th optimizer step (counted by `optimizer.step`) that does
    /// not end an epoch: to save a mid-epoch checkpoint, which `fit(startBatch:)` resumes.
    public var stepInterval: Int?
    public var onStep: ((_ model: any Layer, _ epoch: Int, _ batchesDone: Int) throws -> Void)?
    /// Batch size used by `evaluate` and `predict`.
    public var inferenceBatchSize = 1000
    /// Data-parallel training (DataParallel.swift): when set, `fit` trains this
    /// rank's shard of every global batch and averages the gradients over the
    /// ranks before each update; only rank 0 evaluates (its figures are shared).
    public var parallel: (any DataParallel)?
    var fusedGradients: [Float] = []

    private var baseLearningRate: Float
    private var batchImages = Tensor.empty

    public init(loss: Loss = .softmaxCrossEntropy, optimizer: any Optimizer, schedule: LearningRateSchedule = .constant,
                l2: Float = 0, l1: Float = 0, earlyStoppingPatience: Int? = nil,
                onEpoch: ((EpochRecord) -> Void)? = nil) {
        self.loss = loss
        self.optimizer = optimizer
        self.schedule = schedule
        self.l2 = l2
        self.l1 = l1
        self.earlyStoppingPatience = earlyStoppingPatience
        self.onEpoch = onEpoch
        baseLearningRate = optimizer.learningRate
    }

    /// Trains `model` for `epochs` passes over `train` in shuffled mini-batches
    /// (order drawn from `SeededGenerator(seed:)`, reshuffled every epoch),
    /// evaluating on `validation` (which early stopping watches) and on `test`
    /// (only recorded) after each epoch.
    ///
    /// `startEpoch` > 1 resumes a run whose epochs before it are done (model and
    /// optimizer restored from a checkpoint): their shuffles are replayed, not
    /// trained, so epochs `startEpoch...epochs` see exactly the batches of an
    /// uninterrupted run. `startBatch` > 0 also skips that many batches of
    /// `startEpoch` (a mid-epoch checkpoint); that epoch's record then covers the
    /// batches trained in this call only.
    ///
    /// A batch whose loss is NaN or infinite, or weights that are at the end of an
    /// epoch, end the run with an error naming the epoch and batch (the epoch is
    /// not reported: a caller's `onEpoch` checkpoint keeps the last good one).
    @discardableResult
    public func fit<Model: Layer>(_ model: inout Model, on train: Dataset, epochs: Int, batchSize: Int = 64,
                                  validation: Dataset? = nil, test: Dataset? = nil, seed: UInt64 = 0,
                                  startEpoch: Int = 1, startBatch: Int = 0) throws -> History {
        guard epochs >= 0 else { throw AxonError.invalidArgument("fit: epochs must be >= 0, got \(epochs)") }
        guard batchSize > 0 else { throw AxonError.invalidArgument("fit: batch size must be > 0, got \(batchSize)") }
        guard train.count > 0 else { throw AxonError.invalidArgument("fit: the training set is empty") }
        try (model as? any Network)?.checkMemory(batch: min(batchSize, train.count), training: true,
                                                 inputShapes: [train.exampleShape])
        let batchesPerEpoch = (train.count - 1) / batchSize + 1
        guard startBatch >= 0 && startBatch < batchesPerEpoch else {
            throw AxonError.invalidArgument("fit: startBatch must be in 0..<\(batchesPerEpoch), got \(startBatch)")
        }
        try checkShards(examples: train.count, batchSize: batchSize)
        var generator = SeededGenerator(seed: seed)
        var order = Array(0..<train.count)
        var history = History()
        if startEpoch <= 1 {
            best = -.infinity; bestEpoch = 0; wait = 0; bestParameters = []; earlyStop = nil
        }
        if earlyStop != nil { return history }  // this run already stopped
        for epoch in 1...max(epochs, 1) where epochs > 0 {
            optimizer.learningRate = schedule.learningRate(base: baseLearningRate, epoch: epoch)
            for i in stride(from: order.count - 1, to: 0, by: -1) {
                order.swapAt(i, Int(generator.next() % UInt64(i + 1)))
            }
            if epoch < startEpoch { continue }
            let start = Date()
            var lossSum = 0.0, correct = 0
            var begin = 0, batchIndex: UInt64 = 0
            if epoch == startEpoch { begin = startBatch * batchSize; batchIndex = UInt64(startBatch) }
            let first = begin, trained = order.count - first
            // (n - 1) / b + 1, not (n + b - 1) / b: any batch size up to Int.max without overflow.
            let batches = batchesPerEpoch
            while begin < order.count {
                let end = begin + min(batchSize, order.count - begin), batch = (end - 1) / batchSize + 1
                let mine = shard(begin, end)
                let labels = gather(train, order[mine])
                if augmentation != nil {
                    // The draws depend on (seed, epoch, batch, index in the batch) only: resumable,
                    // order-free, and a rank's shard is augmented as in one process.
                    try augmentation!.apply(to: &batchImages, seed: seed, counter: (UInt64(epoch) << 40) | (batchIndex << 20),
                                           first: mine.lowerBound - begin)
                    batchIndex += 1
                }
                let r = try step(&model, images: batchImages, labels: labels, trainingSetSize: train.count,
                                 batchExamples: end - begin)
                guard r.loss.isFinite else {
                    throw diverged("at epoch \(epoch), batch \(batch) of \(batches): the loss is \(r.loss.isNaN ? "NaN" : "infinite")")
                }
                lossSum += Double(r.loss) * Double(end - begin)
                correct += r.correct
                begin = end
                if let onBatch {
                    onBatch(BatchProgress(epoch: epoch, examplesDone: end, examples: order.count,
                                          batch: batch, batches: batches,
                                          meanLoss: Float(lossSum / Double(end - first)),
                                          seconds: Date().timeIntervalSince(start)))
                }
                if let n = stepInterval, n > 0, let onStep, optimizer.step % n == 0, end < order.count {
                    try onStep(model, epoch, batch)
                }
            }
            // The last update can break the weights with the loss still finite.
            if let name = model.firstNonFiniteTensor {
                throw diverged("at epoch \(epoch), batch \(batches) of \(batches): tensor \(name) holds NaN or infinite values")
            }
            let seconds = Date().timeIntervalSince(start)
            var record = EpochRecord(epoch: epoch, learningRate: optimizer.learningRate,
                                     trainLoss: Float(lossSum / Double(trained)),
                                     trainAccuracy: Double(correct) / Double(trained),
                                     validationLoss: nil, validationAccuracy: nil, seconds: seconds,
                                     imagesPerSecond: Double(trained) / max(seconds, 1e-9))
            if parallel?.rank ?? 0 == 0 {
                if let validation { (record.validationLoss, record.validationAccuracy) = try evaluate(model, on: validation) }
                if let test { (record.testLoss, record.testAccuracy) = try evaluate(model, on: test) }
            }
            try shareEvaluation(&record)
            history.epochs.append(record)
            onEpoch?(record)
            if let patience = earlyStoppingPatience, let a = record.validationAccuracy {
                if a > best {
                    best = a; bestEpoch = epoch; wait = 0
                    bestParameters = model.parameters + model.state  // copy-on-write: kept apart from later updates
                } else {
                    wait += 1
                    if wait == patience {
                        earlyStop = EarlyStop(epoch: epoch, bestEpoch: bestEpoch, bestAccuracy: best, patience: patience)
                        history.earlyStop = earlyStop
                    }
                }
                // A call that resumes (startEpoch > 1) may be one of several; its caller
                // ends the run with restoreBestWeights.
                if earlyStop != nil || (epoch == epochs && startEpoch <= 1) {
                    try restoreBestWeights(&model)
                    if earlyStop != nil { break }
                }
            }
        }
        return history
    }

    /// The error that ends a run whose loss or weights stop being finite.
    private func diverged(_ what: String) -> AxonError {
        .invalidArgument("training diverged \(what); try a lower learning rate (it was \(optimizer.learningRate))")
    }

    /// Puts back the parameters (and BatchNorm statistics) of the best validation
    /// epoch seen by early stopping (no-op without early stopping or before any epoch).
    public func restoreBestWeights<Model: Layer>(_ model: inout Model) throws {
        for (name, value) in bestParameters { try model.setTensor(name, to: value) }
    }

    /// The epoch whose weights `restoreBestWeights` puts back (0 if none).
    public var earlyStoppingBestEpoch: Int { bestEpoch }

    /// One optimisation step on a batch: forward, loss, backward, penalties,
    /// update. Returns the batch loss and the number of correct predictions.
    ///
    /// With `parallel` set, `images` are this rank's shard of a global batch of
    /// `batchExamples` (default: every rank's shard this size) and the loss,
    /// count and gradients are those of the global batch.
    @discardableResult
    public func step<Model: Layer>(_ model: inout Model, images: Tensor, labels: [Int32],
                                   trainingSetSize: Int? = nil, batchExamples: Int? = nil) throws -> (loss: Float, correct: Int) {
        let logits = try model.forward(images, training: true)
        var (value, gradient) = try loss.compute(logits: logits, labels: labels)
        let correct = Trainer.countCorrect(logits, labels)
        _ = try model.backward(gradient, inputGradient: false)
        gradient = .empty
        if l2 != 0 || l1 != 0 {
            let n = Float(trainingSetSize ?? labels.count)
            let (c2, c1) = (l2 / n, l1 / n)
            var penalty: Float = 0
            try model.updateParameters { name, w, g in
                guard name.hasSuffix("kernel") else { return }  // kernels and recurrent kernels, not biases
                if c2 != 0 { penalty += try Penalty.l2(w, coefficient: c2, gradient: &g) }
                if c1 != 0 { penalty += try Penalty.l1(w, coefficient: c1, gradient: &g) }
            }
            value += penalty
        }
        var result = (loss: value, correct: correct)
        if let parallel {
            let global = batchExamples ?? labels.count * parallel.size
            result = try reduceGradients(&model, share: Float(labels.count) / Float(global), loss: value, correct: correct)
        }
        if optimizer.step == 0 { optimizer.createSlots(for: model) }
        try optimizer.update(&model)
        return result
    }

    /// Mean loss and accuracy of `model` on `data` (inference mode, batched).
    ///
    /// A network that ends in a Softmax layer outputs probabilities, not logits:
    /// its softmax cross-entropy is the mean of −log p[label] (p clipped below at
    /// 1e−7, as Keras clips), not the cross-entropy of a second softmax.
    public func evaluate<Model: Layer>(_ model: Model, on data: Dataset) throws -> (loss: Float, accuracy: Double) {
        var m = model
        let probabilities = loss == .softmaxCrossEntropy && (model as? any Network)?.outputsProbabilities == true
        var lossSum = 0.0, correct = 0
        var begin = 0
        let batchSize = try (model as? any Network)?.inferenceBatch(upTo: inferenceBatchSize, inputShapes: [data.exampleShape])
            ?? inferenceBatchSize
        while begin < data.count {
            let end = begin + min(max(batchSize, 1), data.count - begin)
            let x = data.rows(begin..<end)
            let labels = Array(data.labels[begin..<end])
            let output = try m.forward(x, training: false)
            // softmax(log p) = p for rows that sum to 1, so log p are logits of p.
            let logits = probabilities
                ? Tensor(uncheckedShape: output.shape, scalars: output.scalars.map { log(max($0, 1e-7)) }) : output
            let (l, _) = try loss.compute(logits: logits, labels: labels)
            lossSum += Double(l) * Double(end - begin)
            correct += Trainer.countCorrect(logits, labels)
            begin = end
        }
        let n = Double(max(data.count, 1))
        return (Float(lossSum / n), Double(correct) / n)
    }

    /// Predicted class of every image of `images` [N, ...] (batched inference).
    public func predict<Model: Layer>(_ model: Model, _ images: Tensor) throws -> [Int] {
        try Trainer.predict(model, images, batchSize: inferenceBatchSize)
    }

    /// Predicted class of every image of `images` [N, ...] (batched inference).
    ///
    /// Works on a copy of `model`: its buffers are shared with the caller's, so
    /// the first pass copies each layer's output and workspace (copy-on-write).
    /// For repeated calls pass the model `inout` instead, which reuses them.
    public static func predict<Model: Layer>(_ model: Model, _ images: Tensor, batchSize: Int = 1000) throws -> [Int] {
        var m = model
        return try predict(&m, images, batchSize: batchSize)
    }

    /// Predicted class of every image of `images` [N, ...], running `model` in
    /// place: its layer buffers are reused, so a steady state allocates nothing
    /// but the result. The parameters are not changed.
    public static func predict<Model: Layer>(_ model: inout Model, _ images: Tensor, batchSize: Int = 1000) throws -> [Int] {
        guard images.rank >= 1 else { throw AxonError.invalidArgument("predict: images need a batch axis, got \(images.shape)") }
        var out: [Int] = []
        out.reserveCapacity(images.shape[0])
        var begin = 0
        let batchSize = try (model as? any Network)?.inferenceBatch(upTo: batchSize, inputShapes: [Array(images.shape.dropFirst())])
            ?? batchSize
        while begin < images.shape[0] {
            let end = begin + min(max(batchSize, 1), images.shape[0] - begin)
            // The whole tensor as one batch needs no copy.
            let batch = begin == 0 && end == images.shape[0] ? images : images.rows(begin..<end)
            let logits = try model.forward(batch, training: false)
            guard logits.rank == 2 else {
                throw AxonError.shapeMismatch("predict: model output [batch, classes]", expected: [end - begin, -1],
                                              got: logits.shape)
            }
            out += logits.argmaxRows()
            begin = end
        }
        return out
    }

    /// Copies the examples at `indices` into the reused batch buffer.
    private func gather(_ data: Dataset, _ indices: ArraySlice<Int>) -> [Int32] {
        Tensor.reuse(&batchImages, shape: [indices.count] + data.exampleShape)
        return data.batch(indices, into: &batchImages)
    }

    static func countCorrect(_ logits: Tensor, _ labels: [Int32]) -> Int {
        let k = logits.shape[1]
        guard k > 0 else { return 0 }
        return logits.withUnsafeBufferPointer { p in
            var correct = 0
            for r in 0..<labels.count {
                var best = 0
                for j in 1..<k where p[r * k + j] > p[r * k + best] { best = j }
                if best == Int(labels[r]) { correct += 1 }
            }
            return correct
        }
    }
}
