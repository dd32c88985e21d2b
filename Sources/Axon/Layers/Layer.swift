import CKernels

/// A building block of a network.
///
/// Shapes passed to `build(inputShape:generator:)` and `outputShape(for:)` are
/// the shapes of ONE example (no batch axis), e.g. `[28, 28, 1]`; tensors given
/// to `forward` carry the batch axis first.
///
/// A layer owns its parameters, their gradients and the workspaces of its
/// kernels, and keeps them between calls. `forward(_:training: true)` caches what
/// `backward` needs; `backward` consumes that cache (it releases the cached input,
/// so the previous layer can reuse its output buffer on the next step).
public protocol Layer {
    /// Allocates and initialises the parameters for inputs of `inputShape`
    /// (one example), drawing every random value from `generator`.
    mutating func build(inputShape: [Int], generator: inout SeededGenerator) throws
    /// True once the parameters exist.
    var isBuilt: Bool { get }
    /// Shape of one output example for one input example of `inputShape`;
    /// throws if the layer cannot take that shape.
    func outputShape(for inputShape: [Int]) throws -> [Int]

    mutating func forward(_ x: Tensor, training: Bool) throws -> Tensor
    /// Given ∂L/∂output, stores the parameter gradients and returns ∂L/∂input.
    mutating func backward(_ dy: Tensor) throws -> Tensor
    /// Same as `backward`, but may skip computing the input gradient (returning
    /// an empty tensor) when `inputGradient` is false: the first layer of a
    /// network never needs it.
    mutating func backward(_ dy: Tensor, inputGradient: Bool) throws -> Tensor
    /// `backward(_:inputGradient:)`, then `update` with a walk over the layer's
    /// parameters (not called when it has none). A container calls it once per
    /// part, right after that part's backward pass, while its gradients are
    /// still in cache (`Sequential`, `Graph`; by default the layer as a whole):
    /// how `Trainer` applies an optimizer whose rule is per element. A layer
    /// may instead apply the rule where it makes a gradient (`Dense`).
    mutating func backward(_ dy: Tensor, inputGradient: Bool, update: ParameterUpdate) throws -> Tensor

    /// Names of the trainable parameters, in a fixed order ("kernel", "bias", ...).
    var parameterNames: [String] { get }
    /// Calls `body` with each parameter and its gradient (from the last
    /// `backward`), by name, letting it change both (optimizer updates, penalties).
    mutating func updateParameters(_ body: (_ name: String, _ value: inout Tensor, _ gradient: inout Tensor) throws -> Void) rethrows
    /// Calls `body` with each non-trainable tensor the layer keeps (BatchNorm's
    /// moving statistics), by name. Saved in model files beside the parameters.
    mutating func updateState(_ body: (_ name: String, _ value: inout Tensor) throws -> Void) rethrows
    /// Calls `body` with each random-stream counter (Dropout's), by name.
    /// Saved in checkpoints, so a resumed run draws what the uninterrupted one would.
    mutating func updateCounters(_ body: (_ name: String, _ value: inout UInt64) throws -> Void) rethrows
    /// Names and shapes of the parameters, then the state tensors, that the
    /// layer gets for examples of `inputShape`, without allocating them: a
    /// model file's tensors are checked against these before anything is built.
    func tensorShapes(for inputShape: [Int]) throws -> [(name: String, shape: [Int])]
    /// A short description, e.g. "Dense(120, relu)".
    var summary: String { get }

    // Several inputs (a Graph node). Layers that merge inputs (Concatenate, Add)
    // implement these; for every other layer they take exactly one input.

    /// How many inputs the layer takes.
    var inputCount: ClosedRange<Int> { get }
    func outputShape(forInputs inputShapes: [[Int]]) throws -> [Int]
    mutating func build(inputShapes: [[Int]], generator: inout SeededGenerator) throws
    mutating func forward(inputs: [Tensor], training: Bool) throws -> Tensor
    /// ∂L/∂input for every input (empty tensors when `inputGradient` is false).
    mutating func backwardToInputs(_ dy: Tensor, inputGradient: Bool) throws -> [Tensor]
}

