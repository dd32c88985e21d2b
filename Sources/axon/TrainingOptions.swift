import ArgumentParser
import Axon

/// `axon train`'s optimizer hyper-parameters and the course's regularisation
/// tools (L1/L2, dropout, early stopping, augmentation), as one option group.
struct TrainingOptions: ParsableArguments {
    @Flag(help: "Momentum: use Nesterov's update.")
    var nesterov = false
    @Option(parsing: .unconditional, help: "Adam: β1 in [0, 1) (default \(shown(Adam().beta1))).")
    var beta1: Float?
    @Option(parsing: .unconditional, help: "Adam: β2 in [0, 1) (default \(shown(Adam().beta2))).")
    var beta2: Float?
    @Option(parsing: .unconditional, help: "Adam, Adadelta, RMSProp: ε > 0 (defaults \(shown(Adam().epsilon)), \(shown(Adadelta().epsilon)), \(shown(RMSProp().epsilon))).")
    var epsilon: Float?
    @Option(parsing: .unconditional, help: "Adadelta: decay ρ in [0, 1] (default \(shown(Adadelta().rho))).")
    var rho: Float?
    @Option(parsing: .unconditional, help: "RMSProp: decay in [0, 1] (default \(shown(RMSProp().decay))). RMSProp also takes --momentum (default \(shown(RMSProp().momentum))).")
    var decay: Float?
    @Flag(help: "RMSProp: the centered variant.")
    var centered = false
    @Option(parsing: .unconditional, help: "Adagrad, ProximalAdagrad, AdagradDA, Ftrl: initial accumulator value > 0 (default \(shown(Adagrad().initialAccumulatorValue))).")
    var initialAccumulator: Float?
    @Option(parsing: .unconditional, help: "Ftrl, ProximalGradientDescent, ProximalAdagrad, AdagradDA: L1 regularisation strength >= 0 (default \(shown(Ftrl().l1))).")
    var l1Strength: Float?
    @Option(parsing: .unconditional, help: "Ftrl, ProximalGradientDescent, ProximalAdagrad, AdagradDA: L2 regularisation strength >= 0 (default \(shown(Ftrl().l2))).")
    var l2Strength: Float?
    @Option(parsing: .unconditional, help: "Ftrl: L2 shrinkage regularisation strength >= 0 (default \(shown(Ftrl().l2Shrinkage))).")
    var l2Shrinkage: Float?
    @Option(parsing: .unconditional, help: "Ftrl: learning-rate power <= 0 (default \(shown(Ftrl().learningRatePower))).")
    var lrPower: Float?
    @Option(parsing: .unconditional, help: "Ftrl: beta >= 0 (default \(shown(Ftrl().beta))).")
    var ftrlBeta: Float?

    @Option(parsing: .unconditional, help: ArgumentHelp("L1 regularisation λ >= 0: the loss gains (λ/n)·Σ|w| over the kernels, n the training-set size.", valueName: "λ"))
    var l1: Float?
    @Option(parsing: .unconditional, help: ArgumentHelp("L2 regularisation λ >= 0: the loss gains (λ/2n)·Σw² over the kernels.", valueName: "λ"))
    var l2: Float?
    @Option(parsing: .unconditional, help: ArgumentHelp("Dropout rate in [0, 1) of the model's dropout layers (mlp, cnn, small-cnn only; defaults 0.2, 0.5, 0.3).", valueName: "P"))
    var dropout: Float?
    @Option(parsing: .unconditional, help: ArgumentHelp("Stop after N epochs without a new best validation accuracy and keep the best weights; the last sixth of the training images (at most 10000) is held out for validation (with --images: the folder's validation set).", valueName: "N"))
    var earlyStopping: Int?
    @Option(help: ArgumentHelp("Augment training batches: a comma-separated list of crop (pad 2, crop back), flip, jitter (brightness ±0.1, contrast [0.8, 1.2)).", valueName: "list"))
    var augment: String?

    /// The flags given, by name, and which optimizers each applies to.
    private var optimizerFlags: [(flag: String, given: Bool, appliesTo: Set<OptimizerKind>)] {
        [("--nesterov", nesterov, [.momentum]),
         ("--beta1", beta1 != nil, [.adam]), ("--beta2", beta2 != nil, [.adam]),
         ("--epsilon", epsilon != nil, [.adam, .adadelta, .rmsprop]),
         ("--rho", rho != nil, [.adadelta]),
         ("--decay", decay != nil, [.rmsprop]), ("--centered", centered, [.rmsprop]),
         ("--initial-accumulator", initialAccumulator != nil, [.adagrad, .proximaladagrad, .adagradda, .ftrl]),
         ("--l1-strength", l1Strength != nil, [.ftrl, .proximalgd, .proximaladagrad, .adagradda]),
         ("--l2-strength", l2Strength != nil, [.ftrl, .proximalgd, .proximaladagrad, .adagradda]),
         ("--l2-shrinkage", l2Shrinkage != nil, [.ftrl]), ("--lr-power", lrPower != nil, [.ftrl]),
         ("--ftrl-beta", ftrlBeta != nil, [.ftrl])]
    }

    /// Every flag of this group that was given (for refusing them with --resume).
    var givenFlags: [String] {
        optimizerFlags.filter(\.given).map(\.flag)
            + [("--l1", l1 != nil), ("--l2", l2 != nil), ("--dropout", dropout != nil),
               ("--early-stopping", earlyStopping != nil), ("--augment", augment != nil)].filter(\.1).map(\.0)
    }

