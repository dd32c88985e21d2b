/// Collects the layers written inside `Sequential { ... }`: one per line or
/// `;`-separated, with `if`, `if/else` and `for` allowed.
@resultBuilder
public enum LayerBuilder {
    public static func buildExpression(_ layer: any Layer) -> [any Layer] { [layer] }
    public static func buildExpression(_ layers: [any Layer]) -> [any Layer] { layers }
    public static func buildBlock(_ parts: [any Layer]...) -> [any Layer] { parts.flatMap { $0 } }
    public static func buildOptional(_ part: [any Layer]?) -> [any Layer] { part ?? [] }
    public static func buildEither(first: [any Layer]) -> [any Layer] { first }
    public static func buildEither(second: [any Layer]) -> [any Layer] { second }
    public static func buildArray(_ parts: [[any Layer]]) -> [any Layer] { parts.flatMap { $0 } }
}

/// A chain of layers, itself a `Layer`.
///
/// Parameters are named "layers.<index>.<name>" (e.g. "layers.0.kernel").
/// The first `forward` (or an explicit `build(inputShape:)`) sizes every layer
/// and initialises its parameters from one `SeededGenerator(seed:)`, in layer
/// order, so the same seed always gives the same weights. Layers that are
/// built already keep their parameters (and random streams), so
/// `Sequential(layers: loaded.layers)` runs the trained layers; they are only
/// checked to accept their input shapes.
public struct Sequential: Network {
    public var layers: [any Layer]
    /// Seed of the initialisation (and of the dropout/pooling streams).
    public let seed: UInt64
    /// Shape of one input example, known once built.
    public private(set) var inputShape: [Int]?
    public var inputShapes: [[Int]]? { inputShape.map { [$0] } }

    public init(seed: UInt64 = 42, @LayerBuilder _ layers: () -> [any Layer]) {
        self.init(seed: seed, layers: layers())
    }

    public init(seed: UInt64 = 42, layers: [any Layer]) {
        self.layers = layers
        self.seed = seed
    }

    public var isBuilt: Bool { inputShape != nil }
    public var summary: String { "Sequential(\(layers.count) layers)" }

    /// Sizes every layer for examples of `inputShape` (e.g. [28, 28, 1]) and
    /// initialises the parameters of the layers not built yet from `seed`.
    public mutating func build(inputShape: [Int]) throws {
        var g = SeededGenerator(seed: seed)
        try build(inputShape: inputShape, generator: &g)
    }

    public mutating func build(inputShapes: [[Int]]) throws {
        guard inputShapes.count == 1 else {
            throw AxonError.invalidArgument("Sequential has one input, got \(inputShapes.count) input shapes")
        }
        try build(inputShape: inputShapes[0])
    }

