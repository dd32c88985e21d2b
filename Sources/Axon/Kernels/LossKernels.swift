import CKernels

// The wrappers of the losses (loss.c), dropout (dropout.c) and the weight
// penalties (penalty.c).

extension Kernels {
    static func sparseSoftmaxCrossEntropy(rows: Int, k: Int, logits: Tensor, labels: [Int32], loss: inout [Float],
                                          scale: Float, dlogits: inout Tensor) throws {
        try labels.withUnsafeBufferPointer { tp in
            try withPointers([logits], &loss, &dlogits) { r, ls, dp in
                try check(ck_sparse_softmax_cross_entropy(Int32(rows), Int32(k), r[0], tp.baseAddress, ls, scale, dp),
                          "ck_sparse_softmax_cross_entropy")
            }
        }
    }

    static func softmaxCrossEntropy(rows: Int, k: Int, logits: Tensor, labels: Tensor, loss: inout [Float],
                                    scale: Float, dlogits: inout Tensor) throws {
        try withPointers([logits, labels], &loss, &dlogits) { r, ls, dp in
            try check(ck_softmax_cross_entropy(Int32(rows), Int32(k), r[0], r[1], ls, scale, dp),
                      "ck_softmax_cross_entropy")
        }
    }

    static func sigmoidCrossEntropy(logits: Tensor, labels: Tensor, loss: inout [Float], scale: Float,
                                    dlogits: inout Tensor) throws {
        let n = logits.count
        try withPointers([logits, labels], &loss, &dlogits) { r, ls, dp in
            try check(ck_sigmoid_cross_entropy(n, r[0], r[1], ls, scale, dp), "ck_sigmoid_cross_entropy")
        }
    }

    static func quadraticCost(rows: Int, k: Int, y: Tensor, t: Tensor, loss: inout [Float], scale: Float,
                              dy: inout Tensor) throws {
        try withPointers([y, t], &loss, &dy) { r, ls, dp in
            try check(ck_quadratic_cost(Int32(rows), Int32(k), r[0], r[1], ls, scale, dp), "ck_quadratic_cost")
        }
    }

    static func dropoutForward(rate: Float, seed: UInt64, counter: UInt64, x: Tensor, y: inout Tensor,
                               mask: inout [UInt8]) throws {
        let n = x.count
        try withPointers([x], &y, &mask) { r, yp, mp in
            try check(ck_dropout_forward(n, rate, seed, counter, r[0], yp, mp), "ck_dropout_forward")
        }
    }

    static func dropoutBackward(rate: Float, mask: [UInt8], dy: Tensor, dx: inout Tensor) throws {
        let n = dy.count
        try mask.withUnsafeBufferPointer { mp in
            try withPointers([dy], &dx) { r, dxp in
                try check(ck_dropout_backward(n, rate, mp.baseAddress, r[0], dxp), "ck_dropout_backward")
            }
        }
    }

    /// Returns coef/2·Σw² and adds coef·w to `grad`.
    static func l2Penalty(w: Tensor, coef: Float, grad: inout Tensor) throws -> Float {
        var penalty: Float = 0
        let n = w.count
        try withPointers([w], &grad) { r, gp in try check(ck_l2_penalty(n, r[0], coef, &penalty, gp), "ck_l2_penalty") }
        return penalty
    }

    /// Returns coef·Σ|w| and adds coef·sign(w) to `grad`.
    static func l1Penalty(w: Tensor, coef: Float, grad: inout Tensor) throws -> Float {
        var penalty: Float = 0
        let n = w.count
        try withPointers([w], &grad) { r, gp in try check(ck_l1_penalty(n, r[0], coef, &penalty, gp), "ck_l1_penalty") }
        return penalty
    }
}
