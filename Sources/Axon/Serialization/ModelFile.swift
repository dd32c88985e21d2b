import Foundation

/// Model files: one safetensors file holding every parameter of a built
/// `Sequential` under its parameter name (`layers.<index>.<parameter>`, e.g.
/// `layers.0.kernel`, `layers.5.recurrent_kernel`; nested Sequentials give
/// `layers.2.layers.0.kernel`) and, in the header's `__metadata__`:
///
/// - `axon.format_version`: "1"
/// - `axon.architecture`: the model's `LayerConfig` as JSON (layer kinds,
///   their arguments, the seed and the input shape of one example)
/// - `axon.parameter_count`: total number of trainable scalars
/// - anything the caller adds (the CLI records the training run under `axon.training.*`).
public enum ModelFile {
    public static let formatVersion = "1"
    public static let versionKey = "axon.format_version"
    public static let architectureKey = "axon.architecture"
    public static let parameterCountKey = "axon.parameter_count"

    /// Largest number of scalars in one example's activations accepted from a file.
    static let maxActivationCount = 1 << 36

    /// A model read back from a file, with the file's metadata.
    public struct Loaded {
        public var model: Sequential
        public var metadata: [String: String]
        public var inputShape: [Int] { model.inputShape ?? [] }
    }

    /// The bytes of the model file of `model` (built), with `metadata` added.
    static func encode(_ model: Sequential, metadata: [String: String] = [:]) throws -> [UInt8] {
        guard let inputShape = model.inputShape, model.isBuilt else {
            throw AxonError.invalidArgument("save: the model is not built yet; call build(inputShape:) or run it on a batch first")
        }
        var config = try LayerConfig(model)
        config.inputShape = inputShape
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let architecture = String(decoding: try encoder.encode(config), as: UTF8.self)
        var meta = metadata
        meta[versionKey] = formatVersion
        meta[architectureKey] = architecture
        meta[parameterCountKey] = String(model.parameterCount)
        return try SafeTensors.encode(model.parameters, metadata: meta)
    }

    /// Writes `model` to `path` atomically.
    public static func save(_ model: Sequential, to path: String, metadata: [String: String] = [:]) throws {
        try SafeTensors.writeAtomically(encode(model, metadata: metadata), to: path)
    }

    /// Reads, validates and rebuilds the model in the file at `path`.
    public static func load(from path: String) throws -> Loaded {
        try decode(SafeTensors.readWholeFile(path), path: path)
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
        guard config.kind == "Sequential" else {
            throw fail("the architecture's top level is \"\(config.kind)\"; expected \"Sequential\"")
        }
        guard let inputShape = config.inputShape else { throw fail("the architecture has no input_shape") }
        guard (1...8).contains(inputShape.count),
              inputShape.allSatisfy({ $0 >= 1 && $0 <= LayerConfig.maxDimension }),
              checkedProduct(inputShape) != nil else {
            throw fail("input_shape \(inputShape) must have 1 to 8 dimensions in 1...\(LayerConfig.maxDimension)")
        }
        var model: Sequential
        do {
            guard let m = try config.makeLayer(path: "model") as? Sequential else { throw fail("top level is not a Sequential") }
            model = m
        } catch let error as AxonError {
            if case .file = error { throw error }
            throw fail("\(error)")
        }

        // Architecture and tensors must agree exactly before anything is allocated.
        var expected: [(String, [Int])] = []
        do {
            _ = try expectedParameters(config, model, inputShape: inputShape, prefix: "", into: &expected)
        } catch let error as AxonError {
            throw fail("the architecture does not accept its input_shape \(inputShape): \(error)")
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

        do {
            try model.build(inputShape: inputShape)
            for (name, value) in contents.tensors { try model.setParameter(name, to: value) }
        } catch let error as AxonError {
            throw fail("cannot rebuild the model: \(error)")
        }
        return Loaded(model: model, metadata: contents.metadata)
    }

    /// Appends the parameter shapes of `layer` (configured by `config`) for
    /// examples of `inputShape`, and returns its output shape.
    private static func expectedParameters(_ config: LayerConfig, _ layer: any Layer, inputShape: [Int], prefix: String,
                                           into out: inout [(String, [Int])]) throws -> [Int] {
        if let seq = layer as? Sequential, let children = config.layers {
            var shape = inputShape
            for (i, (c, l)) in zip(children, seq.layers).enumerated() {
                shape = try expectedParameters(c, l, inputShape: shape, prefix: "\(prefix)layers.\(i).", into: &out)
            }
            return shape
        }
        let output = try layer.outputShape(for: inputShape)
        guard output.count <= 8, output.allSatisfy({ $0 >= 0 }), let n = checkedProduct(output), n <= maxActivationCount else {
            throw AxonError.invalidArgument("\(prefix)\(layer.summary) would output an example of shape \(output)")
        }
        for (name, shape) in config.parameterShapes(for: inputShape) { out.append((prefix + name, shape)) }
        return output
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

extension Sequential {
    /// Writes this model (built) with its architecture to a safetensors file at
    /// `path`, atomically; `metadata` adds string entries to the header.
    public func save(to path: String, metadata: [String: String] = [:]) throws {
        try ModelFile.save(self, to: path, metadata: metadata)
    }

    /// Rebuilds the model saved at `path` (by `save(to:)`), validating the file first.
    public static func load(from path: String) throws -> Sequential {
        try ModelFile.load(from: path).model
    }
}
