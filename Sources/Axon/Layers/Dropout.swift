/// Inverted dropout (spec §6): in training each element is kept with
/// probability 1 − rate and scaled by 1/(1 − rate); at inference it is the
/// identity. The mask comes from a counter-based stream seeded at build, so a
/// run is repeatable and independent of the thread count.
public struct Dropout: Layer {
    public let rate: Float
    public private(set) var seed: UInt64 = 0
    public internal(set) var counter: UInt64 = 0
    private var seeded = false
    private var output = Tensor.empty
    private var dx = Tensor.empty
    private var mask: [UInt8] = []
    private var active = false

    public init(rate: Float) { self.rate = rate }
    public init(_ rate: Float) { self.rate = rate }

    public var isBuilt: Bool { seeded }
    public var summary: String { "Dropout(\(rate))" }
    public func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }

    public mutating func build(inputShape: [Int], generator: inout SeededGenerator) throws {
        guard rate >= 0, rate < 1 else { throw AxonError.invalidArgument("Dropout: rate must be in [0, 1), got \(rate)") }
        seed = generator.next()
        counter = 0
        seeded = true
    }

    public mutating func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        try buildIfNeeded(for: x)
        guard training, rate > 0 else {
            active = false
            return x
        }
        Tensor.reuse(&output, shape: x.shape)
        if mask.count != x.count { mask = [UInt8](repeating: 0, count: x.count) }
        try Kernels.dropoutForward(rate: rate, seed: seed, counter: counter, x: x, y: &output, mask: &mask)
        counter &+= UInt64(x.count)
        active = true
        return output
    }

    public mutating func backward(_ dy: Tensor) throws -> Tensor {
        guard active else { return dy }
        try dy.expectShape(output.shape, "\(summary) output gradient")
        Tensor.reuse(&dx, shape: dy.shape)
        try Kernels.dropoutBackward(rate: rate, mask: mask, dy: dy, dx: &dx)
        return dx
    }
}

extension Dropout: SerializableLayer {
    public static let kind = "Dropout"
    public init(config c: LayerConfig) throws {
        let r = try c.float("rate")
        guard r >= 0, r < 1 else { throw AxonError.invalidArgument("rate \(r) is outside [0, 1)") }
        self.init(rate: r)
    }
    public func encode(into c: inout LayerConfig) throws { c.set("rate", rate) }
    public mutating func updateCounters(_ body: (String, inout UInt64) throws -> Void) rethrows {
        try body("counter", &counter)
    }
}