/// How `Layer.backward(_:inputGradient:update:)` updates a layer's parameters
/// right after their gradients are made: an optimizer's update over a walk of
/// them (`update { body in ... }`), or, for a kernel that makes a gradient and
/// applies the optimizer's per-element rule where it is made, that rule.
/// `Trainer` makes one per step; containers hand their parts `prefixed` ones,
/// so every parameter keeps its name in the model (its slots are found by it).
public final class ParameterUpdate {
    private let prefix: String
    private let walk: (ParameterWalk) throws -> Void
    private let rule: (_ name: String, _ shape: [Int], _ kernel: RuleKernel?) throws -> Bool

    /// A kernel given an optimizer's rule with the parameter's slots.
    typealias RuleKernel = (UnsafePointer<ck_update_rule>) throws -> Void

    /// `walk` updates the parameters a walk covers; `rule` applies the rule
    /// for parameter `name` with the kernel (nil: only asks), false when there
    /// is none.
    init(prefix: String = "", walk: @escaping (ParameterWalk) throws -> Void,
         rule: @escaping (_ name: String, _ shape: [Int], _ kernel: RuleKernel?) throws -> Bool) {
        self.prefix = prefix
        self.walk = walk
        self.rule = rule
    }

    /// An update by `walk` alone (an optimizer's `update(_:)`, say): every
    /// layer then updates its parameters after its backward pass.
    public convenience init(_ walk: @escaping (ParameterWalk) throws -> Void) {
        self.init(walk: walk, rule: { _, _, _ in false })
    }

    /// Updates the parameters `each` walks (named as the layer names them).
    public func callAsFunction(_ each: ParameterWalk) throws {
        let p = prefix
        if p.isEmpty { return try walk(each) }
        try walk { body in
            try withoutActuallyEscaping(body) { body in
                try each { name, value, gradient in try body(p + name, &value, &gradient) }
            }
        }
    }

    /// The same update for a part whose parameters are named `prefix` + name.
    public func prefixed(_ p: String) -> ParameterUpdate { ParameterUpdate(prefix: prefix + p, walk: walk, rule: rule) }

    /// True when the optimizer has a per-element rule a kernel can apply.
    func hasRule() throws -> Bool { try rule("", [], nil) }

    /// Updates parameter `name` (of `shape`) by `kernel`, which makes its
    /// gradient and applies the rule it is given; false, calling nothing,
    /// when the optimizer has no rule.
    @discardableResult
    func fused(_ name: String, shape: [Int], by kernel: RuleKernel) throws -> Bool {
        try withoutActuallyEscaping(kernel) { k in try rule(prefix + name, shape, k) }
    }
}

extension Layer {
    public var inputCount: ClosedRange<Int> { 1...1 }

    private func single<T>(_ values: [T]) throws -> T {
        guard values.count == 1 else {
            throw AxonError.invalidArgument("\(summary) takes one input, got \(values.count)")
        }
        return values[0]
    }
    public func outputShape(forInputs inputShapes: [[Int]]) throws -> [Int] { try outputShape(for: single(inputShapes)) }
    public mutating func build(inputShapes: [[Int]], generator: inout SeededGenerator) throws {
        try build(inputShape: single(inputShapes), generator: &generator)
    }
    public mutating func forward(inputs: [Tensor], training: Bool) throws -> Tensor {
        try forward(single(inputs), training: training)
    }
    public mutating func backwardToInputs(_ dy: Tensor, inputGradient: Bool) throws -> [Tensor] {
        [try backward(dy, inputGradient: inputGradient)]
    }

    public mutating func backward(_ dy: Tensor, inputGradient: Bool, update: ParameterUpdate) throws -> Tensor {
        let dx = try backward(dy, inputGradient: inputGradient)
        if !parameterNames.isEmpty { try update { body in try updateParameters(body) } }
        return dx
    }

    public var parameterNames: [String] { [] }
    public mutating func updateParameters(_ body: (String, inout Tensor, inout Tensor) throws -> Void) rethrows {}
    public mutating func updateState(_ body: (String, inout Tensor) throws -> Void) rethrows {}
    public mutating func updateCounters(_ body: (String, inout UInt64) throws -> Void) rethrows {}

    /// By default: the shapes of a copy built for `inputShape` (right for any
    /// layer; layers with large parameters override it to skip the allocation).
    public func tensorShapes(for inputShape: [Int]) throws -> [(name: String, shape: [Int])] {
        var copy = self
        var g = SeededGenerator(seed: 0)
        try copy.build(inputShape: inputShape, generator: &g)
        return copy.parameters.map { ($0.name, $0.value.shape) } + copy.state.map { ($0.name, $0.value.shape) }
    }

