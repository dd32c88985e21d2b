import ArgumentParser
import Axon
#if canImport(Glibc)
import Glibc
#endif

/// The course's lessons as runnable programs.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reproduce the course's lessons: the cost-function lesson and the overfitting lesson.",
        subcommands: [CostDemo.self, OverfitDemo.self])
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

/// The same net on a small training subset with and without regularisation.
struct OverfitDemo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "overfit",
        abstract: "Train the MLP on a small subset of the training images with no regularisation, with dropout and with L2, and print train and test accuracy and their gap for each.")

    @Option(help: ArgumentHelp("MNIST-format data directory.", valueName: "dir"))
    var data: String = MNIST.defaultDirectory
    @Option(parsing: .unconditional, help: "Training images used (the first N).")
    var limit: Int = 1000
    @Option(parsing: .unconditional, help: "Epochs for each run.")
    var epochs: Int = 30
    @Option(parsing: .unconditional, help: "Dropout rate of the dropout run.")
    var dropout: Float = 0.5
    @Option(parsing: .unconditional, help: "L2 λ of the L2 run (the course's λ/2n·Σw²).")
    var l2: Float = 5
    @Option(parsing: .unconditional, help: "Seed (same initial weights and batches for every run).")
    var seed: UInt64 = 1

    func validate() throws {
        guard limit > 0 else { throw ValidationError("--limit must be positive, got \(limit)") }
        guard (1...maxEpochs).contains(epochs) else { throw ValidationError("--epochs must be positive, got \(epochs) (at most \(maxEpochs))") }
        guard dropout > 0, dropout < 1 else { throw ValidationError("--dropout must be in (0, 1), got \(dropout)") }
        guard l2 > 0, l2.isFinite else { throw ValidationError("--l2 must be > 0, got \(l2)") }
    }

    func run() throws {
        let loaded = try MNIST.load(from: data)
        let train = loaded.train.prefix(limit), test = loaded.test
        print("MLP 784-500-300-10 on \(train.count) training images of \(data), \(plural(epochs, "epoch")), "
              + "Momentum(0.01, 0.9), batch 32; test on \(test.count) images")
        let runs: [(String, Float, Float)] = [("no regularisation", 0, 0), ("dropout \(dropout)", dropout, 0), ("L2 λ \(l2)", 0, l2)]
        print("run".padding(toLength: 20, withPad: " ", startingAt: 0) + "train acc".leftPadded(to: 10)
              + "test acc".leftPadded(to: 10) + "gap".leftPadded(to: 9))
        for (name, rate, lambda) in runs {
            var net = Models.mlp(dropout: rate, seed: seed)
            let trainer = Trainer(optimizer: Momentum(learningRate: 0.01, momentum: 0.9), l2: lambda)
            try trainer.fit(&net, on: train, epochs: epochs, batchSize: 32, seed: seed)
            let trainAcc = try trainer.evaluate(net, on: train).accuracy
            let testAcc = try trainer.evaluate(net, on: test).accuracy
            print(name.padding(toLength: 20, withPad: " ", startingAt: 0) + percent(trainAcc).leftPadded(to: 10)
                  + percent(testAcc).leftPadded(to: 10) + (fixed((trainAcc - testAcc) * 100, 2) + " pt").leftPadded(to: 9))
        }
    }
}
