/// Labelled images in memory: `images` is [N, H, W, C] with values in [0, 1],
/// `labels` holds N class ids in [0, classCount).
public struct Dataset: Sendable {
    public let images: Tensor
    public let labels: [Int32]
    public let classCount: Int

    public var count: Int { labels.count }
    /// Shape of one example, e.g. [28, 28, 1].
    public var exampleShape: [Int] { Array(images.shape.dropFirst()) }

    public init(images: Tensor, labels: [Int32], classCount: Int = 10) throws {
        guard images.rank >= 2, images.shape[0] == labels.count else {
            throw AxonError.invalidArgument(
                "Dataset: \(images.shape.first ?? 0) images (shape \(images.shape)) but \(labels.count) labels")
        }
        if let bad = labels.first(where: { $0 < 0 || Int($0) >= classCount }) {
            throw AxonError.invalidArgument("Dataset: label \(bad) outside [0, \(classCount))")
        }
        self.images = images
        self.labels = labels
        self.classCount = classCount
    }

    /// The first `n` examples (all of them if n >= count).
    public func prefix(_ n: Int) -> Dataset {
        let k = max(0, min(n, count))
        return try! Dataset(images: images.rows(0..<k), labels: Array(labels[0..<k]), classCount: classCount)
    }

    /// Gathers the examples at `indices` into one batch.
    public func batch<C: Collection>(_ indices: C) -> (images: Tensor, labels: [Int32]) where C.Element == Int {
        let stride = images.count / max(count, 1)
        var out = [Float]()
        out.reserveCapacity(indices.count * stride)
        var labs = [Int32]()
        labs.reserveCapacity(indices.count)
        images.withUnsafeBufferPointer { src in
            for i in indices {
                out.append(contentsOf: src[i * stride ..< (i + 1) * stride])
                labs.append(labels[i])
            }
        }
        return (Tensor(uncheckedShape: [indices.count] + exampleShape, scalars: out), labs)
    }
}
