/// Window settings shared by the pooling layers.
public struct PoolWindow: Sendable, Equatable {
    public var size: (height: Int, width: Int)
    public var stride: (height: Int, width: Int)
    public var padding: Padding

    public static func == (a: PoolWindow, b: PoolWindow) -> Bool {
        a.size == b.size && a.stride == b.stride && a.padding == b.padding
    }

    func validate(_ what: @autoclosure () -> String) throws {
        guard size.height > 0, size.width > 0, stride.height > 0, stride.width > 0 else {
            throw AxonError.invalidArgument("\(what()): pool size and stride must be > 0, got size \(size), stride \(stride)")
        }
    }

    func outputShape(for s: [Int], _ what: @autoclosure () -> String) throws -> [Int] {
        try validate(what())
        guard s.count == 3 else {
            throw AxonError.shapeMismatch("\(what()) input (height, width, channels)", expected: [-1, -1, -1], got: s)
        }
        let oh = try Kernels.outputSize(s[0], window: size.height, stride: stride.height, padding: padding)
        let ow = try Kernels.outputSize(s[1], window: size.width, stride: stride.width, padding: padding)
        return [oh, ow, s[2]]
    }

    func geometry(for x: Tensor, _ what: @autoclosure () -> String) throws -> Geometry2D {
        try validate(what())
        guard x.rank == 4 else {
            throw AxonError.shapeMismatch("\(what()) input", expected: [-1, -1, -1, -1], got: x.shape)
        }
        return Geometry2D(n: x.shape[0], h: x.shape[1], w: x.shape[2], c: x.shape[3], kh: size.height,
                          kw: size.width, sh: stride.height, sw: stride.width, padding: padding)
    }

    var description: String { "\(size.height)x\(size.width)/\(stride.height)x\(stride.width), \(padding)" }

    init(_ size: (Int, Int), _ stride: (Int, Int)?, _ padding: Padding) {
        self.size = size
        self.stride = stride ?? size
        self.padding = padding
    }
}

/// What the three pooling layers share: their window, the Keras-style
/// initialisers, the output shape and the checks before a backward pass.
public protocol PoolingLayer: Layer {
    var window: PoolWindow { get }
    init(window: PoolWindow)
}

extension PoolingLayer {
    /// `stride` defaults to `poolSize` (non-overlapping windows), as in Keras.
    public init(poolSize: Int = 2, stride: Int? = nil, padding: Padding = .valid) {
        self.init(window: PoolWindow((poolSize, poolSize), stride.map { ($0, $0) }, padding))
    }
    public init(poolSize: (Int, Int), stride: (Int, Int)? = nil, padding: Padding = .valid) {
        self.init(window: PoolWindow(poolSize, stride, padding))
    }

    public func outputShape(for inputShape: [Int]) throws -> [Int] { try window.outputShape(for: inputShape, summary) }

    /// Checks that a training forward pass came first and `dy` has the output's
    /// shape, then sizes `dx` like the input.
    func prepareBackward(_ dy: Tensor, output: Tensor, inputShape: [Int], dx: inout Tensor) throws {
        guard !inputShape.isEmpty else {
            throw AxonError.invalidArgument("\(summary): backward needs a preceding forward(training: true)")
        }
        try dy.expectShape(output.shape, "\(summary) output gradient")
        Tensor.reuse(&dx, shape: inputShape)
    }
}

/// Max pooling (spec §2.1): the first maximal in-bounds cell of each window.
public struct MaxPool2D: PoolingLayer {
    public let window: PoolWindow
    private var geometry = Geometry2D()
    private var output = Tensor.empty
    private var dx = Tensor.empty
    private var argmax: [Int32] = []
    private var inputShape: [Int] = []

    public init(window: PoolWindow) { self.window = window }

    public var isBuilt: Bool { true }
    public var summary: String { "MaxPool2D(\(window.description))" }
    public mutating func build(inputShape: [Int], generator: inout SeededGenerator) throws {
        _ = try outputShape(for: inputShape)
    }

    public mutating func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        geometry = try window.geometry(for: x, summary)
        let (oh, ow) = try Kernels.pool2dOutputShape(geometry)
        let shape = [geometry.n, oh, ow, geometry.c]
        Tensor.reuse(&output, shape: shape)
        if training {
            // Where each maximum came from, for the backward pass.
            let n = shape.reduce(1, *)
            if argmax.count != n { argmax = [Int32](repeating: -1, count: n) }
            try Kernels.maxPoolForward(geometry, x: x, y: &output, argmax: &argmax)
        } else {
            // No backward follows: without argmax, 2×2 stride-2 pools over few
            // channels take the kernel's whole-row form (the same maxima).
            try Kernels.maxPoolForward(geometry, x: x, y: &output)
        }
        inputShape = training ? x.shape : []
        return output
    }

    public mutating func backward(_ dy: Tensor) throws -> Tensor {
        try prepareBackward(dy, output: output, inputShape: inputShape, dx: &dx)
        try Kernels.poolRouteBackward(geometry, dy: dy, index: argmax, dx: &dx)
        return dx
    }
}

