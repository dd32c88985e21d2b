import Benchmark
import CKernels

/// LSTM with MNIST-as-sequence shapes: input 28 (one image row), hidden 128,
/// 28 steps. FLOPs counted are the GEMMs' (2·b·(d+u)·4u per step forward;
/// backward does twice the forward's GEMM work: dW/dR and dx/dh), which
/// dominate; the gate nonlinearities are not counted.
func lstmBenchmarks() {
    // One cell step, batch 64.
    do {
        let b = 64, d = 28, u = 128
        let x = Floats(b * d, seed: 1), h0 = Floats(b * u, seed: 2), c0 = Floats(b * u, seed: 3)
        let w = Floats(d * 4 * u, seed: 4), r = Floats(u * 4 * u, seed: 5), bias = Floats(4 * u, seed: 6)
        let h = Floats(b * u, seed: 7), c = Floats(b * u, seed: 8), gates = Floats(b * 4 * u, seed: 9)
        scale(w, 0.1); scale(r, 0.1)
        let flops = 2 * Double(b) * Double(d + u) * Double(4 * u)
        kernelBenchmark("LSTM cell step forward b64 d28 u128", flops: flops) {
            check(ck_lstm_cell_forward(Int32(b), Int32(d), Int32(u), x.p, h0.p, c0.p, w.p, r.p, bias.p,
                                       h.p, c.p, gates.p), "lstm_cell_forward")
        }
    }
    // The whole 28-step sequence, batch 128.
    do {
        let params = ck_lstm_params(b: 128, t: 28, d: 28, u: 128)
        let box = ParamsBox(params)
        let b = Int(params.b), t = Int(params.t), d = Int(params.d), u = Int(params.u)
        let wsLen = ck_lstm_workspace_size(&box.p), cacheLen = ck_lstm_cache_size(&box.p)
        let x = Floats(b * t * d, seed: 1)
        let w = Floats(d * 4 * u, seed: 4), r = Floats(u * 4 * u, seed: 5), bias = Floats(4 * u, seed: 6)
        scale(w, 0.1); scale(r, 0.1)
        let hs = Floats(b * t * u, seed: 7), hLast = Floats(b * u, seed: 8), cLast = Floats(b * u, seed: 9)
        let cache = Floats(cacheLen, seed: 10), ws = Floats(wsLen, seed: 11)
        let dhLast = Floats(b * u, seed: 12)
        let dx = Floats(b * t * d, seed: 13), dw = Floats(d * 4 * u, seed: 14)
        let dr = Floats(u * 4 * u, seed: 15), dbias = Floats(4 * u, seed: 16)
        let forwardFlops = 2 * Double(b) * Double(t) * Double(d + u) * Double(4 * u)

        kernelBenchmark("LSTM sequence forward b128 t28 d28 u128", flops: forwardFlops) {
            check(ck_lstm_sequence_forward(&box.p, x.p, nil, nil, w.p, r.p, bias.p, hs.p, hLast.p, cLast.p,
                                           nil, ws.p, wsLen), "lstm_sequence_forward")
        }
        // Training's shape: the classifier reads h_T only, so dhs is NULL.
        kernelBenchmark("LSTM sequence forward+backward b128 t28 d28 u128", flops: 3 * forwardFlops) {
            check(ck_lstm_sequence_forward(&box.p, x.p, nil, nil, w.p, r.p, bias.p, hs.p, hLast.p, cLast.p,
                                           cache.p, ws.p, wsLen), "lstm_sequence_forward")
            check(ck_lstm_sequence_backward(&box.p, x.p, nil, nil, w.p, r.p, cache.p, nil, dhLast.p, nil,
                                            dx.p, dw.p, dr.p, dbias.p, nil, nil, ws.p, wsLen),
                  "lstm_sequence_backward")
        }
    }
}

/// Keeps the weights small so the gates are not all saturated (saturated
/// tanh/sigmoid can take faster paths in some libm versions).
private func scale(_ f: Floats, _ s: Float) {
    for i in 0..<f.count { f.p[i] *= s }
}
