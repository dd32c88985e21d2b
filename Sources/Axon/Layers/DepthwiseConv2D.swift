/// Depthwise 2-D convolution, depth multiplier 1 (Keras' `DepthwiseConv2D`, as
/// MobileNet and EfficientNet use it): each input channel is convolved with its
/// own kh×kw filter. Parameters "kernel" [kh, kw, c, 1] (TensorFlow's layout)
/// and "bias" [c] (none with `useBias: false`); fused activation.
public struct DepthwiseConv2D: SerializableLayer {
    public static let kind = "DepthwiseConv2D"
    public let kernelSize: (height: Int, width: Int)
    public let strides: (height: Int, width: Int)
    public let padding: Padding
    public let activation: Activation
    public let useBias: Bool
    public let kernelInitializer: Initializer
    public let biasInitializer: Initializer
    public private(set) var channels = 0
    public private(set) var kernel = Tensor.empty
    public private(set) var bias = Tensor.empty
    public private(set) var kernelGradient = Tensor.empty
    public private(set) var biasGradient = Tensor.empty

    private var geometry = Geometry2D()
    private var input = Tensor.empty
    private var output = Tensor.empty
    private var dz = Tensor.empty
    private var dx = Tensor.empty

    public init(kernelSize: (Int, Int), strides: (Int, Int) = (1, 1), padding: Padding = .valid,
                activation: Activation = .linear, useBias: Bool = true, kernelInitializer: Initializer = .glorotUniform,
                biasInitializer: Initializer = .zeros) {
        self.kernelSize = kernelSize
        self.strides = strides
        self.padding = padding
        self.activation = activation
        self.useBias = useBias
        self.kernelInitializer = kernelInitializer
        self.biasInitializer = biasInitializer
    }

    public init(kernelSize: Int, strides: Int = 1, padding: Padding = .valid, activation: Activation = .linear,
                useBias: Bool = true, kernelInitializer: Initializer = .glorotUniform, biasInitializer: Initializer = .zeros) {
        self.init(kernelSize: (kernelSize, kernelSize), strides: (strides, strides), padding: padding,
                  activation: activation, useBias: useBias, kernelInitializer: kernelInitializer,
                  biasInitializer: biasInitializer)
    }

