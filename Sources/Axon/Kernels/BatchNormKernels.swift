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
