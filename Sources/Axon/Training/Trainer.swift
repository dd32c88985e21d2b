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

/// Mini-batch training of a classifier (evaluation and prediction are the
/// plain functions `evaluate` and `predict`, Evaluation.swift).
///
/// ```swift
/// let trainer = Trainer(loss: .softmaxCrossEntropy, optimizer: Momentum(learningRate: 0.01, momentum: 0.9))
/// let stopping = EarlyStopping(patience: 3)
/// let history = try trainer.fit(&model, on: data.train, epochs: 10, batchSize: 64, validation: held,
///                               callbacks: [stopping])
/// ```
/// Early stopping, checkpoints and progress output are `TrainingCallback`s of
/// one `fit` run. The optimizer (with its slots) lives in the trainer.
public final class Trainer {
    public var loss: Loss
    public var optimizer: any Optimizer
    public var schedule: LearningRateSchedule
    /// The course's regularisation parameters λ (spec §7): the penalty is
    /// (λ₂/2n)·Σw² + (λ₁/n)·Σ|w| over kernels (not biases), n = training set size.
    public var l2: Float
    public var l1: Float
    /// Applied to every training batch before the forward pass (seeded by `fit`'s seed,
    /// the epoch and the batch index, so a resumed run sees the same images).
    public var augmentation: Augmentation?
    /// Batch size of the validation and test evaluations in `fit`.
    public var inferenceBatchSize = 1000
    /// Data-parallel training (DataParallel.swift): when set, `fit` trains this
    /// rank's shard of every global batch and averages the gradients over the
    /// ranks before each update; only rank 0 evaluates (its figures are shared).
    public var parallel: (any DataParallel)?
    /// With `parallel` over more than one rank: whether BatchNorm normalises with
    /// the whole global batch's statistics (the default: N ranks train as one
    /// process) or each rank with its shard's (SyncedBatchNorm.swift).
    public var batchNormStatistics = BatchNormStatistics.global
    var fusedGradients: [Float] = []
    /// Whether `step` updates each layer right after its backward pass (when no
    /// penalty or gradient reduction sits between backward and update); off,
    /// one update after the whole backward pass. The same bits either way.
    var updatesEachLayer = true

    private var baseLearningRate: Float
    private var batchImages = Tensor.empty

    public init(loss: Loss = .softmaxCrossEntropy, optimizer: any Optimizer, schedule: LearningRateSchedule = .constant,
                l2: Float = 0, l1: Float = 0) {
        self.loss = loss
        self.optimizer = optimizer
        self.schedule = schedule
        self.l2 = l2
        self.l1 = l1
        baseLearningRate = optimizer.learningRate
    }

