import CKernels

// The wrappers of the kernels that branching networks and photos added:
// batch normalization, depthwise convolution, global pooling, padding and
// resizing (the rest are in Kernels.swift, with the same conventions).

extension Kernels {
    static func batchNormTrain(rows: Int, channels: Int, x: Tensor, gamma: Tensor, beta: Tensor, epsilon: Float,
                               y: inout Tensor, mean: inout Tensor, variance: inout Tensor, inverseStd: inout Tensor) throws {
        try readPtr(x) { xp in try optionalReadPtr(gamma) { gp in try optionalReadPtr(beta) { bp in
            try writePtr(&y) { yp in try writePtr(&mean) { mp in try writePtr(&variance) { vp in try writePtr(&inverseStd) { sp in
                try check(ck_batchnorm_forward_train(Int32(rows), Int32(channels), xp, gp, bp, epsilon, yp, mp, vp, sp),
                          "ck_batchnorm_forward_train")
            } } } }
        } } }
    }

    static func batchNormInfer(rows: Int, channels: Int, x: Tensor, gamma: Tensor, beta: Tensor, mean: Tensor,
                               variance: Tensor, epsilon: Float, y: inout Tensor) throws {
        try readPtr(x) { xp in try optionalReadPtr(gamma) { gp in try optionalReadPtr(beta) { bp in
            try readPtr(mean) { mp in try readPtr(variance) { vp in try writePtr(&y) { yp in
                try check(ck_batchnorm_forward_infer(Int32(rows), Int32(channels), xp, gp, bp, mp, vp, epsilon, yp),
                          "ck_batchnorm_forward_infer")
            } } }
        } } }
    }

    /// dgamma and dbeta are written when non-empty, dx when `computeDx`.
    static func batchNormBackward(rows: Int, channels: Int, x: Tensor, gamma: Tensor, mean: Tensor, inverseStd: Tensor,
                                  dy: Tensor, dx: inout Tensor, computeDx: Bool, dgamma: inout Tensor,
                                  dbeta: inout Tensor) throws {
        try readPtr(x) { xp in try optionalReadPtr(gamma) { gp in try readPtr(mean) { mp in try readPtr(inverseStd) { sp in
            try readPtr(dy) { dyp in try optionalWritePtr(&dgamma) { dgp in try optionalWritePtr(&dbeta) { dbp in
                if computeDx {
                    try writePtr(&dx) { dxp in
                        try check(ck_batchnorm_backward(Int32(rows), Int32(channels), xp, gp, mp, sp, dyp, dxp, dgp, dbp),
                                  "ck_batchnorm_backward")
                    }
                } else {
                    try check(ck_batchnorm_backward(Int32(rows), Int32(channels), xp, gp, mp, sp, dyp, nil, dgp, dbp),
                              "ck_batchnorm_backward")
                }
            } } }
        } } } }
    }

    static func depthwiseForward(_ g: Geometry2D, x: Tensor, w: Tensor, b: Tensor, activation: Activation,
                                 y: inout Tensor) throws {
        var p = g.conv
        try readPtr(x) { xp in try readPtr(w) { wp in try optionalReadPtr(b) { bp in try writePtr(&y) { yp in
            try check(ck_depthwise_conv2d_forward(&p, xp, wp, bp, activation.ck, yp), "ck_depthwise_conv2d_forward")
        } } } }
    }

    static func depthwiseBackwardData(_ g: Geometry2D, dz: Tensor, w: Tensor, dx: inout Tensor) throws {
        var p = g.conv
        try readPtr(dz) { dzp in try readPtr(w) { wp in try writePtr(&dx) { dxp in
            try check(ck_depthwise_conv2d_backward_data(&p, dzp, wp, dxp), "ck_depthwise_conv2d_backward_data")
        } } }
    }

    static func depthwiseBackwardFilter(_ g: Geometry2D, x: Tensor, dz: Tensor, dw: inout Tensor, db: inout Tensor) throws {
        var p = g.conv
        try readPtr(x) { xp in try readPtr(dz) { dzp in try writePtr(&dw) { dwp in try optionalWritePtr(&db) { dbp in
            try check(ck_depthwise_conv2d_backward_filter(&p, xp, dzp, dwp, dbp), "ck_depthwise_conv2d_backward_filter")
        } } } }
    }

    static func globalAvgPoolForward(n: Int, hw: Int, c: Int, x: Tensor, y: inout Tensor) throws {
        try readPtr(x) { xp in try writePtr(&y) { yp in
            try check(ck_global_avgpool_forward(Int32(n), Int32(hw), Int32(c), xp, yp), "ck_global_avgpool_forward")
        } }
    }

    static func globalAvgPoolBackward(n: Int, hw: Int, c: Int, dy: Tensor, dx: inout Tensor) throws {
        try readPtr(dy) { dyp in try writePtr(&dx) { dxp in
            try check(ck_global_avgpool_backward(Int32(n), Int32(hw), Int32(c), dyp, dxp), "ck_global_avgpool_backward")
        } }
    }

    /// `shape` is the unpadded [n, h, w, c].
    static func pad2dForward(_ shape: [Int], top: Int, bottom: Int, left: Int, right: Int, x: Tensor, y: inout Tensor) throws {
        try readPtr(x) { xp in try writePtr(&y) { yp in
            try check(ck_pad2d_forward(Int32(shape[0]), Int32(shape[1]), Int32(shape[2]), Int32(shape[3]), Int32(top),
                                       Int32(bottom), Int32(left), Int32(right), xp, yp), "ck_pad2d_forward")
        } }
    }

    static func pad2dBackward(_ shape: [Int], top: Int, bottom: Int, left: Int, right: Int, dy: Tensor, dx: inout Tensor) throws {
        try readPtr(dy) { dyp in try writePtr(&dx) { dxp in
            try check(ck_pad2d_backward(Int32(shape[0]), Int32(shape[1]), Int32(shape[2]), Int32(shape[3]), Int32(top),
                                        Int32(bottom), Int32(left), Int32(right), dyp, dxp), "ck_pad2d_backward")
        } }
    }
}


extension Kernels {
    /// x [n, h, w, c] → y [n, oh, ow, c], TensorFlow's bilinear resize (see ck_resize_bilinear).
    static func resizeBilinear(_ x: Tensor, height oh: Int, width ow: Int, alignCorners: Bool = false,
                               halfPixelCenters: Bool = true, y: inout Tensor) throws {
        let (n, h, w, c) = try nhwc(x, "resize input")
        Tensor.reuse(&y, shape: [Int(n), oh, ow, Int(c)])
        try readPtr(x) { xp in try writePtr(&y) { yp in
            try check(ck_resize_bilinear(n, h, w, c, Int32(oh), Int32(ow), alignCorners ? 1 : 0, halfPixelCenters ? 1 : 0, xp, yp),
                      "ck_resize_bilinear(\(x.shape) to \(oh)×\(ow))")
        } }
    }
}
