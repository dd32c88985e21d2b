/// Storage helpers that let layers keep their buffers between steps.
///
/// A layer's output buffer is shared (copy-on-write) with the next layer, which
/// keeps it as its cached input until its backward pass. `reuse` reshapes a
/// buffer in place when the element count is unchanged, so a steady-state
/// training step allocates nothing once the previous step has released its caches.
extension Tensor {
    /// An empty tensor (no allocation), used to release a cached buffer.
    public static let empty = Tensor(uncheckedShape: [0], scalars: [])

    /// Makes `t` a tensor of `shape`, keeping its storage when the element count
    /// matches (contents are then stale and must be overwritten by the caller).
    @inline(__always)
    static func reuse(_ t: inout Tensor, shape: [Int]) {
        if t.shape == shape { return }
        let n = elementCount(shape)
        if t.count == n {
            let storage = t.scalars
            t = .empty
            t = Tensor(uncheckedShape: shape, scalars: storage)
        } else {
            t = Tensor(zeros: shape)
        }
    }

    /// Number of elements of one row along the first axis (count / shape[0]).
    var rowStride: Int { rank == 0 ? 1 : (shape[0] == 0 ? 0 : count / shape[0]) }

    /// Shape without the batch axis.
    var exampleShape: [Int] { Array(shape.dropFirst()) }

    /// Reshape that cannot fail (caller guarantees equal element counts).
    func reshapedUnchecked(_ newShape: [Int]) -> Tensor {
        Tensor(uncheckedShape: newShape, scalars: scalars)
    }

    /// Elementwise sum of squares (for tests and diagnostics, not hot paths).
    public func squaredNorm() -> Float { scalars.reduce(0) { $0 + $1 * $1 } }
}
