import Foundation

/// A training checkpoint: everything needed to continue a run exactly where it
/// stopped. One safetensors file (validated like a model file) holding
///
/// - the model's parameters, named as in model files (`layers.0.kernel`, ...),
///   with `axon.architecture` and `axon.format_version` in the metadata;
/// - the optimizer's slots as `optimizer.<parameter>/<slot>` tensors
///   (e.g. `optimizer.layers.0.kernel/m`);
/// - in `axon.checkpoint` (JSON): completed epochs, the optimizer's step count
///   and scalar state (Adam's β powers, as float bit patterns so they restore
///   exactly), the random-stream counters of Dropout and StochasticPool2D
///   layers, and the caller's training configuration (string pairs).
///
/// The shuffling order needs no storage: `Trainer.fit(startEpoch:)` replays it
/// from the seed. The weights after a resumed run equal those of an
/// uninterrupted one bit for bit (same seed, same thread count).
public struct Checkpoint {
    public static let metadataKey = "axon.checkpoint"
    static let slotPrefix = "optimizer."

    public var model: Sequential
    /// Epochs completed when the checkpoint was taken.
    public var epoch: Int
    public var optimizerSlots: [String: Tensor]
    public var optimizerStep: Int
    /// Scalar optimizer state by name ("beta1_power", "beta2_power"), as Float bit patterns.
    public var optimizerState: [String: UInt32]
    /// Random-stream counters by layer path ("layers.2").
    public var layerCounters: [String: UInt64]
    /// Free-form training configuration (model name, seed, batch size, ...).
    public var configuration: [String: String]

    /// Captures `model` (built) and `optimizer` after `epoch` completed epochs.
    public init(model: Sequential, optimizer: any Optimizer, epoch: Int, configuration: [String: String] = [:]) {
        self.model = model
        self.epoch = epoch
        optimizerSlots = optimizer.slots
        optimizerStep = optimizer.step
        optimizerState = [:]
        if let adam = optimizer as? Adam {
            optimizerState = ["beta1_power": adam.beta1Power.bitPattern, "beta2_power": adam.beta2Power.bitPattern]
        }
        var counters: [String: UInt64] = [:]
        Checkpoint.visitCounters(model, prefix: "") { path, counter in counters[path] = counter }
        layerCounters = counters
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
        if optimizer is Adam {
            guard var adam = optimizer as? Adam, let b1 = optimizerState["beta1_power"], let b2 = optimizerState["beta2_power"] else {
                throw AxonError.invalidArgument("checkpoint: the optimizer is Adam but the checkpoint holds no Adam state")
            }
            adam.beta1Power = Float(bitPattern: b1)
            adam.beta2Power = Float(bitPattern: b2)
            optimizer = adam
        } else if !optimizerState.isEmpty {
            throw AxonError.invalidArgument("checkpoint: saved with Adam, restored into \(optimizer.summary)")
        }
        optimizer.slots = optimizerSlots
        optimizer.step = optimizerStep
    }

    struct State: Codable {
        var epoch: Int
        var optimizerStep: Int
        var optimizerState: [String: UInt32]
        var layerCounters: [String: UInt64]
        var configuration: [String: String]
        enum CodingKeys: String, CodingKey {
            case epoch, configuration
            case optimizerStep = "optimizer_step", optimizerState = "optimizer_state", layerCounters = "layer_counters"
        }
    }

