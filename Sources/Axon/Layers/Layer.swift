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

    /// Names of the trainable parameters, in a fixed order ("kernel", "bias", ...).
    var parameterNames: [String] { get }
    /// Calls `body` with each parameter and its gradient (from the last
    /// `backward`), by name, letting it change both (optimizer updates, penalties).
    mutating func updateParameters(_ body: (_ name: String, _ value: inout Tensor, _ gradient: inout Tensor) throws -> Void) rethrows
    /// A short description, e.g. "Dense(120, relu)".
    var summary: String { get }
}

extension Layer {
    public var parameterNames: [String] { [] }
    public mutating func updateParameters(_ body: (String, inout Tensor, inout Tensor) throws -> Void) rethrows {}
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
    case linear, relu, sigmoid, tanh
}

/// Spatial padding (spec §1.2): SAME keeps ⌈H/s⌉ outputs, VALID only full windows.
public enum Padding: String, Sendable, Codable {
    case same, valid
}
