// How the wrappers hand the C kernels their buffers: one call gives the storage
// of every buffer a kernel reads and writes, so a wrapper is one closure deep.
// Read tensors come as a list (nil: an optional argument left out, passed as
// NULL); written buffers as inout arguments, up to seven, each a Tensor, an
// array, or an optional of one (nil: an output the kernel skips, passed as
// NULL). The pointers are valid only during `body`.

typealias ReadPointers = [UnsafePointer<Float>?]

/// A buffer a kernel writes, as one mutable pointer to its storage.
protocol KernelOutput {
    associatedtype Element
    mutating func withKernelPointer<R>(_ body: (UnsafeMutablePointer<Element>?) throws -> R) throws -> R
}

extension Tensor: KernelOutput {
    mutating func withKernelPointer<R>(_ body: (UnsafeMutablePointer<Float>?) throws -> R) throws -> R {
        try withUnsafeMutableBufferPointer { try body($0.baseAddress) }
    }

    /// The tensor as an optional kernel argument: nil (NULL) when empty.
    var orNil: Tensor? { count == 0 ? nil : self }
}

extension Array: KernelOutput {
    mutating func withKernelPointer<R>(_ body: (UnsafeMutablePointer<Element>?) throws -> R) throws -> R {
        try withUnsafeMutableBufferPointer { try body($0.baseAddress) }
    }
}

/// An optional output: NULL when nil, so the kernel skips it.
extension Optional: KernelOutput where Wrapped: KernelOutput {
    mutating func withKernelPointer<R>(_ body: (UnsafeMutablePointer<Wrapped.Element>?) throws -> R) throws -> R {
        guard self != nil else { return try body(nil) }
        return try self!.withKernelPointer(body)
    }
}

extension Tensor {
    /// Moves `buffer` out, leaving it empty: a layer lends its gradient buffer
    /// to a kernel as an optional output (`Tensor?`) without the storage
    /// becoming shared, which would make writing it copy the whole buffer.
    /// The layer stores the result back after the call. `reshapedTo`: the shape
    /// the output must have (the buffer is reused when its size fits).
    static func take(_ buffer: inout Tensor, reshapedTo shape: [Int]? = nil) -> Tensor {
        if let shape { reuse(&buffer, shape: shape) }
        defer { buffer = .empty }
        return buffer
    }
}

typealias Out<T: KernelOutput> = UnsafeMutablePointer<T.Element>?

/// The read pointers of `reads`, in order.
func withPointers<R>(_ reads: [Tensor?], _ body: (ReadPointers) throws -> R) throws -> R {
    var pointers: ReadPointers = []
    pointers.reserveCapacity(reads.count)
    func next(_ i: Int) throws -> R {
        guard i < reads.count else { return try body(pointers) }
        guard let t = reads[i] else {
            pointers.append(nil)
            return try next(i + 1)
        }
        return try t.withUnsafeBufferPointer { buffer in
            pointers.append(buffer.baseAddress)
            return try next(i + 1)
        }
    }
    return try next(0)
}

func withPointers<R, A: KernelOutput>(
    _ reads: [Tensor?], _ a: inout A, _ body: (ReadPointers, Out<A>) throws -> R
) throws -> R {
    try a.withKernelPointer { pa in try withPointers(reads) { r in try body(r, pa) } }
}

func withPointers<R, A: KernelOutput, B: KernelOutput>(
    _ reads: [Tensor?], _ a: inout A, _ b: inout B, _ body: (ReadPointers, Out<A>, Out<B>) throws -> R
) throws -> R {
    try a.withKernelPointer { pa in try withPointers(reads, &b) { r, pb in try body(r, pa, pb) } }
}

func withPointers<R, A: KernelOutput, B: KernelOutput, C: KernelOutput>(
    _ reads: [Tensor?], _ a: inout A, _ b: inout B, _ c: inout C,
    _ body: (ReadPointers, Out<A>, Out<B>, Out<C>) throws -> R
) throws -> R {
    try a.withKernelPointer { pa in try withPointers(reads, &b, &c) { r, pb, pc in try body(r, pa, pb, pc) } }
}

func withPointers<R, A: KernelOutput, B: KernelOutput, C: KernelOutput, D: KernelOutput>(
    _ reads: [Tensor?], _ a: inout A, _ b: inout B, _ c: inout C, _ d: inout D,
    _ body: (ReadPointers, Out<A>, Out<B>, Out<C>, Out<D>) throws -> R
) throws -> R {
    try a.withKernelPointer { pa in
        try withPointers(reads, &b, &c, &d) { r, pb, pc, pd in try body(r, pa, pb, pc, pd) }
    }
}

func withPointers<R, A: KernelOutput, B: KernelOutput, C: KernelOutput, D: KernelOutput, E: KernelOutput>(
    _ reads: [Tensor?], _ a: inout A, _ b: inout B, _ c: inout C, _ d: inout D, _ e: inout E,
    _ body: (ReadPointers, Out<A>, Out<B>, Out<C>, Out<D>, Out<E>) throws -> R
) throws -> R {
    try a.withKernelPointer { pa in
        try withPointers(reads, &b, &c, &d, &e) { r, pb, pc, pd, pe in try body(r, pa, pb, pc, pd, pe) }
    }
}

func withPointers<R, A: KernelOutput, B: KernelOutput, C: KernelOutput, D: KernelOutput, E: KernelOutput,
                  F: KernelOutput>(
    _ reads: [Tensor?], _ a: inout A, _ b: inout B, _ c: inout C, _ d: inout D, _ e: inout E, _ f: inout F,
    _ body: (ReadPointers, Out<A>, Out<B>, Out<C>, Out<D>, Out<E>, Out<F>) throws -> R
) throws -> R {
    try a.withKernelPointer { pa in
        try withPointers(reads, &b, &c, &d, &e, &f) { r, pb, pc, pd, pe, pf in try body(r, pa, pb, pc, pd, pe, pf) }
    }
}

func withPointers<R, A: KernelOutput, B: KernelOutput, C: KernelOutput, D: KernelOutput, E: KernelOutput,
                  F: KernelOutput, G: KernelOutput>(
    _ reads: [Tensor?], _ a: inout A, _ b: inout B, _ c: inout C, _ d: inout D, _ e: inout E, _ f: inout F,
    _ g: inout G, _ body: (ReadPointers, Out<A>, Out<B>, Out<C>, Out<D>, Out<E>, Out<F>, Out<G>) throws -> R
) throws -> R {
    try a.withKernelPointer { pa in
        try withPointers(reads, &b, &c, &d, &e, &f, &g) { r, pb, pc, pd, pe, pf, pg in
            try body(r, pa, pb, pc, pd, pe, pf, pg)
        }
    }
}
