import Foundation

/// Model files: one safetensors file holding every parameter and state tensor
/// of a built network (`Sequential` or `Graph`) under its name
/// (`layers.<index>.<parameter>`, e.g. `layers.0.kernel`,
/// `layers.5.recurrent_kernel`; nested Sequentials give
/// `layers.2.layers.0.kernel`; Graph nodes `<node>.<parameter>`, BatchNorm
/// state `<node>.moving_mean`) and, in the header's `__metadata__`:
///
/// - `axon.format_version`: "1"
/// - `axon.architecture`: the network's `LayerConfig` as JSON (layer kinds,
///   their arguments, the seed and the shape of one input example)
/// - `axon.parameter_count`: total number of trainable scalars
/// - `axon.version`: the version of Axon that wrote the file
/// - anything the caller adds (the CLI records the training run under `axon.training.*`
///   and the class names under `ClassNames.metadataKey`).
public enum ModelFile {
    public static let formatVersion = "1"
    public static let versionKey = "axon.format_version"
    public static let architectureKey = "axon.architecture"
    public static let parameterCountKey = "axon.parameter_count"

    /// Largest number of scalars in one example's activations accepted from a file.
    static let maxActivationCount = 1 << 36

    /// A model read back from a file, with the file's metadata.
    public struct Loaded {
        public var model: any Network
        public var metadata: [String: String]
        /// The shape of one example of the first input.
        public var inputShape: [Int] { model.inputShape ?? [] }
    }

    /// The bytes of the model file of `model` (built), with `metadata` added.
    static func encode(_ model: any Network, metadata: [String: String] = [:]) throws -> [UInt8] {
        guard model.isBuilt else {
            throw AxonError.invalidArgument("save: the model is not built yet; call build(inputShape:) or run it on a batch first")
        }
        if let name = model.firstNonFiniteTensor {
            throw AxonError.invalidArgument("save: tensor \"\(name)\" holds NaN or infinite values; such a model cannot be loaded")
        }
        let config = try LayerConfig(model)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let architecture = String(decoding: try encoder.encode(config), as: UTF8.self)
        var meta = metadata
        meta[versionKey] = formatVersion
        meta["axon.version"] = AxonVersion.string
        meta[architectureKey] = architecture
        meta[parameterCountKey] = String(model.parameterCount)
        return try SafeTensors.encode(model.parameters + model.state, metadata: meta)
    }

    /// Writes `model` to `path` atomically.
    public static func save(_ model: any Network, to path: String, metadata: [String: String] = [:]) throws {
        try writeFileAtomically(encode(model, metadata: metadata), to: path)
    }

    /// Reads, validates and rebuilds the model in the file at `path`.
    public static func load(from path: String) throws -> Loaded {
        try decode(SafeTensors.readModelFile(path), path: path)
    }

    /// Validates and rebuilds a model from the bytes of a model file; errors name `path`.
    public static func decode(_ bytes: [UInt8], path: String) throws -> Loaded {
        try rebuild(SafeTensors.decode(bytes, path: path), path: path)
    }

