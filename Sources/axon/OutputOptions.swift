import ArgumentParser
import Axon
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// What `axon train` shows while it runs, and the history file it keeps.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print only the final test-accuracy line (no progress, no epoch lines).")
    var quiet = false

    @Option(help: ArgumentHelp("Write the per-epoch history (epoch, train, validation and test loss/accuracy, learning rate, seconds) to this file after every epoch: CSV if it ends in .csv, JSON if .json. With --early-stopping the per-epoch figures are validation figures and only the kept epoch has test figures. `axon plot` draws it.", valueName: "file"))
    var history: String?

    func validate() throws {
        if let history {
            do { _ = try History.format(of: history) } catch { throw ValidationError("--history \(history): the file name must end in .csv or .json") }
            try checkCanWrite(history, flag: "--history")
        }
    }

    /// Prints a line unless --quiet.
    func say(_ line: String) { if !quiet { print(line) } }

    /// The progress bar (on a terminal), epoch lines and history file of a run, as a callback of its `fit`.
    func reporter(epochs: Int) -> ProgressReporter {
        ProgressReporter(epochs: epochs, quiet: quiet, live: !quiet && isatty(STDOUT_FILENO) == 1, historyPath: history)
    }
}

/// Draws the live bar and prints one line per epoch; keeps the run's history.
final class ProgressReporter: TrainingCallback {
    let epochs: Int
    let quiet: Bool
    /// stdout is a terminal: redraw a bar in place with \r.
    let live: Bool
    let historyPath: String?
    var history = History(records: [])
    private var lastDraw = -1.0
    private var barShown = false

    init(epochs: Int, quiet: Bool, live: Bool, historyPath: String?) {
        self.epochs = epochs; self.quiet = quiet; self.live = live; self.historyPath = historyPath
    }

    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    func batch(_ p: BatchProgress) {
        guard live else { return }
        let t = Self.now()
        // At most ~10 redraws a second, but always the last batch.
        guard t - lastDraw >= 0.1 || p.batch == p.batches else { return }
        lastDraw = t
        let width = 24
        let filled = p.examples > 0 ? width * p.examplesDone / p.examples : 0
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let rate = Double(p.examplesDone) / max(p.seconds, 1e-9)
        let eta = Double(p.examples - p.examplesDone) / max(rate, 1e-9)
        let e = String(p.epoch).leftPadded(to: String(epochs).count)
        let line = "epoch \(e)/\(epochs) \(bar) \(String(p.batch).leftPadded(to: String(p.batches).count))/\(p.batches)  "
            + "loss \(fixed(Double(p.meanLoss), 4))  \(fixed(rate, 0)) images/s  ETA \(duration(eta))"
        // \r back to column 0, then erase to the end of the line (ESC[K): terminals only.
        fputs("\r\(line)\u{1B}[K", stdout)
        fflush(stdout)
        barShown = true
    }

    func batchEnded<Model: Layer>(_ model: inout Model, progress: BatchProgress, trainer: Trainer) {
        batch(progress)
    }

    func epochEnded<Model: Layer>(_ model: inout Model, record: EpochRecord, trainer: Trainer) throws -> TrainingDecision {
        try epoch(record)
        return .continue
    }

    /// The epoch's line (replacing the bar), and the history file rewritten.
    func epoch(_ r: EpochRecord) throws {
        if barShown { fputs("\r\u{1B}[K", stdout); barShown = false }
        lastDraw = -1
        if !quiet {
            let epoch = String(r.epoch).leftPadded(to: String(epochs).count)
            let held = [("val", r.validationAccuracy), ("test", r.testAccuracy)].compactMap { name, a in
                a.map { "\(name) acc \(percent($0))  " }
            }
            print("epoch \(epoch)/\(epochs)  lr \(r.learningRate)  loss \(fixed(Double(r.trainLoss), 4))  "
                  + "train acc \(percent(r.trainAccuracy))  \(held.joined())"
                  + "\(fixed(r.seconds, 1)) s  \(fixed(r.imagesPerSecond, 0)) images/s")
        }
        history.epochs.append(r)
        try writeHistory()
    }

    /// Puts test figures into the record of `epoch` (after early stopping, those
    /// of the weights kept) and rewrites the history file.
    func recordTest(epoch: Int, loss: Float, accuracy: Double) throws {
        guard let i = history.epochs.firstIndex(where: { $0.epoch == epoch }) else { return }
        history.epochs[i].testLoss = loss
        history.epochs[i].testAccuracy = accuracy
        try writeHistory()
    }

    private func writeHistory() throws {
        if let historyPath { try history.write(to: historyPath) }
    }
}

/// 75 → "1:15", 3700 → "1:01:40".
func duration(_ seconds: Double) -> String {
    guard seconds.isFinite, abs(seconds) < 1e15 else { return "?" }
    let s = Int(seconds.rounded())
    let two = { (n: Int) in n < 10 ? "0\(n)" : "\(n)" }
    return s >= 3600 ? "\(s / 3600):\(two(s / 60 % 60)):\(two(s % 60))" : "\(s / 60):\(two(s % 60))"
}
