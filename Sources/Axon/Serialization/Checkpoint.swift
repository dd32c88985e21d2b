import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A training checkpoint: everything needed to continue a run exactly where it
/// stopped. One safetensors file (validated like a model file) holding
///
/// - the model's parameters and state tensors, named as in model files
///   (`layers.0.kernel`, ...), with `axon.architecture` and `axon.format_version` in the metadata;
/// - the optimizer's slots as `optimizer.<parameter>/<slot>` tensors
///   (e.g. `optimizer.layers.0.kernel/m`);
/// - in `axon.checkpoint` (JSON): completed epochs, the batches of the next epoch
///   done (a mid-epoch checkpoint; 0 between epochs), the optimizer's step count
///   and scalar state (`Optimizer.scalarState`, as float bit patterns so they
///   restore exactly), every layer's random-stream counters (`Layer.updateCounters`,
///   e.g. `layers.2.counter`), and the caller's training configuration (string pairs);
/// - with early stopping, where it stands (`early_stopping` in that JSON) and the
///   best epoch's weights as `early_stopping.<name>` tensors.
///
/// The shuffling order needs no storage: `Trainer.fit(startEpoch:startBatch:)`
/// replays it from the seed. The weights after a resumed run equal those of an
/// uninterrupted one bit for bit (same seed, same thread count).
public struct Checkpoint {
    public static let metadataKey = "axon.checkpoint"
    static let slotPrefix = "optimizer."
    static let bestPrefix = "early_stopping."

    public var model: any Network
    /// Epochs completed when the checkpoint was taken.
    public var epoch: Int
    /// Batches of epoch `epoch + 1` done (0: taken between epochs).
    public var batch: Int
    public var optimizerSlots: [String: Tensor]
    public var optimizerStep: Int
    /// Scalar optimizer state by name ("beta1_power", "beta2_power"), as Float bit patterns.
    public var optimizerState: [String: UInt32]
    /// Random-stream counters by name ("layers.2.counter").
    public var layerCounters: [String: UInt64]
    /// Free-form training configuration (model name, seed, batch size, ...).
    public var configuration: [String: String]
    /// The run's early stopping, if it has one (`EarlyStopping(resuming:)`).
    public var earlyStopping: EarlyStopping.Saved?

