import Foundation
import Testing
@testable import Axon

// MARK: augmentation (spec §10)

private func images(_ shape: [Int], seed: UInt64) -> Tensor {
    var g = SeededGenerator(seed: seed)
    return Tensor(uncheckedShape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in g.nextUniform() })
}

private func image(_ t: Tensor, _ i: Int) -> [Float] {
    let s = t.count / t.shape[0]
    return t.withUnsafeBufferPointer { Array($0[(i * s)..<((i + 1) * s)]) }
}

/// Image [h, w, c] shifted so that y[r, t] = x[r + dy, t + dx], zeros outside.
private func shifted(_ x: [Float], h: Int, w: Int, c: Int, dy: Int, dx: Int) -> [Float] {
    var y = [Float](repeating: 0, count: x.count)
    for r in 0..<h { for t in 0..<w where (0..<h).contains(r + dy) && (0..<w).contains(t + dx) {
        for k in 0..<c { y[(r * w + t) * c + k] = x[((r + dy) * w + t + dx) * c + k] }
    } }
    return y
}

private func mirrored(_ x: [Float], h: Int, w: Int, c: Int) -> [Float] {
    var y = x
    for r in 0..<h { for t in 0..<w { for k in 0..<c { y[(r * w + t) * c + k] = x[(r * w + w - 1 - t) * c + k] } } }
    return y
}

@Suite(.serialized) struct AugmentationTests {
    @Test func deterministicPerSeedAndThreadCountFree() throws {
        let x = images([300, 16, 16, 3], seed: 1)  // 230400 floats: the threaded path
        func run(_ seed: UInt64, threads: Int) throws -> Tensor {
            try setThreadCount(threads)
            var a = Augmentation(cropPadding: 3, flip: true, brightness: 0.2, contrast: 0.5..<1.5, saturation: 0.3..<1.7)
            var y = x
            try a.apply(to: &y, seed: seed, counter: 77)
            return y
        }
        defer { try? setThreadCount(0) }
        let a = try run(5, threads: 1), b = try run(5, threads: 2), c = try run(6, threads: 2)
        #expect(a.shape == x.shape)
        #expect(a == b, "same seed, 1 vs 2 threads")
        #expect(a != c, "different seeds must differ")
    }

    @Test func cropIsAShiftedCopyWithIndependentOffsets() throws {
        let (n, h, w, c, pad) = (40, 7, 9, 2, 2)
        let x = images([n, h, w, c], seed: 2)
        var a = Augmentation(cropPadding: pad)
        var y = x
        try a.apply(to: &y, seed: 3)
        var offsets = Set<[Int]>()
        for i in 0..<n {
            let xi = image(x, i), yi = image(y, i)
            var found: [Int]?
            for dy in -pad...pad { for dx in -pad...pad where shifted(xi, h: h, w: w, c: c, dy: dy, dx: dx) == yi { found = [dy, dx] } }
            #expect(found != nil, "image \(i) is not an exact shifted copy of its input")
            if let found { offsets.insert(found) }
        }
        #expect(offsets.count >= 8, "offsets drawn per image: only \(offsets.count) distinct of 25 in 40 images")
    }

