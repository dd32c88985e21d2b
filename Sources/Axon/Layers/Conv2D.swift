/// 2-D convolution (cross-correlation) over NHWC input with an HWIO kernel,
/// fused bias and activation (spec §1). Parameters "kernel" [kh, kw, c, filters]
/// and "bias" [filters] (none with `useBias: false`, as before a BatchNorm).
public struct Conv2D: Layer {
    public let filters: Int
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
    /// Scratch for the patches of a few images at a time (`ck_conv2d_scratch_size`), used by
    /// all three passes. Keeping the whole batch's patches from the forward pass for the filter
    /// gradient was slower (deep-MNIST conv2, 50 images, 2 threads: forward 10.0 vs 8.3 ms,
    /// filter gradient 10.1-10.7 vs 8.9 ms) and took 31 MB.
    private var workspace = Tensor.empty
    /// The filter prepared for inference, kept between `forward(_:training: false)` calls.
    private var filterCache: ConvFilterCache?

    public init(filters: Int, kernelSize: (Int, Int), strides: (Int, Int) = (1, 1), padding: Padding = .valid,
                activation: Activation = .linear, useBias: Bool = true, kernelInitializer: Initializer = .glorotUniform,
                biasInitializer: Initializer = .zeros) {
        self.filters = filters
        self.kernelSize = kernelSize
        self.strides = strides
        self.padding = padding
        self.activation = activation
        self.useBias = useBias
        self.kernelInitializer = kernelInitializer
        self.biasInitializer = biasInitializer
    }

    public init(filters: Int, kernelSize: Int, strides: Int = 1, padding: Padding = .valid,
                activation: Activation = .linear, useBias: Bool = true, kernelInitializer: Initializer = .glorotUniform,
                biasInitializer: Initializer = .zeros) {
        self.init(filters: filters, kernelSize: (kernelSize, kernelSize), strides: (strides, strides),
                  padding: padding, activation: activation, useBias: useBias, kernelInitializer: kernelInitializer,
                  biasInitializer: biasInitializer)
    }

    public var isBuilt: Bool { channels > 0 }
    public var parameterNames: [String] { useBias ? ["kernel", "bias"] : ["kernel"] }
    public var summary: String {
        "Conv2D(\(filters), \(kernelSize.height)x\(kernelSize.width)/\(strides.height)x\(strides.width), \(padding), \(activation)\(useBias ? "" : ", no bias"))"
    }

    private func validate() throws {
        guard filters > 0, kernelSize.height > 0, kernelSize.width > 0, strides.height > 0, strides.width > 0 else {
            throw AxonError.invalidArgument(
                "Conv2D: filters, kernel size and strides must be > 0, got filters \(filters), kernel \(kernelSize), strides \(strides)")
        }
    }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        try validate()
        guard inputShape.count == 3 else {
            throw AxonError.shapeMismatch("\(summary) input (height, width, channels)",
                                          expected: [-1, -1, isBuilt ? channels : -1], got: inputShape)
        }
        if isBuilt, inputShape[2] != channels {
            throw AxonError.shapeMismatch("\(summary) input", expected: [inputShape[0], inputShape[1], channels],
                                          got: inputShape)
        }
        let oh = try Kernels.outputSize(inputShape[0], window: kernelSize.height, stride: strides.height, padding: padding)
        let ow = try Kernels.outputSize(inputShape[1], window: kernelSize.width, stride: strides.width, padding: padding)
        return [oh, ow, filters]
    }

    public mutating func build(inputShape: [Int], generator: inout SeededGenerator) throws {
        try validate()
        guard inputShape.count == 3, inputShape[2] > 0 else {
            throw AxonError.shapeMismatch("\(summary) input (height, width, channels)", expected: [-1, -1, -1],
                                          got: inputShape)
        }
        channels = inputShape[2]
        kernel = kernelInitializer.make([kernelSize.height, kernelSize.width, channels, filters], generator: &generator)
        bias = useBias ? biasInitializer.make([filters], generator: &generator) : .empty
        kernelGradient = Tensor(zeros: kernel.shape)
        biasGradient = Tensor(zeros: bias.shape)
    }

    public mutating func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        try buildIfNeeded(for: x)
        guard x.rank == 4, x.shape[3] == channels else {
            throw AxonError.shapeMismatch("\(summary) input", expected: [-1, -1, -1, channels], got: x.shape)
        }
        let g = Geometry2D(n: x.shape[0], h: x.shape[1], w: x.shape[2], c: channels,
                           kh: kernelSize.height, kw: kernelSize.width, sh: strides.height, sw: strides.width,
                           padding: padding, o: filters)
        if g != geometry {
            geometry = g
            let size = Kernels.conv2dScratchSize(g)
            if workspace.count != size { workspace = Tensor(zeros: [size]) }
        }
        let (oh, ow) = try Kernels.conv2dOutputShape(g)
        Tensor.reuse(&output, shape: [g.n, oh, ow, filters])
        if training {
            filterCache = nil
        } else if filterCache == nil || !isKnownUniquelyReferenced(&filterCache!) {
            filterCache = ConvFilterCache()  // a copy of the layer gets its own
        }
        try Kernels.conv2dForward(g, x: x, w: kernel, b: bias, activation: activation, y: &output,
                                  workspace: &workspace, cache: filterCache)
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
        try Kernels.conv2dBackwardFilter(geometry, x: input, dz: grad, dw: &kernelGradient, db: &db,
                                         workspace: &workspace)
        if inputGradient {
            Tensor.reuse(&dx, shape: input.shape)
            try Kernels.conv2dBackwardData(geometry, dz: grad, w: kernel, dx: &dx, workspace: &workspace)
        }
        input = .empty
        return inputGradient ? dx : .empty
    }

    public mutating func updateParameters(_ body: (String, inout Tensor, inout Tensor) throws -> Void) rethrows {
        filterCache = nil  // it shares the kernel's storage: an in-place update would copy it
        try body("kernel", &kernel, &kernelGradient)
        if useBias { try body("bias", &bias, &biasGradient) }
    }
}

