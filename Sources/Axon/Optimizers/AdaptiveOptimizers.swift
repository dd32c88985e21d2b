import CKernels

// Adagrad, Adadelta and RMSProp: per-weight learning rates from accumulated squared gradients.

/// TF1 Adagrad (spec §8.3): n ← n + g²; w ← w − lr·g/√n. Slot "accumulator" starts at 0.1.
public struct Adagrad: Optimizer {
    public var learningRate: Float
    public var initialAccumulatorValue: Float
    public var slots: [String: Tensor] = [:]
    public var step = 0
    public init(learningRate: Float = 0.01, initialAccumulatorValue: Float = 0.1) {
        self.learningRate = learningRate
        self.initialAccumulatorValue = initialAccumulatorValue
    }
    public var summary: String { "Adagrad(lr \(learningRate))" }
    public var slotInitialValues: [(slot: String, value: Float)] { [("accumulator", initialAccumulatorValue)] }

    public func rule() throws -> UpdateRule? {
        try Self.validate(initialAccumulatorValue, "Adagrad initial accumulator", initialAccumulatorValue > 0)
        return UpdateRule(kind: Int32(CK_RULE_ADAGRAD), arguments: [learningRate], slots: ["accumulator"])
    }
}

/// TF1 Adadelta (spec §8.4). Slots "accum" and "accum_update".
public struct Adadelta: Optimizer {
    public var learningRate: Float
    public var rho: Float
    public var epsilon: Float
    public var slots: [String: Tensor] = [:]
    public var step = 0
    public init(learningRate: Float = 0.001, rho: Float = 0.95, epsilon: Float = 1e-8) {
        self.learningRate = learningRate
        self.rho = rho
        self.epsilon = epsilon
    }
    public var summary: String { "Adadelta(lr \(learningRate), rho \(rho), epsilon \(epsilon))" }
    public var slotInitialValues: [(slot: String, value: Float)] { [("accum", 0), ("accum_update", 0)] }

    public func rule() throws -> UpdateRule? {
        UpdateRule(kind: Int32(CK_RULE_ADADELTA), arguments: [learningRate, rho, epsilon], slots: ["accum", "accum_update"])
    }
}

/// TF1 RMSProp (spec §8.6): slot "rms" starts at 1, "momentum" at 0, "mg" (centered only) at 0.
public struct RMSProp: Optimizer {
    public var learningRate: Float
    public var decay: Float
    public var momentum: Float
    public var epsilon: Float
    public var centered: Bool
    public var slots: [String: Tensor] = [:]
    public var step = 0
    public init(learningRate: Float = 0.001, decay: Float = 0.9, momentum: Float = 0, epsilon: Float = 1e-10,
                centered: Bool = false) {
        self.learningRate = learningRate
        self.decay = decay
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered
    }
    public var summary: String { "RMSProp(lr \(learningRate), decay \(decay), momentum \(momentum)\(centered ? ", centered" : ""))" }
    public var slotInitialValues: [(slot: String, value: Float)] { [("rms", 1), ("momentum", 0)] + (centered ? [("mg", 0)] : []) }

    public func rule() throws -> UpdateRule? {
        UpdateRule(kind: Int32(CK_RULE_RMSPROP), arguments: [learningRate, decay, momentum, epsilon], flag: centered,
                   slots: ["rms", "momentum"] + (centered ? ["mg"] : []))
    }
}