    /// Captures `model` (built) and `optimizer` after `epoch` completed epochs and
    /// `batch` batches of the next.
    public init(model: any Network, optimizer: any Optimizer, epoch: Int, batch: Int = 0,
                configuration: [String: String] = [:]) {
        self.model = model
        self.epoch = epoch
        self.batch = batch
        optimizerSlots = optimizer.slots
        optimizerStep = optimizer.step
        optimizerState = optimizer.scalarState.mapValues(\.bitPattern)
        layerCounters = Dictionary(model.counters.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
        self.configuration = configuration
    }

    /// Puts the saved slots, step and scalar state into `optimizer`, which must be
    /// configured as the saved one was (same kind and hyper-parameters).
    public func restore(into optimizer: inout any Optimizer) throws {
        let parameters = Set(model.parameterNames)
        for key in optimizerSlots.keys {
            guard let slash = key.lastIndex(of: "/"), parameters.contains(String(key[..<slash])) else {
                throw AxonError.invalidArgument("checkpoint: optimizer slot \"\(key)\" belongs to no parameter of the model")
            }
        }
        let expected = optimizer.scalarState.keys.sorted()
        guard optimizerState.keys.sorted() == expected else {
            throw AxonError.invalidArgument("checkpoint: holds optimizer state \(optimizerState.keys.sorted()), but "
                                            + "\(optimizer.summary) keeps \(expected): saved with another optimizer?")
        }
        optimizer.scalarState = optimizerState.mapValues { Float(bitPattern: $0) }
        optimizer.slots = optimizerSlots
        optimizer.step = optimizerStep
    }

    struct State: Codable {
        var epoch: Int
        var batch: Int?  // absent in checkpoints written before mid-epoch ones existed
        var optimizerStep: Int
        var optimizerState: [String: UInt32]
        var layerCounters: [String: UInt64]
        var configuration: [String: String]
        var earlyStopping: EarlyStoppingState?
        enum CodingKeys: String, CodingKey {
            case epoch, batch, configuration
            case optimizerStep = "optimizer_step", optimizerState = "optimizer_state", layerCounters = "layer_counters"
            case earlyStopping = "early_stopping"
        }
    }

    /// EarlyStopping.Saved without its tensors; the accuracy as a bit pattern (exact, and -inf before any epoch).
    struct EarlyStoppingState: Codable {
        var patience: Int
        var bestEpoch: Int
        var bestAccuracyBits: UInt64
        var wait: Int
        var stop: EarlyStop?
        enum CodingKeys: String, CodingKey {
            case patience, wait, stop
            case bestEpoch = "best_epoch", bestAccuracyBits = "best_accuracy_bits"
        }
    }

    /// Writes the checkpoint atomically.
    public func save(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let stopping = earlyStopping.map {
            EarlyStoppingState(patience: $0.patience, bestEpoch: $0.bestEpoch, bestAccuracyBits: $0.bestAccuracy.bitPattern,
                               wait: $0.wait, stop: $0.stop)
        }
        let state = State(epoch: epoch, batch: batch == 0 ? nil : batch, optimizerStep: optimizerStep, optimizerState: optimizerState,
                          layerCounters: layerCounters, configuration: configuration, earlyStopping: stopping)
        var meta: [String: String] = [:]
        meta[Checkpoint.metadataKey] = String(decoding: try encoder.encode(state), as: UTF8.self)
        let base = try ModelFile.encode(model, metadata: meta)
        var contents = try SafeTensors.decode(base, path: path)
        for (key, value) in optimizerSlots.sorted(by: { $0.key < $1.key }) {
            contents.tensors.append((Checkpoint.slotPrefix + key, value))
        }
        for (name, value) in earlyStopping?.bestWeights ?? [] {
            contents.tensors.append((Checkpoint.bestPrefix + name, value))
        }
        try writeFileAtomically(SafeTensors.encode(contents.tensors, metadata: contents.metadata), to: path)
    }

    /// Reads and validates a checkpoint written by `save(to:)`.
    public static func load(from path: String) throws -> Checkpoint {
        var contents = try SafeTensors.read(path)
        func fail(_ message: String) -> AxonError { .file(path: path, "not a valid Axon checkpoint: \(message)") }
        guard let json = contents.metadata[metadataKey] else {
            throw fail("no \(metadataKey) in the metadata (a model file, not a checkpoint?)")
        }
        let state: State
        do { state = try JSONDecoder().decode(State.self, from: Data(json.utf8)) } catch {
            throw fail("\(metadataKey) is not valid: \(error is DecodingError ? SafeTensors.describe(error as! DecodingError) : "\(error)")")
        }
        guard state.epoch >= 0, state.optimizerStep >= 0, state.batch ?? 0 >= 0 else { throw fail("negative epoch, batch or step") }
        var slots: [String: Tensor] = [:]
        var best: [(name: String, value: Tensor)] = []
        contents.tensors.removeAll { entry in
            if entry.name.hasPrefix(bestPrefix) {
                best.append((String(entry.name.dropFirst(bestPrefix.count)), entry.value))
                return true
            }
            guard entry.name.hasPrefix(slotPrefix) else { return false }
            slots[String(entry.name.dropFirst(slotPrefix.count))] = entry.value
            return true
        }
        var model = try ModelFile.rebuild(contents, path: path).model
        let parameters = Dictionary(model.parameters.map { ($0.name, $0.value.shape) }, uniquingKeysWith: { a, _ in a })
        for (key, t) in slots {
            guard let slash = key.lastIndex(of: "/"), let shape = parameters[String(key[..<slash])] else {
                throw fail("optimizer slot \"\(key)\" belongs to no parameter of the model")
            }
            guard t.shape == shape else { throw fail("optimizer slot \"\(key)\" has shape \(t.shape), its parameter \(shape)") }
        }
        // Checkpoints written before layers named their own counters keyed them by the
        // layer alone ("layers.2" for what is now "layers.2.counter"): both load.
        let known = model.counters.map(\.name)
        var counters: [String: UInt64] = [:]
        for name in known {
            let old = name.hasSuffix(".counter") ? String(name.dropLast(8)) : name
            if let v = state.layerCounters[name] ?? state.layerCounters[old] { counters[name] = v }
        }
        guard counters.count == known.count, state.layerCounters.count == known.count else {
            throw fail("random-stream counters for \(state.layerCounters.keys.sorted()), the model has \(known.sorted())")
        }
        try model.setCounters(counters)
        var stopping: EarlyStopping.Saved?
        if let s = state.earlyStopping {
            guard s.patience >= 1, s.bestEpoch >= 0, s.bestEpoch <= state.epoch, s.wait >= 0 else {
                throw fail("early_stopping holds an impossible position (patience \(s.patience), best epoch \(s.bestEpoch), wait \(s.wait))")
            }
            // The best weights are the model's tensors (all of them once an epoch was best, none before).
            let shapes = Dictionary((model.parameters + model.state).map { ($0.name, $0.value.shape) },
                                    uniquingKeysWith: { a, _ in a })
            guard best.isEmpty || Set(best.map(\.name)) == Set(shapes.keys), best.count == Set(best.map(\.name)).count,
                  best.isEmpty == (s.bestEpoch == 0) else {
                throw fail("its early_stopping weights (\(best.count) tensors) are not the model's \(shapes.count)")
            }
            for (name, t) in best where t.shape != shapes[name] {
                throw fail("early-stopping weight \"\(name)\" has shape \(t.shape), the model's \(shapes[name] ?? [])")
            }
            stopping = EarlyStopping.Saved(patience: s.patience, bestEpoch: s.bestEpoch,
                                           bestAccuracy: Double(bitPattern: s.bestAccuracyBits), wait: s.wait, stop: s.stop,
                                           bestWeights: best)
        } else if !best.isEmpty {
            throw fail("it holds early-stopping weights but no early_stopping state")
        }
        var c = Checkpoint(model: model, optimizer: GradientDescent(learningRate: 0), epoch: state.epoch,
                           batch: state.batch ?? 0, configuration: state.configuration)
        c.optimizerSlots = slots
        c.optimizerStep = state.optimizerStep
        c.optimizerState = state.optimizerState
        c.layerCounters = counters
        c.earlyStopping = stopping
        return c
    }
}

/// Checkpoint files in a directory: `epoch-0001.safetensors` after epoch 1,
/// `epoch-0002-batch-000050.safetensors` after 50 batches of epoch 2, ... (the newest `keep` kept).
public enum CheckpointDirectory {
    /// Where a run stands: epochs completed, and batches of the next one done.
    public struct Position: Comparable, Sendable {
        public var epoch: Int
        public var batch: Int
        public init(epoch: Int, batch: Int = 0) { self.epoch = epoch; self.batch = batch }
        public static func < (a: Position, b: Position) -> Bool { (a.epoch, a.batch) < (b.epoch, b.batch) }
    }

