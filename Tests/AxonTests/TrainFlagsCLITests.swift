import Foundation
import Testing

/// `axon train`'s optimizer and regularisation flags: refused with one clear line, or accepted.
@Suite(.serialized) struct TrainFlagsCLITests {
    /// Bad optimizer and regularisation flags are refused before any data is read:
    /// one line on stderr naming the problem.
    @Test(arguments: [
        (["--optimizer", "adam", "--rho", "0.9"], "--rho does not apply to Adam (only to Adadelta)"),
        (["--optimizer", "Ftrl", "--beta1", "0.5"], "--beta1 does not apply to Ftrl (only to Adam)"),
        (["--optimizer", "gd", "--nesterov"], "--nesterov does not apply to GradientDescent (only to Momentum)"),
        (["--optimizer", "momentum", "--centered"], "--centered does not apply to Momentum (only to RMSProp)"),
        (["--optimizer", "adagrad", "--l1-strength", "0.1"], "--l1-strength does not apply to Adagrad"),
        (["--optimizer", "adam", "--momentum", "0.5"], "--momentum applies only to --optimizer momentum or rmsprop"),
        (["--optimizer", "adam", "--beta1", "1"], "--beta1 must be in [0, 1), got 1.0"),
        (["--optimizer", "adam", "--epsilon", "0"], "--epsilon must be > 0, got 0.0"),
        (["--optimizer", "ftrl", "--lr-power", "0.5"], "--lr-power must be <= 0, got 0.5"),
        (["--optimizer", "adagradda", "--initial-accumulator", "-1"], "--initial-accumulator must be > 0"),
        (["--optimizer", "rmsprop", "--decay", "1.5"], "--decay must be in [0, 1], got 1.5"),
        (["--optimizer", "nadam"], "nadam"),
        (["--l1", "-0.5"], "--l1 must be a finite λ >= 0, got -0.5"),
        (["--l2", "nan"], "--l2 must be a finite λ >= 0"),
        (["--dropout", "1"], "--dropout must be in [0, 1), got 1.0"),
        (["--early-stopping", "0"], "--early-stopping must be a patience of at least 1 epoch, got 0"),
        (["--augment", "crop,rotate"], "unknown augmentation \"rotate\""),
    ] as [([String], String)])
    func refused(_ flags: [String], _ message: String) throws {
        let r = try runAxon(["train", "--model", "mlp"] + flags)
        #expect(r.status != 0)
        #expect(r.stderr.hasPrefix("axon: ") && r.stderr.contains(message), "stderr: \(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1, "stderr: \(r.stderr)")
    }

    @Test func dropoutOnlyOnModelsThatHaveIt() throws {
        let r = try runAxon(["train", "--model", "lenet5", "--dropout", "0.3"])
        #expect(r.status != 0 && r.stderr.contains("--dropout applies only to the models with dropout layers (mlp, cnn, small-cnn), not lenet5"),
                "stderr: \(r.stderr)")
    }

    /// Every TensorFlow name (any case, with or without "Optimizer") and every short
    /// name is accepted, with its own hyper-parameters: the run gets past flag
    /// validation and fails only on the missing data directory.
    @Test(arguments: [
        ["--optimizer", "GradientDescent"], ["--optimizer", "sgd"],
        ["--optimizer", "MomentumOptimizer", "--momentum", "0.5", "--nesterov"],
        ["--optimizer", "ADAM", "--beta1", "0.8", "--beta2", "0.99", "--epsilon", "1e-7"],
        ["--optimizer", "Adagrad", "--initial-accumulator", "0.2"],
        ["--optimizer", "adadelta", "--rho", "0.9", "--epsilon", "1e-6"],
        ["--optimizer", "AdagradDA", "--l1-strength", "0.01", "--l2-strength", "0.02", "--initial-accumulator", "0.3"],
        ["--optimizer", "Ftrl", "--lr-power", "-0.7", "--l1-strength", "0.01", "--l2-strength", "0.1", "--l2-shrinkage", "0.01", "--ftrl-beta", "0.5"],
        ["--optimizer", "ProximalGradientDescent", "--l1-strength", "0.001"], ["--optimizer", "proximal-gd"],
        ["--optimizer", "ProximalAdagrad", "--l2-strength", "0.1"],
        ["--optimizer", "RMSProp", "--decay", "0.8", "--momentum", "0.3", "--centered", "--epsilon", "1e-8"],
        ["--l1", "0.1", "--l2", "5", "--dropout", "0.3", "--early-stopping", "3", "--augment", "crop,flip,jitter"],
    ])
    func accepted(_ flags: [String]) throws {
        let r = try runAxon(["train", "--model", "mlp", "--data", "/nonexistent-axon-data"] + flags)
        #expect(r.status != 0 && r.stderr.contains("/nonexistent-axon-data: data directory does not exist"), "stderr: \(r.stderr)")
    }
}
