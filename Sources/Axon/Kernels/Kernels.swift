import CKernels

// The only Swift code that calls the C kernels. Each wrapper takes tensors (or
// plain buffers), passes their storage to one ck_* function and turns its status
// into a thrown error. Sizes come from the callers' shapes; the kernels validate
// them again and answer CK_EINVAL rather than crash.

@inline(__always)
func readPtr<R>(_ t: Tensor, _ body: (UnsafePointer<Float>?) throws -> R) rethrows -> R {
    try t.withUnsafeBufferPointer { try body($0.baseAddress) }
}

/// Like readPtr/writePtr, but NULL for an empty tensor: for the optional
/// arguments of the kernels (a bias a layer does not have).
@inline(__always)
func optionalReadPtr<R>(_ t: Tensor, _ body: (UnsafePointer<Float>?) throws -> R) rethrows -> R {
    t.count == 0 ? try body(nil) : try readPtr(t, body)
}

@inline(__always)
func optionalWritePtr<R>(_ t: inout Tensor, _ body: (UnsafeMutablePointer<Float>?) throws -> R) rethrows -> R {
    t.count == 0 ? try body(nil) : try writePtr(&t, body)
}

@inline(__always)
func writePtr<R>(_ t: inout Tensor, _ body: (UnsafeMutablePointer<Float>?) throws -> R) rethrows -> R {
    try t.withUnsafeMutableBufferPointer { try body($0.baseAddress) }
}

extension Activation {
    var ck: Int32 {
        switch self {
        case .linear: return Int32(CK_ACT_NONE.rawValue)
        case .relu: return Int32(CK_ACT_RELU.rawValue)
        case .sigmoid: return Int32(CK_ACT_SIGMOID.rawValue)
        case .tanh: return Int32(CK_ACT_TANH.rawValue)
        case .relu6: return Int32(CK_ACT_RELU6.rawValue)
        }
    }
}

extension Padding {
    var ck: Int32 { self == .same ? Int32(CK_PAD_SAME.rawValue) : Int32(CK_PAD_VALID.rawValue) }
}

/// Window geometry shared by convolution and pooling.
struct Geometry2D: Equatable {
    var n = 0, h = 0, w = 0, c = 0
    var kh = 1, kw = 1
    var sh = 1, sw = 1
    var padding = Padding.valid
    var o = 0

    var conv: ck_conv2d_params {
        ck_conv2d_params(n: Int32(n), h: Int32(h), w: Int32(w), c: Int32(c), kh: Int32(kh), kw: Int32(kw),
                         o: Int32(o), sh: Int32(sh), sw: Int32(sw), padding: padding.ck)
    }
    var pool: ck_pool2d_params {
        ck_pool2d_params(n: Int32(n), h: Int32(h), w: Int32(w), c: Int32(c), kh: Int32(kh), kw: Int32(kw),
                         sh: Int32(sh), sw: Int32(sw), padding: padding.ck)
    }
}

enum Kernels {
    // MARK: geometry

    /// Output length of one spatial axis (spec §1.2).
    static func outputSize(_ input: Int, window: Int, stride: Int, padding: Padding) throws -> Int {
        var out: Int32 = 0, pad: Int32 = 0
        try check(ck_output_size(Int32(input), Int32(window), Int32(stride), padding.ck, &out, &pad),
                  "ck_output_size(in: \(input), k: \(window), s: \(stride), \(padding))")
        return Int(out)
    }

    // MARK: dense

    static func denseForward(n: Int, inputs: Int, units: Int, x: Tensor, w: Tensor, b: Tensor,
                             activation: Activation, y: inout Tensor) throws {
        try readPtr(x) { xp in try readPtr(w) { wp in try readPtr(b) { bp in try writePtr(&y) { yp in
            try check(ck_dense_forward(Int32(n), Int32(inputs), Int32(units), xp, wp, bp, activation.ck, yp),
                      "ck_dense_forward")
        } } } }
    }