    /// Trains `model` for `epochs` passes over `train` in shuffled mini-batches
    /// (order drawn from `SeededGenerator(seed:)`, reshuffled every epoch),
    /// evaluating on `validation` (which early stopping watches) and on `test`
    /// (only recorded) after each epoch. `callbacks` are called, in order, after
    /// every batch, after every epoch (a `.stop` ends the run) and at the end.
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
    /// not given to the callbacks: a `Checkpointing` keeps the last good one).
    @discardableResult
    public func fit<Model: Layer>(_ model: inout Model, on train: Dataset, epochs: Int, batchSize: Int = 64,
                                  validation: Dataset? = nil, test: Dataset? = nil, seed: UInt64 = 0,
                                  startEpoch: Int = 1, startBatch: Int = 0,
                                  callbacks: [any TrainingCallback] = []) throws -> History {
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
                if !callbacks.isEmpty {
                    let progress = BatchProgress(epoch: epoch, examplesDone: end, examples: order.count,
                                                 batch: batch, batches: batches,
                                                 meanLoss: Float(lossSum / Double(end - first)),
                                                 seconds: Date().timeIntervalSince(start))
                    for c in callbacks { try c.batchEnded(&model, progress: progress, trainer: self) }
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
                if let validation {
                    (record.validationLoss, record.validationAccuracy) = try evaluate(model, on: validation, loss: loss,
                                                                                      batchSize: inferenceBatchSize)
                }
                if let test {
                    (record.testLoss, record.testAccuracy) = try evaluate(model, on: test, loss: loss, batchSize: inferenceBatchSize)
                }
            }
            try shareEvaluation(&record)
            history.epochs.append(record)
            var stop = false
            for c in callbacks {
                if try c.epochEnded(&model, record: record, trainer: self) == .stop { stop = true }
            }
            if stop { break }
        }
        for c in callbacks { try c.trainingEnded(&model, history: history, trainer: self) }
        return history
    }

    /// The error that ends a run whose loss or weights stop being finite.
    private func diverged(_ what: String) -> AxonError {
        .invalidArgument("training diverged \(what); try a lower learning rate (it was \(optimizer.learningRate))")
    }

    /// One optimisation step on a batch: forward, loss, backward, penalties,
    /// update. Returns the batch loss and the number of correct predictions.
    ///
    /// With `parallel` set, `images` are this rank's shard of a global batch of
    /// `batchExamples` (default: every rank's shard this size) and the loss,
    /// count and gradients are those of the global batch.
    @discardableResult
    public func step<Model: Layer>(_ model: inout Model, images: Tensor, labels: [Int32],
                                   trainingSetSize: Int? = nil, batchExamples: Int? = nil) throws -> (loss: Float, correct: Int) {
        var share: Float = 1, synced: SyncedBatch?
        if let parallel {
            share = Float(labels.count) / Float(batchExamples ?? labels.count * parallel.size)
            if parallel.size > 1 && batchNormStatistics == .global { synced = SyncedBatch(parallel: parallel, share: share) }
        }
        let eachLayer = updatesEachLayer && parallel == nil && l2 == 0 && l1 == 0
        let (batchLoss, correct) = try SyncedBatch.$current.withValue(synced) {
            let logits = try model.forward(images, training: true)
            let (value, gradient) = try loss.compute(logits: logits, labels: labels)
            let correct = countCorrect(logits, labels)
            if optimizer.step == 0 { optimizer.createSlots(for: model) }
            if eachLayer {
                try backwardUpdatingEachLayer(&model, gradient)
            } else {
                _ = try model.backward(gradient, inputGradient: false)
            }
            return (value, correct)
        }
        if eachLayer { return (batchLoss, correct) }
        var value = batchLoss
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
        if parallel != nil {
            // Synchronized BatchNorm's moving statistics are the same on every rank already.
            result = try reduceGradients(&model, share: share, loss: value, correct: correct, state: synced == nil)
        }
        try optimizer.update(&model)
        return result
    }

    /// The backward pass, each layer's parameters updated as soon as their
    /// gradients exist (`Layer.backward(_:inputGradient:update:)`), while they
    /// are still in cache: deep-MNIST's 12.8 MB dense gradient was read back
    /// from memory by a separate pass. Every partial update starts from the same
    /// step and scalar state (Adam's β powers), which advance once. The rules
    /// are per element and no layer's backward pass reads another layer's
    /// parameters, so the result is the same bits as one update after. (A
    /// layer whose backward pass throws leaves the layers after it updated;
    /// an optimizer's bad setting throws before the first parameter changes.)
    private func backwardUpdatingEachLayer<Model: Layer>(_ model: inout Model, _ gradient: Tensor) throws {
        let start = (step: optimizer.step, state: optimizer.scalarState)
        var end: (step: Int, state: [String: Float])?
        // One partial update from the start state; its end state is kept when it ran.
        func fromStart(_ body: () throws -> Bool) throws -> Bool {
            optimizer.step = start.step
            optimizer.scalarState = start.state
            guard try body() else { return false }
            end = (optimizer.step, optimizer.scalarState)
            return true
        }
        let update = ParameterUpdate(walk: { walk in
            _ = try fromStart { try self.optimizer.update(walk); return true }
        }, rule: { name, shape, kernel in
            guard let kernel else { return try self.optimizer.rule() != nil }
            return try fromStart { try self.optimizer.update(name, shape: shape, by: kernel) }
        })
        _ = try model.backward(gradient, inputGradient: false, update: update)
        if let end {
            optimizer.step = end.step
            optimizer.scalarState = end.state
        } else {
            try optimizer.update { _ in }  // no parameters: the step still counts
        }
    }

    /// Copies the examples at `indices` into the reused batch buffer.
    private func gather(_ data: Dataset, _ indices: ArraySlice<Int>) -> [Int32] {
        Tensor.reuse(&batchImages, shape: [indices.count] + data.exampleShape)
        return data.batch(indices, into: &batchImages)
    }
}
