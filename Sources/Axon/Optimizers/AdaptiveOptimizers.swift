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

    public mutating func update(_ each: ParameterWalk) throws {
        try Self.validate(initialAccumulatorValue, "Adagrad initial accumulator", initialAccumulatorValue > 0)
        let lr = learningRate
        try each { name, w, g in
            var n = takeSlot(name, "accumulator", like: w)
            defer { putSlot(name, "accumulator", n) }
            try Kernels.adagradUpdate(w: &w, g: g, accum: &n, lr: lr)
        }
        step += 1
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

    public mutating func update(_ each: ParameterWalk) throws {
        let (lr, rho, eps) = (learningRate, rho, epsilon)
        try each { name, w, g in
            var a = takeSlot(name, "accum", like: w), d = takeSlot(name, "accum_update", like: w)
            defer { putSlot(name, "accum", a); putSlot(name, "accum_update", d) }
            try Kernels.adadeltaUpdate(w: &w, g: g, accum: &a, accumUpdate: &d, lr: lr, rho: rho, epsilon: eps)
        }
        step += 1
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

    public mutating func update(_ each: ParameterWalk) throws {
        let (lr, decay, mu, eps, centered) = (learningRate, decay, momentum, epsilon, centered)
        try each { name, w, g in
            var ms = takeSlot(name, "rms", like: w), mom = takeSlot(name, "momentum", like: w)
            var mg = centered ? takeSlot(name, "mg", like: w) : Tensor.empty
            defer {
                putSlot(name, "rms", ms); putSlot(name, "momentum", mom)
                if centered { putSlot(name, "mg", mg) }
            }
            try Kernels.rmspropUpdate(w: &w, g: g, ms: &ms, mom: &mom, mg: &mg, lr: lr, decay: decay, momentum: mu,
                                      epsilon: eps, centered: centered)
        }
        step += 1
    }
}
