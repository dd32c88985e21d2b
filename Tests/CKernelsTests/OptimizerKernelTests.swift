// The ten fused optimizer updates (spec §8), each run for 5 steps with
// non-default hyper-parameters against the spec's equations written
// independently here in Double. n is above the kernels' OpenMP threshold so
// the threaded path is the one checked.
import CKernels
import Foundation
import Testing

private let n = 40_003  // > 1 << 15: the parallel path; odd, so vector tails run too

private func sgn(_ v: Double) -> Double { v > 0 ? 1 : (v < 0 ? -1 : 0) }

/// Runs `kernel` and `reference` side by side for 5 steps from the same start and
/// compares w and every slot after each step.
private func drive(_ name: String, seed: UInt64, slotInits: [Float],
                   kernel: (_ step: Int, _ w: inout [Float], _ g: [Float], _ slots: inout [[Float]]) -> Int32,
                   reference: (_ step: Int, _ w: inout [Double], _ g: [Double], _ slots: inout [[Double]]) -> Void) {
    var rng = TestRNG(seed: seed)
    let w0 = rng.array(n)
    var w = w0, wd = w0.map(Double.init)
    var slots = slotInits.map { [Float](repeating: $0, count: n) }
    var slotsD = slotInits.map { [Double](repeating: Double($0), count: n) }
    for step in 1...5 {
        var g = rng.array(n)
        for i in stride(from: 0, to: n, by: 5) { g[i] = 0 }  // updates are dense: slots move anyway
        let st = kernel(step, &w, g, &slots)
        #expect(st == ok, "\(name) step \(step): status \(st)")
        reference(step, &wd, g.map(Double.init), &slotsD)
        let m = maxDiff(w, wd.map { Float($0) })
        #expect(m.rel <= 1e-5, "\(name) step \(step): w max diff \(m.abs) (rel \(m.rel))")
        for s in slots.indices {
            let ms = maxDiff(slots[s], slotsD[s].map { Float($0) })
            #expect(ms.rel <= 1e-5, "\(name) step \(step): slot \(s) max diff \(ms.abs) (rel \(ms.rel))")
        }
    }
    // The comparison means something only if the update moved w.
    let moved = maxDiff(w, w0).abs
    #expect(moved > 0.05, "\(name): w moved only \(moved) in 5 steps")
}

@Suite("Optimizer kernels")
struct OptimizerKernelTests {
    @Test func sgd() {
        let lr: Float = 0.3
        drive("sgd", seed: 1, slotInits: []) { _, w, g, _ in
            ck_sgd_update(n, &w, g, lr)
        } reference: { _, w, g, _ in
            for i in 0..<n { w[i] -= Double(lr) * g[i] }
        }
    }

    @Test(arguments: [false, true])
    func momentum(nesterov: Bool) {
        let lr: Float = 0.1, mu: Float = 0.7
        drive("momentum nesterov=\(nesterov)", seed: 2, slotInits: [0]) { _, w, g, s in
            var a = s[0]
            let st = ck_momentum_update(n, &w, g, &a, lr, mu, nesterov ? 1 : 0)
            s[0] = a
            return st
        } reference: { _, w, g, s in
            let lr = Double(lr), mu = Double(mu)
            for i in 0..<n {
                s[0][i] = mu * s[0][i] + g[i]
                if nesterov { w[i] = w[i] - lr * g[i] - lr * mu * s[0][i] } else { w[i] -= lr * s[0][i] }
            }
        }
    }

    @Test func adam() {
        let lr = 0.05, b1 = 0.8, b2 = 0.95, eps = 1e-3
        // lr_t = lr·√(1−β2^t)/(1−β1^t), computed by the caller at step t.
        func lrT(_ t: Int) -> Double { lr * (1 - pow(b2, Double(t))).squareRoot() / (1 - pow(b1, Double(t))) }
        drive("adam", seed: 3, slotInits: [0, 0]) { step, w, g, s in
            var m = s[0], v = s[1]
            let st = ck_adam_update(n, &w, g, &m, &v, Float(lrT(step)), Float(b1), Float(b2), Float(eps))
            s[0] = m; s[1] = v
            return st
        } reference: { step, w, g, s in
            for i in 0..<n {
                s[0][i] += (g[i] - s[0][i]) * (1 - Double(Float(b1)))
                s[1][i] += (g[i] * g[i] - s[1][i]) * (1 - Double(Float(b2)))
                w[i] -= lrT(step) * s[0][i] / (s[1][i].squareRoot() + eps)
            }
        }
    }