    public static func fileName(epoch: Int, batch: Int = 0) -> String {
        func padded(_ n: Int, _ width: Int) -> String {
            let digits = String(n)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return batch == 0 ? "epoch-\(padded(epoch, 4)).safetensors" : "epoch-\(padded(epoch + 1, 4))-batch-\(padded(batch, 6)).safetensors"
    }

    static func fileName(_ p: Position) -> String { fileName(epoch: p.epoch, batch: p.batch) }

    /// The positions of the checkpoints in `directory`, oldest first.
    public static func positions(in directory: String) throws -> [Position] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
            throw AxonError.file(path: directory, "checkpoint directory does not exist or cannot be listed")
        }
        return names.compactMap { name -> Position? in
            guard name.hasPrefix("epoch-"), name.hasSuffix(".safetensors") else { return nil }
            let parts = name.dropFirst(6).dropLast(12).split(separator: "-", omittingEmptySubsequences: false)
            if parts.count == 1, let e = Int(parts[0]) { return Position(epoch: e) }
            if parts.count == 3, parts[1] == "batch", let e = Int(parts[0]), let b = Int(parts[2]), e >= 1, b >= 1 {
                return Position(epoch: e - 1, batch: b)
            }
            return nil
        }.sorted()
    }

    /// Epoch numbers of the end-of-epoch checkpoints in `directory`, ascending.
    public static func epochs(in directory: String) throws -> [Int] {
        try positions(in: directory).filter { $0.batch == 0 }.map(\.epoch)
    }

