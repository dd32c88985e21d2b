/// Long short-term memory over batch-major sequences [B, T, D] (spec §4),
/// with Keras' packing and defaults: parameters "kernel" [D, 4U] (glorot
/// uniform), "recurrent_kernel" [U, 4U] (orthogonal) and "bias" [4U] (zeros
/// with the forget slice 1), gate order i, f, c, o. The initial state is zero
/// unless `forward(_:initialState:training:)` gives one.
/// Output: h_T [B, U], or every h_t [B, T, U] with `returnSequences`; the final
/// state (h_T, c_T) is kept in `finalState`. `backward(_:finalCellStateGradient:)`
/// also takes ∂L/∂c_T and leaves ∂L/∂h_0, ∂L/∂c_0 in `initialStateGradient`.
/// `step(_:h:c:)` and `stepBackward` run a single cell step with the layer's weights.
/// Examples with more axes, [A…, T, D], are A… separate sequences (as Dense takes
/// [A…, D]): the output is [A…, U] or [A…, T, U] (imported ONNX LSTMs use it).
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
    private var cLast = Tensor.empty
    private var h0 = Tensor.empty
    private var c0 = Tensor.empty
    private var dh0 = Tensor.empty
    private var dc0 = Tensor.empty
    private var cache = Tensor.empty
    private var workspace = Tensor.empty
    private var dx = Tensor.empty
    private var cached = false
    /// The batch and extra axes of the input of the last training forward pass.
    private var leading: [Int] = []

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
        guard inputShape.count >= 2, inputShape.allSatisfy({ $0 > 0 }) else {
            throw AxonError.shapeMismatch("\(summary) input (steps, features)",
                                          expected: [-1, isBuilt ? inputSize : -1], got: inputShape)
        }
        if isBuilt, inputShape.last != inputSize {
            throw AxonError.shapeMismatch("\(summary) input", expected: inputShape.dropLast() + [inputSize], got: inputShape)
        }
        return inputShape.dropLast(returnSequences ? 1 : 2) + [units]
    }

    public mutating func build(inputShape: [Int], generator: inout SeededGenerator) throws {
        guard units > 0 else { throw AxonError.invalidArgument("LSTM: units must be > 0, got \(units)") }
        guard inputShape.count >= 2, inputShape.allSatisfy({ $0 > 0 }) else {
            throw AxonError.shapeMismatch("\(summary) input (steps, features)", expected: [-1, -1], got: inputShape)
        }
        inputSize = inputShape[inputShape.count - 1]
        kernel = kernelInitializer.make([inputSize, 4 * units], generator: &generator)
        recurrentKernel = recurrentInitializer.make([units, 4 * units], generator: &generator)
        var b = [Float](repeating: 0, count: 4 * units)
        if unitForgetBias { for j in units..<(2 * units) { b[j] = 1 } }
        bias = Tensor(uncheckedShape: [4 * units], scalars: b)
        kernelGradient = Tensor(zeros: kernel.shape)
        recurrentKernelGradient = Tensor(zeros: recurrentKernel.shape)
        biasGradient = Tensor(zeros: bias.shape)
    }

    /// h_T and c_T [B, U] of the last forward pass.
    public var finalState: (h: Tensor, c: Tensor) { (hLast, cLast) }

    /// ∂L/∂h_0 and ∂L/∂c_0 [B, U] of the last backward pass.
    public var initialStateGradient: (h: Tensor, c: Tensor) { (dh0, dc0) }

    public mutating func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        try forward(x, initialState: nil, training: training)
    }

    /// The forward pass from the initial state `initialState` (h_0, c_0 [B, U]; nil: zeros).
    public mutating func forward(_ x: Tensor, initialState: (h: Tensor, c: Tensor)?, training: Bool) throws -> Tensor {
        try buildIfNeeded(for: x)
        guard x.rank >= 3, x.shape.last == inputSize, x.shape[x.rank - 2] > 0 else {
            throw AxonError.shapeMismatch("\(summary) input", expected: [-1, -1, inputSize], got: x.shape)
        }
        // [B, A…, T, D]: B·A… sequences.
        let lead = Array(x.shape.dropLast(2))
        let x = x.rank == 3 ? x : x.reshapedUnchecked([lead.reduce(1, *), x.shape[x.rank - 2], inputSize])
        if training { leading = lead }
        let s = Kernels.LSTMShape(b: x.shape[0], t: x.shape[1], d: inputSize, u: units)
        if s != shape {
            shape = s
            let ws = Kernels.lstmWorkspaceSize(s)
            if workspace.count < ws { workspace = Tensor(zeros: [ws]) }
        }
        Tensor.reuse(&hs, shape: [s.b, s.t, units])
        Tensor.reuse(&hLast, shape: [s.b, units])
        Tensor.reuse(&cLast, shape: [s.b, units])
        if let initialState {
            try initialState.h.expectShape([s.b, units], "\(summary) initial h")
            try initialState.c.expectShape([s.b, units], "\(summary) initial c")
            (h0, c0) = initialState
        } else {
            (h0, c0) = (.empty, .empty)
        }
        if training {
            let cs = Kernels.lstmCacheSize(s)
            if cache.count != cs { cache = Tensor(zeros: [cs]) }
        }
        try Kernels.lstmForward(s, x: x, h0: h0, c0: c0, w: kernel, r: recurrentKernel, bias: bias, hs: &hs, hLast: &hLast,
                                cLast: &cLast, cache: &cache, training: training, workspace: &workspace)
        input = training ? x : .empty
        cached = training
        let out = returnSequences ? hs : hLast
        return lead.count == 1 ? out : out.reshapedUnchecked(lead + out.shape.dropFirst())
    }

    public mutating func backward(_ dy: Tensor) throws -> Tensor { try backward(dy, inputGradient: true) }

    public mutating func backward(_ dy: Tensor, inputGradient: Bool) throws -> Tensor {
        try backward(dy, finalCellStateGradient: nil, inputGradient: inputGradient)
    }

    /// BPTT with the output gradient `dy` and ∂L/∂c_T (`finalCellStateGradient`
    /// [B, U]; nil: zero); leaves ∂L/∂h_0, ∂L/∂c_0 in `initialStateGradient`.
    public mutating func backward(_ dy: Tensor, finalCellStateGradient dc: Tensor?, inputGradient: Bool = true) throws -> Tensor {
        guard cached else {
            throw AxonError.invalidArgument("\(summary): backward needs a preceding forward(training: true)")
        }
        let outShape = returnSequences ? hs.shape : hLast.shape
        try dy.expectShape(leading + outShape.dropFirst(), "\(summary) output gradient")
        let dy = dy.reshapedUnchecked(outShape)
        if let dc { try dc.expectShape(cLast.shape, "\(summary) final cell state gradient") }
        var dxOut = inputGradient ? Tensor.take(&dx, reshapedTo: input.shape) : nil
        defer { if let dxOut { dx = dxOut } }
        Tensor.reuse(&dh0, shape: cLast.shape)
        Tensor.reuse(&dc0, shape: cLast.shape)
        try Kernels.lstmBackward(shape, x: input, c0: c0, w: kernel, r: recurrentKernel, cache: cache,
                                 dhs: returnSequences ? dy : nil, dhLast: returnSequences ? nil : dy, dcLast: dc ?? .empty,
                                 dx: &dxOut, dw: &kernelGradient,
                                 dr: &recurrentKernelGradient, dbias: &biasGradient, dh0: &dh0, dc0: &dc0,
                                 workspace: &workspace)
        input = .empty
        cached = false
        guard let dxOut else { return .empty }
        return leading.count == 1 ? dxOut : dxOut.reshapedUnchecked(leading + dxOut.shape.dropFirst())
    }

    /// One cell step (spec §4.2) with this layer's weights: h_t, c_t [B, U] and the
    /// activated gates [B, 4U] (i, f, c̃, o) from x_t [B, D] and h_{t−1}, c_{t−1} [B, U].
    public func step(_ x: Tensor, h: Tensor, c: Tensor) throws -> (h: Tensor, c: Tensor, gates: Tensor) {
        guard isBuilt else { throw AxonError.invalidArgument("\(summary): step needs a built layer") }
        let b = x.shape.first ?? 0
        try x.expectShape([b, inputSize], "\(summary) step input")
        try h.expectShape([b, units], "\(summary) step h")
        try c.expectShape([b, units], "\(summary) step c")
        var (hOut, cOut, gates) = (Tensor(zeros: [b, units]), Tensor(zeros: [b, units]), Tensor(zeros: [b, 4 * units]))
        try Kernels.lstmCellForward(b: b, d: inputSize, u: units, x: x, hPrev: h, cPrev: c, w: kernel, r: recurrentKernel,
                                    bias: bias, h: &hOut, c: &cOut, gates: &gates)
        return (hOut, cOut, gates)
    }

    /// Backward of `step`: given the step's inputs, its result and ∂L/∂h_t, ∂L/∂c_t,
    /// returns ∂L/∂x_t, ∂L/∂h_{t−1}, ∂L/∂c_{t−1} and ADDS the step's weight gradients
    /// to the layer's (zero them first with `zeroGradients()` to start a sequence).
    public mutating func stepBackward(_ x: Tensor, h: Tensor, c: Tensor, result: (h: Tensor, c: Tensor, gates: Tensor),
                                      dh: Tensor, dc: Tensor) throws -> (dx: Tensor, dh: Tensor, dc: Tensor) {
        guard isBuilt else { throw AxonError.invalidArgument("\(summary): stepBackward needs a built layer") }
        let b = x.shape.first ?? 0
        try x.expectShape([b, inputSize], "\(summary) step input")
        for (t, what) in [(h, "h"), (c, "c"), (result.h, "result h"), (result.c, "result c"), (dh, "dh"), (dc, "dc")] {
            try t.expectShape([b, units], "\(summary) step \(what)")
        }
        try result.gates.expectShape([b, 4 * units], "\(summary) step gates")
        var (dx, dhPrev, dcPrev) = (Tensor(zeros: x.shape), Tensor(zeros: [b, units]), Tensor(zeros: [b, units]))
        try Kernels.lstmCellBackward(b: b, d: inputSize, u: units, x: x, hPrev: h, cPrev: c, w: kernel, r: recurrentKernel,
                                     c: result.c, gates: result.gates, dh: dh, dc: dc, dx: &dx, dhPrev: &dhPrev, dcPrev: &dcPrev,
                                     dw: &kernelGradient, dr: &recurrentKernelGradient, dbias: &biasGradient)
        return (dx, dhPrev, dcPrev)
    }

    /// Sets the weight gradients to zero (before accumulating `stepBackward`s).
    public mutating func zeroGradients() {
        kernelGradient = Tensor(zeros: kernel.shape)
        recurrentKernelGradient = Tensor(zeros: recurrentKernel.shape)
        biasGradient = Tensor(zeros: bias.shape)
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
        return [("kernel", [inputShape[inputShape.count - 1], 4 * units]), ("recurrent_kernel", [units, 4 * units]), ("bias", [4 * units])]
    }
}