/// Average pooling (spec §2.2): the divisor counts in-bounds cells only.
public struct AvgPool2D: PoolingLayer {
    public let window: PoolWindow
    private var geometry = Geometry2D()
    private var output = Tensor.empty
    private var dx = Tensor.empty
    private var inputShape: [Int] = []

    public init(window: PoolWindow) { self.window = window }

    public var isBuilt: Bool { true }
    public var summary: String { "AvgPool2D(\(window.description))" }
    public mutating func build(inputShape: [Int], generator: inout SeededGenerator) throws {
        _ = try outputShape(for: inputShape)
    }

    public mutating func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        geometry = try window.geometry(for: x, summary)
        let (oh, ow) = try Kernels.pool2dOutputShape(geometry)
        Tensor.reuse(&output, shape: [geometry.n, oh, ow, geometry.c])
        try Kernels.avgPoolForward(geometry, x: x, y: &output)
        inputShape = training ? x.shape : []
        return output
    }

    public mutating func backward(_ dy: Tensor) throws -> Tensor {
        try prepareBackward(dy, output: output, inputShape: inputShape, dx: &dx)
        try Kernels.avgPoolBackward(geometry, dy: dy, dx: &dx)
        return dx
    }
}

/// Stochastic pooling (spec §3, Zeiler & Fergus): in training each window
/// outputs one of its activations sampled with probability ∝ activation, drawn
/// from the layer's counter-based stream (seeded at build); at inference the
/// probability-weighted mean Σa²/Σa. Expects non-negative input (after a ReLU).
public struct StochasticPool2D: PoolingLayer {
    public let window: PoolWindow
    /// Seed of the sampling stream and how many uniforms it has used.
    public private(set) var seed: UInt64 = 0
    public internal(set) var counter: UInt64 = 0
    private var seeded = false
    private var geometry = Geometry2D()
    private var output = Tensor.empty
    private var uniforms = Tensor.empty
    private var dx = Tensor.empty
    private var switches: [Int32] = []
    private var inputShape: [Int] = []

    public init(window: PoolWindow) { self.window = window }

    public var isBuilt: Bool { seeded }
    public var summary: String { "StochasticPool2D(\(window.description))" }
    public mutating func build(inputShape: [Int], generator: inout SeededGenerator) throws {
        _ = try outputShape(for: inputShape)
        seed = generator.next()
        counter = 0
        seeded = true
    }

    public mutating func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        try buildIfNeeded(for: x)
        geometry = try window.geometry(for: x, summary)
        let (oh, ow) = try Kernels.pool2dOutputShape(geometry)
        let shape = [geometry.n, oh, ow, geometry.c]
        Tensor.reuse(&output, shape: shape)
        if training {
            Tensor.reuse(&uniforms, shape: shape)
            try Kernels.randomUniform(seed: seed, counter: counter, into: &uniforms)
            counter &+= UInt64(uniforms.count)
            if switches.count != uniforms.count { switches = [Int32](repeating: -1, count: uniforms.count) }
            try Kernels.stochasticPoolTrain(geometry, x: x, u: uniforms, y: &output, switches: &switches)
            inputShape = x.shape
        } else {
            try Kernels.stochasticPoolInfer(geometry, x: x, y: &output)
            inputShape = []
        }
        return output
    }

    public mutating func backward(_ dy: Tensor) throws -> Tensor {
        try prepareBackward(dy, output: output, inputShape: inputShape, dx: &dx)
        try Kernels.poolRouteBackward(geometry, dy: dy, index: switches, dx: &dx)
        return dx
    }
}

extension PoolingLayer {
    public init(config c: LayerConfig) throws {
        self.init(window: PoolWindow(try c.pair("pool_size"), try c.pair("strides"), try c.value("padding")))
    }

    public func encode(into c: inout LayerConfig) throws {
        c.set("pool_size", [window.size.height, window.size.width])
        c.set("strides", [window.stride.height, window.stride.width])
        c.set("padding", window.padding)
    }
}

extension MaxPool2D: SerializableLayer { public static let kind = "MaxPool2D" }
extension AvgPool2D: SerializableLayer { public static let kind = "AvgPool2D" }
extension StochasticPool2D: SerializableLayer {
    public static let kind = "StochasticPool2D"
    public mutating func updateCounters(_ body: (String, inout UInt64) throws -> Void) rethrows {
        try body("counter", &counter)
    }
}
