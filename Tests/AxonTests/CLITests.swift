import Foundation
import Testing
import Axon

/// The built `axon` executable: SwiftPM puts it in the same products directory
/// as the test bundle (.build/<triple>/<config>/), so look beside the running
/// test binary first, then under the package's .build by #filePath.
func axonExecutable() -> URL? {
    var candidates: [URL] = []
    if let exe = Bundle.main.executableURL { candidates.append(exe.deletingLastPathComponent()) }
    candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
    for dir in candidates {
        // The test binary may sit inside an .xctest bundle directory on some platforms.
        for d in [dir, dir.deletingLastPathComponent(), dir.deletingLastPathComponent().deletingLastPathComponent()] {
            let url = d.appendingPathComponent("axon")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
    }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    for config in ["release", "debug"] {
        let url = root.appendingPathComponent(".build/\(config)/axon")
        if FileManager.default.isExecutableFile(atPath: url.path) { return url }
    }
    return nil
}

struct RunResult { var status: Int32; var stdout: String; var stderr: String }

func runAxon(_ arguments: [String], environment: [String: String] = [:]) throws -> RunResult {
    guard let exe = axonExecutable() else {
        throw CLIError("the axon executable was not found beside the test binary nor in .build/{release,debug}; build it with `swift build -c release`")
    }
    let p = Process()
    p.executableURL = exe
    p.arguments = arguments
    if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new } }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    // Read both pipes before waiting, so a chatty child cannot block on a full pipe.
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return RunResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                     stderr: String(decoding: e, as: UTF8.self))
}

struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

@Suite(.serialized) struct CLITests {
    /// Each bad command line must fail with exit status != 0 and exactly one
    /// line on stderr, starting "axon:" and mentioning what was wrong.
    @Test(arguments: [
        (["train", "--model", "resnet"], "resnet"),
        (["train"], "--model"),
        (["train", "--model", "lenet5", "--epochs", "-3"], "--epochs must be a positive integer, got -3"),
        (["train", "--model", "lenet5", "--epochs", "0"], "--epochs must be a positive integer, got 0"),
        (["train", "--model", "lenet5", "--epochs", "two"], "two"),
        (["train", "--model", "cnn", "--batch-size", "0"], "--batch-size"),
        (["train", "--model", "mlp", "--learning-rate", "0"], "--learning-rate must be a finite number > 0"),
        (["train", "--model", "mlp", "--learning-rate", "-0.1"], "--learning-rate must be a finite number > 0"),
        (["train", "--model", "lstm", "--optimizer", "nadam"], "nadam"),  // not one of the ten TF optimizers
        (["train", "--model", "lenet5", "--momentum", "1.5"], "--momentum must be in [0, 1)"),
        (["train", "--model", "mlp", "--optimizer", "adam", "--momentum", "0.5"], "--momentum applies only"),
        (["train", "--model", "lenet5", "--threads", "-1"], "--threads"),
        (["train", "--model", "lenet5", "--limit", "0"], "--limit"),
        (["train", "--model", "lenet5", "--frobnicate"], "--frobnicate"),
        (["train", "--model", "lenet5", "--data", "/nonexistent/axon-data"], "/nonexistent/axon-data: data directory does not exist"),
        (["train", "--model", "lenet5", "--data", "/etc/hostname"], "is not a directory"),
        (["train", "--model", "lenet5", "--distributed"], "--distributed needs axon-mpi"),
        (["train", "--model", "lenet5", "--lr-scaling", "linear"], "--lr-scaling applies only with --distributed"),
        (["train", "--model", "lenet5", "--batchnorm-stats", "per-rank"], "--batchnorm-stats applies only with --distributed"),
        (["bench", "--steps", "0"], "--steps must be a positive integer, got 0"),
        (["bench", "--model", "vgg"], "vgg"),
        (["bench", "--batch-size", "-5"], "--batch-size must be a positive integer, got -5"),
    ])
    func badFlagsFailWithOneLine(arguments: [String], expected: String) throws {
        let r = try runAxon(arguments)
        let lines = r.stderr.split(separator: "\n")
        #expect(r.status != 0, "axon \(arguments.joined(separator: " ")) exited 0; stdout: \(r.stdout)")
        #expect(lines.count == 1 && r.stderr.hasPrefix("axon: "), "stderr is not one 'axon:' line: \(r.stderr)")
        #expect(r.stderr.contains(expected), "stderr lacks \"\(expected)\": \(r.stderr)")
        #expect(!r.stderr.contains("Fatal error") && !r.stderr.contains("Stack dump"), "crashed: \(r.stderr)")
        #expect(r.status != 134 && r.status != 132 && r.status != 139, "killed by a signal-like status \(r.status)")
    }

