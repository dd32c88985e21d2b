import ArgumentParser
import Axon
#if canImport(Glibc)
import Glibc
#endif

/// The course's lessons as runnable programs.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reproduce the course's lessons: the cost-function lesson, the overfitting lesson and the optimizer comparison.",
        subcommands: [CostDemo.self, OverfitDemo.self, OptimizersDemo.self])
}

/// One sigmoid neuron, x = 1, target 0: quadratic cost against cross-entropy.
struct CostDemo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cost",
        abstract: "One sigmoid neuron (x = 1, target 0) trained by gradient descent with the quadratic cost and with cross-entropy, from w=0.6, b=0.9 and from w=2, b=2: cross-entropy learns fast where the quadratic cost stalls (saturated σ′).")

    @Option(parsing: .unconditional, help: "Gradient-descent learning rate η.")
    var learningRate: Float = 0.15
    @Option(parsing: .unconditional, help: "Epochs (one example, so one step each).")
    var epochs: Int = 300
    @Option(parsing: .unconditional, help: "Print the losses every N epochs.")
    var every: Int = 25

    func validate() throws {
        guard learningRate > 0, learningRate.isFinite else { throw ValidationError("--learning-rate must be > 0, got \(learningRate)") }
        guard (1...maxEpochs).contains(epochs) else { throw ValidationError("--epochs must be positive, got \(epochs) (at most \(maxEpochs))") }
        guard every > 0 else { throw ValidationError("--every must be positive, got \(every)") }
    }

    func run() throws {
        let starts: [(w: Float, b: Float)] = [(0.6, 0.9), (2, 2)]
        var columns: [(name: String, losses: [Float], output: Float)] = []
        for s in starts {
            for loss in [Loss.quadratic, .sigmoidCrossEntropy] {
                let (losses, a) = try neuron(loss: loss, w: s.w, b: s.b)
                let name = (loss == .quadratic ? "quadratic" : "cross-entropy") + " w=\(s.w) b=\(s.b)"
                columns.append((name, losses, a))
            }
        }
        print("one sigmoid neuron, x = 1, target 0, gradient descent η = \(learningRate); cost against epoch")
        print("epoch".leftPadded(to: 5) + columns.map { "  " + $0.name.leftPadded(to: 26) }.joined())
        for e in stride(from: 0, through: epochs, by: every) {
            print(String(e).leftPadded(to: 5) + columns.map { "  " + fixed(Double($0.losses[e]), 6).leftPadded(to: 26) }.joined())
        }
        print("output after \(epochs) epochs: " + columns.map { "\($0.name): \(fixed(Double($0.output), 4))" }.joined(separator: "; "))
        print("From w=2, b=2 the output σ(4) ≈ 0.98 is saturated: the quadratic cost's gradient carries σ′(z) ≈ 0.018 and learning stalls; cross-entropy's gradient σ(z) − y has no σ′ and learns fast.")
    }

    /// Loss before training (index 0) and after every epoch, and the final output.
    /// Quadratic: a = σ(wx + b) is the output, C = ½(a − y)². Cross-entropy: the
    /// neuron's logit z goes to Axon's sigmoid cross-entropy, C = −[y ln a + (1−y) ln(1−a)].
    func neuron(loss: Loss, w: Float, b: Float) throws -> ([Float], Float) {
        var net = Sequential(seed: 1) { Dense(1, activation: loss == .quadratic ? .sigmoid : .linear) }
        try net.build(inputShape: [1])
        try net.setParameter("layers.0.kernel", to: Tensor(shape: [1, 1], scalars: [w]))
        try net.setParameter("layers.0.bias", to: Tensor(shape: [1], scalars: [b]))
        let x = try Tensor(shape: [1, 1], scalars: [1]), y = try Tensor(shape: [1, 1], scalars: [0])
        var optimizer = GradientDescent(learningRate: learningRate)
        var losses: [Float] = []
        for epoch in 0...epochs {
            let out = try net.forward(x, training: true)
            let (c, g) = try loss.compute(logits: out, targets: y)
            losses.append(c)
            if epoch == epochs { break }
            _ = try net.backward(g, inputGradient: false)
            try optimizer.update(&net)
        }
        var z = try net.forward(x, training: false)[flat: 0]
        if loss != .quadratic { z = 1 / (1 + expf(-z)) }
        return (losses, z)
    }
}
