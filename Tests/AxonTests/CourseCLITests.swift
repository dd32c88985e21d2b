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
}