    @Test func malformedDataFileIsNamed() throws {
        let dir = try makeTempDir("cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        try writeMNISTDir(dir, train: Synthetic(count: 3, rows: 28, cols: 28), test: Synthetic(count: 2, rows: 28, cols: 28))
        let bad = dir.appendingPathComponent("t10k-images-idx3-ubyte")
        try write(Array(Synthetic(count: 2, rows: 28, cols: 28).imageFile.dropLast(1)), to: bad)
        let r = try runAxon(["train", "--model", "mlp", "--epochs", "1", "--data", dir.path])
        #expect(r.status == 1, "status \(r.status)")
        #expect(r.stderr.hasPrefix("axon: \(bad.path): truncated"), "stderr: \(r.stderr)")
    }

    @Test func helpListsTheModels() throws {
        let r = try runAxon(["train", "--help"])
        #expect(r.status == 0)
        for word in ["--model", "lenet5", "cnn", "lstm", "mlp", "--learning-rate", "--limit", "--threads"] {
            #expect(r.stdout.contains(word), "help lacks \(word)")
        }
    }
}

/// The accuracy in percent on the final "test accuracy NN.NN% (...)" line, if there is one.
func finalAccuracy(_ stdout: String) -> Double? {
    guard let line = stdout.split(separator: "\n").last(where: { $0.hasPrefix("test accuracy ") }) else { return nil }
    let number = line.dropFirst("test accuracy ".count).prefix(while: { $0 != "%" })
    return Double(number)
}

@Suite(.serialized) struct CLITrainingTests {
    /// A learnable synthetic set: class k is a bright band on rows 2k...2k+2 over noise.
    /// Written as IDX files, it tests the whole path data → CLI → model → accuracy
    /// without depending on the installed dataset.
    func writeBandsDataset(_ dir: URL, train: Int, test: Int) throws {
        var state: UInt32 = 12345
        func noise() -> UInt8 { state = state &* 1_103_515_245 &+ 12345; return UInt8((state >> 16) % 60) }
        func set(_ n: Int) -> (images: [UInt8], labels: [UInt8]) {
            var images = [UInt8](), labels = [UInt8]()
            for i in 0..<n {
                let k = (i * 7 + i / 10) % 10
                labels.append(UInt8(k))
                for r in 0..<28 { for _ in 0..<28 { images.append(r >= 2 * k + 4 && r < 2 * k + 7 ? 255 - noise() : noise()) } }
            }
            return (images, labels)
        }
        for (name, n) in [("train", train), ("t10k", test)] {
            let s = set(n)
            try write(idxBytes(magic: 0x803, dims: [UInt32(n), 28, 28], payload: s.images),
                      to: dir.appendingPathComponent("\(name)-images-idx3-ubyte"))
            try write(idxBytes(magic: 0x801, dims: [UInt32(n)], payload: s.labels),
                      to: dir.appendingPathComponent("\(name)-labels-idx1-ubyte"))
        }
    }

    @Test func trainsOnASyntheticDirectory() throws {
        let dir = try makeTempDir("cli-train")
        defer { try? FileManager.default.removeItem(at: dir) }
        try writeBandsDataset(dir, train: 600, test: 200)
        let r = try runAxon(["train", "--model", "mlp", "--epochs", "3", "--data", dir.path, "--threads", "2", "--seed", "7"])
        #expect(r.status == 0, "status \(r.status), stderr: \(r.stderr)")
        let epochLines = r.stdout.split(separator: "\n").filter { $0.hasPrefix("epoch ") }
        #expect(epochLines.count == 3, "stdout: \(r.stdout)")
        for line in epochLines {
            for field in ["loss ", "train acc ", "test acc ", " s ", "images/s"] {
                #expect(line.contains(field), "epoch line lacks \"\(field)\": \(line)")
            }
        }
        let acc = finalAccuracy(r.stdout)
        #expect((acc ?? 0) >= 95, "final test accuracy \(acc.map { "\($0)%" } ?? "missing") on an easy synthetic set; stdout: \(r.stdout)")
    }

