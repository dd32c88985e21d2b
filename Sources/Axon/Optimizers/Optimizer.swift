/// Updates every parameter of a model from the gradients of its last backward
/// pass, with the exact per-element rules of tf.compat.v1.train (spec §8),
/// through the fused C kernels.
///
/// Slot variables are kept in `slots` under "<parameter name>/<slot>", e.g.
/// "layers.3.kernel/momentum", so a checkpoint can save and restore them by name.
/// They are created at their initial values (`slotInitialValues`) by
/// `createSlots(for:)` (which `Trainer` calls before its first update) or else by
/// the first update.
///
/// Every optimizer's `init` gives a default to each hyper-parameter, the learning
/// rate included (TensorFlow's where it has one, else 0.01): these are Axon's
/// only copy of the defaults, which the CLI and its help read from here.
public protocol Optimizer: Sendable {
    var learningRate: Float { get set }
    /// Slot tensors by "<parameter>/<slot>" name.
    var slots: [String: Tensor] { get set }
    /// Number of updates applied so far.
    var step: Int { get set }
    /// Scalar state besides `step` (Adam's β powers), by name: saved in
    /// checkpoints as exact bit patterns. Empty for most optimizers.
    var scalarState: [String: Float] { get set }
    /// A short description, e.g. "Momentum(lr 0.01, momentum 0.9)".
    var summary: String { get }
    /// The slots every parameter gets, with their initial values (spec §8).
    var slotInitialValues: [(slot: String, value: Float)] { get }
    /// Applies one update to every parameter that `each` walks (it calls its
    /// argument with each parameter's name, value and gradient), then
    /// increments `step` and advances any scalar state. The rules are per
    /// element, so the walk may cover part of a model: `Trainer` updates each
    /// layer right after its backward pass, from the same `step` and scalar
    /// state, and advances them once.
    mutating func update(_ each: ParameterWalk) throws
}

/// A walk over parameters: calls its argument with each parameter's name, value
/// and gradient (`Layer.updateParameters` is one).
public typealias ParameterWalk = (_ body: (_ name: String, _ value: inout Tensor, _ gradient: inout Tensor) throws -> Void) throws -> Void

extension Optimizer {
    /// Applies one update to every parameter of `model`, then increments `step`.
    public mutating func update<Model: Layer>(_ model: inout Model) throws {
        try update { body in try model.updateParameters(body) }
    }

    public var scalarState: [String: Float] {
        get { [:] }
        set { precondition(newValue.isEmpty, "\(summary) keeps no scalar state") }
    }

    public var slotInitialValues: [(slot: String, value: Float)] { [] }

    /// Creates every missing slot of every parameter of the built `model` at its
    /// initial value, so that it can be read (or changed) before the first update.
    public mutating func createSlots<Model: Layer>(for model: Model) {
        for (name, w) in model.parameters {
            for s in slotInitialValues where slots[name + "/" + s.slot]?.shape != w.shape {
                slots[name + "/" + s.slot] = Tensor(repeating: s.value, shape: w.shape)
            }
        }
    }

    /// Moves the slot `name` of `parameter` out of `slots` (created at its initial
    /// value when missing); hand it back with `putSlot`. Moving keeps the storage
    /// uniquely referenced, so the update runs in place.
    mutating func takeSlot(_ parameter: String, _ name: String, like w: Tensor) -> Tensor {
        if let t = slots.removeValue(forKey: parameter + "/" + name), t.shape == w.shape { return t }
        return Tensor(repeating: slotInitialValues.first { $0.slot == name }?.value ?? 0, shape: w.shape)
    }

    mutating func putSlot(_ parameter: String, _ name: String, _ t: Tensor) {
        slots[parameter + "/" + name] = t
    }

    static func validate(_ value: Float, _ what: String, _ ok: Bool) throws {
        guard ok, value.isFinite else { throw AxonError.invalidArgument("\(what) is out of range: \(value)") }
    }
}

