import Foundation

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

/// log(softmax(x)) over the last axis, computed as x − max − log Σ exp(x − max)
/// so that it stays finite where softmax underflows (ONNX's LogSoftmax).
public struct LogSoftmax: ArgumentlessLayer {
    public static let kind = "LogSoftmax"
    private var output = Tensor.empty
    private var dx = Tensor.empty
    private var ready = false
    public init() {}
    public var isBuilt: Bool { true }
    public var summary: String { "LogSoftmax()" }
    public mutating func build(inputShape: [Int], generator: inout SeededGenerator) throws {}
    public func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }

    public mutating func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        guard let cols = x.shape.last, cols > 0 else {
            throw AxonError.shapeMismatch("LogSoftmax input", expected: [-1, -1], got: x.shape)
        }
        Tensor.reuse(&output, shape: x.shape)
        x.withUnsafeBufferPointer { src in
            output.withUnsafeMutableBufferPointer { dst in
                for r in 0..<(src.count / cols) {
                    let row = r * cols
                    var m = -Float.infinity
                    for j in 0..<cols { m = max(m, src[row + j]) }
                    var s: Float = 0
                    for j in 0..<cols { s += exp(src[row + j] - m) }
                    let shift = m + log(s)
                    for j in 0..<cols { dst[row + j] = src[row + j] - shift }
                }
            }
        }
        ready = training
        return output
    }

    /// dx = dy − softmax(x) · Σ dy, row by row.
    public mutating func backward(_ dy: Tensor) throws -> Tensor {
        guard ready else { throw AxonError.invalidArgument("LogSoftmax: backward needs a preceding forward(training: true)") }
        try dy.expectShape(output.shape, "LogSoftmax output gradient")
        let cols = output.shape.last!
        Tensor.reuse(&dx, shape: dy.shape)
        output.withUnsafeBufferPointer { y in
            dy.withUnsafeBufferPointer { g in
                dx.withUnsafeMutableBufferPointer { d in
                    for r in 0..<(g.count / cols) {
                        let row = r * cols
                        var s: Float = 0
                        for j in 0..<cols { s += g[row + j] }
                        for j in 0..<cols { d[row + j] = g[row + j] - exp(y[row + j]) * s }
                    }
                }
            }
        }
        return dx
    }
}

/// min(max(x, lower), upper), either bound optional (ONNX's Clip; with
/// lower > upper every output is `upper`, as ONNX defines). The gradient passes
/// where x lies strictly inside the bounds.
public struct Clip: SerializableLayer {
    public static let kind = "Clip"
    public let lower: Float?
    public let upper: Float?
    private var input = Tensor.empty
    private var output = Tensor.empty
    private var dx = Tensor.empty
    private var ready = false

    public init(lower: Float? = nil, upper: Float? = nil) { (self.lower, self.upper) = (lower, upper) }
    public init(config c: LayerConfig) throws {
        self.init(lower: c.has("lower") ? try c.float("lower") : nil, upper: c.has("upper") ? try c.float("upper") : nil)
    }
    public func encode(into c: inout LayerConfig) throws {
        c.set("lower", lower)
        c.set("upper", upper)
    }

    public var isBuilt: Bool { true }
    public var summary: String { "Clip(\(lower.map { "\($0)" } ?? "-inf")...\(upper.map { "\($0)" } ?? "inf"))" }
    public mutating func build(inputShape: [Int], generator: inout SeededGenerator) throws {}
    public func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }

    public mutating func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        let lo = lower ?? -.infinity, hi = upper ?? .infinity
        Tensor.reuse(&output, shape: x.shape)
        x.withUnsafeBufferPointer { src in
            output.withUnsafeMutableBufferPointer { dst in
                for i in 0..<src.count { dst[i] = Swift.min(Swift.max(src[i], lo), hi) }
            }
        }
        input = training ? x : .empty
        ready = training
        return output
    }

    public mutating func backward(_ dy: Tensor) throws -> Tensor {
        guard ready else { throw AxonError.invalidArgument("Clip: backward needs a preceding forward(training: true)") }
        try dy.expectShape(input.shape, "Clip output gradient")
        let lo = lower ?? -.infinity, hi = upper ?? .infinity
        Tensor.reuse(&dx, shape: dy.shape)
        input.withUnsafeBufferPointer { x in
            dy.withUnsafeBufferPointer { g in
                dx.withUnsafeMutableBufferPointer { d in
                    for i in 0..<g.count { d[i] = x[i] > lo && x[i] < hi ? g[i] : 0 }
                }
            }
        }
        input = .empty
        ready = false
        return dx
    }
}
