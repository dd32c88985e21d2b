// LSTM kernels (spec §4.2, §4.4) against a naive per-gate reference in Double,
// a naive BPTT in Double, and central finite differences.
import CKernels
import Foundation
import Testing

// MARK: - Naive reference (Double, one gate at a time, straight from §4.1/§4.2)

private func sigmoid(_ z: Double) -> Double { 1 / (1 + exp(-z)) }

/// One gate's block of a packed [rows, 4u] matrix as the column-vector form's W_g.
private func gateWeight(_ m: [Double], row: Int, gate: Int, k: Int, u: Int) -> Double {
    m[row * 4 * u + gate * u + k]
}

private struct NaiveStep {
    var i: [Double], f: [Double], g: [Double], o: [Double]  // [b, u] each
    var c: [Double], h: [Double]
}

/// h, c of one step for x [b, d], hPrev, cPrev [b, u]; gates computed separately.
private func naiveCell(b: Int, d: Int, u: Int, x: [Double], hPrev: [Double], cPrev: [Double],
                       w: [Double], r: [Double], bias: [Double]) -> NaiveStep {
    var pre = [[Double]](repeating: [Double](repeating: 0, count: b * u), count: 4)
    for gate in 0..<4 {
        for j in 0..<b {
            for k in 0..<u {
                var z = bias[gate * u + k]
                for m in 0..<d { z += x[j * d + m] * gateWeight(w, row: m, gate: gate, k: k, u: u) }
                for m in 0..<u { z += hPrev[j * u + m] * gateWeight(r, row: m, gate: gate, k: k, u: u) }
                pre[gate][j * u + k] = z
            }
        }
    }
    let i = pre[0].map(sigmoid), f = pre[1].map(sigmoid)
    let g = pre[2].map { tanh($0) }, o = pre[3].map(sigmoid)
    var c = [Double](repeating: 0, count: b * u), h = c
    for e in 0..<(b * u) {
        c[e] = f[e] * cPrev[e] + i[e] * g[e]
        h[e] = o[e] * tanh(c[e])
    }
    return NaiveStep(i: i, f: f, g: g, o: o, c: c, h: h)
}

/// Packs a naive step's gates into the kernel's [b, 4u] order i, f, c̃, o.
private func packGates(_ s: NaiveStep, b: Int, u: Int) -> [Double] {
    var out = [Double](repeating: 0, count: b * 4 * u)
    for j in 0..<b {
        for k in 0..<u {
            out[j * 4 * u + k] = s.i[j * u + k]
            out[j * 4 * u + u + k] = s.f[j * u + k]
            out[j * 4 * u + 2 * u + k] = s.g[j * u + k]
            out[j * 4 * u + 3 * u + k] = s.o[j * u + k]
        }
    }
    return out
}

struct LSTMDims: Sendable, CustomStringConvertible {
    var b: Int, t: Int, d: Int, u: Int
    var description: String { "b=\(b) t=\(t) d=\(d) u=\(u)" }
}

/// Rows (j, s) of a batch-major [b, t, n] tensor for step s.
private func stepRows(_ a: [Double], _ p: LSTMDims, _ s: Int, _ n: Int) -> [Double] {
    var out = [Double](repeating: 0, count: p.b * n)
    for j in 0..<p.b { for k in 0..<n { out[j * n + k] = a[(j * p.t + s) * n + k] } }
    return out
}

private struct NaiveSequence {
    var steps: [NaiveStep]
    var hPrev: [[Double]], cPrev: [[Double]]
    var hs: [Double]  // [b, t, u]
}

private func naiveSequence(_ p: LSTMDims, x: [Double], h0: [Double]?, c0: [Double]?,
                           w: [Double], r: [Double], bias: [Double]) -> NaiveSequence {
    var h = h0 ?? [Double](repeating: 0, count: p.b * p.u)
    var c = c0 ?? [Double](repeating: 0, count: p.b * p.u)
    var seq = NaiveSequence(steps: [], hPrev: [], cPrev: [],
                            hs: [Double](repeating: 0, count: p.b * p.t * p.u))
    for s in 0..<p.t {
        let st = naiveCell(b: p.b, d: p.d, u: p.u, x: stepRows(x, p, s, p.d), hPrev: h, cPrev: c,
                           w: w, r: r, bias: bias)
        seq.hPrev.append(h); seq.cPrev.append(c); seq.steps.append(st)
        h = st.h; c = st.c
        for j in 0..<p.b { for k in 0..<p.u { seq.hs[(j * p.t + s) * p.u + k] = h[j * p.u + k] } }
    }
    return seq
}

private struct NaiveGrads { var dx, dw, dr, db, dh0, dc0: [Double] }