    /// dw, db overwritten; dx computed only when `dx` is non-nil.
    static func denseBackward(n: Int, inputs: Int, units: Int, x: Tensor, w: Tensor, dz: Tensor,
                              dx: inout Tensor, computeDx: Bool, dw: inout Tensor, db: inout Tensor) throws {
        try readPtr(x) { xp in try readPtr(w) { wp in try readPtr(dz) { dzp in
            try writePtr(&dw) { dwp in try writePtr(&db) { dbp in
                if computeDx {
                    try writePtr(&dx) { dxp in
                        try check(ck_dense_backward(Int32(n), Int32(inputs), Int32(units), xp, wp, dzp, dxp, dwp, dbp),
                                  "ck_dense_backward")
                    }
                } else {
                    try check(ck_dense_backward(Int32(n), Int32(inputs), Int32(units), xp, wp, dzp, nil, dwp, dbp),
                              "ck_dense_backward")
                }
            } }
        } } }
    }

    // MARK: convolution

    static func conv2dOutputShape(_ g: Geometry2D) throws -> (Int, Int) {
        var p = g.conv
        var oh: Int32 = 0, ow: Int32 = 0
        try check(ck_conv2d_output_shape(&p, &oh, &ow), "ck_conv2d_output_shape")
        return (Int(oh), Int(ow))
    }

    /// Workspace floats with which forward, backward-data and the filter gradient run at full speed.
    static func conv2dScratchSize(_ g: Geometry2D) -> Int {
        var p = g.conv
        return ck_conv2d_scratch_size(&p)
    }

    static func conv2dForward(_ g: Geometry2D, x: Tensor, w: Tensor, b: Tensor, activation: Activation,
                              y: inout Tensor, workspace: inout Tensor) throws {
        var p = g.conv
        let wsLen = workspace.count
        try readPtr(x) { xp in try readPtr(w) { wp in try optionalReadPtr(b) { bp in try writePtr(&y) { yp in
            try writePtr(&workspace) { wsp in
                try check(ck_conv2d_forward(&p, xp, wp, bp, activation.ck, yp, wsp, wsLen), "ck_conv2d_forward")
            }
        } } } }
    }

    static func conv2dBackwardData(_ g: Geometry2D, dz: Tensor, w: Tensor, dx: inout Tensor,
                                   workspace: inout Tensor) throws {
        var p = g.conv
        let wsLen = workspace.count
        try readPtr(dz) { dzp in try readPtr(w) { wp in try writePtr(&dx) { dxp in try writePtr(&workspace) { wsp in
            try check(ck_conv2d_backward_data(&p, dzp, wp, dxp, wsp, wsLen), "ck_conv2d_backward_data")
        } } } }
    }

    static func conv2dBackwardFilter(_ g: Geometry2D, x: Tensor, dz: Tensor, dw: inout Tensor, db: inout Tensor,
                                     workspace: inout Tensor) throws {
        var p = g.conv
        let wsLen = workspace.count
        try readPtr(x) { xp in try readPtr(dz) { dzp in try writePtr(&dw) { dwp in try optionalWritePtr(&db) { dbp in
            try writePtr(&workspace) { wsp in
                try check(ck_conv2d_backward_filter(&p, xp, dzp, dwp, dbp, wsp, wsLen), "ck_conv2d_backward_filter")
            }
        } } } }
    }

    // MARK: pooling

    static func pool2dOutputShape(_ g: Geometry2D) throws -> (Int, Int) {
        var p = g.pool
        var oh: Int32 = 0, ow: Int32 = 0
        try check(ck_pool2d_output_shape(&p, &oh, &ow), "ck_pool2d_output_shape")
        return (Int(oh), Int(ow))
    }

    /// Training: `argmax` receives each maximum's flat input index, for the backward pass.
    static func maxPoolForward(_ g: Geometry2D, x: Tensor, y: inout Tensor, argmax: inout [Int32]) throws {
        try argmax.withUnsafeMutableBufferPointer { ap in try maxPoolForward(g, x: x, y: &y, argmax: ap.baseAddress) }
    }

    /// Inference (argmax nil): no indices are written.
    static func maxPoolForward(_ g: Geometry2D, x: Tensor, y: inout Tensor,
                               argmax: UnsafeMutablePointer<Int32>? = nil) throws {
        var p = g.pool
        try readPtr(x) { xp in try writePtr(&y) { yp in
            try check(ck_maxpool2d_forward(&p, xp, yp, argmax), "ck_maxpool2d_forward")
        } }
    }

    static func poolRouteBackward(_ g: Geometry2D, dy: Tensor, index: [Int32], dx: inout Tensor) throws {
        var p = g.pool
        try readPtr(dy) { dyp in try writePtr(&dx) { dxp in try index.withUnsafeBufferPointer { ip in
            try check(ck_pool2d_route_backward(&p, dyp, ip.baseAddress, dxp), "ck_pool2d_route_backward")
        } } }
    }

