/// Batch normalization over the last (channel) axis, as Keras'
/// `BatchNormalization`: in training y = γ·(x − μ_B)/√(σ²_B + ε) + β with the
/// batch's mean and biased variance over every other axis (N, H, W), and the
/// moving statistics updated as m ← m − (m − batch)·(1 − momentum); at
/// inference the moving statistics replace the batch's.
///
/// Parameters "gamma" (with `scale`) and "beta" (with `center`); state
/// "moving_mean" (zeros) and "moving_variance" (ones), saved in model files.
/// `Network.foldedForInference()` folds it into a convolution or dense layer before it.
///
/// Inside a data-parallel training step with synchronized statistics
/// (`SyncedBatch`, set by `Trainer.step`), μ_B and σ²_B are the whole global
/// batch's, added over the ranks, and so are the sums that dx needs.
public struct BatchNorm: SerializableLayer {
    public static let kind = "BatchNorm"
    public let momentum: Float
    public let epsilon: Float
    public let center: Bool
    public let scale: Bool
    public private(set) var channels = 0
    public private(set) var gamma = Tensor.empty
    public private(set) var beta = Tensor.empty
    public private(set) var gammaGradient = Tensor.empty
    public private(set) var betaGradient = Tensor.empty
    public private(set) var movingMean = Tensor.empty
    public private(set) var movingVariance = Tensor.empty

    private var input = Tensor.empty     // cached by a training forward, released by backward
    private var output = Tensor.empty
    private var dx = Tensor.empty
    private var batchMean = Tensor.empty
    private var batchVariance = Tensor.empty
    private var inverseStd = Tensor.empty
    private var synced: SyncedBatch?     // the step's, when forward normalised with the global batch
    private var batchMeanLow = Tensor.empty  // the global mean's low part (batchMean + batchMeanLow)
    private var syncedRows = 0.0         // the global batch's rows

    public init(momentum: Float = 0.99, epsilon: Float = 1e-3, center: Bool = true, scale: Bool = true) {
        self.momentum = momentum
        self.epsilon = epsilon
        self.center = center
        self.scale = scale
    }

    public var isBuilt: Bool { channels > 0 }
    public var summary: String {
        "BatchNorm(momentum \(momentum), epsilon \(epsilon)\(center ? "" : ", no center")\(scale ? "" : ", no scale"))"
    }
    public var parameterNames: [String] { (scale ? ["gamma"] : []) + (center ? ["beta"] : []) }