/// BPTT of §4.4, gate by gate, in Double.
private func naiveBackward(_ p: LSTMDims, x: [Double], seq: NaiveSequence, w: [Double], r: [Double],
                           dhs: [Double]?, dhLast: [Double]?, dcLast: [Double]?) -> NaiveGrads {
    let (b, t, d, u) = (p.b, p.t, p.d, p.u)
    var gr = NaiveGrads(dx: [Double](repeating: 0, count: b * t * d),
                        dw: [Double](repeating: 0, count: d * 4 * u),
                        dr: [Double](repeating: 0, count: u * 4 * u),
                        db: [Double](repeating: 0, count: 4 * u),
                        dh0: [], dc0: [])
    var dhRec = [Double](repeating: 0, count: b * u)
    var dc = dcLast ?? [Double](repeating: 0, count: b * u)
    for s in stride(from: t - 1, through: 0, by: -1) {
        let st = seq.steps[s]
        let xs = stepRows(x, p, s, d), hp = seq.hPrev[s], cp = seq.cPrev[s]
        var dz = [[Double]](repeating: [Double](repeating: 0, count: b * u), count: 4)
        for j in 0..<b {
            for k in 0..<u {
                let e = j * u + k
                var dh = dhRec[e] + (dhs?[(j * t + s) * u + k] ?? 0)
                if s == t - 1 { dh += dhLast?[e] ?? 0 }
                let tau = tanh(st.c[e])
                let dO = dh * tau
                dc[e] += dh * st.o[e] * (1 - tau * tau)
                let dI = dc[e] * st.g[e], dG = dc[e] * st.i[e], dF = dc[e] * cp[e]
                dz[0][e] = dI * st.i[e] * (1 - st.i[e])
                dz[1][e] = dF * st.f[e] * (1 - st.f[e])
                dz[2][e] = dG * (1 - st.g[e] * st.g[e])
                dz[3][e] = dO * st.o[e] * (1 - st.o[e])
                dc[e] *= st.f[e]
            }
        }
        var newRec = [Double](repeating: 0, count: b * u)
        for gate in 0..<4 {
            for j in 0..<b {
                for k in 0..<u {
                    let z = dz[gate][j * u + k]
                    gr.db[gate * u + k] += z
                    for m in 0..<d {
                        gr.dw[m * 4 * u + gate * u + k] += xs[j * d + m] * z
                        gr.dx[(j * t + s) * d + m] += z * gateWeight(w, row: m, gate: gate, k: k, u: u)
                    }
                    for m in 0..<u {
                        gr.dr[m * 4 * u + gate * u + k] += hp[j * u + m] * z
                        newRec[j * u + m] += z * gateWeight(r, row: m, gate: gate, k: k, u: u)
                    }
                }
            }
        }
        dhRec = newRec
    }
    gr.dh0 = dhRec
    gr.dc0 = dc
    return gr
}

// MARK: - Calling the kernels

private func dbl(_ a: [Float]) -> [Double] { a.map(Double.init) }
private func flt(_ a: [Double]) -> [Float] { a.map(Float.init) }

private struct SeqOut { var status: Int32; var hs, hLast, cLast, cache: [Float] }

private func runForward(_ p: LSTMDims, x: [Float], h0: [Float]?, c0: [Float]?, w: [Float], r: [Float],
                        bias: [Float], withCache: Bool = true) -> SeqOut {
    var params = ck_lstm_params(b: Int32(p.b), t: Int32(p.t), d: Int32(p.d), u: Int32(p.u))
    let cacheLen = ck_lstm_cache_size(&params)
    var ws = [Float](repeating: .nan, count: ck_lstm_workspace_size(&params))
    var out = SeqOut(status: -1, hs: [Float](repeating: .nan, count: p.b * p.t * p.u),
                     hLast: [Float](repeating: .nan, count: p.b * p.u),
                     cLast: [Float](repeating: .nan, count: p.b * p.u),
                     cache: [Float](repeating: .nan, count: withCache ? cacheLen : 0))
    let wsLen = ws.count
    if withCache {
        out.status = ck_lstm_sequence_forward(&params, x, h0, c0, w, r, bias, &out.hs, &out.hLast,
                                              &out.cLast, &out.cache, nil, 0)
    } else {
        out.status = ck_lstm_sequence_forward(&params, x, h0, c0, w, r, bias, &out.hs, &out.hLast,
                                              &out.cLast, nil, &ws, wsLen)
    }
    return out
}

private struct SeqGrads { var status: Int32; var dx, dw, dr, db, dh0, dc0: [Float] }