    /// Checks ranges and that every hyper-parameter flag belongs to `optimizer`.
    func validate(optimizer: OptimizerKind, model: ModelKind) throws {
        for f in optimizerFlags where f.given && !f.appliesTo.contains(optimizer) {
            let owners = OptimizerKind.allCases.filter { f.appliesTo.contains($0) }.map(\.tensorFlowName)
            throw ValidationError("\(f.flag) does not apply to \(optimizer.tensorFlowName) (only to \(owners.joined(separator: ", ")))")
        }
        func check(_ v: Float?, _ flag: String, _ range: String, _ ok: (Float) -> Bool) throws {
            if let v, !(v.isFinite && ok(v)) { throw ValidationError("\(flag) must be \(range), got \(v)") }
        }
        try check(beta1, "--beta1", "in [0, 1)") { $0 >= 0 && $0 < 1 }
        try check(beta2, "--beta2", "in [0, 1)") { $0 >= 0 && $0 < 1 }
        try check(epsilon, "--epsilon", "> 0") { $0 > 0 }
        try check(rho, "--rho", "in [0, 1]") { $0 >= 0 && $0 <= 1 }
        try check(decay, "--decay", "in [0, 1]") { $0 >= 0 && $0 <= 1 }
        try check(initialAccumulator, "--initial-accumulator", "> 0") { $0 > 0 }
        try check(l1Strength, "--l1-strength", ">= 0") { $0 >= 0 }
        try check(l2Strength, "--l2-strength", ">= 0") { $0 >= 0 }
        try check(l2Shrinkage, "--l2-shrinkage", ">= 0") { $0 >= 0 }
        try check(lrPower, "--lr-power", "<= 0") { $0 <= 0 }
        try check(ftrlBeta, "--ftrl-beta", ">= 0") { $0 >= 0 }
        try check(l1, "--l1", "a finite λ >= 0") { $0 >= 0 }
        try check(l2, "--l2", "a finite λ >= 0") { $0 >= 0 }
        try check(dropout, "--dropout", "in [0, 1)") { $0 >= 0 && $0 < 1 }
        if dropout != nil && !model.hasDropout {
            throw ValidationError("--dropout applies only to the models with dropout layers (mlp, cnn, small-cnn), not \(model.rawValue)")
        }
        if let earlyStopping, earlyStopping < 1 {
            throw ValidationError("--early-stopping must be a patience of at least 1 epoch, got \(earlyStopping)")
        }
        _ = try augmentation()
    }

    func hyperParameters(momentum: Float?) -> HyperParameters {
        HyperParameters(nesterov: nesterov, centered: centered, beta1: beta1, beta2: beta2, epsilon: epsilon, rho: rho,
                        decay: decay, initialAccumulator: initialAccumulator, l1Strength: l1Strength,
                        l2Strength: l2Strength, l2Shrinkage: l2Shrinkage, lrPower: lrPower, ftrlBeta: ftrlBeta,
                        rmsMomentum: momentum)
    }

    /// The `--augment` list for images of `channels` channels (saturation only for 3).
    func augmentation(channels: Int = 1) throws -> Augmentation? {
        guard let augment else { return nil }
        let names = augment.split(separator: ",").map { String($0.filter { $0 != " " }) }
        guard !names.isEmpty, !names.contains("") else {
            throw ValidationError("--augment takes a comma-separated list of crop, flip, jitter, got \"\(augment)\"")
        }
        do { return try Augmentation(names: names, channels: channels) } catch { throw ValidationError("--augment: \(error)") }
    }

    /// What a checkpoint records (floats as bit patterns, so a resume is exact).
    var configuration: [String: String] {
        var c: [String: String] = [:]
        let floats: [(String, Float?)] = [("beta1", beta1), ("beta2", beta2), ("epsilon", epsilon), ("rho", rho),
                                          ("decay", decay), ("initial_accumulator", initialAccumulator),
                                          ("l1_strength", l1Strength), ("l2_strength", l2Strength),
                                          ("l2_shrinkage", l2Shrinkage), ("lr_power", lrPower), ("ftrl_beta", ftrlBeta),
                                          ("l1", l1), ("l2", l2), ("dropout", dropout)]
        for (k, v) in floats { if let v { c[k + "_bits"] = String(v.bitPattern) } }
        if nesterov { c["nesterov"] = "true" }
        if centered { c["centered"] = "true" }
        if let augment { c["augment"] = augment }
        if let earlyStopping { c["early_stopping"] = String(earlyStopping) }
        return c
    }

    /// Takes these settings from a checkpoint's configuration.
    mutating func apply(_ c: [String: String], bad: (String) -> Error) throws {
        func float(_ key: String) throws -> Float? {
            guard let text = c[key + "_bits"] else { return nil }
            guard let bits = UInt32(text) else { throw bad(key + "_bits") }
            return Float(bitPattern: bits)
        }
        beta1 = try float("beta1"); beta2 = try float("beta2"); epsilon = try float("epsilon"); rho = try float("rho")
        decay = try float("decay"); initialAccumulator = try float("initial_accumulator")
        l1Strength = try float("l1_strength"); l2Strength = try float("l2_strength")
        l2Shrinkage = try float("l2_shrinkage"); lrPower = try float("lr_power"); ftrlBeta = try float("ftrl_beta")
        l1 = try float("l1"); l2 = try float("l2"); dropout = try float("dropout")
        nesterov = c["nesterov"] == "true"
        centered = c["centered"] == "true"
        augment = c["augment"]
        if let text = c["early_stopping"] {
            guard let patience = Int(text) else { throw bad("early_stopping") }
            earlyStopping = patience
        } else {
            earlyStopping = nil
        }
    }
}
