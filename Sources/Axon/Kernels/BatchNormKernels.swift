import CKernels

// The wrappers of batch normalization (batchnorm.c). An empty gamma or beta
// stands for none (NULL).

extension Kernels {
    static func batchNormTrain(rows: Int, channels: Int, x: Tensor, gamma: Tensor, beta: Tensor, epsilon: Float,
                               y: inout Tensor, mean: inout Tensor, variance: inout Tensor, inverseStd: inout Tensor) throws {
        try withPointers([x, gamma.orNil, beta.orNil], &y, &mean, &variance, &inverseStd) { r, yp, mp, vp, sp in
            try check(ck_batchnorm_forward_train(Int32(rows), Int32(channels), r[0], r[1], r[2], epsilon, yp, mp, vp, sp),
                      "ck_batchnorm_forward_train")
        }
    }

    static func batchNormInfer(rows: Int, channels: Int, x: Tensor, gamma: Tensor, beta: Tensor, mean: Tensor,
                               variance: Tensor, epsilon: Float, y: inout Tensor) throws {
        try withPointers([x, gamma.orNil, beta.orNil, mean, variance], &y) { r, yp in
            try check(ck_batchnorm_forward_infer(Int32(rows), Int32(channels), r[0], r[1], r[2], r[3], r[4], epsilon, yp),
                      "ck_batchnorm_forward_infer")
        }
    }

    /// dx, dgamma and dbeta are written unless nil.
    static func batchNormBackward(rows: Int, channels: Int, x: Tensor, gamma: Tensor, mean: Tensor, inverseStd: Tensor,
                                  dy: Tensor, dx: inout Tensor?, dgamma: inout Tensor?, dbeta: inout Tensor?) throws {
        try withPointers([x, gamma.orNil, mean, inverseStd, dy], &dx, &dgamma, &dbeta) { r, dxp, dgp, dbp in
            try check(ck_batchnorm_backward(Int32(rows), Int32(channels), r[0], r[1], r[2], r[3], r[4], dxp, dgp, dbp),
                      "ck_batchnorm_backward")
        }
    }
}

// The pieces of synchronized BatchNorm (SyncedBatchNorm.swift).
extension Kernels {
    /// Per channel: the mean of x to twice float precision (mean + meanLow) and
    /// m2 = Σ (x − mean)².
    static func batchNormMoments(rows: Int, channels: Int, x: Tensor, mean: inout Tensor, meanLow: inout Tensor,
                                 m2: inout Tensor) throws {
        try withPointers([x], &mean, &meanLow, &m2) { r, mp, lp, qp in
            try check(ck_batchnorm_moments(Int32(rows), Int32(channels), r[0], mp, lp, qp), "ck_batchnorm_moments")
        }
    }

    /// y normalised with the given statistics (the whole batch's), and the inverse
    /// standard deviations it used.
    static func batchNormNormalize(rows: Int, channels: Int, x: Tensor, gamma: Tensor, beta: Tensor, mean: Tensor,
                                   meanLow: Tensor, variance: Tensor, epsilon: Float, y: inout Tensor,
                                   inverseStd: inout Tensor) throws {
        try withPointers([x, gamma.orNil, beta.orNil, mean, meanLow, variance], &y, &inverseStd) { r, yp, sp in
            try check(ck_batchnorm_normalize(Int32(rows), Int32(channels), r[0], r[1], r[2], r[3], r[4], r[5], epsilon,
                                             yp, sp), "ck_batchnorm_normalize")
        }
    }

    /// dx of this shard's rows from the whole batch's (`count` rows) sums dgamma and dbeta.
    static func batchNormBackwardDx(rows: Int, channels: Int, count: Double, x: Tensor, gamma: Tensor, mean: Tensor,
                                    inverseStd: Tensor, dgamma: Tensor, dbeta: Tensor, dy: Tensor, dx: inout Tensor) throws {
        try withPointers([x, gamma.orNil, mean, inverseStd, dgamma, dbeta, dy], &dx) { r, dxp in
            try check(ck_batchnorm_backward_dx(Int32(rows), Int32(channels), count, r[0], r[1], r[2], r[3], r[4], r[5],
                                               r[6], dxp), "ck_batchnorm_backward_dx")
        }
    }
}