    static func avgPoolForward(_ g: Geometry2D, x: Tensor, y: inout Tensor) throws {
        var p = g.pool
        try readPtr(x) { xp in try writePtr(&y) { yp in
            try check(ck_avgpool2d_forward(&p, xp, yp), "ck_avgpool2d_forward")
        } }
    }

    static func avgPoolBackward(_ g: Geometry2D, dy: Tensor, dx: inout Tensor) throws {
        var p = g.pool
        try readPtr(dy) { dyp in try writePtr(&dx) { dxp in
            try check(ck_avgpool2d_backward(&p, dyp, dxp), "ck_avgpool2d_backward")
        } }
    }

    static func stochasticPoolTrain(_ g: Geometry2D, x: Tensor, u: Tensor, y: inout Tensor,
                                    switches: inout [Int32]) throws {
        var p = g.pool
        try readPtr(x) { xp in try readPtr(u) { up in try writePtr(&y) { yp in
            try switches.withUnsafeMutableBufferPointer { sp in
                try check(ck_stochpool2d_forward_train(&p, xp, up, yp, sp.baseAddress), "ck_stochpool2d_forward_train")
            }
        } } }
    }

    static func stochasticPoolInfer(_ g: Geometry2D, x: Tensor, y: inout Tensor) throws {
        var p = g.pool
        try readPtr(x) { xp in try writePtr(&y) { yp in
            try check(ck_stochpool2d_forward_infer(&p, xp, yp), "ck_stochpool2d_forward_infer")
        } }
    }

    // MARK: random numbers

    static func randomUniform(seed: UInt64, counter: UInt64, into out: inout Tensor) throws {
        let n = out.count
        try writePtr(&out) { op in try check(ck_random_uniform(seed, counter, op, n), "ck_random_uniform") }
    }

    // MARK: activations

    static func activationForward(_ a: Activation, x: Tensor, y: inout Tensor) throws {
        let n = x.count
        try readPtr(x) { xp in try writePtr(&y) { yp in
            try check(ck_activation_forward(a.ck, xp, yp, n), "ck_activation_forward")
        } }
    }

    /// dx = dy ⊙ act'(·) from the forward output y.
    static func activationBackward(_ a: Activation, y: Tensor, dy: Tensor, dx: inout Tensor) throws {
        let n = y.count
        try readPtr(y) { yp in try readPtr(dy) { dyp in try writePtr(&dx) { dxp in
            try check(ck_activation_backward(a.ck, yp, dyp, dxp, n), "ck_activation_backward")
        } } }
    }

    /// In-place variant: d ← d ⊙ act'(y).
    static func activationBackwardInPlace(_ a: Activation, y: Tensor, d: inout Tensor) throws {
        let n = y.count
        try readPtr(y) { yp in try writePtr(&d) { dp in
            try check(ck_activation_backward(a.ck, yp, dp, dp, n), "ck_activation_backward")
        } }
    }

    static func softmaxForward(rows: Int, cols: Int, x: Tensor, y: inout Tensor) throws {
        try readPtr(x) { xp in try writePtr(&y) { yp in
            try check(ck_softmax_forward(Int32(rows), Int32(cols), xp, yp), "ck_softmax_forward")
        } }
    }

    static func softmaxBackward(rows: Int, cols: Int, y: Tensor, dy: Tensor, dx: inout Tensor) throws {
        try readPtr(y) { yp in try readPtr(dy) { dyp in try writePtr(&dx) { dxp in
            try check(ck_softmax_backward(Int32(rows), Int32(cols), yp, dyp, dxp), "ck_softmax_backward")
        } } }
    }

    // MARK: losses

    static func sparseSoftmaxCrossEntropy(rows: Int, k: Int, logits: Tensor, labels: [Int32], loss: inout [Float],
                                          scale: Float, dlogits: inout Tensor) throws {
        try readPtr(logits) { lp in try labels.withUnsafeBufferPointer { tp in
            try loss.withUnsafeMutableBufferPointer { ls in try writePtr(&dlogits) { dp in
                try check(ck_sparse_softmax_cross_entropy(Int32(rows), Int32(k), lp, tp.baseAddress, ls.baseAddress,
                                                          scale, dp), "ck_sparse_softmax_cross_entropy")
            } }
        } }
    }

