import CKernels

/// Updates every parameter of a model from the gradients of its last backward
/// pass, with the exact per-element rules of tf.compat.v1.train (spec §8),
/// through the fused C kernels (`ck_update_apply`).
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
    /// state, and advances them once. Axon's optimizers apply `rule()` (the
    /// default); one of your own may implement this instead.
    mutating func update(_ each: ParameterWalk) throws
    /// This step's per-element rule, the same for every parameter (throws when
    /// a hyper-parameter is out of range); nil for an optimizer that
    /// implements `update` itself.
    func rule() throws -> UpdateRule?
    /// Counts one update: increments `step` and advances any scalar state.
    mutating func advance()
}

/// One step of a per-element rule of spec §8 as the C kernels take it
/// (`ck_update_rule`): which rule, its arguments for this step, and the names
/// of the slots it updates, in the kernel's order.
public struct UpdateRule: Sendable {
    var kind: Int32
    var arguments: [Float]
    var flag = false
    var globalStep: Int64 = 0
    var slots: [String] = []
}

/// A walk over parameters: calls its argument with each parameter's name, value
/// and gradient (`Layer.updateParameters` is one).
public typealias ParameterWalk = (_ body: (_ name: String, _ value: inout Tensor, _ gradient: inout Tensor) throws -> Void) throws -> Void

extension Optimizer {
    /// Applies one update to every parameter of `model`, then increments `step`.
    public mutating func update<Model: Layer>(_ model: inout Model) throws {
        try update { body in try model.updateParameters(body) }
    }

    public mutating func update(_ each: ParameterWalk) throws {
        guard let r = try rule() else { preconditionFailure("\(summary): implement update(_:) or rule()") }
        try each { name, w, g in
            guard g.count == w.count else {
                throw AxonError.invalidArgument("\(summary): \(name) has \(g.count) gradient values for \(w.count) weights (run backward first)")
            }
            try withRule(r, for: name, shape: w.shape) { rule in try Kernels.applyUpdate(rule, w: &w, g: g) }
        }
        advance()
    }

    /// One update of the parameter `name` (of `shape`) by a kernel that makes
    /// its gradient and applies the rule where it is made (`Dense`): `kernel`
    /// gets this step's rule with the parameter's slots; `step` and scalar
    /// state then advance as in `update`. False, calling nothing, for an
    /// optimizer without a rule.
    mutating func update(_ name: String, shape: [Int], by kernel: (UnsafePointer<ck_update_rule>) throws -> Void) throws -> Bool {
        guard let r = try rule() else { return false }
        try withRule(r, for: name, shape: shape, kernel)
        advance()
        return true
    }

    /// Calls `body` with `r` as a `ck_update_rule` whose slot arrays are the
    /// storage of the parameter's slots, moved out of `slots` (created at their
    /// initial values when missing) and put back after.
    private mutating func withRule(_ r: UpdateRule, for name: String, shape: [Int],
                                   _ body: (UnsafePointer<ck_update_rule>) throws -> Void) throws {
        func take(_ k: Int) -> Tensor? { k < r.slots.count ? takeSlot(name, r.slots[k], shape: shape) : nil }
        var (a, b, c) = (take(0), take(1), take(2))
        defer { for (k, t) in [a, b, c].enumerated() where k < r.slots.count { putSlot(name, r.slots[k], t!) } }
        let h = r.arguments + [Float](repeating: 0, count: 6 - r.arguments.count)
        try withPointers([], &a, &b, &c) { _, s0, s1, s2 in
            var rule = ck_update_rule(kind: r.kind, flag: r.flag ? 1 : 0, step: r.globalStep,
                                      h: (h[0], h[1], h[2], h[3], h[4], h[5]), slot: (s0, s1, s2))
            try body(&rule)
        }
    }

    public func rule() throws -> UpdateRule? { nil }

    public mutating func advance() { step += 1 }

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
    mutating func takeSlot(_ parameter: String, _ name: String, shape: [Int]) -> Tensor {
        if let t = slots.removeValue(forKey: parameter + "/" + name), t.shape == shape { return t }
        return Tensor(repeating: slotInitialValues.first { $0.slot == name }?.value ?? 0, shape: shape)
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

    public func rule() throws -> UpdateRule? {
        try Self.validate(learningRate, "GradientDescent learning rate", learningRate >= 0)
        return UpdateRule(kind: Int32(CK_RULE_SGD), arguments: [learningRate])
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

    public func rule() throws -> UpdateRule? {
        try Self.validate(learningRate, "Momentum learning rate", learningRate >= 0)
        try Self.validate(momentum, "Momentum momentum", momentum >= 0)
        return UpdateRule(kind: Int32(CK_RULE_MOMENTUM), arguments: [learningRate, momentum], flag: nesterov,
                          slots: ["momentum"])
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

    public func rule() throws -> UpdateRule? {
        try Self.validate(learningRate, "Adam learning rate", learningRate >= 0)
        try Self.validate(beta1, "Adam beta1", beta1 >= 0 && beta1 < 1)
        try Self.validate(beta2, "Adam beta2", beta2 >= 0 && beta2 < 1)
        try Self.validate(epsilon, "Adam epsilon", epsilon >= 0)
        let lrT = learningRate * (1 - beta2Power).squareRoot() / (1 - beta1Power)
        return UpdateRule(kind: Int32(CK_RULE_ADAM), arguments: [lrT, beta1, beta2, epsilon], slots: ["m", "v"])
    }

    public mutating func advance() {
        beta1Power *= beta1
        beta2Power *= beta2
        step += 1
    }
}
