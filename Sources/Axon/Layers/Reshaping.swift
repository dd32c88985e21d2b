/// Flattens each example to a vector: [N, d1, d2, ...] → [N, d1·d2·…]. Never copies.
public struct Flatten: Layer {
    private var inputShape: [Int] = []
    public init() {}
    public var isBuilt: Bool { true }
    public var summary: String { "Flatten()" }
    public mutating func build(inputShape: [Int], generator: inout SeededGenerator) throws {}
    public func outputShape(for inputShape: [Int]) throws -> [Int] { [inputShape.reduce(1, *)] }

    public mutating func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        guard x.rank >= 1 else { throw AxonError.shapeMismatch("Flatten input", expected: [-1, -1], got: x.shape) }
        inputShape = x.shape
        return x.reshapedUnchecked([x.shape[0], x.rowStride])
    }

    public mutating func backward(_ dy: Tensor) throws -> Tensor {
        guard !inputShape.isEmpty, dy.count == inputShape.reduce(1, *) else {
            throw AxonError.shapeMismatch("Flatten output gradient", expected: [inputShape.first ?? -1,
                                          inputShape.dropFirst().reduce(1, *)], got: dy.shape)
        }
        return dy.reshapedUnchecked(inputShape)
    }
}

/// Reshapes each example to `shape` (one dimension may be -1). Never copies.
public struct Reshape: Layer {
    public let shape: [Int]
    private var inputShape: [Int] = []
    public init(_ shape: [Int]) { self.shape = shape }
    public var isBuilt: Bool { true }
    public var summary: String { "Reshape(\(shape))" }
    public mutating func build(inputShape: [Int], generator: inout SeededGenerator) throws {
        _ = try outputShape(for: inputShape)
    }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        let n = inputShape.reduce(1, *)
        var out = shape
        if let i = out.firstIndex(of: -1) {
            let known = out.enumerated().filter { $0.offset != i }.reduce(1) { $0 * $1.element }
            guard known > 0, n % known == 0 else {
                throw AxonError.shapeMismatch("Reshape of example", expected: shape, got: inputShape)
            }
            out[i] = n / known
        }
        guard out.allSatisfy({ $0 >= 0 }), out.reduce(1, *) == n else {
            throw AxonError.shapeMismatch("Reshape of example", expected: shape, got: inputShape)
        }
        return out
    }

    public mutating func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        guard x.rank >= 1 else { throw AxonError.shapeMismatch("Reshape input", expected: [-1] + shape, got: x.shape) }
        let out = try outputShape(for: x.exampleShape)
        inputShape = x.shape
        return x.reshapedUnchecked([x.shape[0]] + out)
    }

    public mutating func backward(_ dy: Tensor) throws -> Tensor {
        guard !inputShape.isEmpty, dy.count == inputShape.reduce(1, *) else {
            throw AxonError.shapeMismatch("Reshape output gradient", expected: [-1] + shape, got: dy.shape)
        }
        return dy.reshapedUnchecked(inputShape)
    }
}

extension Flatten: ArgumentlessLayer { public static let kind = "Flatten" }

extension Reshape: SerializableLayer {
    public static let kind = "Reshape"
    public init(config c: LayerConfig) throws {
        let s = try c.ints("shape", in: -1...LayerConfig.maxDimension)
        guard !s.contains(0), s.filter({ $0 == -1 }).count <= 1 else {
            throw AxonError.invalidArgument("shape \(s) must have at most 8 dimensions in 1...\(LayerConfig.maxDimension), at most one -1")
        }
        self.init(s)
    }
    public func encode(into c: inout LayerConfig) throws { c.set("shape", shape) }
}
