import CKernels

// The optimizers with L1/L2 strengths in their update: ProximalGradientDescent,
// ProximalAdagrad, AdagradDA and Ftrl.

/// TF1 proximal gradient descent (spec §8.7).
public struct ProximalGradientDescent: Optimizer {
    public var learningRate: Float
    public var l1: Float
    public var l2: Float
    public var slots: [String: Tensor] = [:]
    public var step = 0
    public init(learningRate: Float = 0.01, l1: Float = 0, l2: Float = 0) {
        self.learningRate = learningRate
        self.l1 = l1
        self.l2 = l2
    }
    public var summary: String { "ProximalGradientDescent(lr \(learningRate), l1 \(l1), l2 \(l2))" }

    public func rule() throws -> UpdateRule? {
        UpdateRule(kind: Int32(CK_RULE_PROXIMAL_SGD), arguments: [learningRate, l1, l2])
    }
}

/// TF1 proximal Adagrad (spec §8.8). Slot "accumulator" starts at 0.1.
public struct ProximalAdagrad: Optimizer {
    public var learningRate: Float
    public var initialAccumulatorValue: Float
    public var l1: Float
    public var l2: Float
    public var slots: [String: Tensor] = [:]
    public var step = 0
    public init(learningRate: Float = 0.01, initialAccumulatorValue: Float = 0.1, l1: Float = 0, l2: Float = 0) {
        self.learningRate = learningRate
        self.initialAccumulatorValue = initialAccumulatorValue
        self.l1 = l1
        self.l2 = l2
    }
    public var summary: String { "ProximalAdagrad(lr \(learningRate), l1 \(l1), l2 \(l2))" }
    public var slotInitialValues: [(slot: String, value: Float)] { [("accumulator", initialAccumulatorValue)] }

    public func rule() throws -> UpdateRule? {
        UpdateRule(kind: Int32(CK_RULE_PROXIMAL_ADAGRAD), arguments: [learningRate, l1, l2], slots: ["accumulator"])
    }
}

/// TF1 Adagrad dual averaging (spec §8.9): `step` (the updates done so far) is
/// TF's global_step, so the n-th update uses T = n (the kernel adds the 1).
/// Slots "gradient_accumulator" (0) and "gradient_squared_accumulator" (0.1).
public struct AdagradDA: Optimizer {
    public var learningRate: Float
    public var initialGradientSquaredAccumulatorValue: Float
    public var l1: Float
    public var l2: Float
    public var slots: [String: Tensor] = [:]
    public var step = 0
    public init(learningRate: Float = 0.01, initialGradientSquaredAccumulatorValue: Float = 0.1, l1: Float = 0,
                l2: Float = 0) {
        self.learningRate = learningRate
        self.initialGradientSquaredAccumulatorValue = initialGradientSquaredAccumulatorValue
        self.l1 = l1
        self.l2 = l2
    }
    public var summary: String { "AdagradDA(lr \(learningRate), l1 \(l1), l2 \(l2))" }
    public var slotInitialValues: [(slot: String, value: Float)] {
        [("gradient_accumulator", 0), ("gradient_squared_accumulator", initialGradientSquaredAccumulatorValue)]
    }

    public func rule() throws -> UpdateRule? {
        UpdateRule(kind: Int32(CK_RULE_ADAGRAD_DA), arguments: [learningRate, l1, l2], globalStep: Int64(step),
                   slots: ["gradient_accumulator", "gradient_squared_accumulator"])
    }
}

/// TF1 FTRL-proximal (spec §8.10). Slots "accum" (0.1) and "linear" (0).
public struct Ftrl: Optimizer {
    public var learningRate: Float
    public var learningRatePower: Float
    public var initialAccumulatorValue: Float
    public var l1: Float
    public var l2: Float
    public var l2Shrinkage: Float
    public var beta: Float
    public var slots: [String: Tensor] = [:]
    public var step = 0
    public init(learningRate: Float = 0.01, learningRatePower: Float = -0.5, initialAccumulatorValue: Float = 0.1,
                l1: Float = 0, l2: Float = 0, l2Shrinkage: Float = 0, beta: Float = 0) {
        self.learningRate = learningRate
        self.learningRatePower = learningRatePower
        self.initialAccumulatorValue = initialAccumulatorValue
        self.l1 = l1
        self.l2 = l2
        self.l2Shrinkage = l2Shrinkage
        self.beta = beta
    }
    public var summary: String { "Ftrl(lr \(learningRate), power \(learningRatePower), l1 \(l1), l2 \(l2))" }
    public var slotInitialValues: [(slot: String, value: Float)] { [("accum", initialAccumulatorValue), ("linear", 0)] }

    public func rule() throws -> UpdateRule? {
        UpdateRule(kind: Int32(CK_RULE_FTRL), arguments: [learningRate, learningRatePower, l1, l2, l2Shrinkage, beta],
                   slots: ["accum", "linear"])
    }
}