extension Conv2D: SerializableLayer {
    public static let kind = "Conv2D"

    public init(config c: LayerConfig) throws {
        let a = try c.convolutionArguments()
        self.init(filters: try c.count("filters"), kernelSize: a.kernelSize, strides: a.strides, padding: a.padding,
                  activation: a.activation, useBias: a.useBias, kernelInitializer: a.kernelInitializer,
                  biasInitializer: a.biasInitializer)
    }

    public func encode(into c: inout LayerConfig) throws {
        c.set("filters", filters)
        c.setConvolutionArguments(kernelSize: kernelSize, strides: strides, padding: padding, activation: activation,
                                  useBias: useBias, kernelInitializer: kernelInitializer, biasInitializer: biasInitializer)
    }

    public func tensorShapes(for inputShape: [Int]) throws -> [(name: String, shape: [Int])] {
        _ = try outputShape(for: inputShape)
        let k = [("kernel", [kernelSize.height, kernelSize.width, inputShape[2], filters])]
        return useBias ? k + [("bias", [filters])] : k
    }

    /// This convolution with its output channels scaled by `scale` and `shift`
    /// added (a BatchNorm folded in), and `activation`; always with a bias.
    func folded(scale: [Float], shift: [Float], activation: Activation) throws -> Conv2D {
        var c = Conv2D(filters: filters, kernelSize: kernelSize, strides: strides, padding: padding,
                       activation: activation, useBias: true, kernelInitializer: kernelInitializer,
                       biasInitializer: biasInitializer)
        c.channels = channels
        c.kernel = kernel.scalingLastAxis(by: scale)
        c.bias = Tensor(uncheckedShape: [filters], scalars: (0..<filters).map { j in
            (useBias ? bias.scalars[j] : 0) * scale[j] + shift[j]
        })
        c.kernelGradient = Tensor(zeros: c.kernel.shape)
        c.biasGradient = Tensor(zeros: c.bias.shape)
        return c
    }
}

extension LayerConfig {
    /// The arguments Conv2D and DepthwiseConv2D share.
    func convolutionArguments() throws -> (kernelSize: (Int, Int), strides: (Int, Int), padding: Padding, activation: Activation,
                                          useBias: Bool, kernelInitializer: Initializer, biasInitializer: Initializer) {
        (try pair("kernel_size"), try pair("strides"), try value("padding"), try value("activation"),
         try bool("use_bias", default: true), try initializer("kernel_initializer", default: .glorotUniform),
         try initializer("bias_initializer", default: .zeros))
    }

    mutating func setConvolutionArguments(kernelSize: (height: Int, width: Int), strides: (height: Int, width: Int),
                                          padding: Padding, activation: Activation, useBias: Bool,
                                          kernelInitializer: Initializer, biasInitializer: Initializer) {
        set("kernel_size", [kernelSize.height, kernelSize.width])
        set("strides", [strides.height, strides.width])
        set("padding", padding)
        set("activation", activation)
        if !useBias { set("use_bias", false) }  // files from before the switch stay byte-identical
        set("kernel_initializer", kernelInitializer)
        set("bias_initializer", biasInitializer)
    }
}