    @Test func adagrad() {
        let lr: Float = 0.2
        drive("adagrad", seed: 4, slotInits: [0.3]) { _, w, g, s in
            var a = s[0]
            let st = ck_adagrad_update(n, &w, g, &a, lr)
            s[0] = a
            return st
        } reference: { _, w, g, s in
            for i in 0..<n {
                s[0][i] += g[i] * g[i]
                w[i] -= Double(lr) * g[i] / s[0][i].squareRoot()
            }
        }
    }

    @Test func adadelta() {
        let lr: Float = 2, rho: Float = 0.9, eps: Float = 1e-3
        drive("adadelta", seed: 5, slotInits: [0, 0]) { _, w, g, s in
            var a = s[0], d = s[1]
            let st = ck_adadelta_update(n, &w, g, &a, &d, lr, rho, eps)
            s[0] = a; s[1] = d
            return st
        } reference: { _, w, g, s in
            let rho = Double(rho), eps = Double(eps)
            for i in 0..<n {
                s[0][i] = rho * s[0][i] + (1 - rho) * g[i] * g[i]
                let delta = (s[1][i] + eps).squareRoot() / (s[0][i] + eps).squareRoot() * g[i]
                w[i] -= Double(lr) * delta
                s[1][i] = rho * s[1][i] + (1 - rho) * delta * delta
            }
        }
    }

    @Test(arguments: [false, true])
    func rmsprop(centered: Bool) {
        let lr: Float = 0.05, decay: Float = 0.8, mu: Float = 0.5, eps: Float = 1e-4
        // ms starts at 1 (TF1), mom and mg at 0.
        drive("rmsprop centered=\(centered)", seed: 6, slotInits: centered ? [1, 0, 0] : [1, 0]) { _, w, g, s in
            var ms = s[0], mom = s[1]
            let st: Int32
            if centered {
                var mg = s[2]
                st = ck_rmsprop_update(n, &w, g, &ms, &mom, &mg, lr, decay, mu, eps, 1)
                s[2] = mg
            } else {
                st = ck_rmsprop_update(n, &w, g, &ms, &mom, nil, lr, decay, mu, eps, 0)
            }
            s[0] = ms; s[1] = mom
            return st
        } reference: { _, w, g, s in
            let rho = Double(decay), lr = Double(lr), mu = Double(mu), eps = Double(eps)
            for i in 0..<n {
                s[0][i] += (g[i] * g[i] - s[0][i]) * (1 - rho)
                var denom = s[0][i] + eps
                if centered {
                    s[2][i] += (g[i] - s[2][i]) * (1 - rho)
                    denom = s[0][i] - s[2][i] * s[2][i] + eps
                }
                s[1][i] = mu * s[1][i] + lr * g[i] / denom.squareRoot()
                w[i] -= s[1][i]
            }
        }
    }

    @Test(arguments: [(Float(0.05), Float(0.3)), (Float(0), Float(0.3)), (Float(0.5), Float(0))])
    func proximalSGD(l1: Float, l2: Float) {
        let lr: Float = 0.2
        drive("proximal sgd l1=\(l1) l2=\(l2)", seed: 7, slotInits: []) { _, w, g, _ in
            ck_proximal_sgd_update(n, &w, g, lr, l1, l2)
        } reference: { _, w, g, _ in
            let lr = Double(lr), l1 = Double(l1), l2 = Double(l2)
            for i in 0..<n {
                let v = w[i] - lr * g[i]
                w[i] = sgn(v) * max(abs(v) - lr * l1, 0) / (1 + lr * l2)
            }
        }
    }

