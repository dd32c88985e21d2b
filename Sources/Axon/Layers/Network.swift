/// A whole network: what a model file holds at its top level and what
/// `axon inspect` draws. `Sequential` and `Graph` are networks; both are
/// layers too, so either nests inside the other.
public protocol Network: SerializableLayer {
    /// Seed of the initialisation (and of the dropout/pooling streams).
    var seed: UInt64 { get }
    /// Shape of one example of each input, known once built.
    var inputShapes: [[Int]]? { get }
    /// Sizes every layer for examples of `inputShapes` (one per input) and
    /// initialises the parameters of the layers not built yet from `seed`.
    mutating func build(inputShapes: [[Int]]) throws
    /// `tensorShapes(for:)` for every input's example shape.
    func tensorShapes(forInputs inputShapes: [[Int]]) throws -> [(name: String, shape: [Int])]
    /// The layer that makes the (first) output: the last of a chain, an output node's.
    var outputLayer: (any Layer)? { get }
    /// One row per layer (Sequential) or node (Graph), for examples of `inputShapes`.
    func summaryRows(for inputShapes: [[Int]]) throws -> [NetworkSummaryRow]
    /// A copy for inference in which every BatchNorm that directly follows a
    /// convolution or dense layer is folded into its weights and bias, and an
    /// activation layer after it into its fused activation (outputs equal within float rounding).
    func foldedForInference() throws -> Self
}

/// One row of `axon inspect`'s table.
public struct NetworkSummaryRow: Sendable {
    public var name: String
    public var layer: String
    /// Names of the rows (or inputs) this one reads; empty for a chain.
    public var inputs: [String]
    public var outputShape: [Int]
    /// Trainable and non-trainable scalars.
    public var parameters: Int
    public var state: Int
}

extension Network {
    /// Shape of one example of the first input, known once built.
    public var inputShape: [Int]? { inputShapes?.first }

    /// Forward pass at inference (dropout off, stochastic pooling weighted, BatchNorm's moving statistics).
    public mutating func callAsFunction(_ x: Tensor) throws -> Tensor { try forward(x, training: false) }

    /// Whether the network ends in a Softmax layer, so it outputs probabilities, not logits.
    public var outputsProbabilities: Bool {
        guard let last = outputLayer else { return false }
        if let inner = last as? any Network { return inner.outputsProbabilities }
        return last is Softmax
    }

    /// Writes this network (built) with its architecture to a safetensors file at
    /// `path`, atomically; `metadata` adds string entries to the header.
    public func save(to path: String, metadata: [String: String] = [:]) throws {
        try ModelFile.save(self, to: path, metadata: metadata)
    }

    /// Rebuilds the network saved at `path` (by `save(to:)`), validating the file first.
    public static func load(from path: String) throws -> Self {
        let loaded = try ModelFile.load(from: path)
        guard let model = loaded.model as? Self else {
            throw AxonError.file(path: path, "holds a \(type(of: loaded.model).kind), not a \(Self.kind)")
        }
        return model
    }
}

/// Building children, and name-prefixing of the per-tensor visitors, shared by the containers.
extension Layer {
    /// Builds the layer for `inputShapes` unless it is built already, and returns its output shape.
    ///
    /// A built layer (taken from a trained or loaded network) keeps everything it
    /// holds: parameters, state, and random streams (the seed and counter that
    /// Dropout and StochasticPool2D drew at their own build). It draws nothing
    /// from `generator` and is only checked to accept `inputShapes`. So layers
    /// not built yet get other initial values than they would in an all-new
    /// network with the same seed; a network of fresh layers is unchanged.
    /// A nested network is always built: its own build keeps its built layers
    /// and records the new input shapes.
    mutating func buildKeepingParameters(inputShapes: [[Int]], generator: inout SeededGenerator) throws -> [Int] {
        if !isBuilt || self is any Network { try build(inputShapes: inputShapes, generator: &generator) }
        return try outputShape(forInputs: inputShapes)
    }

    mutating func updateParameters(prefix: String, _ body: (String, inout Tensor, inout Tensor) throws -> Void) rethrows {
        try updateParameters { name, value, gradient in try body(prefix + name, &value, &gradient) }
    }
    mutating func updateState(prefix: String, _ body: (String, inout Tensor) throws -> Void) rethrows {
        try updateState { name, value in try body(prefix + name, &value) }
    }
    mutating func updateCounters(prefix: String, _ body: (String, inout UInt64) throws -> Void) rethrows {
        try updateCounters { name, value in try body(prefix + name, &value) }
    }

    /// `tensorShapes(for:)` with `prefix` on every name, plus a bound on the
    /// layer's output size (a model file must not make Axon allocate without
    /// limit) and a refusal of empty outputs.
    func checkedTensorShapes(for inputShape: [Int], prefix: String) throws -> (tensors: [(name: String, shape: [Int])], output: [Int]) {
        let output = try outputShape(for: inputShape)
        guard output.count <= 8, output.allSatisfy({ $0 >= 0 }), ModelFile.checkedProduct(output) != nil else {
            throw AxonError.invalidArgument("\(prefix)\(summary) would output an example of shape \(output)")
        }
        // An empty output (a kernel larger than its VALID input) leaves later layers and every command nothing to work on.
        guard !output.contains(0) else {
            throw AxonError.invalidArgument("\(prefix)\(summary) would output an empty example of shape \(output) for input \(inputShape)")
        }
        return (try tensorShapes(for: inputShape).map { (prefix + $0.name, $0.shape) }, output)
    }
}
