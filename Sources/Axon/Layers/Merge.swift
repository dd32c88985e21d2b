/// Joins its inputs along `axis` (Keras' `Concatenate`): the axis counts the
/// batch axis as 0, negative values count from the end, and the default −1 is
/// the channel axis of NHWC images. Every other dimension must agree.
public struct Concatenate: SerializableLayer {
    public static let kind = "Concatenate"
    public let axis: Int
    private var inputShapes: [[Int]] = []   // whole tensors, kept for the backward pass
    private var output = Tensor.empty
    private var gradients: [Tensor] = []

    public init(axis: Int = -1) { self.axis = axis }
    public init(config c: LayerConfig) throws { self.init(axis: try c.int("axis", in: -8...8, default: -1)) }
    public func encode(into c: inout LayerConfig) throws { c.set("axis", axis) }

    public var isBuilt: Bool { true }
    public var summary: String { "Concatenate(axis \(axis))" }
    public var inputCount: ClosedRange<Int> { 1...Int.max }
    public mutating func build(inputShape: [Int], generator: inout SeededGenerator) throws {}
    public mutating func build(inputShapes: [[Int]], generator: inout SeededGenerator) throws {
        _ = try outputShape(forInputs: inputShapes)
    }
    public func outputShape(for inputShape: [Int]) throws -> [Int] { try outputShape(forInputs: [inputShape]) }

    /// The axis within one example (batch axis removed), for examples of rank `rank`.
    private func exampleAxis(rank: Int) throws -> Int {
        let a = axis < 0 ? rank + 1 + axis : axis
        guard a >= 1, a <= rank else {
            throw AxonError.invalidArgument("\(summary): axis \(axis) is not a non-batch axis of inputs of rank \(rank + 1)")
        }
        return a - 1
    }

    public func outputShape(forInputs shapes: [[Int]]) throws -> [Int] {
        guard let first = shapes.first else { throw AxonError.invalidArgument("\(summary) needs at least one input") }
        let a = try exampleAxis(rank: first.count)
        var out = first
        for s in shapes.dropFirst() {
            guard s.count == first.count, s.indices.allSatisfy({ $0 == a || s[$0] == first[$0] }) else {
                throw AxonError.invalidArgument("\(summary): input shapes \(shapes) differ off the concatenation axis")
            }
            out[a] += s[a]
        }
        return out
    }

    public mutating func forward(_ x: Tensor, training: Bool) throws -> Tensor { try forward(inputs: [x], training: training) }

    public mutating func forward(inputs xs: [Tensor], training: Bool) throws -> Tensor {
        guard let first = xs.first, first.rank >= 2, xs.allSatisfy({ $0.shape[0] == first.shape[0] }) else {
            throw AxonError.invalidArgument("\(summary): inputs \(xs.map(\.shape)) need one common batch axis")
        }
        let example = try outputShape(forInputs: xs.map(\.exampleShape))
        let a = try exampleAxis(rank: first.rank - 1) + 1
        let outer = first.shape[..<a].reduce(1, *)
        let widths = xs.map { $0.shape[a...].reduce(1, *) }
        let total = widths.reduce(0, +)
        Tensor.reuse(&output, shape: [first.shape[0]] + example)
        try output.withUnsafeMutableBufferPointer { out in
            var offset = 0
            for (x, width) in zip(xs, widths) where outer > 0 && width > 0 {
                try x.withUnsafeBufferPointer { src in
                    try Kernels.copyRows(outer, width: width, from: src.baseAddress!, stride: width,
                                         to: out.baseAddress! + offset, stride: total)
                }
                offset += width
            }
        }
        inputShapes = training ? xs.map(\.shape) : []
        return output
    }

    public mutating func backward(_ dy: Tensor) throws -> Tensor { try backwardToInputs(dy, inputGradient: true)[0] }

    public mutating func backwardToInputs(_ dy: Tensor, inputGradient: Bool) throws -> [Tensor] {
        guard !inputShapes.isEmpty else {
            throw AxonError.invalidArgument("\(summary): backward needs a preceding forward(training: true)")
        }
        try dy.expectShape(output.shape, "\(summary) output gradient")
        let a = try exampleAxis(rank: dy.rank - 1) + 1
        let outer = dy.shape[..<a].reduce(1, *)
        let widths = inputShapes.map { $0[a...].reduce(1, *) }
        let total = widths.reduce(0, +)
        if gradients.count != inputShapes.count { gradients = Array(repeating: .empty, count: inputShapes.count) }
        try dy.withUnsafeBufferPointer { src in
            var offset = 0
            for k in inputShapes.indices {
                Tensor.reuse(&gradients[k], shape: inputShapes[k])
                let width = widths[k]
                if outer > 0 && width > 0 {
                    try gradients[k].withUnsafeMutableBufferPointer { g in
                        try Kernels.copyRows(outer, width: width, from: src.baseAddress! + offset, stride: total,
                                             to: g.baseAddress!, stride: width)
                    }
                }
                offset += width
            }
        }
        inputShapes = []
        return gradients
    }
}

/// The elementwise sum of its inputs, which must have one shape (Keras' `Add`; residual connections).
public struct Add: SerializableLayer {
    public static let kind = "Add"
    private var output = Tensor.empty
    private var inputs = 0

    public init() {}
    public init(config: LayerConfig) throws { self.init() }
    public func encode(into config: inout LayerConfig) throws {}

    public var isBuilt: Bool { true }
    public var summary: String { "Add()" }
    public var inputCount: ClosedRange<Int> { 1...Int.max }
    public mutating func build(inputShape: [Int], generator: inout SeededGenerator) throws {}
    public mutating func build(inputShapes: [[Int]], generator: inout SeededGenerator) throws {
        _ = try outputShape(forInputs: inputShapes)
    }
    public func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }
    public func outputShape(forInputs shapes: [[Int]]) throws -> [Int] { try commonShape(shapes, summary) }

    public mutating func forward(_ x: Tensor, training: Bool) throws -> Tensor { try forward(inputs: [x], training: training) }

    public mutating func forward(inputs xs: [Tensor], training: Bool) throws -> Tensor {
        guard let first = xs.first, xs.allSatisfy({ $0.shape == first.shape }) else {
            throw AxonError.invalidArgument("\(summary): inputs must have one shape, got \(xs.map(\.shape))")
        }
        Tensor.reuse(&output, shape: first.shape)
        output.withUnsafeMutableBufferPointer { out in
            first.withUnsafeBufferPointer { out.baseAddress!.update(from: $0.baseAddress!, count: $0.count) }
            for x in xs.dropFirst() {
                x.withUnsafeBufferPointer { src in
                    for i in 0..<out.count { out[i] += src[i] }
                }
            }
        }
        inputs = training ? xs.count : 0
        return output
    }

    public mutating func backward(_ dy: Tensor) throws -> Tensor { try backwardToInputs(dy, inputGradient: true)[0] }

    public mutating func backwardToInputs(_ dy: Tensor, inputGradient: Bool) throws -> [Tensor] {
        guard inputs > 0 else { throw AxonError.invalidArgument("\(summary): backward needs a preceding forward(training: true)") }
        try dy.expectShape(output.shape, "\(summary) output gradient")
        defer { inputs = 0 }
        return Array(repeating: dy, count: inputs)
    }
}