    @Test func proximalAdagrad() {
        let lr: Float = 0.3, l1: Float = 0.02, l2: Float = 0.1
        drive("proximal adagrad", seed: 8, slotInits: [0.1]) { _, w, g, s in
            var a = s[0]
            let st = ck_proximal_adagrad_update(n, &w, g, &a, lr, l1, l2)
            s[0] = a
            return st
        } reference: { _, w, g, s in
            for i in 0..<n {
                s[0][i] += g[i] * g[i]
                let eta = Double(lr) / s[0][i].squareRoot()
                let v = w[i] - eta * g[i]
                w[i] = sgn(v) * max(abs(v) - eta * Double(l1), 0) / (1 + eta * Double(l2))
            }
        }
    }

    @Test(arguments: [(Float(0.01), Float(0.05)), (Float(0), Float(0))])
    func adagradDA(l1: Float, l2: Float) {
        let lr: Float = 0.4
        // A global step that starts at 4 so T = global_step + 1 differs from the step number.
        let firstGlobalStep = 4
        drive("adagrad-da l1=\(l1) l2=\(l2)", seed: 9, slotInits: [0, 0.1]) { step, w, g, s in
            var ga = s[0], gs = s[1]
            let st = ck_adagrad_da_update(n, &w, g, &ga, &gs, lr, l1, l2, Int64(firstGlobalStep + step - 1))
            s[0] = ga; s[1] = gs
            return st
        } reference: { step, w, g, s in
            let T = Double(firstGlobalStep + step - 1 + 1), lr = Double(lr)
            for i in 0..<n {
                s[0][i] += g[i]
                s[1][i] += g[i] * g[i]
                let G = s[0][i]
                w[i] = -lr * sgn(G) * max(abs(G) - Double(l1) * T, 0) / (Double(l2) * T * lr + s[1][i].squareRoot())
            }
        }
    }

    @Test(arguments: [
        (Float(-0.5), Float(0.05), Float(0.1), Float(0.03), Float(0.4)),
        (Float(-0.3), Float(0.05), Float(0.1), Float(0.03), Float(0.4)),
        (Float(-0.5), Float(0), Float(0), Float(0), Float(0)),
    ])
    func ftrl(lrPower: Float, l1: Float, l2: Float, shrinkage: Float, beta: Float) {
        let lr: Float = 0.2
        drive("ftrl p=\(lrPower) l1=\(l1) l2=\(l2) shr=\(shrinkage) beta=\(beta)", seed: 10,
              slotInits: [0.1, 0]) { _, w, g, s in
            var acc = s[0], lin = s[1]
            let st = ck_ftrl_update(n, &w, g, &acc, &lin, lr, lrPower, l1, l2, shrinkage, beta)
            s[0] = acc; s[1] = lin
            return st
        } reference: { _, w, g, s in
            let p = -Double(lrPower), lr = Double(lr), l1 = Double(l1)
            let l2p = Double(l2) + Double(beta) / (2 * lr)
            for i in 0..<n {
                let gh = g[i] + 2 * Double(shrinkage) * w[i]
                let nNew = s[0][i] + g[i] * g[i]
                s[1][i] += gh - (pow(nNew, p) - pow(s[0][i], p)) / lr * w[i]
                let z = s[1][i]
                w[i] = abs(z) > l1 ? (l1 * sgn(z) - z) / (pow(nNew, p) / lr + 2 * l2p) : 0
                s[0][i] = nNew
            }
        }
    }

    @Test func ftrlL1ZeroesWeights() {
        // With a large l1 every |z| <= l1 after one step, so every weight is exactly 0.
        var w: [Float] = [0.5, -0.3, 0.1, 0.9], acc = [Float](repeating: 0.1, count: 4)
        var lin = [Float](repeating: 0, count: 4)
        let g: [Float] = [0.1, -0.2, 0, 0.05]
        #expect(ck_ftrl_update(4, &w, g, &acc, &lin, 0.1, -0.5, 100, 0, 0, 0) == ok)
        #expect(w == [0, 0, 0, 0])
    }

