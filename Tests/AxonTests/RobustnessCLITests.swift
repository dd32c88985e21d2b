import Foundation
import Testing
@testable import Axon
#if canImport(Glibc)
import Glibc
#endif

/// Issue 21 through the built `axon`: every refusal is one `axon: …` line and
/// exit status 1, never a trap (132/134), a hang or a run that loses its work.
@Suite(.serialized) struct RobustnessCLITests {
    func expectRefused(_ r: RunResult, _ words: [String], _ what: String) {
        #expect([1, 64].contains(r.status) && r.stderr.hasPrefix("axon: ") && r.stderr.split(separator: "\n").count == 1
                && words.allSatisfy { r.stderr.contains($0) }, "\(what): status \(r.status), stderr: \(r.stderr)")
    }

    func bands(_ tag: String, train: Int = 200, test: Int = 50) throws -> URL {
        let dir = try makeTempDir(tag)
        try CLITrainingTests().writeBandsDataset(dir, train: train, test: test)
        return dir
    }

    /// The diverging runs (on Fashion-MNIST when installed) end normally
    /// or with the divergence message, never with a trap converting a number.
    @Test func divergingModelsStopCleanly() throws {
        let dir = try bands("diverge-all")
        defer { try? FileManager.default.removeItem(at: dir) }
        let real = FileManager.default.fileExists(atPath: MNIST.defaultDirectory)
        var diverged = 0
        for args in [["--model", "cnn", "--learning-rate", "1e30"], ["--model", "lenet5", "--optimizer", "momentum", "--learning-rate", "1000"],
                     ["--model", "lstm", "--learning-rate", "1e30"], ["--model", "mlp", "--learning-rate", "1e30"]] {
            let r = try runAxon(["train", "--epochs", "3", "--limit", "500", "--data", real ? MNIST.defaultDirectory : dir.path] + args)
            if r.status == 0 { continue }
            expectRefused(r, ["training diverged", "lower learning rate"], args.joined(separator: " "))
            diverged += 1
        }
        #expect(diverged >= 2, "the runs at 1e30 should diverge")
    }

    @Test func threadCountsAreBoundedOnEveryCommand() throws {
        for command in [["train", "--model", "mlp"], ["eval", "--model", "m.safetensors"], ["bench"], ["classify", "x.jpg"],
                        ["retrain", "--image-dir", "."]] {
            expectRefused(try runAxon(command + ["--threads", "100000"]), ["--threads must be in 0...", "got 100000"], command[0])
        }
    }

    @Test func hugeNumbersAreRefusedAtParseTime() throws {
        expectRefused(try runAxon(["train", "--model", "mlp", "--batch-size", "9223372036854775807"]), ["--batch-size must be a positive integer, got 9223372036854775807 (at most 1048576)"], "train")
        expectRefused(try runAxon(["bench", "--batch-size", "9223372036854775807"]), ["--batch-size"], "bench")
        expectRefused(try runAxon(["bench", "--model", "mlp", "--batch-size", "100000000", "--steps", "1"]), ["--batch-size"], "bench 1e8")
        expectRefused(try runAxon(["bench", "--steps", "9223372036854775807"]), ["--steps"], "bench steps")
        expectRefused(try runAxon(["bench", "--model", "cnn", "--batch-size", "1048576", "--steps", "1"], environment: ["AXON_MEMORY_BUDGET": "1G"]),
                      ["batch of 1048576", "budget"], "bench within the flag's range, above the budget")
        expectRefused(try runAxon(["train", "--model", "mlp", "--epochs", "9223372036854775807"]), ["--epochs"], "epochs")
        let dir = try makeTempDir("plot-max")
        defer { try? FileManager.default.removeItem(at: dir) }
        let h = dir.appendingPathComponent("h.csv")
        try write(Array("epoch,train_loss,train_accuracy\n9223372036854775807,1,0.5\n".utf8), to: h)
        expectRefused(try runAxon(["plot", h.path, "--out", dir.appendingPathComponent("c.png").path]), ["epoch"], "plot")
    }

    /// Empty or unwritable output paths are refused before any work.
    @Test func outputPathsAreCheckedFirst() throws {
        for (args, flag) in [(["train", "--model", "mlp", "--save", ""], "--save"), (["train", "--model", "mlp", "--checkpoint-dir", ""], "--checkpoint-dir"),
                             (["train", "--model", "mlp", "--history", ""], "--history"), (["eval", "--model", "m", "--confusion", ""], "--confusion"),
                             (["plot", "h.csv", "--out", ""], "--out"), (["visualize", "--model", "m", "--out", ""], "--out"),
                             (["dataset", "export", "--out", ""], "--out"),
                             (["train", "--model", "mlp", "--save", "/nonexistent-dir/m.safetensors"], "does not exist"),
                             (["train", "--model", "mlp", "--checkpoint-dir", "/etc/passwd/runs"], "not a directory")] {
            let start = Date()
            expectRefused(try runAxon(args), [flag], args.joined(separator: " "))
            #expect(Date().timeIntervalSince(start) < 10, "\(args): refused only after \(Date().timeIntervalSince(start)) s")
        }
    }

    /// Models of 1 and 5 classes work with predict, eval (and its confusion matrix) and visualize.
    @Test func anyNumberOfClassesWorks() throws {
        let dir = try bands("classes")
        defer { try? FileManager.default.removeItem(at: dir) }
        let pgm = dir.appendingPathComponent("x.pgm")
        try write(Array("P5\n28 28\n255\n".utf8) + [UInt8](repeating: 9, count: 784), to: pgm)
        for classes in [1, 5] {
            var model = Sequential { Conv2D(filters: 2, kernelSize: 3); Flatten(); Dense(classes) }
            try model.build(inputShape: [28, 28, 1])
            let file = dir.appendingPathComponent("m\(classes).safetensors").path
            try model.save(to: file)
            for args in [["predict", "--model", file, "--index", "3", "--data", dir.path], ["predict", "--model", file, "--image", pgm.path],
                         ["visualize", "--model", file, "--index", "3", "--data", dir.path, "--out", dir.appendingPathComponent("v.png").path]] {
                let r = try runAxon(args)
                #expect(r.status == 0 && r.stdout.contains(args[0] == "visualize" ? "wrote" : "predicted class"),
                        "\(classes) classes, \(args[0]): status \(r.status) stdout \(r.stdout) stderr \(r.stderr)")
            }
            // The bands set has labels 0-9: a 1- or 5-class model cannot be scored on it.
            let e = try runAxon(["eval", "--model", file, "--data", dir.path, "--confusion", dir.appendingPathComponent("c.png").path])
            expectRefused(e, [file, "\(classes) class", "label"], "eval \(classes)")
        }
    }

    /// A tiny model file whose activations exceed the budget is refused; a big
    /// gzip'ed IDX set with --limit keeps only the examples used.
    @Test func memoryBudgetIsCheckedBeforeAllocating() throws {
        let dir = try bands("budget-cli", train: 20, test: 20)
        defer { try? FileManager.default.removeItem(at: dir) }
        var model = Sequential { Conv2D(filters: 1_300_000, kernelSize: 1) }
        try model.build(inputShape: [28, 28, 1])
        let file = dir.appendingPathComponent("wide.safetensors").path
        try model.save(to: file)
        for args in [["eval", "--model", file, "--data", dir.path], ["predict", "--model", file, "--index", "0", "--data", dir.path]] {
            expectRefused(try runAxon(args, environment: ["AXON_MEMORY_BUDGET": "2G"]), [file, "budget"], args[0])
        }
        // 40,000 images (31 MB once expanded) in a .gz of well under 1 MB.
        let images = dir.appendingPathComponent("train-images-idx3-ubyte"), labels = dir.appendingPathComponent("train-labels-idx1-ubyte")
        try write(idxBytes(magic: 0x803, dims: [40_000, 28, 28], payload: [UInt8](repeating: 0, count: 40_000 * 784)), to: images)
        try write(idxBytes(magic: 0x801, dims: [40_000], payload: [UInt8](repeating: 1, count: 40_000)), to: labels)
        try gzip(images)
        let budget = ["AXON_MEMORY_BUDGET": "16M"]
        let ok = try runAxon(["train", "--model", "mlp", "--epochs", "1", "--limit", "100", "--data", dir.path], environment: budget)
        #expect(ok.status == 0 && ok.stdout.contains("100 training"), "status \(ok.status) stdout \(ok.stdout) stderr \(ok.stderr)")
        expectRefused(try runAxon(["train", "--model", "mlp", "--epochs", "1", "--data", dir.path], environment: budget),
                      ["train-images-idx3-ubyte.gz", "budget"], "no --limit")
    }

    @Test func fifosAreRefused() throws {
        let dir = try bands("fifo-cli", train: 20, test: 20)
        defer { try? FileManager.default.removeItem(at: dir) }
        let fifo = dir.appendingPathComponent("f.safetensors").path
        #expect(mkfifo(fifo, 0o644) == 0)
        expectRefused(try runAxon(["inspect", fifo]), [fifo, "FIFO"], "inspect")
        let image = dir.appendingPathComponent("f.png").path
        #expect(mkfifo(image, 0o644) == 0)
        var model = Sequential { Flatten(); Dense(10) }
        try model.build(inputShape: [28, 28, 1])
        let file = dir.appendingPathComponent("m.safetensors").path
        try model.save(to: file)
        expectRefused(try runAxon(["predict", "--model", file, "--image", image]), [image, "FIFO"], "predict --image")
        let labels = dir.appendingPathComponent("t10k-labels-idx1-ubyte").path
        unlink(labels)
        #expect(mkfifo(labels, 0o644) == 0)
        expectRefused(try runAxon(["eval", "--model", file, "--data", dir.path]), [labels, "FIFO"], "eval data")
    }

    /// A second run on a checkpoint directory in use is refused, naming the process.
    @Test func oneWriterPerCheckpointDirectory() throws {
        let dir = try bands("lock-cli", train: 20, test: 20)
        defer { try? FileManager.default.removeItem(at: dir) }
        let runs = dir.appendingPathComponent("runs").path
        var lock: DirectoryLock? = try CheckpointDirectory.lock(runs)
        let r = try runAxon(["train", "--model", "mlp", "--epochs", "1", "--data", dir.path, "--checkpoint-dir", runs])
        expectRefused(r, [runs, "in use by another run (process \(getpid()))"], "second writer")
        #expect(lock != nil)
        lock = nil
        let free = try runAxon(["train", "--model", "mlp", "--epochs", "1", "--data", dir.path, "--checkpoint-dir", runs])
        #expect(free.status == 0, "after the lock: \(free.stderr)")
    }

    /// --resume skips a damaged newest checkpoint (with a warning) for the one before it.
    @Test func resumeFallsBackPastACorruptCheckpoint() throws {
        let dir = try bands("resume-corrupt", train: 40, test: 20)
        defer { try? FileManager.default.removeItem(at: dir) }
        let runs = dir.appendingPathComponent("runs").path
        let t = try runAxon(["train", "--model", "mlp", "--epochs", "2", "--data", dir.path, "--checkpoint-dir", runs])
        #expect(t.status == 0, "\(t.stderr)")
        let newest = runs + "/" + CheckpointDirectory.fileName(epoch: 2)
        #expect(truncate(newest, 100) == 0)
        let r = try runAxon(["train", "--resume", runs, "--epochs", "3"])
        #expect(r.status == 0 && r.stderr.contains("warning") && r.stderr.contains(newest) && r.stdout.contains("after epoch 1"),
                "status \(r.status) stdout \(r.stdout) stderr \(r.stderr)")
    }

    /// History files with NaN (a diverged epoch) are read back by `axon plot`.
    @Test func plotReadsNonFiniteHistories() throws {
        let dir = try makeTempDir("plot-nan")
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = EpochRecord(epoch: 1, learningRate: 0.1, trainLoss: .nan, trainAccuracy: 0.1, validationLoss: nil,
                            validationAccuracy: nil, testLoss: .infinity, testAccuracy: 0.1, seconds: 1, imagesPerSecond: 1)
        for ext in ["csv", "json"] {
            let h = dir.appendingPathComponent("h.\(ext)").path
            try History(records: [r, r]).write(to: h)
            let p = try runAxon(["plot", h, "--out", dir.appendingPathComponent("c.png").path])
            #expect(p.status == 0, "\(ext): \(p.stderr)")
        }
    }
}
