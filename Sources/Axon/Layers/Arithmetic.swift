/// Elementwise products and quotients of computed tensors of one shape (ONNX's
/// Mul and Div between two computed values; Keras' `Multiply`).

/// The shape every input shares, or an error naming the layer.
func commonShape(_ shapes: [[Int]], _ what: String) throws -> [Int] {
    guard let first = shapes.first, shapes.allSatisfy({ $0 == first }) else {
        throw AxonError.invalidArgument("\(what): inputs must have one shape, got \(shapes)")
    }
    return first
}

/// The elementwise product of its inputs, which must have one shape (Keras' `Multiply`).
public struct Multiply: SerializableLayer {
    public static let kind = "Multiply"
    private var inputs: [Tensor] = []   // kept by a training forward for the backward pass

    public init() {}
    public init(config: LayerConfig) throws { self.init() }
    public func encode(into config: inout LayerConfig) throws {}

    public var isBuilt: Bool { true }
    public var summary: String { "Multiply()" }
    public var inputCount: ClosedRange<Int> { 1...Int.max }
    public mutating func build(inputShape: [Int], generator: inout SeededGenerator) throws {}
    public mutating func build(inputShapes: [[Int]], generator: inout SeededGenerator) throws { _ = try commonShape(inputShapes, summary) }
    public func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }
    public func outputShape(forInputs shapes: [[Int]]) throws -> [Int] { try commonShape(shapes, summary) }

    public mutating func forward(_ x: Tensor, training: Bool) throws -> Tensor { try forward(inputs: [x], training: training) }

    public mutating func forward(inputs xs: [Tensor], training: Bool) throws -> Tensor {
        let shape = try commonShape(xs.map(\.shape), summary)
        var product = xs[0].scalars
        for x in xs.dropFirst() { for (i, v) in x.scalars.enumerated() { product[i] *= v } }
        inputs = training ? xs : []
        return Tensor(uncheckedShape: shape, scalars: product)
    }

    public mutating func backward(_ dy: Tensor) throws -> Tensor { try backwardToInputs(dy, inputGradient: true)[0] }

    /// ∂L/∂x_k = dy · Π_{j≠k} x_j.
    public mutating func backwardToInputs(_ dy: Tensor, inputGradient: Bool) throws -> [Tensor] {
        guard let first = inputs.first else { throw AxonError.invalidArgument("\(summary): backward needs a preceding forward(training: true)") }
        try dy.expectShape(first.shape, "\(summary) output gradient")
        defer { inputs = [] }
        return inputs.indices.map { k in
            var g = dy.scalars
            for (j, x) in inputs.enumerated() where j != k { for (i, v) in x.scalars.enumerated() { g[i] *= v } }
            return Tensor(uncheckedShape: dy.shape, scalars: g)
        }
    }
}

/// a / b elementwise, for two inputs of one shape (IEEE division: b = 0 gives ±inf or NaN).
public struct Divide: SerializableLayer {
    public static let kind = "Divide"
    private var inputs: [Tensor] = []

    public init() {}
    public init(config: LayerConfig) throws { self.init() }
    public func encode(into config: inout LayerConfig) throws {}

    public var isBuilt: Bool { true }
    public var summary: String { "Divide()" }
    public var inputCount: ClosedRange<Int> { 2...2 }
    public mutating func build(inputShape: [Int], generator: inout SeededGenerator) throws {
        throw AxonError.invalidArgument("\(summary) takes two inputs")
    }
    public mutating func build(inputShapes: [[Int]], generator: inout SeededGenerator) throws { _ = try outputShape(forInputs: inputShapes) }
    public func outputShape(for inputShape: [Int]) throws -> [Int] { try outputShape(forInputs: [inputShape]) }
    public func outputShape(forInputs shapes: [[Int]]) throws -> [Int] {
        guard shapes.count == 2 else { throw AxonError.invalidArgument("\(summary) takes two inputs, got \(shapes.count)") }
        return try commonShape(shapes, summary)
    }

    public mutating func forward(_ x: Tensor, training: Bool) throws -> Tensor { try forward(inputs: [x], training: training) }

    public mutating func forward(inputs xs: [Tensor], training: Bool) throws -> Tensor {
        let shape = try outputShape(forInputs: xs.map(\.shape))
        let (a, b) = (xs[0].scalars, xs[1].scalars)
        inputs = training ? xs : []
        return Tensor(uncheckedShape: shape, scalars: a.indices.map { a[$0] / b[$0] })
    }

    public mutating func backward(_ dy: Tensor) throws -> Tensor { try backwardToInputs(dy, inputGradient: true)[0] }

    /// ∂L/∂a = dy / b, ∂L/∂b = −dy · a / b².
    public mutating func backwardToInputs(_ dy: Tensor, inputGradient: Bool) throws -> [Tensor] {
        guard inputs.count == 2 else { throw AxonError.invalidArgument("\(summary): backward needs a preceding forward(training: true)") }
        try dy.expectShape(inputs[0].shape, "\(summary) output gradient")
        defer { inputs = [] }
        let (a, b, g) = (inputs[0].scalars, inputs[1].scalars, dy.scalars)
        return [Tensor(uncheckedShape: dy.shape, scalars: g.indices.map { g[$0] / b[$0] }),
                Tensor(uncheckedShape: dy.shape, scalars: g.indices.map { -g[$0] * a[$0] / (b[$0] * b[$0]) })]
    }
}