    @Test func flipPerImageAndTwiceIsIdentity() throws {
        let (n, h, w, c) = (64, 5, 7, 3)
        let x = images([n, h, w, c], seed: 4)
        var a = Augmentation(flip: true)
        var y = x
        try a.apply(to: &y, seed: 9, counter: 100)
        var flipped = 0
        for i in 0..<n {
            let xi = image(x, i), yi = image(y, i)
            if yi == mirrored(xi, h: h, w: w, c: c) { flipped += 1 } else { #expect(yi == xi, "image \(i) neither kept nor mirrored") }
        }
        #expect(flipped > 16 && flipped < 48, "\(flipped) of 64 flipped; expected about half")
        try a.apply(to: &y, seed: 9, counter: 100)
        #expect(y == x, "the same flips twice must give back the input exactly")
    }

    @Test func brightnessAddsOneDeltaPerImage() throws {
        let x = images([20, 4, 4, 1], seed: 5)
        var a = Augmentation(brightness: 0.25)
        var y = x
        try a.apply(to: &y, seed: 1)
        var deltas = Set<Float>()
        for i in 0..<20 {
            let d = zip(image(y, i), image(x, i)).map { $0 - $1 }
            let spread = d.max()! - d.min()!
            #expect(spread < 1e-6, "image \(i): delta varies by \(spread)")
            #expect(d[0] >= -0.25 - 1e-6 && d[0] < 0.25 + 1e-6, "delta \(d[0]) outside [-0.25, 0.25)")
            deltas.insert(d[0])
        }
        #expect(deltas.count > 15)
    }

    /// adjust_contrast against the spec's formula in double, for C = 1 and C = 3.
    @Test(arguments: [1, 3]) func contrastMatchesTheFormula(channels: Int) throws {
        let (n, h, w) = (4, 6, 5)
        let x = images([n, h, w, channels], seed: 6)
        let factors: [Float] = [0, 0.5, 1, 1.7]
        let y = try ImageAdjust.contrast(x, factors: factors)
        var worst = 0.0
        for i in 0..<n {
            let xi = image(x, i), yi = image(y, i)
            for k in 0..<channels {
                let mu = stride(from: k, to: xi.count, by: channels).reduce(0.0) { $0 + Double(xi[$1]) } / Double(h * w)
                for p in stride(from: k, to: xi.count, by: channels) {
                    worst = max(worst, abs((Double(xi[p]) - mu) * Double(factors[i]) + mu - Double(yi[p])))
                }
            }
        }
        #expect(worst < 1e-6, "largest difference from (x − μ)·f + μ: \(worst)")
    }

    /// adjust_saturation against the spec's HSV definition (naive, double).
    @Test func saturationMatchesTheFormula() throws {
        let n = 5
        var x = images([n, 4, 4, 3], seed: 7)
        x[flat: 0] = 0.3; x[flat: 1] = 0.3; x[flat: 2] = 0.3  // a grey pixel (S = 0)
        let factors: [Float] = [0, 0.4, 1, 2.5, 10]
        let y = try ImageAdjust.saturation(x, factors: factors)
        var worst = 0.0
        for i in 0..<n {
            let xi = image(x, i).map(Double.init), yi = image(y, i)
            for p in 0..<16 {
                let rgb = Array(xi[(3 * p)..<(3 * p + 3)])
                let v = rgb.max()!, s = v > 0 ? (v - rgb.min()!) / v : 0
                let s2 = min(max(s * Double(factors[i]), 0), 1)
                for k in 0..<3 {
                    let expected = s > 0 ? v - (s2 / s) * (v - rgb[k]) : v
                    worst = max(worst, abs(expected - Double(yi[3 * p + k])))
                }
            }
        }
        #expect(worst < 1e-6, "largest difference from V − (S'/S)·(V − x): \(worst)")
        let identity = zip(image(y, 2), image(x, 2)).map { abs($0 - $1) }.max()!
        #expect(identity < 1e-6, "f = 1 must be the identity; largest change \(identity)")
    }

    @Test func saturationRejectsGrayscale() throws {
        let x = images([2, 4, 4, 1], seed: 8)
        #expect(throws: AxonError.self) { _ = try ImageAdjust.saturation(x, factors: [1, 1]) }
        var a = Augmentation(saturation: 0.5..<1.5)
        var y = x
        #expect(throws: AxonError.self) { try a.apply(to: &y, seed: 1) }
        // And the C kernel itself answers CK_EINVAL for C = 1.
        var z = x
        #expect(throws: AxonError.self) { try Kernels.randomSaturation(lower: 0.5, upper: 1.5, seed: 1, counter: 0, x: &z) }
    }

    @Test func randomContrastKeepsMeansAndDrawsFactorsInRange() throws {
        var x = images([30, 5, 5, 1], seed: 10)
        let original = x
        let f = try Kernels.randomContrast(lower: 0.2, upper: 0.6, seed: 3, counter: 0, x: &x)
        #expect(f.allSatisfy { $0 >= 0.2 && $0 < 0.6 }, "factors \(f)")
        #expect(Set(f).count == 30)
        let expected = try ImageAdjust.contrast(original, factors: f)
        #expect(x == expected)
    }
}

// MARK: early stopping (spec §9)

/// A layer whose validation accuracy follows a script: its one parameter counts
/// the updates (gradient −1, GradientDescent lr 1), i.e. the epochs with one
/// batch each, and inference predicts class 0 for the first ⌊script[epoch]·N⌋ rows.
private struct ScriptedLayer: Layer {
    var script: [Double]
    var kernel = Tensor(zeros: [1])
    var gradient = Tensor(zeros: [1])
    var isBuilt: Bool { true }
    mutating func build(inputShape: [Int], generator: inout SeededGenerator) throws {}
    func outputShape(for inputShape: [Int]) throws -> [Int] { [2] }
    mutating func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        let n = x.shape[0]
        let epoch = Int(kernel[flat: 0].rounded())
        let correct = training ? n : Int((script[max(epoch - 1, 0)] * Double(n)).rounded())
        var out = [Float](repeating: 0, count: 2 * n)
        for r in 0..<n { out[2 * r + (r < correct ? 0 : 1)] = 1 }
        return Tensor(uncheckedShape: [n, 2], scalars: out)
    }
    mutating func backward(_ dy: Tensor) throws -> Tensor {
        gradient = Tensor(repeating: -1, shape: [1])
        return .empty
    }
    var parameterNames: [String] { ["kernel"] }
    mutating func updateParameters(_ body: (String, inout Tensor, inout Tensor) throws -> Void) rethrows {
        try body("kernel", &kernel, &gradient)
    }
    var summary: String { "Scripted" }
}

