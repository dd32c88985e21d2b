import ArgumentParser
import Axon

/// The training cost of `axon train --loss`.
enum LossKind: String, CaseIterable, ExpressibleByArgument {
    case crossEntropy = "cross-entropy"
    case quadratic

    /// The quadratic cost is taken on the softmax outputs (the course's chapter 1
    /// `reduce_mean(square(y_ − y))` of `y = softmax(Wx + b)`): the model gets a
    /// final Softmax layer and the library's quadratic cost (spec §5.2).
    var loss: Loss { self == .quadratic ? .quadratic : .softmaxCrossEntropy }

    var description: String {
        self == .quadratic ? "quadratic cost ½Σ(t − y)² on the softmax outputs" : "softmax cross-entropy"
    }

    /// The metadata key under which model files record it.
    static let metadataKey = "axon.training.loss"

    /// The loss a model file was trained with (cross-entropy when it does not say).
    static func of(metadata: [String: String], path: String) throws -> LossKind {
        guard let text = metadata[metadataKey] else { return .crossEntropy }
        guard let kind = LossKind(rawValue: text) else {
            throw AxonError.file(path: path, "unknown \(metadataKey) \"\(text)\"; expected cross-entropy or quadratic")
        }
        return kind
    }
}

/// `axon train`'s choices of architecture and cost beyond `--model`.
struct ModelOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The cost: cross-entropy (softmax cross-entropy of the logits) or quadratic (½Σ(t − y)² of the softmax outputs against the one-hot label, mean over the batch; the model gets a final Softmax layer). Chapters 1 and 4 of the course compare the two with --model softmax.", valueName: "loss"))
    var loss: LossKind = .crossEntropy

    @Option(help: ArgumentHelp("Pooling of lenet5, cnn and small-cnn: max (default), avg or stochastic (sampled ∝ activation in training, probability-weighted at inference).", valueName: "kind"))
    var pool: Models.Pooling?

    @Option(parsing: .unconditional, help: ArgumentHelp("Hidden units of the lstm model (default 128; the course uses 100).", valueName: "N"))
    var hidden: Int?

    @Option(parsing: .unconditional, help: ArgumentHelp("inception-v3: divide every convolution's filter count by N (a narrower network for a small data set; default 1, the paper's widths).", valueName: "N"))
    var widthDivisor: Int?

    /// Every flag of this group that was given (for refusing them with --resume).
    var givenFlags: [String] {
        [("--loss", loss != .crossEntropy), ("--pool", pool != nil), ("--hidden", hidden != nil),
         ("--width-divisor", widthDivisor != nil)].filter(\.1).map(\.0)
    }

    func validate(model: ModelKind) throws {
        if pool != nil && !model.hasPooling {
            throw ValidationError("--pool applies only to the models with pooling layers (lenet5, cnn, small-cnn), not \(model.rawValue)")
        }
        if let hidden {
            guard model == .lstm else { throw ValidationError("--hidden applies only to --model lstm, not \(model.rawValue)") }
            guard hidden >= 1 && hidden <= 4096 else { throw ValidationError("--hidden must be in 1...4096, got \(hidden)") }
        }
        if let widthDivisor {
            guard model == .inceptionV3 else { throw ValidationError("--width-divisor applies only to --model inception-v3, not \(model.rawValue)") }
            guard widthDivisor >= 1 && widthDivisor <= 64 else { throw ValidationError("--width-divisor must be in 1...64, got \(widthDivisor)") }
        }
        if loss == .quadratic && model == .inceptionV3 {
            throw ValidationError("--loss quadratic applies to the sequential models, not inception-v3")
        }
    }

    /// The model with these choices (a final Softmax for the quadratic cost).
    func build(_ model: ModelKind, seed: UInt64, dropout: Float?, classes: Int) throws -> any Network {
        if model == .inceptionV3 {
            return try Models.inceptionV3(classes: classes, widthDivisor: widthDivisor ?? 1, softmax: false, seed: seed)
        }
        var network = try model.build(seed: seed, dropout: dropout, pool: pool, hidden: hidden, classes: classes)
        if loss == .quadratic { network.layers.append(Softmax()) }
        return network
    }

    /// The header's description of the architecture choices ("" when none).
    var summary: String {
        var parts = ["loss: \(loss.description)"]
        if let pool { parts.append("\(pool.rawValue) pooling") }
        if let hidden { parts.append("\(hidden) hidden units") }
        if let widthDivisor { parts.append("filters ÷ \(widthDivisor)") }
        return parts.joined(separator: ", ")
    }

    var configuration: [String: String] {
        var c = ["loss": loss.rawValue]
        if let pool { c["pool"] = pool.rawValue }
        if let hidden { c["hidden"] = String(hidden) }
        if let widthDivisor { c["width-divisor"] = String(widthDivisor) }
        return c
    }

    mutating func apply(_ c: [String: String], bad: (String) -> Error) throws {
        if let text = c["loss"] {
            guard let l = LossKind(rawValue: text) else { throw bad("loss") }
            loss = l
        } else {
            loss = .crossEntropy
        }
        if let text = c["pool"] {
            guard let p = Models.Pooling(rawValue: text) else { throw bad("pool") }
            pool = p
        } else {
            pool = nil
        }
        if let text = c["hidden"] {
            guard let h = Int(text) else { throw bad("hidden") }
            hidden = h
        } else {
            hidden = nil
        }
        if let text = c["width-divisor"] {
            guard let w = Int(text) else { throw bad("width-divisor") }
            widthDivisor = w
        } else {
            widthDivisor = nil
        }
    }
}

extension Models.Pooling: ExpressibleByArgument {}
