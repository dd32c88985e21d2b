/// Training losses (spec §5), each returning the batch loss and its gradient
/// with respect to the network output.
public enum Loss: String, Sendable, Codable, CaseIterable {
    /// Softmax cross-entropy of logits [N, K] with integer labels, mean over
    /// the batch (`tf.reduce_mean(sparse_softmax_cross_entropy_with_logits)`).
    case softmaxCrossEntropy
    /// Sigmoid cross-entropy of logits against 0/1 (or soft) targets, mean over
    /// all N·K elements as TF's reduce_mean does (spec §5.5).
    case sigmoidCrossEntropy
    /// The course's quadratic cost ½Σ(t − y)² per example, mean over the batch (spec §5.2).
    case quadratic

    /// Loss and ∂loss/∂logits for integer class labels (one per row of `logits`);
    /// sigmoid and quadratic losses compare against the one-hot encoding.
    public func compute(logits: Tensor, labels: [Int32]) throws -> (loss: Float, gradient: Tensor) {
        let (terms, gradient) = try terms(logits: logits, labels: labels)
        return (Loss.mean(terms, over: terms.count), gradient)
    }

    /// Loss and gradient for dense targets of the same shape as `logits`
    /// (probabilities for softmax cross-entropy).
    public func compute(logits: Tensor, targets: Tensor) throws -> (loss: Float, gradient: Tensor) {
        let (terms, gradient) = try terms(logits: logits, targets: targets)
        return (Loss.mean(terms, over: terms.count), gradient)
    }

    /// The loss of every example before the mean that `compute` returns: shape [N]
    /// for softmax cross-entropy and the quadratic cost, and [N, K] (one per element,
    /// as TF's `sigmoid_cross_entropy_with_logits` returns) for sigmoid cross-entropy.
    public func perExample(logits: Tensor, labels: [Int32]) throws -> Tensor {
        termsTensor(try terms(logits: logits, labels: labels).terms, logits)
    }

    /// `perExample` for dense targets of the same shape as `logits`.
    public func perExample(logits: Tensor, targets: Tensor) throws -> Tensor {
        termsTensor(try terms(logits: logits, targets: targets).terms, logits)
    }

    private func termsTensor(_ terms: [Float], _ logits: Tensor) -> Tensor {
        Tensor(uncheckedShape: self == .sigmoidCrossEntropy ? logits.shape : [logits.shape[0]], scalars: terms)
    }

    /// The per-example (per-element for sigmoid) terms whose mean is the loss, and
    /// the gradient of that mean.
    private func terms(logits: Tensor, labels: [Int32]) throws -> (terms: [Float], gradient: Tensor) {
        let (rows, k) = try Loss.rowsAndClasses(logits)
        guard labels.count == rows else {
            throw AxonError.shapeMismatch("\(self) labels (one per row of logits \(logits.shape))",
                                          expected: [rows], got: [labels.count])
        }
        if let bad = labels.first(where: { $0 < 0 || Int($0) >= k }) {
            throw AxonError.invalidArgument("\(self): label \(bad) outside [0, \(k)) for logits of shape \(logits.shape)")
        }
        switch self {
        case .softmaxCrossEntropy:
            var perRow = [Float](repeating: 0, count: rows)
            var gradient = Tensor(zeros: logits.shape)
            try Kernels.sparseSoftmaxCrossEntropy(rows: rows, k: k, logits: logits, labels: labels, loss: &perRow,
                                                  scale: 1 / Float(rows), dlogits: &gradient)
            return (perRow, gradient)
        case .sigmoidCrossEntropy, .quadratic:
            var onehot = [Float](repeating: 0, count: rows * k)
            for (r, l) in labels.enumerated() { onehot[r * k + Int(l)] = 1 }
            return try terms(logits: logits, targets: Tensor(uncheckedShape: logits.shape, scalars: onehot))
        }
    }

    private func terms(logits: Tensor, targets: Tensor) throws -> (terms: [Float], gradient: Tensor) {
        let (rows, k) = try Loss.rowsAndClasses(logits)
        try targets.expectShape(logits.shape, "\(self) targets")
        var gradient = Tensor(zeros: logits.shape)
        switch self {
        case .softmaxCrossEntropy:
            var perRow = [Float](repeating: 0, count: rows)
            try Kernels.softmaxCrossEntropy(rows: rows, k: k, logits: logits, labels: targets, loss: &perRow,
                                            scale: 1 / Float(rows), dlogits: &gradient)
            return (perRow, gradient)
        case .sigmoidCrossEntropy:
            var perElement = [Float](repeating: 0, count: logits.count)
            try Kernels.sigmoidCrossEntropy(logits: logits, labels: targets, loss: &perElement,
                                            scale: 1 / Float(logits.count), dlogits: &gradient)
            return (perElement, gradient)
        case .quadratic:
            var perRow = [Float](repeating: 0, count: rows)
            try Kernels.quadraticCost(rows: rows, k: k, y: logits, t: targets, loss: &perRow,
                                      scale: 1 / Float(rows), dy: &gradient)
            return (perRow, gradient)
        }
    }

    public func callAsFunction(logits: Tensor, labels: [Int32]) throws -> (loss: Float, gradient: Tensor) {
        try compute(logits: logits, labels: labels)
    }

    public func callAsFunction(logits: Tensor, targets: Tensor) throws -> (loss: Float, gradient: Tensor) {
        try compute(logits: logits, targets: targets)
    }

    static func rowsAndClasses(_ logits: Tensor) throws -> (Int, Int) {
        guard logits.rank == 2, logits.shape[0] > 0, logits.shape[1] > 0 else {
            throw AxonError.shapeMismatch("loss logits [batch, classes]", expected: [-1, -1], got: logits.shape)
        }
        return (logits.shape[0], logits.shape[1])
    }

    /// Mean accumulated in Double so that long rows of small terms stay exact.
    static func mean(_ v: [Float], over n: Int) -> Float {
        var s = 0.0
        for x in v { s += Double(x) }
        return Float(s / Double(n))
    }
}