@Suite struct EarlyStoppingTests {
    private func run(_ script: [Double], patience: Int, epochs: Int) throws -> (History, ScriptedLayer, Trainer) {
        let data = try Dataset(images: Tensor(zeros: [100, 1]), labels: [Int32](repeating: 0, count: 100), classCount: 2)
        var layer = ScriptedLayer(script: script)
        let trainer = Trainer(optimizer: GradientDescent(learningRate: 1), earlyStoppingPatience: patience)
        let h = try trainer.fit(&layer, on: data, epochs: epochs, batchSize: 100, validation: data)
        return (h, layer, trainer)
    }

    @Test func stopsWhenWaitReachesPatienceAndRestoresTheBest() throws {
        // Best 0.7 at epoch 5; epochs 6–9 bring a tie (not a new best) and lower values.
        let script = [0.5, 0.6, 0.6, 0.55, 0.7, 0.7, 0.65, 0.69, 0.7, 0.4, 0.9, 0.95]
        let (h, layer, trainer) = try run(script, patience: 4, epochs: 12)
        #expect(h.epochs.count == 9, "trained \(h.epochs.count) epochs, expected to stop after epoch 9")
        #expect(h.earlyStop == EarlyStop(epoch: 9, bestEpoch: 5, bestAccuracy: 0.7, patience: 4))
        #expect(trainer.earlyStop?.reason.contains("4 epochs") == true)
        #expect(layer.kernel[flat: 0] == 5, "weights after the run: those of epoch \(layer.kernel[flat: 0]), expected 5")
        #expect(h.epochs.map(\.validationAccuracy) == script.prefix(9).map { Optional($0) })
    }

    @Test func noStopAtTheLimitStillRestoresTheBest() throws {
        let (h, layer, _) = try run([0.5, 0.9, 0.6, 0.7], patience: 10, epochs: 4)
        #expect(h.epochs.count == 4)
        #expect(h.earlyStop == nil)
        #expect(layer.kernel[flat: 0] == 2)
    }

    @Test func patienceOneStopsAtTheFirstNonImprovement() throws {
        let (h, layer, _) = try run([0.5, 0.6, 0.6, 0.9], patience: 1, epochs: 4)
        #expect(h.earlyStop?.epoch == 3)
        #expect(layer.kernel[flat: 0] == 2)
    }
}

// MARK: L1/L2 through the Trainer (spec §7)

@Suite struct PenaltyTests {
    @Test func trainerGradientMatchesFiniteDifferencesAndLossIncludesPenalty() throws {
        var g = SeededGenerator(seed: 3)
        let x = Tensor(uncheckedShape: [5, 4], scalars: (0..<20).map { _ in g.nextUniform() * 2 - 1 })
        let labels: [Int32] = [0, 2, 1, 2, 0]
        let (l1, l2, n) = (Float(0.3), Float(0.7), 10)
        var model = Sequential(seed: 4) { Dense(3) }
        try model.build(inputShape: [4])
        // Keep every weight away from 0, where |w| has its kink.
        let k = model.parameters.first { $0.name.hasSuffix("kernel") }!
        try model.setParameter(k.name, to: Tensor(uncheckedShape: k.value.shape,
                                                   scalars: (0..<k.value.count).map { i in (i % 2 == 0 ? 1 : -1) * (0.2 + 0.05 * Float(i)) }))
        func loss(_ m: Sequential, l1: Float, l2: Float) throws -> (Float, Sequential) {
            var m = m
            let t = Trainer(loss: .softmaxCrossEntropy, optimizer: GradientDescent(learningRate: 0), l2: l2, l1: l1)
            let (value, _) = try t.step(&m, images: x, labels: labels, trainingSetSize: n)
            return (value, m)
        }
        let (withPenalty, stepped) = try loss(model, l1: l1, l2: l2)
        let (plain, _) = try loss(model, l1: 0, l2: 0)
        let w = k.name, kernel = stepped.parameters.first { $0.name == w }!.value
        var expectedPenalty = 0.0
        for i in 0..<kernel.count {
            let v = Double(kernel[flat: i])
            expectedPenalty += Double(l2) / (2 * Double(n)) * v * v + Double(l1) / Double(n) * abs(v)
        }
        #expect(abs(Double(withPenalty - plain) - expectedPenalty) < 1e-5,
                "penalty in the loss \(withPenalty - plain), expected \(expectedPenalty)")
        var worst = 0.0
        for (name, grad) in stepped.gradients {
            let value = stepped.parameters.first { $0.name == name }!.value
            for i in 0..<value.count {
                let eps: Float = 1e-2
                var m = stepped
                try m.setParameter(name, to: perturbed(value, i, eps))
                let (up, _) = try loss(m, l1: l1, l2: l2)
                try m.setParameter(name, to: perturbed(value, i, -eps))
                let (down, _) = try loss(m, l1: l1, l2: l2)
                let numeric = (Double(up) - Double(down)) / (2 * Double(eps))
                worst = max(worst, abs(numeric - Double(grad[flat: i])))
            }
        }
        #expect(worst < 2e-3, "largest |finite difference − Trainer gradient| over kernel and bias: \(worst)")
    }
}
