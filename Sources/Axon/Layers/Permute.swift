/// Reorders the axes of each example (Keras' `Permute`, but 0-based): output
/// axis i is input axis `axes[i]`, the batch axis not counted. Imported ONNX
/// graphs use it where their channel-first layout meets Axon's channel-last one
/// (at the graph's boundary, before a Flatten) and for ONNX's Transpose.
public struct Permute: SerializableLayer {
    public static let kind = "Permute"
    public let axes: [Int]
    private var output = Tensor.empty
    private var dx = Tensor.empty
    private var inputShape: [Int] = []

    public init(_ axes: [Int]) { self.axes = axes }
    public init(config c: LayerConfig) throws {
        let a = try c.ints("axes", in: 0...7)
        guard Set(a).count == a.count, a.allSatisfy({ $0 < a.count }) else {
            throw AxonError.invalidArgument("axes \(a) must be a permutation of 0..<\(a.count)")
        }
        self.init(a)
    }
    public func encode(into c: inout LayerConfig) throws { c.set("axes", axes) }

    public var isBuilt: Bool { true }
    public var summary: String { "Permute(\(axes))" }
    public mutating func build(inputShape: [Int], generator: inout SeededGenerator) throws { _ = try outputShape(for: inputShape) }
    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == axes.count, Set(axes) == Set(0..<axes.count) else {
            throw AxonError.shapeMismatch("\(summary) input example", expected: [Int](repeating: -1, count: axes.count), got: inputShape)
        }
        return axes.map { inputShape[$0] }
    }

    /// `x` with its axes reordered by `order` (batch axis included).
    static func permuted(_ x: Tensor, _ order: [Int], into y: inout Tensor) {
        let shape = x.shape, rank = shape.count
        var strides = [Int](repeating: 1, count: rank)
        for i in stride(from: rank - 2, through: 0, by: -1) { strides[i] = strides[i + 1] * shape[i + 1] }
        let outShape = order.map { shape[$0] }, outStrides = order.map { strides[$0] }
        Tensor.reuse(&y, shape: outShape)
        x.withUnsafeBufferPointer { src in
            y.withUnsafeMutableBufferPointer { dst in
                var index = [Int](repeating: 0, count: rank)
                var offset = 0
                for i in 0..<dst.count {
                    dst[i] = src[offset]
                    var d = rank - 1
                    while d >= 0 {
                        index[d] += 1
                        offset += outStrides[d]
                        if index[d] < outShape[d] { break }
                        offset -= outStrides[d] * outShape[d]
                        index[d] = 0
                        d -= 1
                    }
                }
            }
        }
    }

    public mutating func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        _ = try outputShape(for: x.exampleShape)
        inputShape = x.shape
        Permute.permuted(x, [0] + axes.map { $0 + 1 }, into: &output)
        return output
    }

    public mutating func backward(_ dy: Tensor) throws -> Tensor {
        guard !inputShape.isEmpty, dy.shape == [inputShape[0]] + axes.map({ inputShape[$0 + 1] }) else {
            throw AxonError.shapeMismatch("\(summary) output gradient", expected: inputShape, got: dy.shape)
        }
        var inverse = [Int](repeating: 0, count: axes.count)
        for (i, a) in axes.enumerated() { inverse[a] = i }
        Permute.permuted(dy, [0] + inverse.map { $0 + 1 }, into: &dx)
        return dx
    }
}