private func runBackward(_ p: LSTMDims, x: [Float], h0: [Float]?, c0: [Float]?, w: [Float], r: [Float],
                         cache: [Float], dhs: [Float]?, dhLast: [Float]?, dcLast: [Float]?) -> SeqGrads {
    var params = ck_lstm_params(b: Int32(p.b), t: Int32(p.t), d: Int32(p.d), u: Int32(p.u))
    var ws = [Float](repeating: .nan, count: ck_lstm_workspace_size(&params))
    let wsLen = ws.count
    // Outputs start as garbage: dw, dr, db must be overwritten, not accumulated.
    var g = SeqGrads(status: -1, dx: [Float](repeating: 7, count: p.b * p.t * p.d),
                     dw: [Float](repeating: 7, count: p.d * 4 * p.u),
                     dr: [Float](repeating: 7, count: p.u * 4 * p.u),
                     db: [Float](repeating: 7, count: 4 * p.u),
                     dh0: [Float](repeating: 7, count: p.b * p.u),
                     dc0: [Float](repeating: 7, count: p.b * p.u))
    g.status = ck_lstm_sequence_backward(&params, x, h0, c0, w, r, cache, dhs, dhLast, dcLast,
                                         &g.dx, &g.dw, &g.dr, &g.db, &g.dh0, &g.dc0, &ws, wsLen)
    return g
}

private struct Problem {
    var p: LSTMDims
    var x, w, r, bias, h0, c0, dhs, dhLast, dcLast: [Float]
    init(_ p: LSTMDims, seed: UInt64) {
        var rng = TestRNG(seed: seed)
        self.p = p
        x = rng.array(p.b * p.t * p.d)
        w = rng.array(p.d * 4 * p.u, -0.6, 0.6)
        r = rng.array(p.u * 4 * p.u, -0.6, 0.6)
        bias = rng.array(4 * p.u, -0.5, 0.5)
        h0 = rng.array(p.b * p.u)
        c0 = rng.array(p.b * p.u, -2, 2)
        dhs = rng.array(p.b * p.t * p.u)
        dhLast = rng.array(p.b * p.u)
        dcLast = rng.array(p.b * p.u)
    }
}

private func expectClose(_ got: [Float], _ want: [Double], _ tol: Float, _ what: String) {
    let m = maxDiff(got, flt(want))
    #expect(m.rel <= tol, "\(what): max abs diff \(m.abs), rel \(m.rel) (tolerance \(tol))")
}

// MARK: - Tests

@Suite("LSTM kernels", .serialized)  // unitSplit changes the thread count
struct LSTMTests {
    @Test("cell forward matches the naive per-gate reference",
          arguments: [(1, 1, 1), (3, 5, 7), (5, 11, 37), (16, 28, 64)])
    func cellForward(b: Int, d: Int, u: Int) {
        var rng = TestRNG(seed: UInt64(b * 1000 + d * 10 + u))
        let x = rng.array(b * d), h = rng.array(b * u), c = rng.array(b * u, -2, 2)
        let w = rng.array(d * 4 * u, -0.5, 0.5), r = rng.array(u * 4 * u, -0.5, 0.5)
        let bias = rng.array(4 * u)
        var hOut = [Float](repeating: .nan, count: b * u), cOut = hOut
        var gates = [Float](repeating: .nan, count: b * 4 * u)
        let st = ck_lstm_cell_forward(Int32(b), Int32(d), Int32(u), x, h, c, w, r, bias,
                                      &hOut, &cOut, &gates)
        #expect(st == ok)
        let ref = naiveCell(b: b, d: d, u: u, x: dbl(x), hPrev: dbl(h), cPrev: dbl(c),
                            w: dbl(w), r: dbl(r), bias: dbl(bias))
        expectClose(hOut, ref.h, 2e-6, "h")
        expectClose(cOut, ref.c, 2e-6, "c")
        expectClose(gates, packGates(ref, b: b, u: u), 2e-6, "gates")

        // In place (c == c_prev) gives the same bits.
        var cInPlace = c, hIn = [Float](repeating: .nan, count: b * u)
        var gates2 = gates
        let st2 = cInPlace.withUnsafeMutableBufferPointer { cp in
            ck_lstm_cell_forward(Int32(b), Int32(d), Int32(u), x, h, cp.baseAddress, w, r, bias,
                                 &hIn, cp.baseAddress, &gates2)
        }
        #expect(st2 == ok)
        #expect(cInPlace == cOut && hIn == hOut, "in-place state differs")
    }

    @Test("sequence forward matches stepping the naive cell",
          arguments: [(LSTMDims(b: 3, t: 4, d: 5, u: 6), true), (LSTMDims(b: 3, t: 4, d: 5, u: 6), false),
                      (LSTMDims(b: 9, t: 5, d: 11, u: 33), true), (LSTMDims(b: 2, t: 1, d: 1, u: 1), false)])
    func sequenceForward(p: LSTMDims, withState: Bool) {
        let pr = Problem(p, seed: 11 + UInt64(p.u))
        let h0 = withState ? pr.h0 : nil, c0 = withState ? pr.c0 : nil
        let out = runForward(p, x: pr.x, h0: h0, c0: c0, w: pr.w, r: pr.r, bias: pr.bias)
        #expect(out.status == ok)
        let ref = naiveSequence(p, x: dbl(pr.x), h0: h0.map(dbl), c0: c0.map(dbl),
                                w: dbl(pr.w), r: dbl(pr.r), bias: dbl(pr.bias))
        expectClose(out.hs, ref.hs, 5e-6, "hs")
        expectClose(out.hLast, ref.steps[p.t - 1].h, 5e-6, "h_last")
        expectClose(out.cLast, ref.steps[p.t - 1].c, 5e-6, "c_last")

        // Without a cache (inference path, state in the workspace): the same
        // values. Not compared bit for bit: suites that run alongside may change
        // the process-wide thread count between the two calls, and the rows'
        // split across threads changes sgemm's blocking.
        let inf = runForward(p, x: pr.x, h0: h0, c0: c0, w: pr.w, r: pr.r, bias: pr.bias,
                             withCache: false)
        #expect(inf.status == ok)
        expectClose(inf.hs, dbl(out.hs), 1e-6, "hs without a cache")
        expectClose(inf.hLast, dbl(out.hLast), 1e-6, "h_last without a cache")
        expectClose(inf.cLast, dbl(out.cLast), 1e-6, "c_last without a cache")
    }