    static func softmaxCrossEntropy(rows: Int, k: Int, logits: Tensor, labels: Tensor, loss: inout [Float],
                                    scale: Float, dlogits: inout Tensor) throws {
        try readPtr(logits) { lp in try readPtr(labels) { tp in
            try loss.withUnsafeMutableBufferPointer { ls in try writePtr(&dlogits) { dp in
                try check(ck_softmax_cross_entropy(Int32(rows), Int32(k), lp, tp, ls.baseAddress, scale, dp),
                          "ck_softmax_cross_entropy")
            } }
        } }
    }

    static func sigmoidCrossEntropy(logits: Tensor, labels: Tensor, loss: inout [Float], scale: Float,
                                    dlogits: inout Tensor) throws {
        let n = logits.count
        try readPtr(logits) { lp in try readPtr(labels) { tp in
            try loss.withUnsafeMutableBufferPointer { ls in try writePtr(&dlogits) { dp in
                try check(ck_sigmoid_cross_entropy(n, lp, tp, ls.baseAddress, scale, dp), "ck_sigmoid_cross_entropy")
            } }
        } }
    }

    static func quadraticCost(rows: Int, k: Int, y: Tensor, t: Tensor, loss: inout [Float], scale: Float,
                              dy: inout Tensor) throws {
        try readPtr(y) { yp in try readPtr(t) { tp in
            try loss.withUnsafeMutableBufferPointer { ls in try writePtr(&dy) { dp in
                try check(ck_quadratic_cost(Int32(rows), Int32(k), yp, tp, ls.baseAddress, scale, dp),
                          "ck_quadratic_cost")
            } }
        } }
    }

    // MARK: dropout

    static func dropoutForward(rate: Float, seed: UInt64, counter: UInt64, x: Tensor, y: inout Tensor,
                               mask: inout [UInt8]) throws {
        let n = x.count
        try readPtr(x) { xp in try writePtr(&y) { yp in try mask.withUnsafeMutableBufferPointer { mp in
            try check(ck_dropout_forward(n, rate, seed, counter, xp, yp, mp.baseAddress), "ck_dropout_forward")
        } } }
    }

    static func dropoutBackward(rate: Float, mask: [UInt8], dy: Tensor, dx: inout Tensor) throws {
        let n = dy.count
        try mask.withUnsafeBufferPointer { mp in try readPtr(dy) { dyp in try writePtr(&dx) { dxp in
            try check(ck_dropout_backward(n, rate, mp.baseAddress, dyp, dxp), "ck_dropout_backward")
        } } }
    }

    // MARK: penalties

    /// Returns coef/2·Σw² and adds coef·w to `grad`.
    static func l2Penalty(w: Tensor, coef: Float, grad: inout Tensor) throws -> Float {
        var penalty: Float = 0
        let n = w.count
        try readPtr(w) { wp in try writePtr(&grad) { gp in
            try check(ck_l2_penalty(n, wp, coef, &penalty, gp), "ck_l2_penalty")
        } }
        return penalty
    }

    /// Returns coef·Σ|w| and adds coef·sign(w) to `grad`.
    static func l1Penalty(w: Tensor, coef: Float, grad: inout Tensor) throws -> Float {
        var penalty: Float = 0
        let n = w.count
        try readPtr(w) { wp in try writePtr(&grad) { gp in
            try check(ck_l1_penalty(n, wp, coef, &penalty, gp), "ck_l1_penalty")
        } }
        return penalty
    }

    // MARK: optimizer updates (spec §8)

    static func sgdUpdate(w: inout Tensor, g: Tensor, lr: Float) throws {
        let n = w.count
        try writePtr(&w) { wp in try readPtr(g) { gp in
            try check(ck_sgd_update(n, wp, gp, lr), "ck_sgd_update")
        } }
    }

    static func momentumUpdate(w: inout Tensor, g: Tensor, accum: inout Tensor, lr: Float, momentum: Float,
                               nesterov: Bool) throws {
        let n = w.count
        try writePtr(&w) { wp in try readPtr(g) { gp in try writePtr(&accum) { ap in
            try check(ck_momentum_update(n, wp, gp, ap, lr, momentum, nesterov ? 1 : 0), "ck_momentum_update")
        } } }
    }

