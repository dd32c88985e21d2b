import CKernels

// The wrappers of the fused optimizer updates (optim.c, spec §8).

extension Kernels {
    static func sgdUpdate(w: inout Tensor, g: Tensor, lr: Float) throws {
        let n = w.count
        try withPointers([g], &w) { r, wp in try check(ck_sgd_update(n, wp, r[0], lr), "ck_sgd_update") }
    }

    static func momentumUpdate(w: inout Tensor, g: Tensor, accum: inout Tensor, lr: Float, momentum: Float,
                               nesterov: Bool) throws {
        let n = w.count
        try withPointers([g], &w, &accum) { r, wp, ap in
            try check(ck_momentum_update(n, wp, r[0], ap, lr, momentum, nesterov ? 1 : 0), "ck_momentum_update")
        }
    }

    static func adamUpdate(w: inout Tensor, g: Tensor, m: inout Tensor, v: inout Tensor, lrT: Float,
                           beta1: Float, beta2: Float, epsilon: Float) throws {
        let n = w.count
        try withPointers([g], &w, &m, &v) { r, wp, mp, vp in
            try check(ck_adam_update(n, wp, r[0], mp, vp, lrT, beta1, beta2, epsilon), "ck_adam_update")
        }
    }

    static func adagradUpdate(w: inout Tensor, g: Tensor, accum: inout Tensor, lr: Float) throws {
        let n = w.count
        try withPointers([g], &w, &accum) { r, wp, ap in
            try check(ck_adagrad_update(n, wp, r[0], ap, lr), "ck_adagrad_update")
        }
    }

    static func adadeltaUpdate(w: inout Tensor, g: Tensor, accum: inout Tensor, accumUpdate: inout Tensor,
                               lr: Float, rho: Float, epsilon: Float) throws {
        let n = w.count
        try withPointers([g], &w, &accum, &accumUpdate) { r, wp, ap, up in
            try check(ck_adadelta_update(n, wp, r[0], ap, up, lr, rho, epsilon), "ck_adadelta_update")
        }
    }

    static func rmspropUpdate(w: inout Tensor, g: Tensor, ms: inout Tensor, mom: inout Tensor, mg: inout Tensor,
                              lr: Float, decay: Float, momentum: Float, epsilon: Float, centered: Bool) throws {
        let n = w.count
        try withPointers([g], &w, &ms, &mom, &mg) { r, wp, msp, mop, mgp in
            try check(ck_rmsprop_update(n, wp, r[0], msp, mop, centered ? mgp : nil, lr, decay, momentum, epsilon,
                                        centered ? 1 : 0), "ck_rmsprop_update")
        }
    }

    static func proximalSGDUpdate(w: inout Tensor, g: Tensor, lr: Float, l1: Float, l2: Float) throws {
        let n = w.count
        try withPointers([g], &w) { r, wp in
            try check(ck_proximal_sgd_update(n, wp, r[0], lr, l1, l2), "ck_proximal_sgd_update")
        }
    }

    static func proximalAdagradUpdate(w: inout Tensor, g: Tensor, accum: inout Tensor, lr: Float, l1: Float,
                                      l2: Float) throws {
        let n = w.count
        try withPointers([g], &w, &accum) { r, wp, ap in
            try check(ck_proximal_adagrad_update(n, wp, r[0], ap, lr, l1, l2), "ck_proximal_adagrad_update")
        }
    }

    static func adagradDAUpdate(w: inout Tensor, g: Tensor, gacc: inout Tensor, gsq: inout Tensor, lr: Float,
                                l1: Float, l2: Float, globalStep: Int64) throws {
        let n = w.count
        try withPointers([g], &w, &gacc, &gsq) { r, wp, ap, sp in
            try check(ck_adagrad_da_update(n, wp, r[0], ap, sp, lr, l1, l2, globalStep), "ck_adagrad_da_update")
        }
    }

    static func ftrlUpdate(w: inout Tensor, g: Tensor, accum: inout Tensor, linear: inout Tensor, lr: Float,
                           lrPower: Float, l1: Float, l2: Float, l2Shrinkage: Float, beta: Float) throws {
        let n = w.count
        try withPointers([g], &w, &accum, &linear) { r, wp, ap, lp in
            try check(ck_ftrl_update(n, wp, r[0], ap, lp, lr, lrPower, l1, l2, l2Shrinkage, beta), "ck_ftrl_update")
        }
    }
}
