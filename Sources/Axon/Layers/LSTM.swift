/// Long short-term memory over batch-major sequences [B, T, D] (spec §4),
/// with Keras' packing and defaults: parameters "kernel" [D, 4U] (glorot
/// uniform), "recurrent_kernel" [U, 4U] (orthogonal) and "bias" [4U] (zeros
/// with the forget slice 1), gate order i, f, c, o. The initial state is zero.
/// Output: h_T [B, U], or every h_t [B, T, U] with `returnSequences`.
public struct LSTM: Layer {
    public let units: Int
    public let returnSequences: Bool
    public let kernelInitializer: Initializer
    public let recurrentInitializer: Initializer
    public let unitForgetBias: Bool
    public private(set) var inputSize = 0
    public private(set) var kernel = Tensor.empty
    public private(set) var recurrentKernel = Tensor.empty
    public private(set) var bias = Tensor.empty
    public private(set) var kernelGradient = Tensor.empty
    public private(set) var recurrentKernelGradient = Tensor.empty
    public private(set) var biasGradient = Tensor.empty

    private var shape = Kernels.LSTMShape()
    private var input = Tensor.empty
    private var hs = Tensor.empty
    private var hLast = Tensor.empty
    private var cache = Tensor.empty
    private var workspace = Tensor.empty
    private var dx = Tensor.empty
    private var cached = false

    public init(units: Int, returnSequences: Bool = false, kernelInitializer: Initializer = .glorotUniform,
                recurrentInitializer: Initializer = .orthogonal, unitForgetBias: Bool = true) {
        self.units = units
        self.returnSequences = returnSequences
        self.kernelInitializer = kernelInitializer
        self.recurrentInitializer = recurrentInitializer
        self.unitForgetBias = unitForgetBias
    }

    public init(_ units: Int, returnSequences: Bool = false) {
        self.init(units: units, returnSequences: returnSequences)
    }

    public var isBuilt: Bool { inputSize > 0 }
    public var summary: String { "LSTM(\(units)\(returnSequences ? ", sequences" : ""))" }
    public var parameterNames: [String] { ["kernel", "recurrent_kernel", "bias"] }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == 2, inputShape[1] > 0 else {
            throw AxonError.shapeMismatch("\(summary) input (steps, features)",
                                          expected: [-1, isBuilt ? inputSize : -1], got: inputShape)
        }
        if isBuilt, inputShape[1] != inputSize {
            throw AxonError.shapeMismatch("\(summary) input", expected: [inputShape[0], inputSize], got: inputShape)
        }
        return returnSequences ? [inputShape[0], units] : [units]
    }

    public mutating func build(inputShape: [Int], generator: inout SeededGenerator) throws {
        guard units > 0 else { throw AxonError.invalidArgument("LSTM: units must be > 0, got \(units)") }
        guard inputShape.count == 2, inputShape[1] > 0 else {
            throw AxonError.shapeMismatch("\(summary) input (steps, features)", expected: [-1, -1], got: inputShape)
        }
        inputSize = inputShape[1]
        kernel = kernelInitializer.make([inputSize, 4 * units], generator: &generator)
        recurrentKernel = recurrentInitializer.make([units, 4 * units], generator: &generator)
        var b = [Float](repeating: 0, count: 4 * units)
        if unitForgetBias { for j in units..<(2 * units) { b[j] = 1 } }
        bias = Tensor(uncheckedShape: [4 * units], scalars: b)
        kernelGradient = Tensor(zeros: kernel.shape)
        recurrentKernelGradient = Tensor(zeros: recurrentKernel.shape)
        biasGradient = Tensor(zeros: bias.shape)
    }

    public mutating func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        try buildIfNeeded(for: x)
        guard x.rank == 3, x.shape[2] == inputSize, x.shape[1] > 0 else {
            throw AxonError.shapeMismatch("\(summary) input", expected: [-1, -1, inputSize], got: x.shape)
        }
        let s = Kernels.LSTMShape(b: x.shape[0], t: x.shape[1], d: inputSize, u: units)
        if s != shape {
            shape = s
            let ws = Kernels.lstmWorkspaceSize(s)
            if workspace.count < ws { workspace = Tensor(zeros: [ws]) }
        }
        Tensor.reuse(&hs, shape: [s.b, s.t, units])
        Tensor.reuse(&hLast, shape: [s.b, units])
        if training {
            let cs = Kernels.lstmCacheSize(s)
            if cache.count != cs { cache = Tensor(zeros: [cs]) }
        }
        try Kernels.lstmForward(s, x: x, w: kernel, r: recurrentKernel, bias: bias, hs: &hs, hLast: &hLast,
                                cache: &cache, training: training, workspace: &workspace)
        input = training ? x : .empty
        cached = training
        return returnSequences ? hs : hLast
    }

    public mutating func backward(_ dy: Tensor) throws -> Tensor { try backward(dy, inputGradient: true) }

    public mutating func backward(_ dy: Tensor, inputGradient: Bool) throws -> Tensor {
        guard cached else {
            throw AxonError.invalidArgument("\(summary): backward needs a preceding forward(training: true)")
        }
        try dy.expectShape(returnSequences ? hs.shape : hLast.shape, "\(summary) output gradient")
        if inputGradient { Tensor.reuse(&dx, shape: input.shape) }
        try Kernels.lstmBackward(shape, x: input, w: kernel, r: recurrentKernel, cache: cache,
                                 dhs: returnSequences ? dy : nil, dhLast: returnSequences ? nil : dy,
                                 dx: &dx, computeDx: inputGradient, dw: &kernelGradient,
                                 dr: &recurrentKernelGradient, dbias: &biasGradient, workspace: &workspace)
        input = .empty
        cached = false
        return inputGradient ? dx : .empty
    }

    public mutating func updateParameters(_ body: (String, inout Tensor, inout Tensor) throws -> Void) rethrows {
        try body("kernel", &kernel, &kernelGradient)
        try body("recurrent_kernel", &recurrentKernel, &recurrentKernelGradient)
        try body("bias", &bias, &biasGradient)
    }
}

extension LSTM: SerializableLayer {
    public static let kind = "LSTM"

    public init(config c: LayerConfig) throws {
        self.init(units: try c.count("units"), returnSequences: try c.bool("return_sequences", default: false),
                  kernelInitializer: try c.initializer("kernel_initializer", default: .glorotUniform),
                  recurrentInitializer: try c.initializer("recurrent_initializer", default: .orthogonal),
                  unitForgetBias: try c.bool("unit_forget_bias", default: true))
    }

    public func encode(into c: inout LayerConfig) throws {
        c.set("units", units)
        c.set("return_sequences", returnSequences)
        c.set("unit_forget_bias", unitForgetBias)
        c.set("kernel_initializer", kernelInitializer)
        c.set("recurrent_initializer", recurrentInitializer)
    }

    public func tensorShapes(for inputShape: [Int]) throws -> [(name: String, shape: [Int])] {
        _ = try outputShape(for: inputShape)
        return [("kernel", [inputShape[1], 4 * units]), ("recurrent_kernel", [units, 4 * units]), ("bias", [4 * units])]
    }
}
