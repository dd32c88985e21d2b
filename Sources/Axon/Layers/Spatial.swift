/// The mean over height and width of each channel: [N, H, W, C] → [N, C]
/// (Keras' `GlobalAveragePooling2D`).
public struct GlobalAveragePool2D: ArgumentlessLayer {
    public static let kind = "GlobalAveragePool2D"
    private var inputShape: [Int] = []
    private var output = Tensor.empty
    private var dx = Tensor.empty

    public init() {}
    public var isBuilt: Bool { true }
    public var summary: String { "GlobalAveragePool2D()" }
    public mutating func build(inputShape: [Int], generator: inout SeededGenerator) throws { _ = try outputShape(for: inputShape) }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == 3, inputShape[0] > 0, inputShape[1] > 0 else {
            throw AxonError.shapeMismatch("GlobalAveragePool2D input (height, width, channels)", expected: [-1, -1, -1], got: inputShape)
        }
        return [inputShape[2]]
    }

    public mutating func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        guard x.rank == 4 else { throw AxonError.shapeMismatch("GlobalAveragePool2D input", expected: [-1, -1, -1, -1], got: x.shape) }
        _ = try outputShape(for: x.exampleShape)
        Tensor.reuse(&output, shape: [x.shape[0], x.shape[3]])
        try Kernels.globalAvgPoolForward(n: x.shape[0], hw: x.shape[1] * x.shape[2], c: x.shape[3], x: x, y: &output)
        inputShape = training ? x.shape : []
        return output
    }

    public mutating func backward(_ dy: Tensor) throws -> Tensor {
        guard inputShape.count == 4 else {
            throw AxonError.invalidArgument("GlobalAveragePool2D: backward needs a preceding forward(training: true)")
        }
        try dy.expectShape(output.shape, "GlobalAveragePool2D output gradient")
        Tensor.reuse(&dx, shape: inputShape)
        try Kernels.globalAvgPoolBackward(n: inputShape[0], hw: inputShape[1] * inputShape[2], c: inputShape[3], dy: dy, dx: &dx)
        inputShape = []
        return dx
    }
}

/// Zeros around each image: [N, H, W, C] → [N, top + H + bottom, left + W + right, C]
/// (Keras' `ZeroPadding2D`).
public struct ZeroPadding2D: SerializableLayer {
    public static let kind = "ZeroPadding2D"
    public let top: Int, bottom: Int, left: Int, right: Int
    private var inputShape: [Int] = []
    private var output = Tensor.empty
    private var dx = Tensor.empty

    public init(top: Int, bottom: Int, left: Int, right: Int) {
        (self.top, self.bottom, self.left, self.right) = (top, bottom, left, right)
    }
    /// The same padding on every side.
    public init(_ padding: Int) { self.init(top: padding, bottom: padding, left: padding, right: padding) }

    public var isBuilt: Bool { true }
    public var summary: String { "ZeroPadding2D(top \(top), bottom \(bottom), left \(left), right \(right))" }
    public mutating func build(inputShape: [Int], generator: inout SeededGenerator) throws { _ = try outputShape(for: inputShape) }

    public func outputShape(for s: [Int]) throws -> [Int] {
        guard top >= 0, bottom >= 0, left >= 0, right >= 0 else {
            throw AxonError.invalidArgument("\(summary): padding must be >= 0")
        }
        guard s.count == 3 else {
            throw AxonError.shapeMismatch("ZeroPadding2D input (height, width, channels)", expected: [-1, -1, -1], got: s)
        }
        return [s[0] + top + bottom, s[1] + left + right, s[2]]
    }

    public mutating func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        guard x.rank == 4 else { throw AxonError.shapeMismatch("ZeroPadding2D input", expected: [-1, -1, -1, -1], got: x.shape) }
        Tensor.reuse(&output, shape: [x.shape[0]] + (try outputShape(for: x.exampleShape)))
        try Kernels.pad2dForward(x.shape, top: top, bottom: bottom, left: left, right: right, x: x, y: &output)
        inputShape = training ? x.shape : []
        return output
    }

    public mutating func backward(_ dy: Tensor) throws -> Tensor {
        guard inputShape.count == 4 else {
            throw AxonError.invalidArgument("ZeroPadding2D: backward needs a preceding forward(training: true)")
        }
        try dy.expectShape(output.shape, "ZeroPadding2D output gradient")
        Tensor.reuse(&dx, shape: inputShape)
        try Kernels.pad2dBackward(inputShape, top: top, bottom: bottom, left: left, right: right, dy: dy, dx: &dx)
        inputShape = []
        return dx
    }

    public init(config c: LayerConfig) throws {
        let p = try c.ints("padding", length: 4, in: 0...LayerConfig.maxDimension)
        self.init(top: p[0], bottom: p[1], left: p[2], right: p[3])
    }

    /// "padding": [top, bottom, left, right].
    public func encode(into c: inout LayerConfig) throws { c.set("padding", [top, bottom, left, right]) }
}