    /// The non-trainable tensors by name (copies share storage with the layer).
    public var state: [(name: String, value: Tensor)] {
        var copy = self
        var out: [(String, Tensor)] = []
        copy.updateState { name, value in out.append((name, value)) }
        return out
    }

    /// The random-stream counters by name.
    public var counters: [(name: String, value: UInt64)] {
        var copy = self
        var out: [(String, UInt64)] = []
        copy.updateCounters { name, value in out.append((name, value)) }
        return out
    }

    /// Sets the counters named in `values`; throws if the layer has no counter of that name.
    public mutating func setCounters(_ values: [String: UInt64]) throws {
        var seen = 0
        updateCounters { name, value in
            if let v = values[name] { value = v; seen += 1 }
        }
        guard seen == values.count else {
            throw AxonError.invalidArgument("\(summary) has counters \(counters.map(\.name)), not all of \(values.keys.sorted())")
        }
    }

    /// Number of non-trainable scalars (Keras counts them as "non-trainable params").
    public var stateCount: Int { state.reduce(0) { $0 + $1.value.count } }

    /// Replaces the parameter or state tensor `name` by `value`, which must have its shape.
    public mutating func setTensor(_ name: String, to newValue: Tensor) throws {
        if parameterNames.contains(name) { return try setParameter(name, to: newValue) }
        var found = false
        let what = summary
        try updateState { n, value in
            if n == name {
                try newValue.expectShape(value.shape, "\(what) state \(name)")
                value = newValue
                found = true
            }
        }
        guard found else {
            throw AxonError.invalidArgument("\(what) has no parameter or state \"\(name)\" (has \(parameterNames + state.map(\.name)))")
        }
    }
    public mutating func backward(_ dy: Tensor, inputGradient: Bool) throws -> Tensor { try backward(dy) }

    /// The parameters by name (copies share storage with the layer).
    public var parameters: [(name: String, value: Tensor)] {
        var copy = self
        var out: [(String, Tensor)] = []
        copy.updateParameters { name, value, _ in out.append((name, value)) }
        return out
    }

    /// The gradients from the last backward pass, by parameter name.
    public var gradients: [(name: String, value: Tensor)] {
        var copy = self
        var out: [(String, Tensor)] = []
        copy.updateParameters { name, _, gradient in out.append((name, gradient)) }
        return out
    }

    /// Replaces the parameter `name` by `value`, which must have its shape.
    public mutating func setParameter(_ name: String, to newValue: Tensor) throws {
        var found = false
        let what = summary, names = parameterNames
        try updateParameters { n, value, _ in
            if n == name {
                try newValue.expectShape(value.shape, "\(what) parameter \(name)")
                value = newValue
                found = true
            }
        }
        guard found else {
            throw AxonError.invalidArgument("\(what) has no parameter \"\(name)\" (has \(names))")
        }
    }

    /// The name of the first parameter or state tensor holding NaN or infinity, if any.
    public var firstNonFiniteTensor: String? {
        (parameters + state).first { !$0.value.isFinite }?.name
    }

    /// Total number of trainable scalars.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    /// Throws unless `x` has rank `1 + example.count` with `example` after the batch axis.
    func expectInput(_ x: Tensor, _ example: [Int]) throws {
        guard x.rank == example.count + 1, Array(x.shape.dropFirst()) == example else {
            throw AxonError.shapeMismatch("\(summary) input", expected: [-1] + example, got: x.shape)
        }
    }

    /// Builds with a fixed seed when used before `build` (standalone layers).
    mutating func buildIfNeeded(for x: Tensor) throws {
        if !isBuilt {
            guard x.rank >= 1 else {
                throw AxonError.invalidArgument("\(summary): input needs a batch axis, got shape \(x.shape)")
            }
            var g = SeededGenerator(seed: 0)
            try build(inputShape: x.exampleShape, generator: &g)
        }
    }
}

/// Elementwise activation fused into Dense and Conv2D.
public enum Activation: String, Sendable, Codable, CaseIterable {
    /// relu6 is min(max(x, 0), 6), as MobileNet and EfficientNet-Lite use it.
    case linear, relu, sigmoid, tanh, relu6
}

/// Spatial padding (spec §1.2): SAME keeps ⌈H/s⌉ outputs, VALID only full windows.
public enum Padding: String, Sendable, Codable, CaseIterable {
    case same, valid
}
