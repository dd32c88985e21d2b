/// Fully connected layer: y = act(x·W + b) over the last axis (any leading
/// axes are batch). Parameters "kernel" [in, units] and "bias" [units].
public struct Dense: Layer {
    public let units: Int
    public let activation: Activation
    public let kernelInitializer: Initializer
    public let biasInitializer: Initializer
    public private(set) var inputs = 0
    public private(set) var kernel = Tensor.empty
    public private(set) var bias = Tensor.empty
    public private(set) var kernelGradient = Tensor.empty
    public private(set) var biasGradient = Tensor.empty

    private var input = Tensor.empty     // cached by a training forward, released by backward
    private var output = Tensor.empty
    private var dz = Tensor.empty
    private var dx = Tensor.empty

    public init(_ units: Int, activation: Activation = .linear,
                kernelInitializer: Initializer = .glorotUniform, biasInitializer: Initializer = .zeros) {
        self.units = units
        self.activation = activation
        self.kernelInitializer = kernelInitializer
        self.biasInitializer = biasInitializer
    }

    public init(units: Int, activation: Activation = .linear,
                kernelInitializer: Initializer = .glorotUniform, biasInitializer: Initializer = .zeros) {
        self.init(units, activation: activation, kernelInitializer: kernelInitializer, biasInitializer: biasInitializer)
    }

    public var isBuilt: Bool { inputs > 0 }
    public var summary: String { "Dense(\(units), \(activation))" }
    public var parameterNames: [String] { ["kernel", "bias"] }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard let last = inputShape.last, last > 0 else {
            throw AxonError.invalidArgument("\(summary): input shape \(inputShape) has no feature axis")
        }
        if isBuilt, last != inputs {
            throw AxonError.shapeMismatch("\(summary) input", expected: [inputs], got: inputShape)
        }
        return Array(inputShape.dropLast()) + [units]
    }

    public mutating func build(inputShape: [Int], generator: inout SeededGenerator) throws {
        guard units > 0 else { throw AxonError.invalidArgument("Dense: units must be > 0, got \(units)") }
        guard let last = inputShape.last, last > 0 else {
            throw AxonError.invalidArgument("\(summary): input shape \(inputShape) has no feature axis")
        }
        inputs = last
        kernel = kernelInitializer.make([inputs, units], generator: &generator)
        bias = biasInitializer.make([units], generator: &generator)
        kernelGradient = Tensor(zeros: kernel.shape)
        biasGradient = Tensor(zeros: bias.shape)
    }

    public mutating func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        try buildIfNeeded(for: x)
        guard x.rank >= 2, x.shape.last == inputs else {
            throw AxonError.shapeMismatch("\(summary) input", expected: [-1, inputs], got: x.shape)
        }
        let n = x.count / inputs
        Tensor.reuse(&output, shape: Array(x.shape.dropLast()) + [units])
        try Kernels.denseForward(n: n, inputs: inputs, units: units, x: x, w: kernel, b: bias,
                                 activation: activation, y: &output)
        input = training ? x : .empty
        return output
    }

    public mutating func backward(_ dy: Tensor) throws -> Tensor { try backward(dy, inputGradient: true) }

    public mutating func backward(_ dy: Tensor, inputGradient: Bool) throws -> Tensor {
        try backward(dy, inputGradient: inputGradient, update: nil)
    }

    /// With an optimizer that has a per-element rule, the kernel's gradient is
    /// applied where it is made, a few rows at a time, and never stored
    /// (`ck_dense_update_kernel`; `kernelGradient` is left empty): deep-MNIST's
    /// 12.8 MB of it was written to memory and read back by the update.
    public mutating func backward(_ dy: Tensor, inputGradient: Bool, update: ParameterUpdate) throws -> Tensor {
        try backward(dy, inputGradient: inputGradient, update: .some(update))
    }

    private mutating func backward(_ dy: Tensor, inputGradient: Bool, update: ParameterUpdate?) throws -> Tensor {
        guard input.rank >= 2 else {
            throw AxonError.invalidArgument("\(summary): backward needs a preceding forward(training: true)")
        }
        try dy.expectShape(output.shape, "\(summary) output gradient")
        let n = input.count / inputs
        if activation != .linear {
            Tensor.reuse(&dz, shape: dy.shape)
            try Kernels.activationBackward(activation, y: output, dy: dy, dx: &dz)
        }
        let dz = activation == .linear ? dy : self.dz
        var dxOut = inputGradient ? Tensor.take(&dx, reshapedTo: input.shape) : nil
        defer { if let dxOut { dx = dxOut } }
        // dx first: it needs the kernel before its update.
        let fuse = try update?.hasRule() ?? false
        var kernelGradientOut = fuse ? nil : Tensor.take(&kernelGradient, reshapedTo: kernel.shape)
        try Kernels.denseBackward(n: n, inputs: inputs, units: units, x: input, w: kernel, dz: dz, dx: &dxOut,
                                  dw: &kernelGradientOut, db: &biasGradient)
        kernelGradient = kernelGradientOut ?? .empty
        if let update, fuse {
            try update.fused("kernel", shape: kernel.shape) { rule in
                try Kernels.denseUpdateKernel(n: n, inputs: inputs, units: units, x: input, dz: dz, w: &kernel, rule: rule)
            }
            try update { body in try body("bias", &bias, &biasGradient) }
        } else if let update {
            try update { body in try updateParameters(body) }
        }
        input = .empty
        return dxOut ?? .empty
    }

    public mutating func updateParameters(_ body: (String, inout Tensor, inout Tensor) throws -> Void) rethrows {
        try body("kernel", &kernel, &kernelGradient)
        try body("bias", &bias, &biasGradient)
    }
}

extension Dense: SerializableLayer {
    public static let kind = "Dense"

    public init(config c: LayerConfig) throws {
        self.init(try c.count("units"), activation: try c.value("activation"),
                  kernelInitializer: try c.initializer("kernel_initializer", default: .glorotUniform),
                  biasInitializer: try c.initializer("bias_initializer", default: .zeros))
    }

    public func encode(into c: inout LayerConfig) throws {
        c.set("units", units)
        c.set("activation", activation)
        c.set("kernel_initializer", kernelInitializer)
        c.set("bias_initializer", biasInitializer)
    }

    public func tensorShapes(for inputShape: [Int]) throws -> [(name: String, shape: [Int])] {
        _ = try outputShape(for: inputShape)
        return [("kernel", [inputShape.last!, units]), ("bias", [units])]
    }
}

extension Dense {
    /// This layer with unit j scaled by scale[j] and shift[j] added (a BatchNorm folded in), and `activation`.
    func folded(scale: [Float], shift: [Float], activation: Activation) throws -> Dense {
        var d = Dense(units, activation: activation, kernelInitializer: kernelInitializer, biasInitializer: biasInitializer)
        d.inputs = inputs
        d.kernel = kernel.scalingLastAxis(by: scale)
        d.bias = Tensor(uncheckedShape: [units], scalars: (0..<units).map { bias[flat: $0] * scale[$0] + shift[$0] })
        d.kernelGradient = Tensor(zeros: d.kernel.shape)
        d.biasGradient = Tensor(zeros: d.bias.shape)
        return d
    }
}