    public mutating func build(inputShape: [Int], generator: inout SeededGenerator) throws {
        var shape = inputShape
        for i in layers.indices {
            do {
                shape = try layers[i].buildKeepingParameters(inputShapes: [shape], generator: &generator)
            } catch let error as AxonError {
                throw AxonError.invalidArgument("layer \(i) \(layers[i].summary): \(error)")
            }
        }
        self.inputShape = inputShape
    }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        var shape = inputShape
        for layer in layers { shape = try layer.outputShape(for: shape) }
        return shape
    }

    /// Output shape of every layer for examples of `inputShape`.
    public func shapes(for inputShape: [Int]) throws -> [[Int]] {
        var shape = inputShape
        return try layers.map { shape = try $0.outputShape(for: shape); return shape }
    }

    /// Builds the layers on the first input, then checks every input's example shape.
    private mutating func prepare(for x: Tensor) throws {
        if inputShape == nil {
            guard x.rank >= 1 else {
                throw AxonError.invalidArgument("Sequential: input needs a batch axis, got shape \(x.shape)")
            }
            try build(inputShape: x.exampleShape)
        }
        if let expected = inputShape, x.exampleShape != expected {
            throw AxonError.shapeMismatch("Sequential input", expected: [x.shape.first ?? -1] + expected, got: x.shape)
        }
    }

    public mutating func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        try prepare(for: x)
        var y = x
        for i in layers.indices { y = try layers[i].forward(y, training: training) }
        return y
    }

    /// Inference forward pass that returns every layer's output, in layer order
    /// (the last one is the model's output): for looking inside the network.
    public mutating func forwardCollecting(_ x: Tensor) throws -> [Tensor] {
        try prepare(for: x)
        var outputs: [Tensor] = []
        var y = x
        for i in layers.indices {
            y = try layers[i].forward(y, training: false)
            outputs.append(y)
        }
        return outputs
    }

    public var outputLayer: (any Layer)? { layers.last }

    public mutating func backward(_ dy: Tensor) throws -> Tensor { try backward(dy, inputGradient: true) }

    public mutating func backward(_ dy: Tensor, inputGradient: Bool) throws -> Tensor {
        try backward(dy, inputGradient: inputGradient, update: nil)
    }

    /// Each layer's parameters are updated in or right after its own backward
    /// pass (names prefixed as in `updateParameters`).
    public mutating func backward(_ dy: Tensor, inputGradient: Bool, update: ParameterUpdate) throws -> Tensor {
        try backward(dy, inputGradient: inputGradient, update: .some(update))
    }

    private mutating func backward(_ dy: Tensor, inputGradient: Bool, update: ParameterUpdate?) throws -> Tensor {
        // A layer needs its input gradient only if some earlier layer has
        // parameters (or the caller asked): so after parameterless front layers
        // (Reshape before an LSTM, Flatten) the first trainable layer skips it.
        var first = layers.count
        if !inputGradient {
            first = layers.firstIndex { !$0.parameterNames.isEmpty } ?? layers.count
        }
        var g = dy
        for i in layers.indices.reversed() {
            if !inputGradient && i < first { return .empty }
            let wants = inputGradient || i > first
            if let update {
                g = try layers[i].backward(g, inputGradient: wants, update: update.prefixed("layers.\(i)."))
            } else {
                g = try layers[i].backward(g, inputGradient: wants)
            }
        }
        return g
    }

    public var parameterNames: [String] {
        layers.enumerated().flatMap { i, l in l.parameterNames.map { "layers.\(i).\($0)" } }
    }

    public mutating func updateParameters(_ body: (String, inout Tensor, inout Tensor) throws -> Void) rethrows {
        for i in layers.indices { try layers[i].updateParameters(prefix: "layers.\(i).", body) }
    }

    public mutating func updateState(_ body: (String, inout Tensor) throws -> Void) rethrows {
        for i in layers.indices { try layers[i].updateState(prefix: "layers.\(i).", body) }
    }

    public mutating func updateCounters(_ body: (String, inout UInt64) throws -> Void) rethrows {
        for i in layers.indices { try layers[i].updateCounters(prefix: "layers.\(i).", body) }
    }

    public func tensorShapes(forInputs inputShapes: [[Int]]) throws -> [(name: String, shape: [Int])] {
        guard inputShapes.count == 1 else {
            throw AxonError.invalidArgument("Sequential has one input, got \(inputShapes.count) input shapes")
        }
        return try tensorShapes(for: inputShapes[0])
    }

    public func tensorShapes(for inputShape: [Int]) throws -> [(name: String, shape: [Int])] {
        var shape = inputShape
        var out: [(name: String, shape: [Int])] = []
        for (i, layer) in layers.enumerated() {
            let r = try layer.checkedTensorShapes(for: shape, prefix: "layers.\(i).")
            out += r.tensors
            shape = r.output
        }
        return out
    }

    public func summaryRows(for inputShapes: [[Int]]) throws -> [NetworkSummaryRow] {
        guard inputShapes.count == 1 else {
            throw AxonError.invalidArgument("Sequential has one input, got \(inputShapes.count) input shapes")
        }
        var shape = inputShapes[0]
        var rows: [NetworkSummaryRow] = []
        for (i, layer) in layers.enumerated() {
            let shapes = try layer.tensorShapes(for: shape)
            let trainable = Set(layer.parameterNames)
            let counts = shapes.map { (trainable.contains($0.name), $0.shape.reduce(1, *)) }
            shape = try layer.outputShape(for: shape)
            rows.append(NetworkSummaryRow(name: String(i), layer: layer.summary, inputs: [], outputShape: shape,
                                          parameters: counts.filter(\.0).reduce(0) { $0 + $1.1 },
                                          state: counts.filter { !$0.0 }.reduce(0) { $0 + $1.1 }))
        }
        return rows
    }

    public func foldedForInference() throws -> Sequential {
        var copy = self
        copy.layers = try BatchNormFolding.fold(layers)
        return copy
    }
}

extension Sequential {
    public static let kind = "Sequential"

    public init(config c: LayerConfig) throws {
        let children = try c.configs("layers")
        self.init(seed: try c.uint64("seed", default: 42), layers: try children.enumerated().map { i, child in
            try child.makeLayer(path: "layers.\(i)")
        })
    }

    public func encode(into c: inout LayerConfig) throws {
        c.set("seed", seed)
        c.set("layers", try layers.map { try LayerConfig($0) })
        c.set("input_shape", inputShape)
    }
}
