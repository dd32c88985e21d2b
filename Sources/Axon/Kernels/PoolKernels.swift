import CKernels

// The wrappers of the pooling kernels (pool.c).

extension Kernels {
    static func pool2dOutputShape(_ g: Geometry2D) throws -> (Int, Int) {
        var p = g.pool
        var oh: Int32 = 0, ow: Int32 = 0
        try check(ck_pool2d_output_shape(&p, &oh, &ow), "ck_pool2d_output_shape")
        return (Int(oh), Int(ow))
    }

    /// Training: `argmax` receives each maximum's flat input index, for the backward pass.
    static func maxPoolForward(_ g: Geometry2D, x: Tensor, y: inout Tensor, argmax: inout [Int32]) throws {
        var p = g.pool
        try withPointers([x], &y, &argmax) { r, yp, ap in
            try check(ck_maxpool2d_forward(&p, r[0], yp, ap), "ck_maxpool2d_forward")
        }
    }

    /// Inference: no indices are written.
    static func maxPoolForward(_ g: Geometry2D, x: Tensor, y: inout Tensor) throws {
        var p = g.pool
        try withPointers([x], &y) { r, yp in try check(ck_maxpool2d_forward(&p, r[0], yp, nil), "ck_maxpool2d_forward") }
    }

    static func poolRouteBackward(_ g: Geometry2D, dy: Tensor, index: [Int32], dx: inout Tensor) throws {
        var p = g.pool
        try index.withUnsafeBufferPointer { ip in
            try withPointers([dy], &dx) { r, dxp in
                try check(ck_pool2d_route_backward(&p, r[0], ip.baseAddress, dxp), "ck_pool2d_route_backward")
            }
        }
    }

    static func avgPoolForward(_ g: Geometry2D, x: Tensor, y: inout Tensor) throws {
        var p = g.pool
        try withPointers([x], &y) { r, yp in try check(ck_avgpool2d_forward(&p, r[0], yp), "ck_avgpool2d_forward") }
    }

    static func avgPoolBackward(_ g: Geometry2D, dy: Tensor, dx: inout Tensor) throws {
        var p = g.pool
        try withPointers([dy], &dx) { r, dxp in try check(ck_avgpool2d_backward(&p, r[0], dxp), "ck_avgpool2d_backward") }
    }

    static func stochasticPoolTrain(_ g: Geometry2D, x: Tensor, u: Tensor, y: inout Tensor,
                                    switches: inout [Int32]) throws {
        var p = g.pool
        try withPointers([x, u], &y, &switches) { r, yp, sp in
            try check(ck_stochpool2d_forward_train(&p, r[0], r[1], yp, sp), "ck_stochpool2d_forward_train")
        }
    }

    static func stochasticPoolInfer(_ g: Geometry2D, x: Tensor, y: inout Tensor) throws {
        var p = g.pool
        try withPointers([x], &y) { r, yp in
            try check(ck_stochpool2d_forward_infer(&p, r[0], yp), "ck_stochpool2d_forward_infer")
        }
    }

    static func globalAvgPoolForward(n: Int, hw: Int, c: Int, x: Tensor, y: inout Tensor) throws {
        try withPointers([x], &y) { r, yp in
            try check(ck_global_avgpool_forward(Int32(n), Int32(hw), Int32(c), r[0], yp), "ck_global_avgpool_forward")
        }
    }

    static func globalAvgPoolBackward(n: Int, hw: Int, c: Int, dy: Tensor, dx: inout Tensor) throws {
        try withPointers([dy], &dx) { r, dxp in
            try check(ck_global_avgpool_backward(Int32(n), Int32(hw), Int32(c), r[0], dxp), "ck_global_avgpool_backward")
        }
    }
}