    /// A diverging run stops at the first non-finite loss with one line naming the
    /// epoch and batch and suggesting a lower learning rate, exits non-zero, and
    /// leaves the checkpoint of an earlier run as it was.
    @Test func divergingRunFailsAndKeepsTheCheckpoint() throws {
        let dir = try makeTempDir("cli-diverge")
        defer { try? FileManager.default.removeItem(at: dir) }
        try writeBandsDataset(dir, train: 600, test: 100)
        let runs = dir.appendingPathComponent("runs").path
        let base = ["train", "--model", "mlp", "--epochs", "1", "--data", dir.path, "--checkpoint-dir", runs]
        let good = try runAxon(base)
        #expect(good.status == 0, "stderr: \(good.stderr)")
        let checkpoint = runs + "/" + CheckpointDirectory.fileName(epoch: 1)
        let before = try Data(contentsOf: URL(fileURLWithPath: checkpoint))
        let r = try runAxon(base + ["--learning-rate", "1e30"])
        #expect(r.status != 0 && r.stderr.hasPrefix("axon: ") && r.stderr.split(separator: "\n").count == 1, "stderr: \(r.stderr)")
        #expect(r.stderr.contains("epoch 1, batch") && r.stderr.contains("lower learning rate"), "stderr: \(r.stderr)")
        #expect(!r.stdout.contains("nan") && !r.stdout.contains("test accuracy"), "stdout: \(r.stdout)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: checkpoint)) == before, "the last good checkpoint was changed")
    }

    /// Huge (finite) numbers print; nothing traps converting them.
    @Test func hugeNumbersPrintWithoutTrapping() throws {
        let dir = try makeTempDir("cli-huge")
        defer { try? FileManager.default.removeItem(at: dir) }
        try writeBandsDataset(dir, train: 10, test: 20)
        var model = Sequential { Flatten(); Dense(10) }
        try model.build(inputShape: [28, 28, 1])
        try model.setParameter("layers.1.kernel", to: randomTensor([784, 10], seed: 2, range: -1e30...1e30))
        let file = dir.appendingPathComponent("huge.safetensors").path
        try model.save(to: file)
        let e = try runAxon(["eval", "--model", file, "--data", dir.path])
        #expect(e.status == 0 && e.stdout.contains("loss ") && e.stdout.contains("e+"), "status \(e.status) stdout \(e.stdout) stderr \(e.stderr)")
        let history = dir.appendingPathComponent("h.csv")
        try write(Array("epoch,train_loss,train_accuracy\n1e30,1e300,-1e300\n".utf8), to: history)
        let p = try runAxon(["plot", history.path, "--out", dir.appendingPathComponent("c.png").path])
        #expect(p.status == 1 && p.stderr.contains("epoch") && p.stderr.contains(history.path), "status \(p.status) stderr \(p.stderr)")
        try write(Array("epoch,train_loss,train_accuracy\n1,1e38,1.7e306\n2,-1e38,-1.7e306\n".utf8), to: history)
        let q = try runAxon(["plot", history.path, "--out", dir.appendingPathComponent("c.png").path])
        #expect(q.status == 0, "status \(q.status) stderr \(q.stderr)")
    }

    @Test func benchPrintsAMeasurement() throws {
        let r = try runAxon(["bench", "--model", "mlp", "--steps", "2", "--batch-size", "32"])
        #expect(r.status == 0, "status \(r.status), stderr: \(r.stderr)")
        let line = r.stdout.split(separator: "\n").first { $0.hasPrefix("mlp ") }.map(String.init) ?? ""
        // "mlp     batch 32  train N images/s (X ms/step)  inference M images/s"
        let words = line.split(separator: " ")
        let rates = words.indices.dropFirst().filter { words[$0] == "images/s" }.compactMap { Double(words[$0 - 1]) }
        #expect(line.contains("batch 32") && rates.count == 2 && rates.allSatisfy { $0 > 0 }, "stdout: \(r.stdout)")
    }

    @Test func tinyRealRun() throws {
        guard FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist") else {
            print("SKIPPED tinyRealRun: /usr/share/datasets/fashion-mnist absent (sudo apt-get install dataset-fashion-mnist)")
            return
        }
        let r = try runAxon(["train", "--model", "mlp", "--epochs", "1", "--limit", "2000"])
        #expect(r.status == 0, "status \(r.status), stderr: \(r.stderr)")
        #expect(r.stdout.contains("2000 training, 10000 test images"), "stdout: \(r.stdout)")
        let acc = finalAccuracy(r.stdout)
        // One epoch of 2000 images reaches about 70%; chance is 10%.
        #expect((acc ?? 0) >= 60, "final test accuracy \(acc.map { "\($0)%" } ?? "missing"); stdout: \(r.stdout)")
    }
}