    /// Writes the checkpoint atomically.
    public func save(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let state = State(epoch: epoch, optimizerStep: optimizerStep, optimizerState: optimizerState,
                          layerCounters: layerCounters, configuration: configuration)
        var meta: [String: String] = [:]
        meta[Checkpoint.metadataKey] = String(decoding: try encoder.encode(state), as: UTF8.self)
        let base = try ModelFile.encode(model, metadata: meta)
        var contents = try SafeTensors.decode(base, path: path)
        for (key, value) in optimizerSlots.sorted(by: { $0.key < $1.key }) {
            contents.tensors.append((Checkpoint.slotPrefix + key, value))
        }
        try SafeTensors.writeAtomically(SafeTensors.encode(contents.tensors, metadata: contents.metadata), to: path)
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
        guard state.epoch >= 0, state.optimizerStep >= 0 else { throw fail("negative epoch or step") }
        var slots: [String: Tensor] = [:]
        contents.tensors.removeAll { entry in
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
        var known = Set<String>()
        visitCounters(model, prefix: "") { p, _ in known.insert(p) }
        guard Set(state.layerCounters.keys) == known else {
            throw fail("random-stream counters for \(state.layerCounters.keys.sorted()), the model has \(known.sorted())")
        }
        setCounters(&model, prefix: "", state.layerCounters)
        var c = Checkpoint(model: model, optimizer: GradientDescent(learningRate: 0), epoch: state.epoch,
                           configuration: state.configuration)
        c.optimizerSlots = slots
        c.optimizerStep = state.optimizerStep
        c.optimizerState = state.optimizerState
        c.layerCounters = state.layerCounters
        return c
    }

    static func visitCounters(_ model: Sequential, prefix: String, _ body: (String, UInt64) -> Void) {
        for (i, layer) in model.layers.enumerated() {
            let path = "\(prefix)layers.\(i)"
            switch layer {
            case let d as Dropout: body(path, d.counter)
            case let s as StochasticPool2D: body(path, s.counter)
            case let q as Sequential: visitCounters(q, prefix: path + ".", body)
            default: break
            }
        }
    }

    static func setCounters(_ model: inout Sequential, prefix: String, _ counters: [String: UInt64]) {
        for i in model.layers.indices {
            let path = "\(prefix)layers.\(i)"
            if var d = model.layers[i] as? Dropout, let c = counters[path] { d.counter = c; model.layers[i] = d }
            if var s = model.layers[i] as? StochasticPool2D, let c = counters[path] { s.counter = c; model.layers[i] = s }
            if var q = model.layers[i] as? Sequential { setCounters(&q, prefix: path + ".", counters); model.layers[i] = q }
        }
    }
}

/// Checkpoint files in a directory: `epoch-0001.safetensors`, ... (the newest `keep` kept).
public enum CheckpointDirectory {
    public static func fileName(epoch: Int) -> String {
        let digits = String(epoch)
        return "epoch-" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits + ".safetensors"
    }

    /// Epoch numbers of the checkpoints in `directory`, ascending.
    public static func epochs(in directory: String) throws -> [Int] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
            throw AxonError.file(path: directory, "checkpoint directory does not exist or cannot be listed")
        }
        return names.compactMap { name -> Int? in
            guard name.hasPrefix("epoch-"), name.hasSuffix(".safetensors") else { return nil }
            return Int(name.dropFirst(6).dropLast(12))
        }.sorted()
    }

    /// Saves `checkpoint` as the file of its epoch, then deletes all but the newest `keep`.
    public static func save(_ checkpoint: Checkpoint, in directory: String, keep: Int = 5) throws {
        var isDir = false
        if !fileExists(directory, isDirectory: &isDir) {
            do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
                throw AxonError.file(path: directory, "cannot create the checkpoint directory: \(error.localizedDescription)")
            }
        } else if !isDir {
            throw AxonError.file(path: directory, "is not a directory")
        }
        try checkpoint.save(to: directory + "/" + fileName(epoch: checkpoint.epoch))
        for old in try epochs(in: directory).dropLast(max(keep, 1)) {
            unlink(directory + "/" + fileName(epoch: old))
        }
    }

    /// The newest checkpoint in `directory`.
    public static func latest(in directory: String) throws -> Checkpoint {
        guard let last = try epochs(in: directory).last else {
            throw AxonError.file(path: directory, "holds no checkpoint (epoch-NNNN.safetensors)")
        }
        return try Checkpoint.load(from: directory + "/" + fileName(epoch: last))
    }
}