    /// Saves `checkpoint` as the file of its position, then deletes all but the newest `keep`.
    public static func save(_ checkpoint: Checkpoint, in directory: String, keep: Int = 5) throws {
        try ensureDirectory(directory)
        try checkpoint.save(to: directory + "/" + fileName(epoch: checkpoint.epoch, batch: checkpoint.batch))
        for old in try positions(in: directory).dropLast(max(keep, 1)) {
            unlink(directory + "/" + fileName(old))
        }
    }

    /// The newest checkpoint in `directory` that loads. A newer one that does
    /// not (cut short by a full disk, damaged) is skipped and given to `skipped`
    /// with its error; if none loads, the newest one's error is thrown.
    public static func latest(in directory: String, skipped: ((String, Error) -> Void)? = nil) throws -> Checkpoint {
        let all = try positions(in: directory)
        guard !all.isEmpty else {
            throw AxonError.file(path: directory, "holds no checkpoint (epoch-NNNN.safetensors)")
        }
        var firstError: Error?
        for position in all.reversed() {
            let path = directory + "/" + fileName(position)
            do { return try Checkpoint.load(from: path) } catch {
                firstError = firstError ?? error
                skipped?(path, error)
            }
        }
        throw firstError!
    }

    /// Creates `directory` unless it exists; throws if it is something else.
    static func ensureDirectory(_ directory: String) throws {
        var isDir = false
        if !fileExists(directory, isDirectory: &isDir) {
            do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
                throw AxonError.file(path: directory, "cannot create the checkpoint directory: \(error.localizedDescription)")
            }
        } else if !isDir {
            throw AxonError.file(path: directory, "is not a directory")
        }
    }

    /// The name of the lock file that `lock(_:)` holds in a checkpoint directory.
    public static let lockFileName = ".axon.lock"

    /// Takes `directory` (created if needed) for one writer: an exclusive flock on
    /// its lock file, which records the holder's process id. Another process
    /// holding it is refused, naming that process; the lock ends with the
    /// process (or the returned object), so a crashed run never blocks the next.
    public static func lock(_ directory: String) throws -> DirectoryLock {
        try ensureDirectory(directory)
        let path = directory + "/" + lockFileName
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0o644)
        guard fd >= 0 else { throw AxonError.file(path: path, "cannot open the lock file: \(errnoText())") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let busy = errno == EWOULDBLOCK
            var text = [UInt8](repeating: 0, count: 64)
            let n = pread(fd, &text, text.count, 0)
            close(fd)
            guard busy else { throw AxonError.file(path: path, "cannot lock: \(errnoText())") }
            let holder = Int(String(decoding: text.prefix(max(n, 0)), as: UTF8.self).split(separator: "\n").first ?? "")
            throw AxonError.file(path: directory, "checkpoint directory is in use by another run "
                                 + (holder.map { "(process \($0))" } ?? "(process unknown)")
                                 + "; wait for it to end or choose another directory")
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, pid, pid.count, 0)
        return DirectoryLock(fd: fd)
    }
}

/// An exclusive lock on a checkpoint directory, released when this object is
/// released or the process ends (see `CheckpointDirectory.lock`).
public final class DirectoryLock {
    private let fd: Int32
    init(fd: Int32) { self.fd = fd }
    deinit { close(fd) }
}
