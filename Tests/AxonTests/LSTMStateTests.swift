import Testing
import Axon

/// The LSTM's initial state, final cell state gradient and single-step API,
/// checked against central differences in float64 of the layer's own forward pass.
@Suite struct LSTMStateTests {
    let b = 2, t = 4, d = 3, u = 5

    func layer() throws -> LSTM { try built(LSTM(units: u), [t, d], seed: 3) }

    /// L = Σ rh ⊙ h_T + Σ rc ⊙ c_T from the initial state (h0, c0).
    func objective(_ l: LSTM, _ x: Tensor, _ h0: Tensor, _ c0: Tensor, _ rh: Tensor, _ rc: Tensor) throws -> Double {
        var m = l
        let h = try m.forward(x, initialState: (h0, c0), training: true)
        let c = m.finalState.c
        var s = 0.0
        for i in 0..<h.count { s += Double(h[flat: i]) * Double(rh[flat: i]) + Double(c[flat: i]) * Double(rc[flat: i]) }
        return s
    }

    func worst(_ analytic: Tensor, _ numeric: (Int) throws -> Double) rethrows -> Double {
        var w = 0.0
        for i in 0..<analytic.count { w = max(w, abs(try numeric(i) - Double(analytic[flat: i]))) }
        return w
    }

    @Test func initialStateAndFinalCellGradientMatchFiniteDifferences() throws {
        let base = try layer()
        let x = randomTensor([b, t, d], seed: 1), h0 = randomTensor([b, u], seed: 2), c0 = randomTensor([b, u], seed: 3)
        let rh = randomTensor([b, u], seed: 4), rc = randomTensor([b, u], seed: 5)
        var l = base
        let h = try l.forward(x, initialState: (h0, c0), training: true)
        #expect(h == l.finalState.h)
        // A non-zero initial state changes the output (it is used, not ignored).
        var zero = base
        #expect(try zero.forward(x, training: false) != h)
        let dx = try l.backward(rh, finalCellStateGradient: rc)
        let (dh0, dc0) = l.initialStateGradient
        let eps: Float = 1e-2
        func fd(_ f: (Float) throws -> Double) rethrows -> Double { (try f(eps) - f(-eps)) / Double(2 * eps) }
        let e = try [
            ("h0", worst(dh0) { i in try fd { try objective(base, x, perturbed(h0, i, $0), c0, rh, rc) } }),
            ("c0", worst(dc0) { i in try fd { try objective(base, x, h0, perturbed(c0, i, $0), rh, rc) } }),
            ("x", worst(dx) { i in try fd { try objective(base, perturbed(x, i, $0), h0, c0, rh, rc) } }),
            ("kernel", worst(l.kernelGradient) { i in try fd { delta in
                var p = base
                try p.setParameter("kernel", to: perturbed(base.kernel, i, delta))
                return try objective(p, x, h0, c0, rh, rc)
            } }),
        ]
        for (name, err) in e { #expect(err < 2e-3, "\(name): worst |numeric − analytic| \(err)") }
        // Without the final cell gradient the kernel gradient differs (dc_T is really used).
        var m = base
        _ = try m.forward(x, initialState: (h0, c0), training: true)
        _ = try m.backward(rh)
        #expect(m.kernelGradient != l.kernelGradient)
    }

    @Test func singleStepMatchesTheSequenceAndItsGradients() throws {
        var base = try layer()
        let x = randomTensor([b, d], seed: 6), h0 = randomTensor([b, u], seed: 7), c0 = randomTensor([b, u], seed: 8)
        let step = try base.step(x, h: h0, c: c0)
        // A sequence of one step from the same state gives the same h and c.
        var seq = base
        let h = try seq.forward(x.reshaped([b, 1, d]), initialState: (h0, c0), training: false)
        #expect(zip(h.scalars, step.h.scalars).allSatisfy { abs($0 - $1) < 1e-6 })
        #expect(zip(seq.finalState.c.scalars, step.c.scalars).allSatisfy { abs($0 - $1) < 1e-6 })
        #expect(step.gates.shape == [b, 4 * u])
        let rh = randomTensor([b, u], seed: 9), rc = randomTensor([b, u], seed: 10)
        func objective(_ l: LSTM, _ x: Tensor, _ h: Tensor, _ c: Tensor) throws -> Double {
            let s = try l.step(x, h: h, c: c)
            var v = 0.0
            for i in 0..<(b * u) { v += Double(s.h[flat: i]) * Double(rh[flat: i]) + Double(s.c[flat: i]) * Double(rc[flat: i]) }
            return v
        }
        base.zeroGradients()
        let g = try base.stepBackward(x, h: h0, c: c0, result: step, dh: rh, dc: rc)
        let eps: Float = 1e-2
        func fd(_ f: (Float) throws -> Double) rethrows -> Double { (try f(eps) - f(-eps)) / Double(2 * eps) }
        let e = try [
            ("dx", worst(g.dx) { i in try fd { try objective(base, perturbed(x, i, $0), h0, c0) } }),
            ("dh", worst(g.dh) { i in try fd { try objective(base, x, perturbed(h0, i, $0), c0) } }),
            ("dc", worst(g.dc) { i in try fd { try objective(base, x, h0, perturbed(c0, i, $0)) } }),
            ("recurrent_kernel", worst(base.recurrentKernelGradient) { i in try fd { delta in
                var p = base
                try p.setParameter("recurrent_kernel", to: perturbed(base.recurrentKernel, i, delta))
                return try objective(p, x, h0, c0)
            } }),
        ]
        for (name, err) in e { #expect(err < 2e-3, "\(name): worst |numeric − analytic| \(err)") }
        #expect(throws: AxonError.self) { _ = try base.step(x, h: randomTensor([b, u + 1], seed: 1), c: c0) }
    }
}

extension LSTMStateTests {
    /// Examples [A, T, D] are A sequences each: the same outputs as the A slices
    /// run as a batch, and gradients that match finite differences.
    @Test(arguments: [false, true])
    func leadingAxesAreSeparateSequences(_ sequences: Bool) throws {
        var l = try built(LSTM(units: u, returnSequences: sequences), [t, d], seed: 3)
        let x = randomTensor([b, 3, t, d], seed: 6)
        let y = try l.forward(x, training: false)
        #expect(y.shape == (sequences ? [b, 3, t, u] : [b, 3, u]))
        #expect(try l.outputShape(for: [3, t, d]) == Array(y.shape.dropFirst()))
        let flat = try l.forward(x.reshaped([b * 3, t, d]), training: false)
        #expect(flat.scalars == y.scalars)
        let r = try gradientCheck(l, x)
        #expect(r.maxError < 2e-2, "\(r)")
    }
}
