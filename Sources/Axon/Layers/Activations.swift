/// The shared body of the elementwise activation layers.
struct ElementwiseActivation {
    let activation: Activation
    var output = Tensor.empty
    var dx = Tensor.empty
    var ready = false

    mutating func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        Tensor.reuse(&output, shape: x.shape)
        try Kernels.activationForward(activation, x: x, y: &output)
        ready = training
        return output
    }

    mutating func backward(_ dy: Tensor, _ what: String) throws -> Tensor {
        guard ready else { throw AxonError.invalidArgument("\(what): backward needs a preceding forward(training: true)") }
        try dy.expectShape(output.shape, "\(what) output gradient")
        Tensor.reuse(&dx, shape: dy.shape)
        try Kernels.activationBackward(activation, y: output, dy: dy, dx: &dx)
        return dx
    }
}

/// max(x, 0), with relu'(0) = 0.
public struct ReLU: Layer {
    private var core = ElementwiseActivation(activation: .relu)
    public init() {}
    public var isBuilt: Bool { true }
    public var summary: String { "ReLU()" }
    public mutating func build(inputShape: [Int], generator: inout SeededGenerator) throws {}
    public func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }
    public mutating func forward(_ x: Tensor, training: Bool) throws -> Tensor { try core.forward(x, training: training) }
    public mutating func backward(_ dy: Tensor) throws -> Tensor { try core.backward(dy, summary) }
}

/// The logistic function 1/(1 + e^−x).
public struct Sigmoid: Layer {
    private var core = ElementwiseActivation(activation: .sigmoid)
    public init() {}
    public var isBuilt: Bool { true }
    public var summary: String { "Sigmoid()" }
    public mutating func build(inputShape: [Int], generator: inout SeededGenerator) throws {}
    public func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }
    public mutating func forward(_ x: Tensor, training: Bool) throws -> Tensor { try core.forward(x, training: training) }
    public mutating func backward(_ dy: Tensor) throws -> Tensor { try core.backward(dy, summary) }
}

/// tanh x.
public struct Tanh: Layer {
    private var core = ElementwiseActivation(activation: .tanh)
    public init() {}
    public var isBuilt: Bool { true }
    public var summary: String { "Tanh()" }
    public mutating func build(inputShape: [Int], generator: inout SeededGenerator) throws {}
    public func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }
    public mutating func forward(_ x: Tensor, training: Bool) throws -> Tensor { try core.forward(x, training: training) }
    public mutating func backward(_ dy: Tensor) throws -> Tensor { try core.backward(dy, summary) }
}

/// Stable softmax over the last axis. To train a classifier, end the network
/// with logits and use `Loss.softmaxCrossEntropy` instead, which is fused and exact.
public struct Softmax: Layer {
    private var output = Tensor.empty
    private var dx = Tensor.empty
    private var ready = false
    public init() {}
    public var isBuilt: Bool { true }
    public var summary: String { "Softmax()" }
    public mutating func build(inputShape: [Int], generator: inout SeededGenerator) throws {}
    public func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }

    public mutating func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        guard let cols = x.shape.last, cols > 0 else {
            throw AxonError.shapeMismatch("Softmax input", expected: [-1, -1], got: x.shape)
        }
        Tensor.reuse(&output, shape: x.shape)
        try Kernels.softmaxForward(rows: x.count / cols, cols: cols, x: x, y: &output)
        ready = training
        return output
    }

    public mutating func backward(_ dy: Tensor) throws -> Tensor {
        guard ready else { throw AxonError.invalidArgument("Softmax: backward needs a preceding forward(training: true)") }
        try dy.expectShape(output.shape, "Softmax output gradient")
        let cols = output.shape.last!
        Tensor.reuse(&dx, shape: dy.shape)
        try Kernels.softmaxBackward(rows: dy.count / cols, cols: cols, y: output, dy: dy, dx: &dx)
        return dx
    }
}
