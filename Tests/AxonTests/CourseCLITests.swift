import Foundation
import Testing
import Axon

/// The switches the course's chapters need (issue 13, items 11–15).
@Suite(.serialized) struct CourseCLITests {
    /// The number after `word` on the first line holding it.
    func number(after word: String, in text: String) -> Double? {
        guard let line = text.split(separator: "\n").first(where: { $0.contains(word) }) else { return nil }
        let rest = line.components(separatedBy: word).dropFirst().first ?? ""
        return Double(rest.trimmingCharacters(in: .whitespaces).prefix { "0123456789.-e".contains($0) })
    }

    /// `--model softmax --loss quadratic`: one dense layer and a Softmax, trained on the
    /// quadratic cost; the model file says so and `eval` reports that cost; a resumed
    /// run keeps it.
    @Test func softmaxRegressionWithTheQuadraticCost() throws {
        let dir = try makeTempDir("cli-quadratic")
        defer { try? FileManager.default.removeItem(at: dir) }
        try CLITrainingTests().writeBandsDataset(dir, train: 300, test: 100)
        let file = dir.appendingPathComponent("q.safetensors").path
        let ck = dir.appendingPathComponent("ck").path
        let common = ["--data", dir.path, "--threads", "1"]
        let t = try runAxon(["train", "--model", "softmax", "--loss", "quadratic", "--epochs", "1", "--save", file,
                             "--checkpoint-dir", ck] + common)
        #expect(t.status == 0 && t.stdout.contains("quadratic cost") && t.stdout.contains("gd, learning rate 0.1, constant"),
                "stdout \(t.stdout) stderr \(t.stderr)")
        var model = try Sequential.load(from: file)
        #expect(model.layers.map { String(describing: type(of: $0)) } == ["Flatten", "Dense", "Softmax"])
        #expect(try ModelFile.load(from: file).metadata["axon.training.loss"] == "quadratic")
        // eval's loss is the mean quadratic cost of the softmax outputs.
        let test = try MNIST.load(from: dir.path).test
        let batch = test.batch(0..<test.count)
        let expected = try Loss.quadratic.compute(logits: model(batch.images), labels: batch.labels).loss
        let e = try runAxon(["eval", "--model", file] + common)
        let loss = number(after: "loss ", in: e.stdout)
        #expect(e.status == 0 && e.stdout.contains("(quadratic cost)") && loss != nil && abs(loss! - Double(expected)) < 1e-4,
                "eval: \(e.stdout) \(e.stderr); the quadratic cost is \(expected)")
        // Resuming keeps the cost (from the checkpoint's settings).
        let r = try runAxon(["train", "--resume", ck, "--epochs", "2", "--threads", "1"])
        #expect(r.status == 0 && r.stdout.contains("quadratic cost"), "\(r.stdout) \(r.stderr)")
    }

    /// Chapter 4's point on the course's softmax regression: with the same learning rate
    /// and budget, cross-entropy learns faster than the quadratic cost (real data: on the
    /// synthetic bands both reach 100%).
    @Test func crossEntropyLearnsFasterThanTheQuadraticCost() throws {
        guard FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist") else {
            print("SKIPPED crossEntropyLearnsFasterThanTheQuadraticCost: no Fashion-MNIST"); return
        }
        let common = ["train", "--model", "softmax", "--epochs", "1", "--limit", "10000", "--learning-rate", "0.05", "--threads", "1"]
        let q = try runAxon(common + ["--loss", "quadratic"]), c = try runAxon(common + ["--loss", "cross-entropy"])
        let (qa, ca) = (finalAccuracy(q.stdout) ?? 100, finalAccuracy(c.stdout) ?? 0)
        // Measured: 62.9% against 72.4%.
        #expect(ca > qa + 5, "after one epoch at 0.05: cross-entropy \(ca)%, quadratic \(qa)%\n\(q.stdout)\n\(c.stdout)")
    }

    /// `--pool` builds the convolutional models with the chosen pooling, `--hidden` sizes the LSTM.
    @Test func poolingAndHiddenUnits() throws {
        let dir = try makeTempDir("cli-pool")
        defer { try? FileManager.default.removeItem(at: dir) }
        try CLITrainingTests().writeBandsDataset(dir, train: 64, test: 20)
        let common = ["--data", dir.path, "--threads", "1", "--epochs", "1"]
        for (pool, layer) in [("avg", "AvgPool2D"), ("stochastic", "StochasticPool2D"), ("max", "MaxPool2D")] {
            let file = dir.appendingPathComponent("\(pool).safetensors").path
            let t = try runAxon(["train", "--model", "lenet5", "--pool", pool, "--save", file] + common)
            #expect(t.status == 0, "\(pool): \(t.stderr)")
            let names = try Sequential.load(from: file).layers.map { String(describing: type(of: $0)) }
            #expect(names.filter { $0 == layer }.count == 2 && names.filter { $0.hasSuffix("Pool2D") }.count == 2, "\(pool): \(names)")
        }
        let file = dir.appendingPathComponent("lstm.safetensors").path
        let l = try runAxon(["train", "--model", "lstm", "--hidden", "100", "--save", file] + common)
        #expect(l.status == 0 && l.stdout.contains("100 hidden units"), "\(l.stdout) \(l.stderr)")
        let shapes = try SafeTensors.read(file).tensors.map { ($0.name, $0.value.shape) }
        #expect(shapes.contains { $0.0.hasSuffix("recurrent_kernel") && $0.1 == [100, 400] }, "\(shapes)")
        for (args, message) in [(["--model", "mlp", "--pool", "avg"], "--pool applies only"),
                                (["--model", "lenet5", "--hidden", "100"], "--hidden applies only to --model lstm"),
                                (["--model", "lstm", "--hidden", "0"], "--hidden must be in 1...4096"),
                                (["--model", "cnn", "--pool", "median"], "median"),
                                (["--model", "softmax", "--loss", "hinge"], "hinge")] {
            let r = try runAxon(["train"] + args)
            #expect(r.status != 0 && r.stderr.hasPrefix("axon: ") && r.stderr.contains(message), "\(args): \(r.stderr)")
        }
    }

    /// Early stopping with checkpoints: each checkpoint keeps the best epoch, the
    /// patience count and the best weights, so a run resumed from epoch 2 stops
    /// where the uninterrupted one did and keeps the same weights, bit for bit;
    /// resuming the finished run has nothing to do.
    @Test func earlyStoppingResumesExactly() throws {
        let dir = try makeTempDir("cli-early-ck")
        defer { try? FileManager.default.removeItem(at: dir) }
        try CLITrainingTests().writeBandsDataset(dir, train: 300, test: 50)
        let common = ["--data", dir.path, "--threads", "1", "--seed", "5", "--batch-size", "32"]
        let full = dir.appendingPathComponent("full.safetensors").path, resumed = dir.appendingPathComponent("resumed.safetensors").path
        let ck = dir.appendingPathComponent("ck").path
        let a = try runAxon(["train", "--model", "mlp", "--epochs", "12", "--early-stopping", "2", "--learning-rate", "0.05",
                             "--checkpoint-dir", ck, "--keep", "20", "--save", full] + common)
        #expect(a.status == 0, "\(a.stderr)")
        let names = try FileManager.default.contentsOfDirectory(atPath: ck).filter { $0.hasSuffix(".safetensors") }.sorted()
        #expect(names.count >= 3, "\(names)")
        let second = try Checkpoint.load(from: ck + "/epoch-0002.safetensors")
        let saved = try #require(second.earlyStopping)
        #expect(saved.patience == 2 && saved.bestEpoch >= 1 && saved.bestEpoch <= 2 && saved.stop == nil)
        #expect(saved.bestWeights.count == second.model.parameters.count + second.model.state.count)
        // Resume the same run from epoch 2: the later checkpoints go.
        for name in names where name > "epoch-0002.safetensors" { try FileManager.default.removeItem(atPath: ck + "/" + name) }
        let r = try runAxon(["train", "--resume", ck, "--save", resumed, "--threads", "1"])
        #expect(r.status == 0 && r.stdout.contains("resuming from"), "\(r.stdout) \(r.stderr)")
        func stopLine(_ s: String) -> String? { s.split(separator: "\n").first { $0.contains("early stop") }.map(String.init) }
        #expect(stopLine(a.stdout) != nil && stopLine(a.stdout) == stopLine(r.stdout), "\(a.stdout)\n---\n\(r.stdout)")
        let x = try SafeTensors.read(full), y = try SafeTensors.read(resumed)
        #expect(x.tensors.map(\.value) == y.tensors.map(\.value), "the resumed run kept other weights")
        // The checkpoint taken when the run stopped says so; resuming it again trains nothing.
        if a.stdout.contains("early stopping after epoch") {
            let again = try runAxon(["train", "--resume", ck, "--threads", "1"])
            #expect(again.status == 0 && again.stdout.contains("nothing to do: the run of this checkpoint stopped early"),
                    "\(again.stdout) \(again.stderr)")
        }
    }

    /// `--checkpoint-every N` adds mid-epoch checkpoints, `--keep N` bounds the directory,
    /// and a run resumed from a mid-epoch checkpoint ends with the weights of an
    /// uninterrupted one, bit for bit (dropout's stream and the shuffles included).
    @Test func midEpochCheckpointsResumeExactly() throws {
        let dir = try makeTempDir("cli-every")
        defer { try? FileManager.default.removeItem(at: dir) }
        try CLITrainingTests().writeBandsDataset(dir, train: 300, test: 50)
        // 300 examples in batches of 32: 10 batches (steps) per epoch.
        let common = ["--data", dir.path, "--threads", "1", "--seed", "5", "--batch-size", "32", "--epochs", "2"]
        let full = dir.appendingPathComponent("full.safetensors").path, resumed = dir.appendingPathComponent("resumed.safetensors").path
        let ck = dir.appendingPathComponent("ck").path, few = dir.appendingPathComponent("few").path
        let a = try runAxon(["train", "--model", "mlp", "--save", full] + common)
        let b = try runAxon(["train", "--model", "mlp", "--checkpoint-dir", ck, "--checkpoint-every", "4", "--keep", "10"] + common)
        #expect(a.status == 0 && b.status == 0, "\(a.stderr) \(b.stderr)")
        // The checkpoint files (the run's lock file, .axon.lock, stays beside them).
        func checkpoints(_ dir: String) throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: dir).filter { !$0.hasPrefix(".") }.sorted()
        }
        let names = try checkpoints(ck)
        // Steps 4, 8 (epoch 1), 10 (end of epoch 1), 12, 16 (epoch 2), 20 (end of epoch 2).
        #expect(names == ["epoch-0001-batch-000004.safetensors", "epoch-0001-batch-000008.safetensors", "epoch-0001.safetensors",
                          "epoch-0002-batch-000002.safetensors", "epoch-0002-batch-000006.safetensors", "epoch-0002.safetensors"],
                "\(names)")
        let mid = try Checkpoint.load(from: ck + "/epoch-0002-batch-000006.safetensors")
        #expect(mid.epoch == 1 && mid.batch == 6 && mid.optimizerStep == 16)
        // The newest is now the mid-epoch one: resume from it.
        try FileManager.default.removeItem(atPath: ck + "/epoch-0002.safetensors")
        let r = try runAxon(["train", "--resume", ck, "--save", resumed, "--threads", "1"])
        #expect(r.status == 0 && r.stdout.contains("after epoch 1 and 6 batches of epoch 2"), "\(r.stdout) \(r.stderr)")
        let x = try SafeTensors.read(full), y = try SafeTensors.read(resumed)
        #expect(x.tensors.count == 6 && x.tensors.map(\.value) == y.tensors.map(\.value), "the resumed run's weights differ")
        // --keep 2: only the two newest positions stay.
        let k = try runAxon(["train", "--model", "mlp", "--checkpoint-dir", few, "--checkpoint-every", "3", "--keep", "2"] + common)
        #expect(k.status == 0, "\(k.stderr)")
        #expect(try checkpoints(few) == ["epoch-0002-batch-000008.safetensors", "epoch-0002.safetensors"])
        for (args, message) in [(["--checkpoint-every", "0", "--checkpoint-dir", few], "--checkpoint-every must be a positive integer"),
                                (["--keep", "3"], "--keep needs --checkpoint-dir")] {
            let e = try runAxon(["train", "--model", "mlp"] + args)
            #expect(e.status != 0 && e.stderr.contains(message), "\(args): \(e.stderr)")
        }
    }

    /// `axon demo optimizers` trains all ten and writes one PNG; `axon plot` overlays runs.
    @Test func optimizersDemoAndOverlaidPlot() throws {
        let dir = try makeTempDir("cli-optimizers")
        defer { try? FileManager.default.removeItem(at: dir) }
        try CLITrainingTests().writeBandsDataset(dir, train: 200, test: 50)
        let png = dir.appendingPathComponent("o.png").path
        let r = try runAxon(["demo", "optimizers", "--data", dir.path, "--limit", "200", "--epochs", "2", "--threads", "1", "--out", png])
        #expect(r.status == 0, "\(r.stderr)")
        for name in ["GradientDescent", "Momentum", "Adam", "Adagrad", "Adadelta", "AdagradDA", "Ftrl",
                     "ProximalGradientDescent", "ProximalAdagrad", "RMSProp"] {
            let row = r.stdout.split(separator: "\n").first { $0.hasPrefix(name + " ") }.map(String.init) ?? ""
            let numbers = row.split(separator: " ").dropFirst().compactMap { Double($0.replacingOccurrences(of: "%", with: "")) }
            #expect(numbers.count == 4, "row of \(name): \"\(row)\"\n\(r.stdout)")
        }
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: png)))
        #expect(bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) && r.stdout.contains("10 optimizers"))
        let help = try runAxon(["train", "--help"])
        let words = help.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" }).joined(separator: " ")
        #expect(words.contains("AdagradDA and Ftrl forget the initial weights"), "\(help.stdout)")
        // Two histories overlaid, with and without --labels.
        var histories: [String] = []
        for (i, optimizer) in ["adam", "gd"].enumerated() {
            let h = dir.appendingPathComponent("run\(i).csv").path
            let t = try runAxon(["train", "--model", "mlp", "--data", dir.path, "--epochs", "2", "--threads", "1",
                                 "--optimizer", optimizer, "--history", h])
            #expect(t.status == 0, "\(t.stderr)")
            histories.append(h)
        }
        let p = try runAxon(["plot"] + histories + ["--labels", "Adam,SGD", "--out", png])
        #expect(p.status == 0 && p.stdout.contains("2 runs (Adam, SGD)"), "\(p.stdout) \(p.stderr)")
        let q = try runAxon(["plot"] + histories + ["--out", png])
        #expect(q.status == 0 && q.stdout.contains("(run0, run1)"), "\(q.stdout) \(q.stderr)")
        let bad = try runAxon(["plot"] + histories + ["--labels", "one", "--out", png])
        #expect(bad.status != 0 && bad.stderr.contains("--labels gives 1 names for 2 history files"), "\(bad.stderr)")
    }

    /// `axon demo overfit`: every cure's comment says what the table's numbers say.
    @Test func overfitDemoCommentsMatchItsNumbers() throws {
        let dir = try makeTempDir("cli-overfit")
        defer { try? FileManager.default.removeItem(at: dir) }
        try CLITrainingTests().writeBandsDataset(dir, train: 300, test: 100)
        let png = dir.appendingPathComponent("overfit.png").path
        let r = try runAxon(["demo", "overfit", "--data", dir.path, "--limit", "60", "--epochs", "6", "--more-data", "2",
                             "--patience", "2", "--threads", "1", "--out", png])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.filter { $0.split(separator: " ").first.flatMap { Int($0) } != nil }.count >= 6, "per-epoch rows\n\(r.stdout)")
        #expect(lines.contains { $0.hasPrefix("training loss ") && $0.contains("test loss") }, "\(r.stdout)")
        // run, train acc, test acc, gap for every run.
        func row(_ name: String) -> (train: Double, test: Double, gap: Double)? {
            guard let line = lines.first(where: { $0.hasPrefix(name) && $0.contains(" pt ") }) else { return nil }
            let n = line.dropFirst(24).split(separator: " ").compactMap { Double($0.replacingOccurrences(of: "%", with: "")) }
            return n.count >= 3 ? (n[0], n[1], n[2]) : nil
        }
        let base = try #require(row("no regularisation"), "\(r.stdout)")
        for name in ["more data", "dropout", "L2", "L1", "early stopping"] {
            let cure = try #require(row(name), "\(name)\n\(r.stdout)")
            let comment = try #require(lines.first { $0.hasPrefix(name) && $0.contains(": ") }, "\(name)\n\(r.stdout)")
            let d = cure.test - base.test
            if abs(d) >= 0.1 {
                #expect(comment.contains(d > 0 ? "raises test accuracy" : "lowers test accuracy"), "\(comment) vs \(d)")
                let said = comment.components(separatedBy: "test accuracy by ").dropFirst().first
                    .flatMap { Double($0.prefix { "0123456789.".contains($0) }) }
                #expect(said.map { abs($0 - abs(d)) < 0.011 } == true, "\(comment) vs \(d)")
            } else {
                #expect(comment.contains("unchanged"), "\(comment) vs \(d)")
            }
            if cure.gap < base.gap - 0.1 { #expect(comment.contains("narrows the gap"), "\(comment)") }
            if cure.gap > base.gap + 0.1 { #expect(comment.contains("widens the gap"), "\(comment)") }
        }
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: png)))
        #expect(bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]))
    }

    /// The cost lesson: from w = 2, b = 2 the quadratic cost barely moves in 50
    /// epochs (saturated neuron) while cross-entropy has already fallen far.
    @Test func demoCostShowsCrossEntropyLearningFast() throws {
        let r = try runAxon(["demo", "cost", "--every", "50"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let rows = r.stdout.split(separator: "\n").map { $0.split(separator: " ") }
        let header = try #require(rows.first { $0.first == "epoch" })
        #expect(header.count > 1)
        func row(_ epoch: String) throws -> [Double] {
            try #require(rows.first { $0.first.map(String.init) == epoch }).dropFirst().compactMap { Double($0) }
        }
        let start = try row("0"), after50 = try row("50")
        // Columns: quadratic small, CE small, quadratic large, CE large.
        try #require(start.count == 4 && after50.count == 4, "output:\n\(r.stdout)")
        let quadraticDrop = after50[2] / start[2], crossEntropyDrop = after50[3] / start[3]
        #expect(quadraticDrop > 0.95, "quadratic from w=b=2 kept \(quadraticDrop) of its cost after 50 epochs; expected a stall")
        #expect(crossEntropyDrop < 0.05, "cross-entropy from w=b=2 kept \(crossEntropyDrop) of its cost after 50 epochs")
        #expect(after50[3] < after50[2] / 3, "after 50 epochs: CE \(after50[3]) vs quadratic \(after50[2])")
    }
}
