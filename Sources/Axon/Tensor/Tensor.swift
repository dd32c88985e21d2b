/// A dense float32 tensor: a shape and row-major contiguous storage.
///
/// `Tensor` is a value type; its storage is a Swift array, so copies share
/// memory until one of them is written (copy-on-write) and `reshaped` never
/// copies.
public struct Tensor: Equatable, Sendable {
    public private(set) var shape: [Int]
    public private(set) var scalars: [Float]

    /// Number of elements.
    public var count: Int { scalars.count }
    public var rank: Int { shape.count }

    /// A tensor holding `scalars` in row-major order; their number must match the shape.
    public init(shape: [Int], scalars: [Float]) throws {
        try Tensor.checkShape(shape)
        guard Tensor.elementCount(shape) == scalars.count else {
            throw AxonError.invalidArgument(
                "Tensor: shape \(shape) holds \(Tensor.elementCount(shape)) elements, got \(scalars.count) values")
        }
        self.shape = shape
        self.scalars = scalars
    }

    /// A tensor of the given shape filled with `value`.
    public init(repeating value: Float, shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        self.scalars = [Float](repeating: value, count: Tensor.elementCount(shape))
    }

    public init(zeros shape: [Int]) { self.init(repeating: 0, shape: shape) }

    /// Internal initialiser for shapes already known to be consistent.
    init(uncheckedShape shape: [Int], scalars: [Float]) {
        assert(Tensor.elementCount(shape) == scalars.count)
        self.shape = shape
        self.scalars = scalars
    }

    /// The same storage viewed with another shape of equal element count
    /// (one dimension may be -1 and is inferred).
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        var newShape = newShape
        if let inferred = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != inferred }.reduce(1) { $0 * $1.element }
            guard known > 0, count % known == 0 else {
                throw AxonError.shapeMismatch("reshape", expected: newShape, got: shape)
            }
            newShape[inferred] = count / known
        }
        try Tensor.checkShape(newShape)
        guard Tensor.elementCount(newShape) == count else {
            throw AxonError.shapeMismatch("reshape of \(count) elements", expected: newShape, got: shape)
        }
        return Tensor(uncheckedShape: newShape, scalars: scalars)
    }

    /// Throws unless the shape equals `expected`.
    public func expectShape(_ expected: [Int], _ what: @autoclosure () -> String) throws {
        guard shape == expected else { throw AxonError.shapeMismatch(what(), expected: expected, got: shape) }
    }

    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try scalars.withUnsafeBufferPointer(body)
    }

    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (inout UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        try scalars.withUnsafeMutableBufferPointer(body)
    }

    /// True when no value is NaN or infinite.
    public var isFinite: Bool { scalars.allSatisfy(\.isFinite) }

    public subscript(flat index: Int) -> Float {
        get { scalars[index] }
        set { scalars[index] = newValue }
    }

    static func elementCount(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    static func checkShape(_ shape: [Int]) throws {
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw AxonError.invalidArgument("Tensor: dimensions must be >= 0, got \(shape)")
        }
    }
}

extension Tensor {
    /// Rows [start, end) along the first axis, copied into a new tensor.
    public func rows(_ range: Range<Int>) -> Tensor {
        precondition(rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0])
        let stride = count / max(shape[0], 1)
        var newShape = shape
        newShape[0] = range.count
        return Tensor(uncheckedShape: newShape,
                      scalars: Array(scalars[range.lowerBound * stride ..< range.upperBound * stride]))
    }

    /// The rows at `indices` along the first axis (repeats allowed), copied into a new tensor.
    public func gatheringRows(_ indices: [Int]) -> Tensor {
        precondition(rank >= 1 && indices.allSatisfy { $0 >= 0 && $0 < shape[0] })
        let stride = count / max(shape[0], 1)
        var newShape = shape
        newShape[0] = indices.count
        var out: [Float] = []
        out.reserveCapacity(indices.count * stride)
        for i in indices { out += scalars[(i * stride)..<((i + 1) * stride)] }
        return Tensor(uncheckedShape: newShape, scalars: out)
    }

    /// Index of the largest element of each row of a [rows, k] tensor.
    public func argmaxRows() -> [Int] {
        precondition(rank == 2)
        let k = shape[1]
        return (0..<shape[0]).map { r in
            var best = 0
            for j in 1..<max(k, 1) where scalars[r * k + j] > scalars[r * k + best] { best = j }
            return best
        }
    }
}
