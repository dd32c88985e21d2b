import CKernels

// The wrappers of the LSTM kernels (lstm.c, lstm_backward.c; spec §4). An empty
// initial state (h0, c0) or final cell-state gradient (dcLast) stands for zeros.

extension Kernels {
    struct LSTMShape: Equatable { var b = 0, t = 0, d = 0, u = 0 }

    static func lstmParams(_ s: LSTMShape) -> ck_lstm_params {
        ck_lstm_params(b: Int32(s.b), t: Int32(s.t), d: Int32(s.d), u: Int32(s.u))
    }

    static func lstmWorkspaceSize(_ s: LSTMShape) -> Int {
        var p = lstmParams(s)
        return ck_lstm_workspace_size(&p)
    }

    static func lstmCacheSize(_ s: LSTMShape) -> Int {
        var p = lstmParams(s)
        return ck_lstm_cache_size(&p)
    }

    /// Writes every h_t into `hs` [b,t,u], h_T into `hLast` and c_T into `cLast`
    /// from the initial state `h0`, `c0` (empty: zeros); fills `cache` when `training`.
    static func lstmForward(_ s: LSTMShape, x: Tensor, h0: Tensor = .empty, c0: Tensor = .empty,
                            w: Tensor, r: Tensor, bias: Tensor, hs: inout Tensor, hLast: inout Tensor,
                            cLast: inout Tensor, cache: inout Tensor, training: Bool, workspace: inout Tensor) throws {
        var p = lstmParams(s)
        let wsLen = workspace.count
        try withPointers([x, h0.orNil, c0.orNil, w, r, bias], &hs, &hLast, &cLast, &workspace, &cache) {
            a, hsp, hlp, clp, wsp, cp in
            try check(ck_lstm_sequence_forward(&p, a[0], a[1], a[2], a[3], a[4], a[5], hsp, hlp, clp,
                                               training ? cp : nil, wsp, wsLen), "ck_lstm_sequence_forward")
        }
    }

    /// BPTT from every step's gradient (`dhs`, [b,t,u]) or the last step's
    /// (`dhLast`, [b,u]), plus the final cell state's (`dcLast`; empty: zero);
    /// dw, dr, dbias, dh0 and dc0 overwritten, dx too unless nil.
    static func lstmBackward(_ s: LSTMShape, x: Tensor, c0: Tensor = .empty, w: Tensor, r: Tensor, cache: Tensor,
                             dhs: Tensor?, dhLast: Tensor?, dcLast: Tensor = .empty, dx: inout Tensor?,
                             dw: inout Tensor, dr: inout Tensor, dbias: inout Tensor,
                             dh0: inout Tensor, dc0: inout Tensor, workspace: inout Tensor) throws {
        var p = lstmParams(s)
        let wsLen = workspace.count
        let reads = [x, c0.orNil, w, r, cache, dhs?.orNil, dhLast?.orNil, dcLast.orNil]
        try withPointers(reads, &dx, &dw, &dr, &dbias, &dh0, &dc0, &workspace) { a, dxp, dwp, drp, dbp, dh0p, dc0p, wsp in
            try check(ck_lstm_sequence_backward(&p, a[0], nil, a[1], a[2], a[3], a[4], a[5], a[6], a[7],
                                                dxp, dwp, drp, dbp, dh0p, dc0p, wsp, wsLen), "ck_lstm_sequence_backward")
        }
    }

    /// One step (spec §4.2): h, c [b,u] and the activated gates [b,4u] from x [b,d]
    /// and the previous state.
    static func lstmCellForward(b: Int, d: Int, u: Int, x: Tensor, hPrev: Tensor, cPrev: Tensor, w: Tensor, r: Tensor,
                                bias: Tensor, h: inout Tensor, c: inout Tensor, gates: inout Tensor) throws {
        try withPointers([x, hPrev, cPrev, w, r, bias], &h, &c, &gates) { a, hp, cp, gp in
            try check(ck_lstm_cell_forward(Int32(b), Int32(d), Int32(u), a[0], a[1], a[2], a[3], a[4], a[5], hp, cp, gp),
                      "ck_lstm_cell_forward")
        }
    }

    /// Backward of one step: dx, dhPrev, dcPrev written; dw, dr, dbias accumulated.
    static func lstmCellBackward(b: Int, d: Int, u: Int, x: Tensor, hPrev: Tensor, cPrev: Tensor, w: Tensor, r: Tensor,
                                 c: Tensor, gates: Tensor, dh: Tensor, dc: Tensor, dx: inout Tensor, dhPrev: inout Tensor,
                                 dcPrev: inout Tensor, dw: inout Tensor, dr: inout Tensor, dbias: inout Tensor) throws {
        var dz = [Float](repeating: 0, count: b * 4 * u)
        try withPointers([x, hPrev, cPrev, w, r, c, gates, dh, dc], &dx, &dhPrev, &dcPrev, &dw, &dr, &dbias, &dz) {
            a, dxp, dhpp, dcpp, dwp, drp, dbp, dzp in
            try check(ck_lstm_cell_backward(Int32(b), Int32(d), Int32(u), a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7],
                                            a[8], dxp, dhpp, dcpp, dwp, drp, dbp, dzp), "ck_lstm_cell_backward")
        }
    }
}
