import Foundation

/// Mean loss and accuracy of `model` on `data` (inference mode, in batches of
/// up to `batchSize`, fewer if memory needs it).
///
/// A network that ends in a Softmax layer outputs probabilities, not logits:
/// its softmax cross-entropy is the mean of −log p[label] (p clipped below at
/// 1e−7, as Keras clips), not the cross-entropy of a second softmax.
public func evaluate<Model: Layer>(_ model: Model, on data: Dataset, loss: Loss = .softmaxCrossEntropy,
                                   batchSize: Int = 1000) throws -> (loss: Float, accuracy: Double) {
    var m = model
    let probabilities = loss == .softmaxCrossEntropy && (model as? any Network)?.outputsProbabilities == true
    var lossSum = 0.0, correct = 0
    var begin = 0
    let batchSize = try (model as? any Network)?.inferenceBatch(upTo: batchSize, inputShapes: [data.exampleShape])
        ?? batchSize
    while begin < data.count {
        let end = begin + min(max(batchSize, 1), data.count - begin)
        let x = data.rows(begin..<end)
        let labels = Array(data.labels[begin..<end])
        let output = try m.forward(x, training: false)
        // softmax(log p) = p for rows that sum to 1, so log p are logits of p.
        let logits = probabilities
            ? Tensor(uncheckedShape: output.shape, scalars: output.scalars.map { log(max($0, 1e-7)) }) : output
        let (l, _) = try loss.compute(logits: logits, labels: labels)
        lossSum += Double(l) * Double(end - begin)
        correct += countCorrect(logits, labels)
        begin = end
    }
    let n = Double(max(data.count, 1))
    return (Float(lossSum / n), Double(correct) / n)
}

/// Predicted class of every image of `images` [N, ...] (batched inference).
///
/// Works on a copy of `model`: its buffers are shared with the caller's, so
/// the first pass copies each layer's output and workspace (copy-on-write).
/// For repeated calls pass the model `inout` instead, which reuses them.
public func predict<Model: Layer>(_ model: Model, _ images: Tensor, batchSize: Int = 1000) throws -> [Int] {
    var m = model
    return try predict(&m, images, batchSize: batchSize)
}

/// Predicted class of every image of `images` [N, ...], running `model` in
/// place: its layer buffers are reused, so a steady state allocates nothing
/// but the result. The parameters are not changed.
public func predict<Model: Layer>(_ model: inout Model, _ images: Tensor, batchSize: Int = 1000) throws -> [Int] {
    guard images.rank >= 1 else { throw AxonError.invalidArgument("predict: images need a batch axis, got \(images.shape)") }
    var out: [Int] = []
    out.reserveCapacity(images.shape[0])
    var begin = 0
    let batchSize = try (model as? any Network)?.inferenceBatch(upTo: batchSize, inputShapes: [Array(images.shape.dropFirst())])
        ?? batchSize
    while begin < images.shape[0] {
        let end = begin + min(max(batchSize, 1), images.shape[0] - begin)
        // The whole tensor as one batch needs no copy.
        let batch = begin == 0 && end == images.shape[0] ? images : images.rows(begin..<end)
        let logits = try model.forward(batch, training: false)
        guard logits.rank == 2 else {
            throw AxonError.shapeMismatch("predict: model output [batch, classes]", expected: [end - begin, -1],
                                          got: logits.shape)
        }
        out += logits.argmaxRows()
        begin = end
    }
    return out
}

/// How many rows of `logits` [N, classes] have their largest value at the label.
func countCorrect(_ logits: Tensor, _ labels: [Int32]) -> Int {
    let k = logits.shape[1]
    guard k > 0 else { return 0 }
    return logits.withUnsafeBufferPointer { p in
        var correct = 0
        for r in 0..<labels.count {
            var best = 0
            for j in 1..<k where p[r * k + j] > p[r * k + best] { best = j }
            if best == Int(labels[r]) { correct += 1 }
        }
        return correct
    }
}