@Suite struct LearningRateCLITests {
    /// The schedule is shown and never changes because another flag was typed;
    /// --lr-decay sets it; each epoch line shows its learning rate.
    @Test func scheduleIsVisibleAndSetByItsOwnFlag() throws {
        let dir = try makeTempDir("lr-decay")
        defer { try? FileManager.default.removeItem(at: dir) }
        try CLITrainingTests().writeBandsDataset(dir, train: 200, test: 50)
        let common = ["train", "--model", "mlp", "--epochs", "2", "--data", dir.path, "--threads", "1"]
        let plain = try runAxon(common)
        // The MLP's recipe: Adam 0.001, ×0.9 per epoch. Typing the default rate changes nothing else.
        let typed = try runAxon(common + ["--learning-rate", "0.001"])
        #expect(plain.status == 0 && typed.status == 0, "\(plain.stderr) \(typed.stderr)")
        #expect(plain.stdout.contains("learning rate 0.001, ×0.9 per epoch"), "\(plain.stdout)")
        #expect(typed.stdout.contains("learning rate 0.001, ×0.9 per epoch"), "\(typed.stdout)")
        #expect(plain.stdout.contains("lr 0.001 ") && plain.stdout.contains("lr 0.0009"), "\(plain.stdout)")
        let constant = try runAxon(common + ["--lr-decay", "1"])
        #expect(constant.stdout.contains("constant (--lr-decay 1)") && !constant.stdout.contains("lr 0.0009"), "\(constant.stdout)")
        let half = try runAxon(common + ["--lr-decay", "0.5"])
        #expect(half.stdout.contains("lr 0.0005"), "\(half.stdout)")
        let bad = try runAxon(common + ["--lr-decay", "1.5"])
        #expect(bad.status != 0 && bad.stderr.contains("--lr-decay must be in (0, 1]"), "\(bad.stderr)")
    }
}

@Suite struct PredictCLITests {
    /// Images of any size and colour are resized to the model's input; --invert, --top, several images.
    @Test func anySizeColourInvertedAndSeveral() throws {
        let dir = try makeTempDir("predict-any")
        defer { try? FileManager.default.removeItem(at: dir) }
        try CLITrainingTests().writeBandsDataset(dir, train: 200, test: 20)
        let model = dir.appendingPathComponent("m.safetensors").path
        let t = try runAxon(["train", "--model", "mlp", "--epochs", "1", "--data", dir.path, "--threads", "1", "--save", model])
        #expect(t.status == 0, "\(t.stderr)")
        let test = try MNIST.load(from: dir.path).test
        let grey = test.rows(3..<4).scalars.map { UInt8(($0 * 255).rounded()) }
        // Twice the size, in colour (each grey pixel a 2×2 block of RGB), and the same picture inverted.
        var big = [UInt8](repeating: 0, count: 56 * 56 * 3)
        for r in 0..<56 { for c in 0..<56 { for k in 0..<3 { big[(r * 56 + c) * 3 + k] = grey[(r / 2) * 28 + c / 2] } } }
        let bigPath = dir.appendingPathComponent("big.png").path, invPath = dir.appendingPathComponent("inv.png").path
        try RGBImage(width: 56, height: 56, pixels: big).writePNG(to: bigPath)
        try RGBImage(width: 28, height: 28, pixels: grey.flatMap { [255 - $0, 255 - $0, 255 - $0] }).writePNG(to: invPath)
        let byIndex = try runAxon(["predict", "--model", model, "--index", "3", "--data", dir.path])
        let resized = try runAxon(["predict", "--model", model, "--image", bigPath, "--image", bigPath, "--top", "2"])
        let inverted = try runAxon(["predict", "--model", model, "--image", invPath, "--invert", "--top", "1"])
        func predicted(_ out: String) -> [String] {
            out.split(separator: "\n").filter { $0.hasPrefix("predicted class") }.map { String($0.split(separator: ";")[0]) }
        }
        #expect(resized.status == 0 && inverted.status == 0, "\(resized.stderr) \(inverted.stderr)")
        let want = try #require(predicted(byIndex.stdout).first)
        #expect(predicted(resized.stdout) == [want, want], "\(resized.stdout)")
        #expect(predicted(inverted.stdout) == [want], "\(inverted.stdout)")
        #expect(resized.stdout.split(separator: "\n").filter { $0.hasPrefix("  ") }.count == 4, "two classes listed per image")
    }
}
