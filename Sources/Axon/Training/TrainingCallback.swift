/// What a callback tells `fit` after an epoch.
public enum TrainingDecision: Sendable, Equatable {
    case `continue`
    /// End the run after this epoch (the epochs after it are not trained).
    case stop
}

/// A hook into one `Trainer.fit` run, as Keras' callbacks: `fit` calls every
/// callback given to it, in order, after each training batch, after each epoch
/// (once the epoch's record holds its validation and test figures) and once
/// when the run ends. Each method has a default that does nothing.
///
/// `EarlyStopping` and `Checkpointing` are the library's; a caller adds its own
/// (a progress bar, a history file) by conforming a class.
public protocol TrainingCallback: AnyObject {
    /// After every training batch; `progress` says where the epoch stands and
    /// `trainer.optimizer.step` counts the updates so far.
    func batchEnded<Model: Layer>(_ model: inout Model, progress: BatchProgress, trainer: Trainer) throws
    /// After every epoch: `.stop` ends the run (the callbacks after this one still see the epoch).
    func epochEnded<Model: Layer>(_ model: inout Model, record: EpochRecord, trainer: Trainer) throws -> TrainingDecision
    /// Once, when the run ends after its last epoch or a stop (not when it fails).
    func trainingEnded<Model: Layer>(_ model: inout Model, history: History, trainer: Trainer) throws
}

extension TrainingCallback {
    public func batchEnded<Model: Layer>(_ model: inout Model, progress: BatchProgress, trainer: Trainer) throws {}
    public func epochEnded<Model: Layer>(_ model: inout Model, record: EpochRecord, trainer: Trainer) throws -> TrainingDecision {
        .continue
    }
    public func trainingEnded<Model: Layer>(_ model: inout Model, history: History, trainer: Trainer) throws {}
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

/// Stops a run when the validation accuracy has not improved for `patience`
/// epochs (spec §9): a new best must be strictly greater; training stops when
/// the epochs without one reach `patience`, and at the end (stop or epoch
/// limit) the best epoch's weights (parameters and BatchNorm statistics) are
/// put back. Epochs without validation figures are not counted. One object per
/// run; `Checkpointing(earlyStopping:)` saves where it stands (`Saved`) in each
/// checkpoint, and `init(resuming:)` continues from it.
///
/// ```swift
/// let stopping = EarlyStopping(patience: 3)
/// try trainer.fit(&model, on: train, epochs: 50, validation: held, callbacks: [stopping])
/// if let stop = stopping.stop { print(stop.reason) }
/// ```
public final class EarlyStopping: TrainingCallback {
    public let patience: Int
    /// Set when the run stopped early.
    public private(set) var stop: EarlyStop?
    /// The epoch with the best validation accuracy so far (0 before any), whose weights are kept.
    public private(set) var bestEpoch = 0
    public private(set) var bestAccuracy = -Double.infinity
    private var wait = 0
    private var bestWeights: [(name: String, value: Tensor)] = []

    public init(patience: Int) {
        self.patience = patience
    }

    /// Where a run's early stopping stands after an epoch: what a checkpoint keeps.
    public struct Saved {
        public var patience: Int
        public var bestEpoch: Int
        public var bestAccuracy: Double
        /// Epochs since the best one.
        public var wait: Int
        /// Set when the run has stopped.
        public var stop: EarlyStop?
        /// The best epoch's parameters and state tensors, named as in the model.
        public var bestWeights: [(name: String, value: Tensor)]
    }

    public var saved: Saved {
        Saved(patience: patience, bestEpoch: bestEpoch, bestAccuracy: bestAccuracy, wait: wait, stop: stop,
              bestWeights: bestWeights)
    }

    /// Continues a run from a checkpoint's `Saved`: the same decisions, and the
    /// same weights restored, as if the run had not been interrupted.
    public init(resuming s: Saved) {
        patience = s.patience
        bestEpoch = s.bestEpoch
        bestAccuracy = s.bestAccuracy
        wait = s.wait
        stop = s.stop
        bestWeights = s.bestWeights
    }

    public func epochEnded<Model: Layer>(_ model: inout Model, record: EpochRecord, trainer: Trainer) throws -> TrainingDecision {
        guard let accuracy = record.validationAccuracy else { return .continue }
        if accuracy > bestAccuracy {
            bestAccuracy = accuracy; bestEpoch = record.epoch; wait = 0
            bestWeights = model.parameters + model.state  // copy-on-write: kept apart from later updates
            return .continue
        }
        wait += 1
        guard wait >= patience else { return .continue }
        stop = EarlyStop(epoch: record.epoch, bestEpoch: bestEpoch, bestAccuracy: bestAccuracy, patience: patience)
        try restoreBestWeights(&model)
        return .stop
    }

    public func trainingEnded<Model: Layer>(_ model: inout Model, history: History, trainer: Trainer) throws {
        if stop == nil { try restoreBestWeights(&model) }
    }

    /// Puts back the parameters and BatchNorm statistics of the best epoch (no-op before any).
    public func restoreBestWeights<Model: Layer>(_ model: inout Model) throws {
        for (name, value) in bestWeights { try model.setTensor(name, to: value) }
    }
}

/// Saves a checkpoint (model, optimizer state, counters, `configuration`) in
/// `directory` after every epoch and, with `everySteps`, after every
/// `everySteps`-th optimizer step that does not end an epoch (named by the epoch
/// and batch; `fit(startEpoch:startBatch:)` resumes from it exactly). The
/// directory keeps the newest `keep` (`CheckpointDirectory.save`). With
/// `earlyStopping`, each checkpoint also keeps where it stands (best epoch,
/// patience count, best weights as of the last finished epoch); give it after
/// that callback in `fit`'s list. The model must be a `Network` (Sequential or GraphNetwork).
public final class Checkpointing: TrainingCallback {
    public let directory: String
    public let keep: Int
    public let everySteps: Int?
    /// What the run's caller needs to continue it (recorded in every checkpoint).
    public let configuration: [String: String]
    public let earlyStopping: EarlyStopping?

    public init(directory: String, keep: Int = 5, everySteps: Int? = nil, configuration: [String: String] = [:],
                earlyStopping: EarlyStopping? = nil) {
        self.directory = directory
        self.keep = keep
        self.everySteps = everySteps
        self.configuration = configuration
        self.earlyStopping = earlyStopping
    }

    public func batchEnded<Model: Layer>(_ model: inout Model, progress: BatchProgress, trainer: Trainer) throws {
        guard let n = everySteps, n > 0, trainer.optimizer.step % n == 0, progress.batch < progress.batches else { return }
        try save(model, trainer: trainer, epoch: progress.epoch - 1, batch: progress.batch)
    }

    public func epochEnded<Model: Layer>(_ model: inout Model, record: EpochRecord, trainer: Trainer) throws -> TrainingDecision {
        try save(model, trainer: trainer, epoch: record.epoch, batch: 0)
        return .continue
    }

    private func save<Model: Layer>(_ model: Model, trainer: Trainer, epoch: Int, batch: Int) throws {
        guard let network = model as? any Network else {
            throw AxonError.invalidArgument("Checkpointing: the model must be a Network (Sequential or GraphNetwork), got \(Model.self)")
        }
        var checkpoint = Checkpoint(model: network, optimizer: trainer.optimizer, epoch: epoch, batch: batch,
                                    configuration: configuration)
        checkpoint.earlyStopping = earlyStopping?.saved
        try CheckpointDirectory.save(checkpoint, in: directory, keep: keep)
    }
}