    /// Validates and rebuilds the model described by decoded safetensors contents.
    static func rebuild(_ contents: SafeTensors.Contents, path: String) throws -> Loaded {
        var contents = contents
        if contents.metadata[Checkpoint.metadataKey] != nil {
            // A checkpoint is a model file plus optimizer slots (checked by Checkpoint.load).
            contents.tensors.removeAll { $0.name.hasPrefix(Checkpoint.slotPrefix) }
        }
        func fail(_ message: String) -> AxonError { .file(path: path, "not a valid Axon model file: \(message)") }
        guard let version = contents.metadata[versionKey] else {
            throw fail("no \(versionKey) in the metadata (a safetensors file, but not written by Axon's model.save)")
        }
        guard version == formatVersion else {
            throw fail("format version \"\(version)\"; this Axon reads version \(formatVersion)")
        }
        guard let architecture = contents.metadata[architectureKey] else {
            throw fail("no \(architectureKey) in the metadata")
        }
        let config: LayerConfig
        do {
            config = try JSONDecoder().decode(LayerConfig.self, from: Data(architecture.utf8))
        } catch let DecodingError.dataCorrupted(context) where context.codingPath.isEmpty {
            throw fail("\(architectureKey) is not well-formed JSON")
        } catch let error as DecodingError {
            throw fail("\(architectureKey) is not a valid architecture: \(SafeTensors.describe(error))")
        } catch {
            throw fail("\(architectureKey) is not well-formed JSON")
        }
        guard let type = LayerRegistry.type(named: config.kind) as? any Network.Type else {
            throw fail("the architecture's top level is \"\(config.kind)\"; expected a network (Sequential or Graph)")
        }
        let inputShapes: [[Int]]
        do {
            if config.has("input_shapes") {
                guard case .array(let list)? = config["input_shapes"], (1...64).contains(list.count) else {
                    throw AxonError.invalidArgument("input_shapes must be a list of 1 to 64 shapes")
                }
                inputShapes = try list.map { try LayerConfig(kind: "", fields: ["s": $0]).ints("s") }
            } else if config.has("input_shape") {
                inputShapes = [try config.ints("input_shape")]
            } else {
                throw fail("the architecture has no input_shape")
            }
        } catch let error as AxonError {
            if case .file = error { throw error }
            throw fail("input_shape: \(error) (1 to 8 dimensions in 1...\(LayerConfig.maxDimension))")
        }
        guard inputShapes.allSatisfy({ (1...8).contains($0.count) && checkedProduct($0) != nil }) else {
            throw fail("input_shape \(inputShapes.count == 1 ? "\(inputShapes[0])" : "\(inputShapes)") must have 1 to 8 dimensions in 1...\(LayerConfig.maxDimension)")
        }
        var model: any Network
        do {
            guard let m = try config.makeLayer(path: "model") as? any Network else { throw fail("the top level is not a \(type.kind)") }
            model = m
        } catch let error as AxonError {
            if case .file = error { throw error }
            throw fail("\(error)")
        }

        // Architecture and tensors must agree exactly before anything is allocated.
        let expected: [(name: String, shape: [Int])]
        do {
            expected = try model.tensorShapes(forInputs: inputShapes)
        } catch let error as AxonError {
            throw fail("the architecture does not accept its input_shape \(inputShapes.count == 1 ? "\(inputShapes[0])" : "\(inputShapes)"): \(error)")
        }
        let stored = Dictionary(contents.tensors.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
        for (name, shape) in expected {
            guard let t = stored[name] else {
                throw fail("tensor \"\(name)\" (shape \(shape)) required by the architecture is missing")
            }
            guard t.shape == shape else {
                throw fail("tensor \"\(name)\" has shape \(t.shape); the architecture needs \(shape)")
            }
        }
        let names = Set(expected.map(\.0))
        if let extra = contents.tensors.first(where: { !names.contains($0.name) }) {
            throw fail("tensor \"\(extra.name)\" is not a parameter of the architecture")
        }
        if let bad = contents.tensors.first(where: { !$0.value.isFinite }) {
            throw fail("tensor \"\(bad.name)\" holds NaN or infinite values (saved from a diverged run?)")
        }
        do { try model.checkMemory(batch: 1, training: false, inputShapes: inputShapes) } catch let error as AxonError {
            throw fail("\(error)")
        }

        do {
            try model.build(inputShapes: inputShapes)
            for (name, value) in contents.tensors { try model.setTensor(name, to: value) }
        } catch let error as AxonError {
            throw fail("cannot rebuild the model: \(error)")
        }
        return Loaded(model: model, metadata: contents.metadata)
    }

    static func checkedProduct(_ shape: [Int]) -> Int? {
        var p = 1
        for d in shape {
            let (r, o) = p.multipliedReportingOverflow(by: d)
            if o || r > maxActivationCount { return nil }
            p = r
        }
        return p
    }
}