    static func adamUpdate(w: inout Tensor, g: Tensor, m: inout Tensor, v: inout Tensor, lrT: Float,
                           beta1: Float, beta2: Float, epsilon: Float) throws {
        let n = w.count
        try writePtr(&w) { wp in try readPtr(g) { gp in try writePtr(&m) { mp in try writePtr(&v) { vp in
            try check(ck_adam_update(n, wp, gp, mp, vp, lrT, beta1, beta2, epsilon), "ck_adam_update")
        } } } }
    }

    static func adagradUpdate(w: inout Tensor, g: Tensor, accum: inout Tensor, lr: Float) throws {
        let n = w.count
        try writePtr(&w) { wp in try readPtr(g) { gp in try writePtr(&accum) { ap in
            try check(ck_adagrad_update(n, wp, gp, ap, lr), "ck_adagrad_update")
        } } }
    }

    static func adadeltaUpdate(w: inout Tensor, g: Tensor, accum: inout Tensor, accumUpdate: inout Tensor,
                               lr: Float, rho: Float, epsilon: Float) throws {
        let n = w.count
        try writePtr(&w) { wp in try readPtr(g) { gp in try writePtr(&accum) { ap in try writePtr(&accumUpdate) { up in
            try check(ck_adadelta_update(n, wp, gp, ap, up, lr, rho, epsilon), "ck_adadelta_update")
        } } } }
    }

    static func rmspropUpdate(w: inout Tensor, g: Tensor, ms: inout Tensor, mom: inout Tensor, mg: inout Tensor,
                              lr: Float, decay: Float, momentum: Float, epsilon: Float, centered: Bool) throws {
        let n = w.count
        try writePtr(&w) { wp in try readPtr(g) { gp in try writePtr(&ms) { msp in try writePtr(&mom) { mop in
            try writePtr(&mg) { mgp in
                try check(ck_rmsprop_update(n, wp, gp, msp, mop, centered ? mgp : nil, lr, decay, momentum, epsilon,
                                            centered ? 1 : 0), "ck_rmsprop_update")
            }
        } } } }
    }

    static func proximalSGDUpdate(w: inout Tensor, g: Tensor, lr: Float, l1: Float, l2: Float) throws {
        let n = w.count
        try writePtr(&w) { wp in try readPtr(g) { gp in
            try check(ck_proximal_sgd_update(n, wp, gp, lr, l1, l2), "ck_proximal_sgd_update")
        } }
    }

    static func proximalAdagradUpdate(w: inout Tensor, g: Tensor, accum: inout Tensor, lr: Float, l1: Float,
                                      l2: Float) throws {
        let n = w.count
        try writePtr(&w) { wp in try readPtr(g) { gp in try writePtr(&accum) { ap in
            try check(ck_proximal_adagrad_update(n, wp, gp, ap, lr, l1, l2), "ck_proximal_adagrad_update")
        } } }
    }

    static func adagradDAUpdate(w: inout Tensor, g: Tensor, gacc: inout Tensor, gsq: inout Tensor, lr: Float,
                                l1: Float, l2: Float, globalStep: Int64) throws {
        let n = w.count
        try writePtr(&w) { wp in try readPtr(g) { gp in try writePtr(&gacc) { ap in try writePtr(&gsq) { sp in
            try check(ck_adagrad_da_update(n, wp, gp, ap, sp, lr, l1, l2, globalStep), "ck_adagrad_da_update")
        } } } }
    }

    static func ftrlUpdate(w: inout Tensor, g: Tensor, accum: inout Tensor, linear: inout Tensor, lr: Float,
                           lrPower: Float, l1: Float, l2: Float, l2Shrinkage: Float, beta: Float) throws {
        let n = w.count
        try writePtr(&w) { wp in try readPtr(g) { gp in try writePtr(&accum) { ap in try writePtr(&linear) { lp in
            try check(ck_ftrl_update(n, wp, gp, ap, lp, lr, lrPower, l1, l2, l2Shrinkage, beta), "ck_ftrl_update")
        } } } }
    }

    // MARK: utilities

    static func sumRows(rows: Int, cols: Int, x: Tensor, out: inout Tensor) throws {
        try readPtr(x) { xp in try writePtr(&out) { op in
            try check(ck_sum_rows(Int32(rows), Int32(cols), xp, op), "ck_sum_rows")
        } }
    }
}