    @Test("fewer batch rows than threads: the units are split across threads, same results",
          arguments: [LSTMDims(b: 1, t: 6, d: 5, u: 50), LSTMDims(b: 2, t: 3, d: 4, u: 64),
                      LSTMDims(b: 3, t: 2, d: 3, u: 32)])
    func unitSplit(p: LSTMDims) {
        let pr = Problem(p, seed: 40 + UInt64(p.u))
        let before = ck_get_num_threads()
        defer { ck_set_num_threads(before) }
        let ref = naiveSequence(p, x: dbl(pr.x), h0: dbl(pr.h0), c0: dbl(pr.c0),
                                w: dbl(pr.w), r: dbl(pr.r), bias: dbl(pr.bias))
        ck_set_num_threads(1)
        let one = runForward(p, x: pr.x, h0: pr.h0, c0: pr.c0, w: pr.w, r: pr.r, bias: pr.bias)
        let g1 = runBackward(p, x: pr.x, h0: pr.h0, c0: pr.c0, w: pr.w, r: pr.r, cache: one.cache,
                             dhs: pr.dhs, dhLast: pr.dhLast, dcLast: pr.dcLast)
        for threads: Int32 in [2, 3, 4] {
            ck_set_num_threads(threads)
            let out = runForward(p, x: pr.x, h0: pr.h0, c0: pr.c0, w: pr.w, r: pr.r, bias: pr.bias)
            #expect(out.status == ok)
            expectClose(out.hs, ref.hs, 5e-6, "hs, \(threads) threads")
            expectClose(out.hLast, ref.steps[p.t - 1].h, 5e-6, "h_last, \(threads) threads")
            expectClose(out.cLast, ref.steps[p.t - 1].c, 5e-6, "c_last, \(threads) threads")
            let inf = runForward(p, x: pr.x, h0: pr.h0, c0: pr.c0, w: pr.w, r: pr.r, bias: pr.bias,
                                 withCache: false)
            expectClose(inf.hs, dbl(out.hs), 1e-6, "hs without a cache, \(threads) threads")
            expectClose(inf.cLast, dbl(out.cLast), 1e-6, "c_last without a cache, \(threads) threads")
            // The cache it wrote drives the backward pass as the one-thread cache does.
            let g = runBackward(p, x: pr.x, h0: pr.h0, c0: pr.c0, w: pr.w, r: pr.r, cache: out.cache,
                                dhs: pr.dhs, dhLast: pr.dhLast, dcLast: pr.dcLast)
            #expect(g.status == ok)
            for (got, want, what) in [(g.dx, g1.dx, "dx"), (g.dw, g1.dw, "dW"), (g.dr, g1.dr, "dR"),
                                      (g.db, g1.db, "db"), (g.dh0, g1.dh0, "dh0"), (g.dc0, g1.dc0, "dc0")] {
                expectClose(got, dbl(want), 1e-5, "\(what), \(threads) threads")
            }
        }
    }

    // The rows are cut into blocks by core count and batch size, never by
    // thread count, so the row split gives the same bits on any thread count
    // (whichever GEMM path runs: OpenBLAS's Haswell kernels round a row
    // differently by where a cut falls).
    @Test("row split: the same bits on 1, 2 and 3 threads, forward and backward")
    func rowSplitBitsDoNotDependOnThreads() {
        let p = LSTMDims(b: 40, t: 3, d: 7, u: 20)
        let pr = Problem(p, seed: 77)
        let before = ck_get_num_threads()
        defer { ck_set_num_threads(before) }
        var runs: [([Float], [Float], [[Float]])] = []
        for threads: Int32 in [1, 2, 3] {
            ck_set_num_threads(threads)
            let out = runForward(p, x: pr.x, h0: pr.h0, c0: pr.c0, w: pr.w, r: pr.r, bias: pr.bias)
            let inf = runForward(p, x: pr.x, h0: pr.h0, c0: pr.c0, w: pr.w, r: pr.r, bias: pr.bias,
                                 withCache: false)
            let g = runBackward(p, x: pr.x, h0: pr.h0, c0: pr.c0, w: pr.w, r: pr.r, cache: out.cache,
                                dhs: pr.dhs, dhLast: pr.dhLast, dcLast: pr.dcLast)
            #expect(out.status == ok && inf.status == ok && g.status == ok)
            runs.append((out.hs, inf.hs, [g.dx, g.dw, g.dr, g.db, g.dh0, g.dc0]))
        }
        for (i, run) in runs.enumerated().dropFirst() {
            #expect(run.0 == runs[0].0, "hs, \(i + 1) threads against 1")
            #expect(run.1 == runs[0].1, "hs without a cache, \(i + 1) threads against 1")
            #expect(run.2 == runs[0].2, "gradients, \(i + 1) threads against 1")
        }
    }

