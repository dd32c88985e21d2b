/// Labelled images in memory: N examples of shape `exampleShape` (e.g.
/// [28, 28, 1]) with values in [0, 1], and N class ids in [0, classCount).
///
/// The pixels are held either as floats or, for 8-bit image files such as
/// MNIST's, as the bytes themselves (value = byte / 255), a quarter of the
/// memory: Fashion-MNIST's training set is 45 MiB instead of 180. Either way
/// `batch(_:)` and `rows(_:)` hand out float tensors of the examples asked for.
public struct Dataset: Sendable {
    private enum Pixels: Sendable {
        case floats(Tensor)
        case bytes([UInt8])  // value = byte / 255
    }

    private let pixels: Pixels
    public let labels: [Int32]
    public let classCount: Int
    /// Shape of one example, e.g. [28, 28, 1].
    public let exampleShape: [Int]
    /// Values per example (the product of `exampleShape`).
    private let stride: Int

    public var count: Int { labels.count }

    /// A dataset of float images [N, ...].
    public init(images: Tensor, labels: [Int32], classCount: Int = 10) throws {
        guard images.rank >= 2, images.shape[0] == labels.count else {
            throw AxonError.invalidArgument(
                "Dataset: \(images.shape.first ?? 0) images (shape \(images.shape)) but \(labels.count) labels")
        }
        try self.init(.floats(images), exampleShape: Array(images.shape.dropFirst()), labels: labels, classCount: classCount)
    }

    /// A dataset of 8-bit images held as bytes: example i is
    /// `bytes[i·s ..< (i+1)·s]` (s = the product of `exampleShape`), and its
    /// values are byte / 255.
    public init(bytes: [UInt8], exampleShape: [Int], labels: [Int32], classCount: Int = 10) throws {
        guard !exampleShape.isEmpty, exampleShape.allSatisfy({ $0 > 0 }) else {
            throw AxonError.invalidArgument("Dataset: example shape \(exampleShape) must have positive sizes")
        }
        let (size, overflow) = exampleShape.reduce((1, false)) { acc, d in
            let (p, o) = acc.0.multipliedReportingOverflow(by: d)
            return (p, acc.1 || o)
        }
        guard !overflow, bytes.count == size * labels.count else {
            throw AxonError.invalidArgument(
                "Dataset: \(bytes.count) bytes do not hold \(labels.count) examples of shape \(exampleShape)")
        }
        try self.init(.bytes(bytes), exampleShape: exampleShape, labels: labels, classCount: classCount)
    }

    private init(_ pixels: Pixels, exampleShape: [Int], labels: [Int32], classCount: Int) throws {
        if let bad = labels.first(where: { $0 < 0 || Int($0) >= classCount }) {
            throw AxonError.invalidArgument("Dataset: label \(bad) outside [0, \(classCount))")
        }
        self.pixels = pixels
        self.labels = labels
        self.classCount = classCount
        self.exampleShape = exampleShape
        self.stride = exampleShape.reduce(1, *)
    }

    /// All the images as one float tensor [N, ...]. For a byte dataset this
    /// builds the whole float copy (four times the bytes' memory); take
    /// batches with `batch(_:)` or `rows(_:)` instead where you can.
    public var images: Tensor { rows(0..<count) }

    /// Examples [start, end) as a float tensor [end - start, ...].
    public func rows(_ range: Range<Int>) -> Tensor {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "Dataset.rows: \(range) outside 0..<\(count)")
        if case .floats(let t) = pixels { return range == 0..<count ? t : t.rows(range) }
        var out = Tensor(zeros: [range.count] + exampleShape)
        out.withUnsafeMutableBufferPointer { dst in
            copy(range, to: dst.baseAddress!)
        }
        return out
    }

    /// The first `n` examples (all of them if n >= count).
    public func prefix(_ n: Int) -> Dataset { slice(0..<max(0, min(n, count))) }

    /// Examples [start, end) as a dataset of their own, held the same way.
    public func slice(_ range: Range<Int>) -> Dataset {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "Dataset.slice: \(range) outside 0..<\(count)")
        let kept: Pixels
        switch pixels {
        case .floats(let t): kept = .floats(t.rows(range))
        case .bytes(let b): kept = .bytes(Array(b[range.lowerBound * stride ..< range.upperBound * stride]))
        }
        return try! Dataset(kept, exampleShape: exampleShape, labels: Array(labels[range]), classCount: classCount)
    }

    /// Gathers the examples at `indices` into one batch.
    public func batch<C: Collection>(_ indices: C) -> (images: Tensor, labels: [Int32]) where C.Element == Int {
        var out = Tensor(zeros: [indices.count] + exampleShape)
        let labels = batch(indices, into: &out)
        return (out, labels)
    }

    /// Gathers the examples at `indices` into `images`, whose shape must be
    /// [indices.count] + exampleShape (a reused buffer), and returns their labels.
    public func batch<C: Collection>(_ indices: C, into images: inout Tensor) -> [Int32] where C.Element == Int {
        precondition(images.shape == [indices.count] + exampleShape, "Dataset.batch: buffer shape \(images.shape)")
        var labs = [Int32]()
        labs.reserveCapacity(indices.count)
        images.withUnsafeMutableBufferPointer { dst in
            var o = dst.baseAddress!
            for i in indices {
                copy(i..<(i + 1), to: o)
                o += stride
                labs.append(labels[i])
            }
        }
        return labs
    }

    /// Writes the float values of examples `range` to `dst`.
    private func copy(_ range: Range<Int>, to dst: UnsafeMutablePointer<Float>) {
        let begin = range.lowerBound * stride, n = range.count * stride
        switch pixels {
        case .floats(let t):
            t.withUnsafeBufferPointer { dst.update(from: $0.baseAddress! + begin, count: n) }
        case .bytes(let b):
            b.withUnsafeBufferPointer { src in
                let s = src.baseAddress! + begin
                for k in 0..<n { dst[k] = Float(s[k]) / 255 }
            }
        }
    }
}