/// w ← w − lr·g (spec §8.1).
public struct GradientDescent: Optimizer {
    public var learningRate: Float
    public var slots: [String: Tensor] = [:]
    public var step = 0
    public init(learningRate: Float = 0.01) { self.learningRate = learningRate }
    public var summary: String { "GradientDescent(lr \(learningRate))" }

    public mutating func update(_ each: ParameterWalk) throws {
        try Self.validate(learningRate, "GradientDescent learning rate", learningRate >= 0)
        let lr = learningRate
        try each { _, w, g in try Kernels.sgdUpdate(w: &w, g: g, lr: lr) }
        step += 1
    }
}

/// TF1 momentum (spec §8.2): a ← μa + g; w ← w − lr·a, or with Nesterov
/// w ← w − lr·g − lr·μ·a. Slot "momentum".
public struct Momentum: Optimizer {
    public var learningRate: Float
    public var momentum: Float
    public var nesterov: Bool
    public var slots: [String: Tensor] = [:]
    public var step = 0
    public init(learningRate: Float = 0.01, momentum: Float = 0.9, nesterov: Bool = false) {
        self.learningRate = learningRate
        self.momentum = momentum
        self.nesterov = nesterov
    }
    public var summary: String { "Momentum(lr \(learningRate), momentum \(momentum)\(nesterov ? ", nesterov" : ""))" }
    public var slotInitialValues: [(slot: String, value: Float)] { [("momentum", 0)] }

    public mutating func update(_ each: ParameterWalk) throws {
        try Self.validate(learningRate, "Momentum learning rate", learningRate >= 0)
        try Self.validate(momentum, "Momentum momentum", momentum >= 0)
        let (lr, mu, nes) = (learningRate, momentum, nesterov)
        try each { name, w, g in
            var a = takeSlot(name, "momentum", like: w)
            defer { putSlot(name, "momentum", a) }
            try Kernels.momentumUpdate(w: &w, g: g, accum: &a, lr: lr, momentum: mu, nesterov: nes)
        }
        step += 1
    }
}

/// TF1 Adam (spec §8.5), the "epsilon-hat" form: lr_t = lr·√(1−β2^t)/(1−β1^t).
/// Slots "m" and "v"; the β powers are per optimizer (`beta1Power`, `beta2Power`).
public struct Adam: Optimizer {
    public var learningRate: Float
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float
    public var slots: [String: Tensor] = [:]
    public var step = 0
    /// β1^t and β2^t for the next update t (start at β1, β2).
    public var beta1Power: Float
    public var beta2Power: Float

    public init(learningRate: Float = 0.001, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        beta1Power = beta1
        beta2Power = beta2
    }
    public var summary: String { "Adam(lr \(learningRate), beta1 \(beta1), beta2 \(beta2), epsilon \(epsilon))" }
    public var slotInitialValues: [(slot: String, value: Float)] { [("m", 0), ("v", 0)] }

    public var scalarState: [String: Float] {
        get { ["beta1_power": beta1Power, "beta2_power": beta2Power] }
        set {
            beta1Power = newValue["beta1_power"] ?? beta1Power
            beta2Power = newValue["beta2_power"] ?? beta2Power
        }
    }

    public mutating func update(_ each: ParameterWalk) throws {
        try Self.validate(learningRate, "Adam learning rate", learningRate >= 0)
        try Self.validate(beta1, "Adam beta1", beta1 >= 0 && beta1 < 1)
        try Self.validate(beta2, "Adam beta2", beta2 >= 0 && beta2 < 1)
        try Self.validate(epsilon, "Adam epsilon", epsilon >= 0)
        let lrT = learningRate * (1 - beta2Power).squareRoot() / (1 - beta1Power)
        let (b1, b2, eps) = (beta1, beta2, epsilon)
        try each { name, w, g in
            var m = takeSlot(name, "m", like: w), v = takeSlot(name, "v", like: w)
            defer { putSlot(name, "m", m); putSlot(name, "v", v) }
            try Kernels.adamUpdate(w: &w, g: g, m: &m, v: &v, lrT: lrT, beta1: b1, beta2: b2, epsilon: eps)
        }
        beta1Power *= beta1
        beta2Power *= beta2
        step += 1
    }
}
