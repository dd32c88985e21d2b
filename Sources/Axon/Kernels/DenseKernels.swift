import CKernels

// The wrappers of the dense layer (dense.c), activations and softmax (activation.c).

extension Kernels {
    static func denseForward(n: Int, inputs: Int, units: Int, x: Tensor, w: Tensor, b: Tensor,
                             activation: Activation, y: inout Tensor) throws {
        try withPointers([x, w, b], &y) { r, yp in
            try check(ck_dense_forward(Int32(n), Int32(inputs), Int32(units), r[0], r[1], r[2], activation.ck, yp),
                      "ck_dense_forward")
        }
    }

    /// dw, db overwritten; dx too unless nil.
    static func denseBackward(n: Int, inputs: Int, units: Int, x: Tensor, w: Tensor, dz: Tensor,
                              dx: inout Tensor?, dw: inout Tensor?, db: inout Tensor) throws {
        try withPointers([x, w, dz], &dx, &dw, &db) { r, dxp, dwp, dbp in
            try check(ck_dense_backward(Int32(n), Int32(inputs), Int32(units), r[0], r[1], r[2], dxp, dwp, dbp),
                      "ck_dense_backward")
        }
    }

    static func activationForward(_ a: Activation, x: Tensor, y: inout Tensor) throws {
        let n = x.count
        try withPointers([x], &y) { r, yp in try check(ck_activation_forward(a.ck, r[0], yp, n), "ck_activation_forward") }
    }

    /// dx = dy ⊙ act'(·) from the forward output y.
    static func activationBackward(_ a: Activation, y: Tensor, dy: Tensor, dx: inout Tensor) throws {
        let n = y.count
        try withPointers([y, dy], &dx) { r, dxp in
            try check(ck_activation_backward(a.ck, r[0], r[1], dxp, n), "ck_activation_backward")
        }
    }

    /// In-place variant: d ← d ⊙ act'(y).
    static func activationBackwardInPlace(_ a: Activation, y: Tensor, d: inout Tensor) throws {
        let n = y.count
        try withPointers([y], &d) { r, dp in try check(ck_activation_backward(a.ck, r[0], dp, dp, n), "ck_activation_backward") }
    }

    static func softmaxForward(rows: Int, cols: Int, x: Tensor, y: inout Tensor) throws {
        try withPointers([x], &y) { r, yp in
            try check(ck_softmax_forward(Int32(rows), Int32(cols), r[0], yp), "ck_softmax_forward")
        }
    }

    static func softmaxBackward(rows: Int, cols: Int, y: Tensor, dy: Tensor, dx: inout Tensor) throws {
        try withPointers([y, dy], &dx) { r, dxp in
            try check(ck_softmax_backward(Int32(rows), Int32(cols), r[0], r[1], dxp), "ck_softmax_backward")
        }
    }
}