    @Test("unit split without a cache: the same values with a workspace too small for the packed R, and at any alignment",
          arguments: [LSTMDims(b: 1, t: 5, d: 7, u: 48), LSTMDims(b: 2, t: 4, d: 3, u: 50)])
    func unitSplitWorkspace(p: LSTMDims) {
        let pr = Problem(p, seed: 60 + UInt64(p.u))
        let before = ck_get_num_threads()
        defer { ck_set_num_threads(before) }
        ck_set_num_threads(3)
        var params = ck_lstm_params(b: Int32(p.b), t: Int32(p.t), d: Int32(p.d), u: Int32(p.u))
        let full = ck_lstm_workspace_size(&params)
        let least = p.b * p.t * 4 * p.u + p.b * p.u  // z and the c state only
        #expect(full >= least + 4 * p.u * p.u, "no room for the packed R")
        let ref = naiveSequence(p, x: dbl(pr.x), h0: dbl(pr.h0), c0: dbl(pr.c0),
                                w: dbl(pr.w), r: dbl(pr.r), bias: dbl(pr.bias))
        for len in [least, least + 5, full] {
            for offset in 0..<4 {  // the workspace starts `offset` floats into a buffer
                var buf = [Float](repeating: .nan, count: len + offset)
                var hs = [Float](repeating: .nan, count: p.b * p.t * p.u)
                var hLast = [Float](repeating: .nan, count: p.b * p.u), cLast = hLast
                let st = buf.withUnsafeMutableBufferPointer { b in
                    ck_lstm_sequence_forward(&params, pr.x, pr.h0, pr.c0, pr.w, pr.r, pr.bias, &hs, &hLast,
                                             &cLast, nil, b.baseAddress! + offset, len)
                }
                #expect(st == ok)
                expectClose(hs, ref.hs, 5e-6, "hs, workspace \(len) floats at +\(offset)")
                expectClose(hLast, ref.steps[p.t - 1].h, 5e-6, "h_last, workspace \(len) at +\(offset)")
                expectClose(cLast, ref.steps[p.t - 1].c, 5e-6, "c_last, workspace \(len) at +\(offset)")
            }
        }
        var buf = [Float](repeating: 0, count: least - 1), hs = [Float](repeating: 0, count: p.b * p.t * p.u)
        #expect(ck_lstm_sequence_forward(&params, pr.x, nil, nil, pr.w, pr.r, pr.bias, &hs, nil, nil, nil,
                                         &buf, least - 1) == enospc)
    }

    @Test("cell backward matches finite differences, and accumulates dW, dR, db")
    func cellBackward() {
        let (b, d, u) = (2, 3, 4)
        var rng = TestRNG(seed: 77)
        let x = rng.array(b * d), h = rng.array(b * u), c = rng.array(b * u, -2, 2)
        let w = rng.array(d * 4 * u, -0.6, 0.6), r = rng.array(u * 4 * u, -0.6, 0.6)
        let bias = rng.array(4 * u, -0.5, 0.5)
        let gh = rng.array(b * u), gc = rng.array(b * u)
        var hOut = [Float](repeating: 0, count: b * u), cOut = hOut
        var gates = [Float](repeating: 0, count: b * 4 * u)
        #expect(ck_lstm_cell_forward(Int32(b), Int32(d), Int32(u), x, h, c, w, r, bias,
                                     &hOut, &cOut, &gates) == ok)
        let w0 = rng.array(d * 4 * u), r0 = rng.array(u * 4 * u), b0 = rng.array(4 * u)
        var dx = [Float](repeating: .nan, count: b * d), dh = [Float](repeating: .nan, count: b * u)
        var dc = dh, dw = w0, dr = r0, db = b0
        var dz = [Float](repeating: .nan, count: b * 4 * u)
        #expect(ck_lstm_cell_backward(Int32(b), Int32(d), Int32(u), x, h, c, w, r, cOut, gates,
                                      gh, gc, &dx, &dh, &dc, &dw, &dr, &db, &dz) == ok)
        // L = <h, gh> + <c, gc> through the Double reference.
        func loss(_ x: [Float], _ h: [Float], _ c: [Float], _ w: [Float], _ r: [Float],
                  _ bias: [Float]) -> Double {
            let s = naiveCell(b: b, d: d, u: u, x: dbl(x), hPrev: dbl(h), cPrev: dbl(c),
                              w: dbl(w), r: dbl(r), bias: dbl(bias))
            var l = 0.0
            for e in 0..<(b * u) { l += s.h[e] * Double(gh[e]) + s.c[e] * Double(gc[e]) }
            return l
        }
        let hstep: Float = 1e-3, tol: Float = 2e-4
        let nx = numericGradient(x, h: hstep) { loss($0, h, c, w, r, bias) }
        let nh = numericGradient(h, h: hstep) { loss(x, $0, c, w, r, bias) }
        let nc = numericGradient(c, h: hstep) { loss(x, h, $0, w, r, bias) }
        let nw = numericGradient(w, h: hstep) { loss(x, h, c, $0, r, bias) }
        let nr = numericGradient(r, h: hstep) { loss(x, h, c, w, $0, bias) }
        let nb = numericGradient(bias, h: hstep) { loss(x, h, c, w, r, $0) }
        let sub = { (a: [Float], b: [Float]) in zip(a, b).map { $0 - $1 } }
        for (name, got, want) in [("dx", dx, nx), ("dh_prev", dh, nh), ("dc_prev", dc, nc),
                                  ("dW", sub(dw, w0), nw), ("dR", sub(dr, r0), nr),
                                  ("db", sub(db, b0), nb)] {
            let m = maxDiff(got, want)
            #expect(m.abs <= tol, "\(name): max abs diff to finite differences \(m.abs)")
        }
        #expect(nw.contains { abs($0) > 0.01 }, "degenerate problem: dW is ~0")
    }

    @Test("sequence backward matches finite differences (b=2, t=3, d=3, u=4)",
          arguments: [true, false])
    func sequenceBackwardFD(withState: Bool) {
        let p = LSTMDims(b: 2, t: 3, d: 3, u: 4)
        let pr = Problem(p, seed: withState ? 5 : 6)
        let h0 = withState ? pr.h0 : nil, c0 = withState ? pr.c0 : nil
        let fwd = runForward(p, x: pr.x, h0: h0, c0: c0, w: pr.w, r: pr.r, bias: pr.bias)
        #expect(fwd.status == ok)
        let g = runBackward(p, x: pr.x, h0: h0, c0: c0, w: pr.w, r: pr.r, cache: fwd.cache,
                            dhs: pr.dhs, dhLast: pr.dhLast, dcLast: pr.dcLast)
        #expect(g.status == ok)
        // L = <hs, dhs> + <h_T, dh_last> + <c_T, dc_last>, in Double.
        let zeros = [Float](repeating: 0, count: p.b * p.u)
        func loss(x: [Float], w: [Float], r: [Float], bias: [Float], h0: [Float], c0: [Float]) -> Double {
            let s = naiveSequence(p, x: dbl(x), h0: dbl(h0), c0: dbl(c0), w: dbl(w), r: dbl(r),
                                  bias: dbl(bias))
            var l = 0.0
            for e in s.hs.indices { l += s.hs[e] * Double(pr.dhs[e]) }
            let last = s.steps[p.t - 1]
            for e in 0..<(p.b * p.u) {
                l += last.h[e] * Double(pr.dhLast[e]) + last.c[e] * Double(pr.dcLast[e])
            }
            return l
        }
        let H0 = h0 ?? zeros, C0 = c0 ?? zeros
        let hs: Float = 1e-3, tol: Float = 2e-4
        let nx = numericGradient(pr.x, h: hs) { loss(x: $0, w: pr.w, r: pr.r, bias: pr.bias, h0: H0, c0: C0) }
        let nw = numericGradient(pr.w, h: hs) { loss(x: pr.x, w: $0, r: pr.r, bias: pr.bias, h0: H0, c0: C0) }
        let nr = numericGradient(pr.r, h: hs) { loss(x: pr.x, w: pr.w, r: $0, bias: pr.bias, h0: H0, c0: C0) }
        let nb = numericGradient(pr.bias, h: hs) { loss(x: pr.x, w: pr.w, r: pr.r, bias: $0, h0: H0, c0: C0) }
        let nh = numericGradient(H0, h: hs) { loss(x: pr.x, w: pr.w, r: pr.r, bias: pr.bias, h0: $0, c0: C0) }
        let nc = numericGradient(C0, h: hs) { loss(x: pr.x, w: pr.w, r: pr.r, bias: pr.bias, h0: H0, c0: $0) }
        for (name, got, want) in [("dx", g.dx, nx), ("dW", g.dw, nw), ("dR", g.dr, nr),
                                  ("db", g.db, nb), ("dh0", g.dh0, nh), ("dc0", g.dc0, nc)] {
            let m = maxDiff(got, want)
            #expect(m.abs <= tol, "\(name): max abs diff to finite differences \(m.abs)")
            #expect(want.contains { abs($0) > 0.01 }, "\(name): degenerate gradient")
        }
    }

    @Test("sequence backward matches the naive BPTT at a larger size, with NULL inputs")
    func sequenceBackwardNaive() {
        let p = LSTMDims(b: 9, t: 6, d: 11, u: 21)
        let pr = Problem(p, seed: 99)
        for variant in 0..<3 {
            // 0: everything given; 1: no h0/c0, only dh_last; 2: only dhs, no dx.
            let h0 = variant == 0 ? pr.h0 : nil, c0 = variant == 0 ? pr.c0 : nil
            let dhs = variant == 1 ? nil : pr.dhs
            let dhLast = variant == 2 ? nil : pr.dhLast
            let dcLast = variant == 0 ? pr.dcLast : nil
            let fwd = runForward(p, x: pr.x, h0: h0, c0: c0, w: pr.w, r: pr.r, bias: pr.bias)
            let seq = naiveSequence(p, x: dbl(pr.x), h0: h0.map(dbl), c0: c0.map(dbl),
                                    w: dbl(pr.w), r: dbl(pr.r), bias: dbl(pr.bias))
            let ref = naiveBackward(p, x: dbl(pr.x), seq: seq, w: dbl(pr.w), r: dbl(pr.r),
                                    dhs: dhs.map(dbl), dhLast: dhLast.map(dbl), dcLast: dcLast.map(dbl))
            let g = runBackward(p, x: pr.x, h0: h0, c0: c0, w: pr.w, r: pr.r, cache: fwd.cache,
                                dhs: dhs, dhLast: dhLast, dcLast: dcLast)
            #expect(g.status == ok)
            let tol: Float = 5e-6
            expectClose(g.dx, ref.dx, tol, "variant \(variant) dx")
            expectClose(g.dw, ref.dw, tol, "variant \(variant) dW")
            expectClose(g.dr, ref.dr, tol, "variant \(variant) dR")
            expectClose(g.db, ref.db, tol, "variant \(variant) db")
            expectClose(g.dh0, ref.dh0, tol, "variant \(variant) dh0")
            expectClose(g.dc0, ref.dc0, tol, "variant \(variant) dc0")
            if variant == 2 {
                // dx, dh0, dc0 may be NULL; the rest must not change.
                var params = ck_lstm_params(b: Int32(p.b), t: Int32(p.t), d: Int32(p.d), u: Int32(p.u))
                var ws = [Float](repeating: 0, count: ck_lstm_workspace_size(&params))
                let wsLen = ws.count
                var dw2 = g.dw, dr2 = g.dr, db2 = g.db
                let st = ck_lstm_sequence_backward(&params, pr.x, nil, nil, pr.w, pr.r, fwd.cache, dhs,
                                                   nil, nil, nil, &dw2, &dr2, &db2, nil, nil, &ws, wsLen)
                #expect(st == ok)
                #expect(dw2 == g.dw && dr2 == g.dr && db2 == g.db, "NULL dx/dh0/dc0 changed dW/dR/db")
            }
        }
    }

    @Test("the same inputs twice give identical bits")
    func reproducible() {
        let p = LSTMDims(b: 13, t: 7, d: 10, u: 40)
        let pr = Problem(p, seed: 3)
        let f1 = runForward(p, x: pr.x, h0: pr.h0, c0: pr.c0, w: pr.w, r: pr.r, bias: pr.bias)
        let f2 = runForward(p, x: pr.x, h0: pr.h0, c0: pr.c0, w: pr.w, r: pr.r, bias: pr.bias)
        #expect(f1.hs == f2.hs && f1.cache == f2.cache)
        let g1 = runBackward(p, x: pr.x, h0: pr.h0, c0: pr.c0, w: pr.w, r: pr.r, cache: f1.cache,
                             dhs: pr.dhs, dhLast: pr.dhLast, dcLast: pr.dcLast)
        let g2 = runBackward(p, x: pr.x, h0: pr.h0, c0: pr.c0, w: pr.w, r: pr.r, cache: f1.cache,
                             dhs: pr.dhs, dhLast: pr.dhLast, dcLast: pr.dcLast)
        #expect(g1.dx == g2.dx && g1.dw == g2.dw && g1.dr == g2.dr && g1.db == g2.db
                && g1.dh0 == g2.dh0 && g1.dc0 == g2.dc0)
    }

    @Test("bad arguments are rejected without touching outputs")
    func badArguments() {
        let p = LSTMDims(b: 2, t: 3, d: 3, u: 4)
        let pr = Problem(p, seed: 1)
        var params = ck_lstm_params(b: 2, t: 3, d: 3, u: 4)
        let cacheLen = ck_lstm_cache_size(&params), wsLen = ck_lstm_workspace_size(&params)
        // z, a row of gate-gradient sums per batch row and two states, and below 64 rows room
        // for a packed R (4u²) at a cache line.
        #expect(cacheLen == 6 * 2 * 3 * 4 && wsLen == 2 * 4 * 16 + 2 * 2 * 4 + 4 * 4 * 4 + 32)
        var big = ck_lstm_params(b: 64, t: 3, d: 3, u: 4)
        #expect(ck_lstm_workspace_size(&big) == 64 * 4 * 16 + 2 * 64 * 4)
        var hs = [Float](repeating: 5, count: 24), cache = [Float](repeating: 5, count: cacheLen)
        var ws = [Float](repeating: 5, count: wsLen)
        for bad in [ck_lstm_params(b: 0, t: 3, d: 3, u: 4), ck_lstm_params(b: 2, t: 0, d: 3, u: 4),
                    ck_lstm_params(b: 2, t: 3, d: -1, u: 4), ck_lstm_params(b: 2, t: 3, d: 3, u: 0),
                    ck_lstm_params(b: 2, t: Int32.max, d: 3, u: Int32.max / 2)] {
            var q = bad
            #expect(ck_lstm_workspace_size(&q) == 0 && ck_lstm_cache_size(&q) == 0)
            #expect(ck_lstm_sequence_forward(&q, pr.x, nil, nil, pr.w, pr.r, pr.bias, &hs, nil, nil,
                                             &cache, &ws, wsLen) == einval)
        }
        #expect(ck_lstm_workspace_size(nil) == 0)
        #expect(ck_lstm_sequence_forward(nil, pr.x, nil, nil, pr.w, pr.r, pr.bias, &hs, nil, nil,
                                         &cache, nil, 0) == einval)
        #expect(ck_lstm_sequence_forward(&params, nil, nil, nil, pr.w, pr.r, pr.bias, &hs, nil, nil,
                                         &cache, nil, 0) == einval)
        #expect(ck_lstm_sequence_forward(&params, pr.x, nil, nil, pr.w, pr.r, nil, &hs, nil, nil,
                                         &cache, nil, 0) == einval)
        #expect(ck_lstm_sequence_forward(&params, pr.x, nil, nil, pr.w, pr.r, pr.bias, nil, nil, nil,
                                         &cache, nil, 0) == einval)
        // No cache needs the workspace.
        #expect(ck_lstm_sequence_forward(&params, pr.x, nil, nil, pr.w, pr.r, pr.bias, &hs, nil, nil,
                                         nil, nil, 0) == einval)
        #expect(ck_lstm_sequence_forward(&params, pr.x, nil, nil, pr.w, pr.r, pr.bias, &hs, nil, nil,
                                         nil, &ws, 2 * 3 * 16) == enospc)
        #expect(hs.allSatisfy { $0 == 5 } && cache.allSatisfy { $0 == 5 }, "outputs written on error")

        var dw = [Float](repeating: 5, count: 48), dr = [Float](repeating: 5, count: 64)
        var db = [Float](repeating: 5, count: 16)
        #expect(ck_lstm_sequence_backward(&params, pr.x, nil, nil, pr.w, pr.r, nil, nil, nil, nil,
                                          nil, &dw, &dr, &db, nil, nil, &ws, wsLen) == einval)
        #expect(ck_lstm_sequence_backward(&params, pr.x, nil, nil, pr.w, pr.r, cache, nil, nil, nil,
                                          nil, nil, &dr, &db, nil, nil, &ws, wsLen) == einval)
        #expect(ck_lstm_sequence_backward(&params, pr.x, nil, nil, pr.w, pr.r, cache, nil, nil, nil,
                                          nil, &dw, &dr, &db, nil, nil, &ws, wsLen - 1) == enospc)
        #expect(dw.allSatisfy { $0 == 5 } && dr.allSatisfy { $0 == 5 } && db.allSatisfy { $0 == 5 })

        var h = [Float](repeating: 5, count: 8), c = h, gates = [Float](repeating: 5, count: 32)
        #expect(ck_lstm_cell_forward(0, 3, 4, pr.x, pr.h0, pr.c0, pr.w, pr.r, pr.bias, &h, &c, &gates) == einval)
        #expect(ck_lstm_cell_forward(2, 3, 4, pr.x, nil, pr.c0, pr.w, pr.r, pr.bias, &h, &c, &gates) == einval)
        #expect(ck_lstm_cell_forward(2, 3, 4, pr.x, pr.h0, pr.c0, pr.w, pr.r, pr.bias, &h, &c, nil) == einval)
        var dh = h, dc = h, dz = gates
        #expect(ck_lstm_cell_backward(2, 3, 4, pr.x, pr.h0, pr.c0, pr.w, pr.r, c, gates, h, c, nil,
                                      &dh, &dc, &dw, &dr, nil, &dz) == einval)
        #expect(ck_lstm_cell_backward(2, 0, 4, pr.x, pr.h0, pr.c0, pr.w, pr.r, c, gates, h, c, nil,
                                      &dh, &dc, &dw, &dr, &db, &dz) == einval)
        #expect(h.allSatisfy { $0 == 5 } && dh.allSatisfy { $0 == 5 } && dw.allSatisfy { $0 == 5 })
    }
}
