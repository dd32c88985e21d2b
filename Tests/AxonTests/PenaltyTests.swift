import Foundation
import Testing
@testable import Axon

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