    public var isBuilt: Bool { channels > 0 }
    public var parameterNames: [String] { useBias ? ["kernel", "bias"] : ["kernel"] }
    public var summary: String {
        "DepthwiseConv2D(\(kernelSize.height)x\(kernelSize.width)/\(strides.height)x\(strides.width), \(padding), \(activation)\(useBias ? "" : ", no bias"))"
    }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard kernelSize.height > 0, kernelSize.width > 0, strides.height > 0, strides.width > 0 else {
            throw AxonError.invalidArgument("DepthwiseConv2D: kernel size and strides must be > 0, got \(kernelSize), \(strides)")
        }
        guard inputShape.count == 3, inputShape[2] > 0, !isBuilt || inputShape[2] == channels else {
            throw AxonError.shapeMismatch("\(summary) input (height, width, channels)",
                                          expected: [-1, -1, isBuilt ? channels : -1], got: inputShape)
        }
        let oh = try Kernels.outputSize(inputShape[0], window: kernelSize.height, stride: strides.height, padding: padding)
        let ow = try Kernels.outputSize(inputShape[1], window: kernelSize.width, stride: strides.width, padding: padding)
        return [oh, ow, inputShape[2]]
    }

    public func tensorShapes(for inputShape: [Int]) throws -> [(name: String, shape: [Int])] {
        _ = try outputShape(for: inputShape)
        let c = inputShape[2]
        let k = [("kernel", [kernelSize.height, kernelSize.width, c, 1])]
        return useBias ? k + [("bias", [c])] : k
    }

    public mutating func build(inputShape: [Int], generator: inout SeededGenerator) throws {
        _ = try outputShape(for: inputShape)
        channels = inputShape[2]
        // Fans from this shape, as Keras computes them: kh·kw·c in, kh·kw out.
        kernel = kernelInitializer.make([kernelSize.height, kernelSize.width, channels, 1], generator: &generator)
        bias = useBias ? biasInitializer.make([channels], generator: &generator) : .empty
        kernelGradient = Tensor(zeros: kernel.shape)
        biasGradient = Tensor(zeros: bias.shape)
    }

    public mutating func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        try buildIfNeeded(for: x)
        guard x.rank == 4, x.shape[3] == channels else {
            throw AxonError.shapeMismatch("\(summary) input", expected: [-1, -1, -1, channels], got: x.shape)
        }
        geometry = Geometry2D(n: x.shape[0], h: x.shape[1], w: x.shape[2], c: channels, kh: kernelSize.height,
                              kw: kernelSize.width, sh: strides.height, sw: strides.width, padding: padding, o: channels)
        let (oh, ow) = try Kernels.conv2dOutputShape(geometry)
        Tensor.reuse(&output, shape: [geometry.n, oh, ow, channels])
        try Kernels.depthwiseForward(geometry, x: x, w: kernel, b: bias, activation: activation, y: &output)
        input = training ? x : .empty
        return output
    }

    public mutating func backward(_ dy: Tensor) throws -> Tensor { try backward(dy, inputGradient: true) }

    public mutating func backward(_ dy: Tensor, inputGradient: Bool) throws -> Tensor {
        guard input.rank == 4 else {
            throw AxonError.invalidArgument("\(summary): backward needs a preceding forward(training: true)")
        }
        try dy.expectShape(output.shape, "\(summary) output gradient")
        if activation != .linear {
            Tensor.reuse(&dz, shape: dy.shape)
            try Kernels.activationBackward(activation, y: output, dy: dy, dx: &dz)
        }
        let grad = activation == .linear ? dy : dz
        var db = useBias ? Tensor.take(&biasGradient) : nil
        defer { if let db { biasGradient = db } }
        try Kernels.depthwiseBackwardFilter(geometry, x: input, dz: grad, dw: &kernelGradient, db: &db)
        if inputGradient {
            Tensor.reuse(&dx, shape: input.shape)
            try Kernels.depthwiseBackwardData(geometry, dz: grad, w: kernel, dx: &dx)
        }
        input = .empty
        return inputGradient ? dx : .empty
    }

    public mutating func updateParameters(_ body: (String, inout Tensor, inout Tensor) throws -> Void) rethrows {
        try body("kernel", &kernel, &kernelGradient)
        if useBias { try body("bias", &bias, &biasGradient) }
    }

    /// This layer with its channels scaled by `scale` and `shift` added (a BatchNorm folded in), and `activation`.
    func folded(scale: [Float], shift: [Float], activation: Activation) throws -> DepthwiseConv2D {
        var d = DepthwiseConv2D(kernelSize: kernelSize, strides: strides, padding: padding, activation: activation,
                                useBias: true, kernelInitializer: kernelInitializer, biasInitializer: biasInitializer)
        d.channels = channels
        d.kernel = try kernel.reshaped([kernelSize.height, kernelSize.width, channels]).scalingLastAxis(by: scale)
            .reshaped(kernel.shape)
        d.bias = Tensor(uncheckedShape: [channels], scalars: (0..<channels).map { j in
            (useBias ? bias[flat: j] : 0) * scale[j] + shift[j]
        })
        d.kernelGradient = Tensor(zeros: d.kernel.shape)
        d.biasGradient = Tensor(zeros: d.bias.shape)
        return d
    }

    public init(config c: LayerConfig) throws {
        let a = try c.convolutionArguments()
        self.init(kernelSize: a.kernelSize, strides: a.strides, padding: a.padding, activation: a.activation,
                  useBias: a.useBias, kernelInitializer: a.kernelInitializer, biasInitializer: a.biasInitializer)
    }

    public func encode(into c: inout LayerConfig) throws {
        c.setConvolutionArguments(kernelSize: kernelSize, strides: strides, padding: padding, activation: activation,
                                  useBias: useBias, kernelInitializer: kernelInitializer, biasInitializer: biasInitializer)
    }
}
