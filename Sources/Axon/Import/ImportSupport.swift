import Foundation

/// What the TensorFlow and ONNX importers both need.
enum ImportSupport {
    /// `count` little-endian values from `bytes` (a tensor's packed content);
    /// nil when it holds another number of bytes.
    static func littleEndian<T: FixedWidthInteger>(_ bytes: Data, count: Int, as type: T.Type) -> [T]? {
        let size = MemoryLayout<T>.size
        guard bytes.count == count * size else { return nil }
        return bytes.withUnsafeBytes { raw in
            (0..<count).map { T(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * size, as: T.self)) }
        }
    }

    /// TensorFlow's SAME padding of a 2-D window as [top, left, bottom, right] (the
    /// smaller half first), which Axon's `.same` implements.
    static func samePads(size: [Int], kernel: [Int], strides: [Int]) -> [Int] {
        var p = [0, 0, 0, 0]
        for d in 0..<2 {
            let out = (size[d] + strides[d] - 1) / strides[d]
            let total = max((out - 1) * strides[d] + kernel[d] - size[d], 0)
            (p[d], p[d + 2]) = (total / 2, total - total / 2)
        }
        return p
    }

    /// `layer` built for examples of `inputShape` (for weights, only its channel count matters) with these tensors.
    static func built<L: Layer>(_ layer: L, inputShape: [Int], _ tensors: [String: Tensor]) throws -> L {
        var l = layer
        var g = SeededGenerator(seed: 0)
        try l.build(inputShape: inputShape, generator: &g)
        for (name, t) in tensors { try l.setTensor(name, to: t) }
        return l
    }

    /// A BatchNorm over the last axis that computes x · scale + shift exactly
    /// (mean 0, variance 1, ε 0): how a per-channel bias, scale or negation becomes
    /// a layer that folds into the convolution before it.
    static func affine(scale: [Float]?, shift: [Float], inputShape: [Int]) throws -> BatchNorm {
        let c = shift.count
        var tensors = ["moving_mean": Tensor(uncheckedShape: [c], scalars: [Float](repeating: 0, count: c)),
                       "moving_variance": Tensor(uncheckedShape: [c], scalars: [Float](repeating: 1, count: c)),
                       "beta": Tensor(uncheckedShape: [c], scalars: shift)]
        tensors["gamma"] = scale.map { Tensor(uncheckedShape: [c], scalars: $0) }
        return try built(BatchNorm(epsilon: 0, scale: scale != nil), inputShape: inputShape, tensors)
    }
}

extension TFConstant {
    /// Constant folding of `op` with broadcasting of a scalar or a trailing block
    /// (TensorFlow's and ONNX's rule for the constants real graphs fold).
    static func broadcast(_ x: TFConstant, _ y: TFConstant, _ op: (Float, Float) -> Float) -> TFConstant? {
        let (big, small) = x.values.count >= y.values.count ? (x, y) : (y, x)
        guard !small.values.isEmpty, big.values.count % small.values.count == 0 else { return nil }
        func at(_ c: TFConstant, _ i: Int) -> Float { c.values[i % c.values.count] }
        return TFConstant(shape: big.shape, values: (0..<big.values.count).map { op(at(x, $0), at(y, $0)) })
    }
}

/// `v` as an Int when it is a whole number within ±`limit` (shapes, axes and
/// sizes stored as float constants); nil for NaN, infinities, fractions, huge values.
func exactInteger(_ v: Float, limit: Int = 1 << 31) -> Int? {
    v.isFinite && v.rounded() == v && abs(v) <= Float(limit) ? Int(v) : nil
}
