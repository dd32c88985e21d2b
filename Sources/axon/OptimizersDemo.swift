import ArgumentParser
import Axon
import AxonPlot

/// The course's optimizer comparison: one model, the ten tf.compat.v1.train
/// optimizers, the same budget, seed and batches.
struct OptimizersDemo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "optimizers",
        abstract: "Train one model with each of the ten tf.compat.v1.train optimizers (TensorFlow's default hyper-parameters, learning rate 0.001 for Adam, Adadelta and RMSProp and 0.01 for the others unless --learning-rate) under the same budget, seed and batches; print final loss, test accuracy and time, and draw every loss curve in one PNG.",
        discussion: "AdagradDA and Ftrl compute each weight from the accumulated gradients alone and forget the random initial weights after their first step: at learning rate 0.01 every weight of a deep net stays tiny, the signal vanishes through the hidden layers and accuracy stays at chance. They were designed for (sparse) linear models: try --model softmax, or a larger --learning-rate.")

    @OptionGroup var common: DemoOptions
    @Option(help: "The model every optimizer trains.")
    var model: ModelKind = .mlp
    @Option(parsing: .unconditional, help: "Training images used (the first N).")
    var limit: Int = 5000
    @Option(parsing: .unconditional, help: "Epochs for each optimizer.")
    var epochs: Int = 5
    @Option(parsing: .unconditional, help: "Examples per mini-batch.")
    var batchSize: Int = 64
    @Option(parsing: .unconditional, help: "One learning rate for all ten (default: each optimizer's, as above).")
    var learningRate: Float?
    @Option(help: ArgumentHelp("The PNG of the loss (and test accuracy) curves.", valueName: "file"))
    var out: String = "optimizers.png"

    func validate() throws {
        for (flag, v) in [("--limit", limit), ("--epochs", epochs), ("--batch-size", batchSize)] where v <= 0 {
            throw ValidationError("\(flag) must be positive, got \(v)")
        }
        guard epochs <= maxEpochs else { throw ValidationError("--epochs must be at most \(maxEpochs), got \(epochs)") }
        guard !model.needsLargeImages else { throw ValidationError("--model \(model.rawValue) does not take Fashion-MNIST's 28×28 images") }
        try checkBatchSize(batchSize)
        if let learningRate, !(learningRate > 0 && learningRate.isFinite) {
            throw ValidationError("--learning-rate must be a finite number > 0, got \(learningRate)")
        }
        try checkCanWrite(out, flag: "--out")
    }

    func run() throws {
        let loaded = try common.load()
        let train = loaded.train.prefix(limit), test = loaded.test
        let classes = loaded.train.classCount
        print("\(model.displayName) on \(train.count) training images of \(common.data), \(plural(epochs, "epoch")), batch \(batchSize), "
              + "seed \(common.seed), constant learning rate; test on \(test.count) images")
        print("optimizer".padding(toLength: 25, withPad: " ", startingAt: 0) + "lr".leftPadded(to: 8)
              + "final loss".leftPadded(to: 12) + "test acc".leftPadded(to: 10) + "seconds".leftPadded(to: 9))
        var runs: [(label: String, history: History)] = []
        var atChance: [String] = []
        for kind in OptimizerKind.allCases {
            let lr = learningRate ?? kind.defaults.learningRate
            var net = try model.build(seed: common.seed, classes: classes)
            let trainer = Trainer(optimizer: kind.make(learningRate: lr, momentum: Momentum().momentum))
            let start = monotonicSeconds()
            let h: History
            do {
                h = try trainer.fit(&net, on: train, epochs: epochs, batchSize: batchSize, test: test, seed: common.seed)
            } catch {
                print(kind.tensorFlowName.padding(toLength: 25, withPad: " ", startingAt: 0) + "\(lr)".leftPadded(to: 8)
                      + "  diverged: \(error)")
                continue
            }
            let seconds = monotonicSeconds() - start
            let last = h.epochs.last!
            let accuracy = last.testAccuracy ?? 0
            if accuracy < 1.5 / Double(classes) { atChance.append(kind.tensorFlowName) }
            print(kind.tensorFlowName.padding(toLength: 25, withPad: " ", startingAt: 0) + "\(lr)".leftPadded(to: 8)
                  + fixed(Double(last.trainLoss), 4).leftPadded(to: 12) + percent(accuracy).leftPadded(to: 10)
                  + fixed(seconds, 1).leftPadded(to: 9))
            runs.append((kind.tensorFlowName, h))
        }
        try Chart.overlay(runs).writePNG(to: out)
        print("wrote \(out): training loss and test accuracy of \(runs.count) optimizers")
        if !atChance.isEmpty {
            print("at chance (below \(percent(1.5 / Double(classes)))): \(atChance.joined(separator: ", ")).")
        }
        if model != .softmax && (atChance.contains("AdagradDA") || atChance.contains("Ftrl")) {
            print("AdagradDA and Ftrl forget the initial weights after their first step and keep every weight tiny at a small learning rate, so a deep net's signal vanishes: try --model softmax or a larger --learning-rate.")
        }
        if atChance.contains("Adadelta") && learningRate == nil {
            print("Adadelta's default learning rate 0.001 is TensorFlow's; the paper's rule is learning rate 1: try --learning-rate 1.")
        }
    }
}
