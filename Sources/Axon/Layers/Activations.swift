/// The shared body of the elementwise activation layers (their output, kept for the backward pass).
public struct ElementwiseActivation: Sendable {
    let activation: Activation
    var output = Tensor.empty
    var dx = Tensor.empty
    var ready = false

    public init(activation: Activation) { self.activation = activation }

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

/// A layer whose configuration is empty: it serializes as its kind alone.
public protocol ArgumentlessLayer: SerializableLayer {
    init()
}

extension ArgumentlessLayer {
    public init(config: LayerConfig) throws { self.init() }
    public func encode(into config: inout LayerConfig) throws {}
}

/// An elementwise activation as its own layer; a convolution or dense layer
/// right before it can take it as its fused `activation` instead.
public protocol ActivationLayer: ArgumentlessLayer {
    static var activation: Activation { get }
    var core: ElementwiseActivation { get set }
}

extension ActivationLayer {
    public var isBuilt: Bool { true }
    public var summary: String { "\(Self.kind)()" }
    public mutating func build(inputShape: [Int], generator: inout SeededGenerator) throws {}
    public func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }
    public mutating func forward(_ x: Tensor, training: Bool) throws -> Tensor { try core.forward(x, training: training) }
    public mutating func backward(_ dy: Tensor) throws -> Tensor { try core.backward(dy, summary) }
}

/// max(x, 0), with relu'(0) = 0.
public struct ReLU: ActivationLayer {
    public static let kind = "ReLU", activation = Activation.relu
    public var core = ElementwiseActivation(activation: .relu)
    public init() {}
}

/// min(max(x, 0), 6) (MobileNet, EfficientNet-Lite); the derivative is 1 strictly between 0 and 6.
public struct ReLU6: ActivationLayer {
    public static let kind = "ReLU6", activation = Activation.relu6
    public var core = ElementwiseActivation(activation: .relu6)
    public init() {}
}

/// The logistic function 1/(1 + e^−x).
public struct Sigmoid: ActivationLayer {
    public static let kind = "Sigmoid", activation = Activation.sigmoid
    public var core = ElementwiseActivation(activation: .sigmoid)
    public init() {}
}

/// tanh x.
public struct Tanh: ActivationLayer {
    public static let kind = "Tanh", activation = Activation.tanh
    public var core = ElementwiseActivation(activation: .tanh)
    public init() {}
}

/// Stable softmax over the last axis. To train a classifier, end the network
/// with logits and use `Loss.softmaxCrossEntropy` instead, which is fused and exact.
public struct Softmax: ArgumentlessLayer {
    public static let kind = "Softmax"
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