    private func validate() throws {
        guard momentum >= 0, momentum <= 1, epsilon >= 0, epsilon.isFinite else {
            throw AxonError.invalidArgument("BatchNorm: momentum must be in [0, 1] and epsilon >= 0, got \(momentum), \(epsilon)")
        }
    }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        try validate()
        guard let c = inputShape.last, c > 0 else {
            throw AxonError.invalidArgument("\(summary): input shape \(inputShape) has no channel axis")
        }
        if isBuilt, c != channels { throw AxonError.shapeMismatch("\(summary) input", expected: [channels], got: inputShape) }
        return inputShape
    }

    public mutating func build(inputShape: [Int], generator: inout SeededGenerator) throws {
        _ = try outputShape(for: inputShape)
        channels = inputShape.last!
        gamma = scale ? Tensor(repeating: 1, shape: [channels]) : .empty
        beta = center ? Tensor(zeros: [channels]) : .empty
        gammaGradient = Tensor(zeros: gamma.shape)
        betaGradient = Tensor(zeros: beta.shape)
        movingMean = Tensor(zeros: [channels])
        movingVariance = Tensor(repeating: 1, shape: [channels])
    }

    public func tensorShapes(for inputShape: [Int]) throws -> [(name: String, shape: [Int])] {
        let c = try outputShape(for: inputShape).last!
        return parameterNames.map { ($0, [c]) } + [("moving_mean", [c]), ("moving_variance", [c])]
    }

    public mutating func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        try buildIfNeeded(for: x)
        guard x.rank >= 2, x.shape.last == channels else {
            throw AxonError.shapeMismatch("\(summary) input", expected: [-1, channels], got: x.shape)
        }
        let rows = x.count / channels
        Tensor.reuse(&output, shape: x.shape)
        if training {
            Tensor.reuse(&batchMean, shape: [channels])
            Tensor.reuse(&batchVariance, shape: [channels])
            Tensor.reuse(&inverseStd, shape: [channels])
            synced = SyncedBatch.current
            if let synced {
                Tensor.reuse(&batchMeanLow, shape: [channels])
                try Kernels.batchNormMoments(rows: rows, channels: channels, x: x, mean: &batchMean,
                                             meanLow: &batchMeanLow, m2: &batchVariance)
                syncedRows = try synced.combine(rows: rows, mean: &batchMean, meanLow: &batchMeanLow,
                                                variance: &batchVariance)
                try Kernels.batchNormNormalize(rows: rows, channels: channels, x: x, gamma: gamma, beta: beta,
                                               mean: batchMean, meanLow: batchMeanLow, variance: batchVariance,
                                               epsilon: epsilon, y: &output, inverseStd: &inverseStd)
            } else {
                try Kernels.batchNormTrain(rows: rows, channels: channels, x: x, gamma: gamma, beta: beta, epsilon: epsilon,
                                           y: &output, mean: &batchMean, variance: &batchVariance, inverseStd: &inverseStd)
            }
            let decay = 1 - momentum
            for j in 0..<channels {
                movingMean[flat: j] -= (movingMean[flat: j] - batchMean[flat: j]) * decay
                movingVariance[flat: j] -= (movingVariance[flat: j] - batchVariance[flat: j]) * decay
            }
            input = x
        } else {
            try Kernels.batchNormInfer(rows: rows, channels: channels, x: x, gamma: gamma, beta: beta, mean: movingMean,
                                       variance: movingVariance, epsilon: epsilon, y: &output)
            input = .empty
            synced = nil
        }
        return output
    }

    public mutating func backward(_ dy: Tensor) throws -> Tensor { try backward(dy, inputGradient: true) }

    public mutating func backward(_ dy: Tensor, inputGradient: Bool) throws -> Tensor {
        guard input.rank >= 2 else {
            throw AxonError.invalidArgument("\(summary): backward needs a preceding forward(training: true)")
        }
        try dy.expectShape(output.shape, "\(summary) output gradient")
        let rows = input.count / channels
        var dxOut = inputGradient ? Tensor.take(&dx, reshapedTo: input.shape) : nil
        defer { if let dxOut { dx = dxOut } }
        if let synced {
            // dγ and dβ stay this shard's sums: the step's gradient allreduce weights
            // them by the shard's share and adds them, which gives the global batch's.
            // dx needs the global sums now.
            var dg: Tensor? = Tensor(zeros: [channels]), db: Tensor? = Tensor(zeros: [channels]), noDx: Tensor? = nil
            try Kernels.batchNormBackward(rows: rows, channels: channels, x: input, gamma: gamma, mean: batchMean,
                                          inverseStd: inverseStd, dy: dy, dx: &noDx, dgamma: &dg, dbeta: &db)
            if scale { gammaGradient = dg! }
            if center { betaGradient = db! }
            if dxOut != nil {
                try synced.globalSums(dgamma: &dg!, dbeta: &db!)
                try Kernels.batchNormBackwardDx(rows: rows, channels: channels, count: syncedRows, x: input, gamma: gamma,
                                                mean: batchMean, inverseStd: inverseStd, dgamma: dg!, dbeta: db!, dy: dy,
                                                dx: &dxOut!)
            }
            self.synced = nil
        } else {
            var dgamma = scale ? Tensor.take(&gammaGradient) : nil, dbeta = center ? Tensor.take(&betaGradient) : nil
            defer {
                if let dgamma { gammaGradient = dgamma }
                if let dbeta { betaGradient = dbeta }
            }
            try Kernels.batchNormBackward(rows: rows, channels: channels, x: input, gamma: gamma, mean: batchMean,
                                          inverseStd: inverseStd, dy: dy, dx: &dxOut, dgamma: &dgamma, dbeta: &dbeta)
        }
        input = .empty
        return dxOut ?? .empty
    }

    public mutating func updateParameters(_ body: (String, inout Tensor, inout Tensor) throws -> Void) rethrows {
        if scale { try body("gamma", &gamma, &gammaGradient) }
        if center { try body("beta", &beta, &betaGradient) }
    }

    public mutating func updateState(_ body: (String, inout Tensor) throws -> Void) rethrows {
        try body("moving_mean", &movingMean)
        try body("moving_variance", &movingVariance)
    }

    /// The per-channel affine map of inference, y = x·scale + shift, computed in double.
    func inferenceAffine() -> (scale: [Float], shift: [Float]) {
        var a = [Float](repeating: 0, count: channels), b = a
        for j in 0..<channels {
            let s = Double(scale ? gamma[flat: j] : 1) / (Double(movingVariance[flat: j]) + Double(epsilon)).squareRoot()
            a[j] = Float(s)
            b[j] = Float(Double(center ? beta[flat: j] : 0) - Double(movingMean[flat: j]) * s)
        }
        return (a, b)
    }

    public init(config c: LayerConfig) throws {
        self.init(momentum: try c.float("momentum", in: 0...1, default: 0.99),
                  epsilon: try c.float("epsilon", in: 0...Float.greatestFiniteMagnitude, default: 1e-3),
                  center: try c.bool("center", default: true), scale: try c.bool("scale", default: true))
    }

    public func encode(into c: inout LayerConfig) throws {
        c.set("momentum", momentum)
        c.set("epsilon", epsilon)
        c.set("center", center)
        c.set("scale", scale)
    }
}

extension Tensor {
    /// A copy with every element of index j along the last axis multiplied by `factors[j]`.
    func scalingLastAxis(by factors: [Float]) -> Tensor {
        var t = self
        let c = factors.count
        t.withUnsafeMutableBufferPointer { p in
            for i in 0..<p.count { p[i] *= factors[i % c] }
        }
        return t
    }
}
