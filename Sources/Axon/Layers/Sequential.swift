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
/// order, so the same seed always gives the same weights.
public struct Sequential: Layer {
    public var layers: [any Layer]
    /// Seed of the initialisation (and of the dropout/pooling streams).
    public let seed: UInt64
    /// Shape of one input example, known once built.
    public private(set) var inputShape: [Int]?

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
    /// initialises the parameters from `seed`.
    public mutating func build(inputShape: [Int]) throws {
        var g = SeededGenerator(seed: seed)
        try build(inputShape: inputShape, generator: &g)
    }

    public mutating func build(inputShape: [Int], generator: inout SeededGenerator) throws {
        var shape = inputShape
        for i in layers.indices {
            do {
                try layers[i].build(inputShape: shape, generator: &generator)
                shape = try layers[i].outputShape(for: shape)
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

    /// Forward pass at inference (dropout off, stochastic pooling weighted).
    public mutating func callAsFunction(_ x: Tensor) throws -> Tensor { try forward(x, training: false) }

    public mutating func backward(_ dy: Tensor) throws -> Tensor { try backward(dy, inputGradient: true) }

    public mutating func backward(_ dy: Tensor, inputGradient: Bool) throws -> Tensor {
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
            g = try layers[i].backward(g, inputGradient: inputGradient || i > first)
        }
        return g
    }

    public var parameterNames: [String] {
        layers.enumerated().flatMap { i, l in l.parameterNames.map { "layers.\(i).\($0)" } }
    }

    public mutating func updateParameters(_ body: (String, inout Tensor, inout Tensor) throws -> Void) rethrows {
        for i in layers.indices {
            let prefix = "layers.\(i)."
            try layers[i].updateParameters { name, value, gradient in try body(prefix + name, &value, &gradient) }
        }
    }

    /// One line per layer with its output shape and parameter count.
    public func describe(inputShape: [Int]) throws -> String {
        var lines: [String] = []
        var shape = inputShape
        for (i, layer) in layers.enumerated() {
            shape = try layer.outputShape(for: shape)
            lines.append("\(i)\t\(layer.summary)\t\(shape)\t\(layer.isBuilt ? layer.parameterCount : 0)")
        }
        return lines.joined(separator: "\n")
    }
}
