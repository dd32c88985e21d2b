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

    public mutating func update(_ each: ParameterWalk) throws {
        let (lr, l1, l2) = (learningRate, l1, l2)
        try each { _, w, g in try Kernels.proximalSGDUpdate(w: &w, g: g, lr: lr, l1: l1, l2: l2) }
        step += 1
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

    public mutating func update(_ each: ParameterWalk) throws {
        let (lr, l1, l2) = (learningRate, l1, l2)
        try each { name, w, g in
            var n = takeSlot(name, "accumulator", like: w)
            defer { putSlot(name, "accumulator", n) }
            try Kernels.proximalAdagradUpdate(w: &w, g: g, accum: &n, lr: lr, l1: l1, l2: l2)
        }
        step += 1
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

    public mutating func update(_ each: ParameterWalk) throws {
        let (lr, l1, l2, t) = (learningRate, l1, l2, Int64(step))
        try each { name, w, g in
            var ga = takeSlot(name, "gradient_accumulator", like: w)
            var gs = takeSlot(name, "gradient_squared_accumulator", like: w)
            defer { putSlot(name, "gradient_accumulator", ga); putSlot(name, "gradient_squared_accumulator", gs) }
            try Kernels.adagradDAUpdate(w: &w, g: g, gacc: &ga, gsq: &gs, lr: lr, l1: l1, l2: l2, globalStep: t)
        }
        step += 1
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

    public mutating func update(_ each: ParameterWalk) throws {
        let (lr, p, l1, l2, s, b) = (learningRate, learningRatePower, l1, l2, l2Shrinkage, beta)
        try each { name, w, g in
            var n = takeSlot(name, "accum", like: w), z = takeSlot(name, "linear", like: w)
            defer { putSlot(name, "accum", n); putSlot(name, "linear", z) }
            try Kernels.ftrlUpdate(w: &w, g: g, accum: &n, linear: &z, lr: lr, lrPower: p, l1: l1, l2: l2,
                                   l2Shrinkage: s, beta: b)
        }
        step += 1
    }
}
