import ArgumentParser
import Axon
import AxonPlot

/// The overfitting lesson: a small training set, the train/test gap opening over
/// the epochs, and each cure measured against the same baseline.
struct OverfitDemo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "overfit",
        abstract: "Train the MLP on a small subset of the training images: per epoch, training loss keeps falling while test loss turns up; then each cure (more data, dropout, L2, L1, early stopping) from the same seed, with its measured effect on test accuracy, the train/test gap and test loss, and a plot.")

    @OptionGroup var common: DemoOptions
    @Option(parsing: .unconditional, help: "Training images of the baseline (the first N).")
    var limit: Int = 1000
    @Option(parsing: .unconditional, help: "The \"more data\" run trains on this many times --limit images.")
    var moreData: Int = 5
    @Option(parsing: .unconditional, help: "Epochs for each run.")
    var epochs: Int = 30
    @Option(parsing: .unconditional, help: "Dropout rate of the dropout run.")
    var dropout: Float = 0.5
    @Option(parsing: .unconditional, help: "L2 λ of the L2 run (the course's λ/2n·Σw², n = --limit).")
    var l2: Float = 5
    @Option(parsing: .unconditional, help: "L1 λ of the L1 run (the course's λ/n·Σ|w|).")
    var l1: Float = 1
    @Option(parsing: .unconditional, help: "Early stopping's patience, on --limit held-out training images (not the test set).")
    var patience: Int = 5
    @Option(help: ArgumentHelp("The PNG of every run's test loss and test accuracy against epoch.", valueName: "file"))
    var out: String = "overfit.png"

    func validate() throws {
        for (flag, v) in [("--limit", limit), ("--epochs", epochs), ("--more-data", moreData), ("--patience", patience)] where v <= 0 {
            throw ValidationError("\(flag) must be positive, got \(v)")
        }
        guard epochs <= maxEpochs else { throw ValidationError("--epochs must be at most \(maxEpochs), got \(epochs)") }
        guard dropout > 0, dropout < 1 else { throw ValidationError("--dropout must be in (0, 1), got \(dropout)") }
        guard l2 > 0, l2.isFinite else { throw ValidationError("--l2 must be > 0, got \(l2)") }
        guard l1 > 0, l1.isFinite else { throw ValidationError("--l1 must be > 0, got \(l1)") }
        try checkCanWrite(out, flag: "--out")
    }

    /// One run's end figures.
    struct Outcome {
        var name: String
        var history: History
        /// Set when early stopping ended the run.
        var stop: EarlyStop?
        var trainAccuracy: Double, testAccuracy: Double, testLoss: Float
        var gap: Double { (trainAccuracy - testAccuracy) * 100 }
    }

    func run() throws {
        let loaded = try common.load()
        let all = loaded.train, test = loaded.test
        let train = all.prefix(limit)
        guard all.count >= limit * 2 else {
            throw ValidationError("\(common.data) has \(all.count) training images; the demo needs 2 × --limit (\(2 * limit)) for early stopping's held-out set")
        }
        let held = all.slice(limit..<(2 * limit))
        print("MLP 784-500-300-10 on \(train.count) training images of \(common.data), \(plural(epochs, "epoch")), "
              + "Momentum(0.01, 0.9), batch 32, seed \(common.seed); test on \(test.count) images")
        func run(_ name: String, on set: Dataset, dropout rate: Float = 0, l2: Float = 0, l1: Float = 0,
                 validation: Dataset? = nil, patience: Int? = nil) throws -> Outcome {
            var net = Models.mlp(dropout: rate, seed: common.seed)
            let trainer = Trainer(optimizer: Momentum(learningRate: 0.01, momentum: 0.9), l2: l2, l1: l1)
            let stopping = patience.map { EarlyStopping(patience: $0) }
            let h = try trainer.fit(&net, on: set, epochs: epochs, batchSize: 32, validation: validation, test: test, seed: common.seed,
                                    callbacks: stopping.map { [$0] } ?? [])
            let (loss, accuracy) = try evaluate(net, on: test)
            return Outcome(name: name, history: h, stop: stopping?.stop, trainAccuracy: try evaluate(net, on: train).accuracy,
                           testAccuracy: accuracy, testLoss: loss)
        }
        let base = try run("no regularisation", on: train)
        printEpochs(base.history)
        let cures = [
            // ASCII names: the chart's font has no × or λ.
            try run("more data (\(moreData)x)", on: all.prefix(limit * moreData)),
            try run("dropout \(dropout)", on: train, dropout: dropout),
            try run("L2 lambda \(l2)", on: train, l2: l2),
            try run("L1 lambda \(l1)", on: train, l1: l1),
            try run("early stopping, \(patience)", on: train, validation: held, patience: patience),
        ]
        print("")
        print("run".padding(toLength: 24, withPad: " ", startingAt: 0) + "train acc".leftPadded(to: 10)
              + "test acc".leftPadded(to: 10) + "gap".leftPadded(to: 9) + "test loss".leftPadded(to: 11))
        for o in [base] + cures {
            print(o.name.padding(toLength: 24, withPad: " ", startingAt: 0) + percent(o.trainAccuracy).leftPadded(to: 10)
                  + percent(o.testAccuracy).leftPadded(to: 10) + (fixed(o.gap, 2) + " pt").leftPadded(to: 9)
                  + fixed(Double(o.testLoss), 4).leftPadded(to: 11))
        }
        print("")
        // The baseline's own epoch-to-epoch swing of test accuracy over its last third:
        // a cure's difference smaller than that is not an effect of the cure.
        let tail = base.history.epochs.suffix(max(2, epochs / 3)).compactMap(\.testAccuracy)
        let swing = ((tail.max() ?? 0) - (tail.min() ?? 0)) * 100
        for o in cures { print(comment(o, against: base, swing: swing, lastEpochs: tail.count)) }
        try Chart.overlay(([base] + cures).map { ($0.name, $0.history) }, testLoss: true).writePNG(to: out)
        print("wrote \(out): test loss and test accuracy of every run against epoch")
    }

    /// The baseline's epochs and what they show, read from the numbers.
    func printEpochs(_ h: History) {
        print("epoch".leftPadded(to: 5) + "train loss".leftPadded(to: 12) + "train acc".leftPadded(to: 11)
              + "test loss".leftPadded(to: 11) + "test acc".leftPadded(to: 10))
        let every = max(1, h.epochs.count / 15)
        for r in h.epochs where r.epoch % every == 0 || r.epoch == 1 {
            print(String(r.epoch).leftPadded(to: 5) + fixed(Double(r.trainLoss), 4).leftPadded(to: 12)
                  + percent(r.trainAccuracy).leftPadded(to: 11) + fixed(Double(r.testLoss ?? .nan), 4).leftPadded(to: 11)
                  + percent(r.testAccuracy ?? .nan).leftPadded(to: 10))
        }
        guard let first = h.epochs.first, let last = h.epochs.last,
              let best = h.epochs.min(by: { ($0.testLoss ?? .infinity) < ($1.testLoss ?? .infinity) }),
              let bestLoss = best.testLoss, let lastLoss = last.testLoss else { return }
        let bestAccuracy = h.epochs.max { ($0.testAccuracy ?? 0) < ($1.testAccuracy ?? 0) }!
        print("training loss \(fixed(Double(first.trainLoss), 4)) → \(fixed(Double(last.trainLoss), 4)); "
              + (lastLoss > bestLoss
                 ? "test loss lowest at epoch \(best.epoch) (\(fixed(Double(bestLoss), 4))), then up to \(fixed(Double(lastLoss), 4)) at epoch \(last.epoch): overfitting"
                 : "test loss still falling at epoch \(last.epoch) (\(fixed(Double(lastLoss), 4))): no overfitting yet in this budget")
              + "; test accuracy best \(percent(bestAccuracy.testAccuracy ?? 0)) at epoch \(bestAccuracy.epoch), \(percent(last.testAccuracy ?? 0)) at the end")
    }

    /// One honest line: the cure's measured effect against the baseline.
    func comment(_ o: Outcome, against base: Outcome, swing: Double, lastEpochs: Int) -> String {
        let dAcc = (o.testAccuracy - base.testAccuracy) * 100
        var accuracy = abs(dAcc) < 0.1 ? "leaves test accuracy unchanged (within 0.1 pt)"
            : "\(dAcc > 0 ? "raises" : "lowers") test accuracy by \(fixed(abs(dAcc), 2)) pt"
        if abs(dAcc) >= 0.1 && abs(dAcc) <= swing {
            accuracy += " (no more than the baseline's own swing of \(fixed(swing, 2)) pt over its last \(lastEpochs) epochs)"
        }
        let gap = o.gap < base.gap - 0.1 ? "narrows the gap from \(fixed(base.gap, 2)) to \(fixed(o.gap, 2)) pt"
            : o.gap > base.gap + 0.1 ? "widens the gap from \(fixed(base.gap, 2)) to \(fixed(o.gap, 2)) pt"
            : "leaves the gap at \(fixed(o.gap, 2)) pt"
        let loss = "\(o.testLoss < base.testLoss ? "lowers" : "raises") the final test loss \(fixed(Double(base.testLoss), 4)) → \(fixed(Double(o.testLoss), 4))"
        var extra = ""
        if let stop = o.stop {
            extra = " (stopped after epoch \(stop.epoch), kept epoch \(stop.bestEpoch); it used \(limit) held-out images)"
        } else if o.history.bestEpoch != nil {
            extra = " (no stop within \(plural(epochs, "epoch")); it used \(limit) held-out images)"
        }
        return "\(o.name): \(accuracy), \(gap), \(loss)\(extra)"
    }
}