    @Test func badArguments() {
        var w: [Float] = [1, 2, 3], a: [Float] = [0.1, 0.1, 0.1], b: [Float] = [0, 0, 0]
        let g: [Float] = [0.5, -0.5, 0]
        let w0 = w, a0 = a, b0 = b
        let nan = Float.nan, inf = Float.infinity
        #expect(ck_sgd_update(3, nil, g, 0.1) == einval)
        #expect(ck_sgd_update(3, &w, nil, 0.1) == einval)
        #expect(ck_sgd_update(3, &w, g, nan) == einval)
        #expect(ck_sgd_update(3, &w, g, inf) == einval)
        #expect(ck_momentum_update(3, &w, g, nil, 0.1, 0.9, 0) == einval)
        #expect(ck_momentum_update(3, &w, g, &a, 0.1, nan, 1) == einval)
        #expect(ck_adam_update(3, &w, g, &a, nil, 0.1, 0.9, 0.999, 1e-8) == einval)
        #expect(ck_adam_update(3, &w, g, &a, &b, 0.1, 0.9, 0.999, -1) == einval)
        #expect(ck_adam_update(3, &w, g, &a, &b, 0.1, inf, 0.999, 1e-8) == einval)
        #expect(ck_adagrad_update(3, &w, g, nil, 0.1) == einval)
        #expect(ck_adagrad_update(3, &w, g, &a, -inf) == einval)
        #expect(ck_adadelta_update(3, &w, g, &a, nil, 1, 0.95, 1e-8) == einval)
        #expect(ck_adadelta_update(3, &w, g, &a, &b, 1, nan, 1e-8) == einval)
        #expect(ck_rmsprop_update(3, &w, g, &a, &b, nil, 0.1, 0.9, 0, 1e-10, 1) == einval)  // centered needs mg
        #expect(ck_rmsprop_update(3, &w, g, &a, nil, nil, 0.1, 0.9, 0, 1e-10, 0) == einval)
        #expect(ck_rmsprop_update(3, &w, g, &a, &b, nil, 0.1, 0.9, 0, nan, 0) == einval)
        #expect(ck_proximal_sgd_update(3, &w, g, 0.1, -0.1, 0) == einval)
        #expect(ck_proximal_sgd_update(3, &w, g, 0.1, 0, -0.1) == einval)
        #expect(ck_proximal_adagrad_update(3, &w, g, &a, 0.1, 0, nan) == einval)
        #expect(ck_adagrad_da_update(3, &w, g, &b, &a, 0.1, 0, 0, -1) == einval)
        #expect(ck_adagrad_da_update(3, &w, g, nil, &a, 0.1, 0, 0, 0) == einval)
        #expect(ck_ftrl_update(3, &w, g, &a, &b, 0, -0.5, 0, 0, 0, 0) == einval)     // lr must be > 0
        #expect(ck_ftrl_update(3, &w, g, &a, &b, 0.1, 0.5, 0, 0, 0, 0) == einval)    // lr_power <= 0
        #expect(ck_ftrl_update(3, &w, g, &a, &b, 0.1, -0.5, -1, 0, 0, 0) == einval)
        #expect(ck_ftrl_update(3, &w, g, &a, &b, 0.1, -0.5, 0, 0, -1, 0) == einval)
        #expect(ck_ftrl_update(3, &w, g, &a, &b, 0.1, -0.5, 0, 0, 0, -1) == einval)
        #expect(ck_ftrl_update(3, &w, g, &a, nil, 0.1, -0.5, 0, 0, 0, 0) == einval)
        #expect(w == w0 && a == a0 && b == b0, "a rejected call changed its buffers")
        // Nothing to update: pointers are not needed.
        #expect(ck_sgd_update(0, nil, nil, 0.1) == ok)
        #expect(ck_ftrl_update(0, nil, nil, nil, nil, 0.1, -0.5, 0, 0, 0, 0) == ok)
    }
}
