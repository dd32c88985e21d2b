import ArgumentParser
import Axon

/// The reference models of `axon train --model`. Their default training
/// settings live in one place, `Models.recipe(for:)`.
enum ModelKind: String, CaseIterable, ExpressibleByArgument {
    case softmax, lenet5, mlp, cnn, lstm
    case smallCNN = "small-cnn"
    case inceptionV3 = "inception-v3"

    var displayName: String {
        switch self {
        case .softmax: return "softmax regression"
        case .lenet5: return "LeNet-5"
        case .mlp: return "MLP"
        case .cnn: return "deep-MNIST CNN"
        case .lstm: return "LSTM classifier"
        case .smallCNN: return "small CNN"
        case .inceptionV3: return "Inception-v3"
        }
    }

    /// The model; nil `dropout`, `pool` or `hidden` keep the model's own. The
    /// sequential presets only: Inception-v3 is a Graph (ModelOptions.build).
    func build(seed: UInt64, dropout: Float? = nil, pool: Models.Pooling? = nil, hidden: Int? = nil,
               classes: Int = 10) throws -> Sequential {
        switch self {
        case .mlp where dropout != nil: return Models.mlp(dropout: dropout!, classes: classes, seed: seed)
        case .cnn where dropout != nil || pool != nil:
            return Models.deepMNIST(dropout: dropout ?? 0.5, pool: pool ?? .max, classes: classes, seed: seed)
        case .smallCNN where dropout != nil || pool != nil:
            return Models.smallCNN(dropout: dropout ?? 0.3, pool: pool ?? .max, classes: classes, seed: seed)
        case .lenet5 where pool != nil: return Models.lenet5(pool: pool!, classes: classes, seed: seed)
        case .lstm where hidden != nil: return Models.lstmClassifier(hidden: hidden!, classes: classes, seed: seed)
        default: return try Models.named(rawValue, classes: classes, seed: seed)
        }
    }

    /// Whether the model has pooling layers (so `--pool` applies).
    var hasPooling: Bool { self == .lenet5 || self == .cnn || self == .smallCNN }

    /// Whether the model has dropout layers (so `--dropout` applies).
    var hasDropout: Bool { self == .mlp || self == .cnn || self == .smallCNN }

    /// The input shape the model needs, nil when it takes any size (with `channels`).
    var fixedInputShape: [Int]? { [.smallCNN, .softmax, .inceptionV3].contains(self) ? nil : [28, 28, 1] }

    /// The smallest input side the model takes (its poolings and strides), for --images.
    var minimumInputSide: Int { self == .inceptionV3 ? 75 : self == .smallCNN ? 4 : 1 }

    /// Only trained on --images (Fashion-MNIST's 28×28 is below its minimum), not benchmarked
    /// on random 28×28 input (`axon bench --inception` measures it).
    var needsLargeImages: Bool { minimumInputSide > 28 }
    var recipe: Models.Recipe { try! Models.recipe(for: rawValue) }  // every case is a known name
}

/// The ten tf.compat.v1.train optimizers, by short name; `init(argument:)`
/// also takes TensorFlow's class names (with or without "Optimizer"), any case.
enum OptimizerKind: String, CaseIterable, ExpressibleByArgument {
    case gd, momentum, adam, adagrad, adadelta, adagradda, ftrl, proximalgd, proximaladagrad, rmsprop

    init?(argument: String) {
        var a = argument.lowercased().filter { $0 != "-" && $0 != "_" }
        if a.hasSuffix("optimizer") { a.removeLast("optimizer".count) }
        switch a {
        case "gd", "sgd", "gradientdescent": self = .gd
        case "momentum": self = .momentum
        case "adam": self = .adam
        case "adagrad": self = .adagrad
        case "adadelta": self = .adadelta
        case "adagradda": self = .adagradda
        case "ftrl": self = .ftrl
        case "proximalgd", "proximalsgd", "proximalgradientdescent": self = .proximalgd
        case "proximaladagrad": self = .proximaladagrad
        case "rmsprop": self = .rmsprop
        default: return nil
        }
    }

    static var allValueStrings: [String] { allCases.map(\.rawValue) }

    /// TensorFlow's name for it.
    var tensorFlowName: String {
        switch self {
        case .gd: return "GradientDescent"
        case .momentum: return "Momentum"
        case .adam: return "Adam"
        case .adagrad: return "Adagrad"
        case .adadelta: return "Adadelta"
        case .adagradda: return "AdagradDA"
        case .ftrl: return "Ftrl"
        case .proximalgd: return "ProximalGradientDescent"
        case .proximaladagrad: return "ProximalAdagrad"
        case .rmsprop: return "RMSProp"
        }
    }

    /// The kind of a configured optimizer.
    init?(_ optimizer: any Optimizer) {
        switch optimizer {
        case is GradientDescent: self = .gd
        case is Momentum: self = .momentum
        case is Adam: self = .adam
        case is Adagrad: self = .adagrad
        case is Adadelta: self = .adadelta
        case is AdagradDA: self = .adagradda
        case is Ftrl: self = .ftrl
        case is ProximalGradientDescent: self = .proximalgd
        case is ProximalAdagrad: self = .proximaladagrad
        case is RMSProp: self = .rmsprop
        default: return nil
        }
    }

    /// The optimizer with the library's defaults for every hyper-parameter
    /// (`Optimizer`'s inits hold them; nothing here repeats them).
    var defaults: any Optimizer {
        switch self {
        case .gd: return GradientDescent()
        case .momentum: return Momentum()
        case .adam: return Adam()
        case .adagrad: return Adagrad()
        case .adadelta: return Adadelta()
        case .adagradda: return AdagradDA()
        case .ftrl: return Ftrl()
        case .proximalgd: return ProximalGradientDescent()
        case .proximaladagrad: return ProximalAdagrad()
        case .rmsprop: return RMSProp()
        }
    }

    /// The optimizer with the library's defaults for every hyper-parameter not in `h`.
    func make(learningRate lr: Float, momentum: Float, _ h: HyperParameters = HyperParameters()) -> any Optimizer {
        switch defaults {
        case is GradientDescent: return GradientDescent(learningRate: lr)
        case let d as Momentum: return Momentum(learningRate: lr, momentum: momentum, nesterov: h.nesterov || d.nesterov)
        case let d as Adam:
            return Adam(learningRate: lr, beta1: h.beta1 ?? d.beta1, beta2: h.beta2 ?? d.beta2, epsilon: h.epsilon ?? d.epsilon)
        case let d as Adagrad: return Adagrad(learningRate: lr, initialAccumulatorValue: h.initialAccumulator ?? d.initialAccumulatorValue)
        case let d as Adadelta: return Adadelta(learningRate: lr, rho: h.rho ?? d.rho, epsilon: h.epsilon ?? d.epsilon)
        case let d as AdagradDA:
            return AdagradDA(learningRate: lr,
                             initialGradientSquaredAccumulatorValue: h.initialAccumulator ?? d.initialGradientSquaredAccumulatorValue,
                             l1: h.l1Strength ?? d.l1, l2: h.l2Strength ?? d.l2)
        case let d as Ftrl:
            return Ftrl(learningRate: lr, learningRatePower: h.lrPower ?? d.learningRatePower,
                        initialAccumulatorValue: h.initialAccumulator ?? d.initialAccumulatorValue, l1: h.l1Strength ?? d.l1,
                        l2: h.l2Strength ?? d.l2, l2Shrinkage: h.l2Shrinkage ?? d.l2Shrinkage, beta: h.ftrlBeta ?? d.beta)
        case let d as ProximalGradientDescent:
            return ProximalGradientDescent(learningRate: lr, l1: h.l1Strength ?? d.l1, l2: h.l2Strength ?? d.l2)
        case let d as ProximalAdagrad:
            return ProximalAdagrad(learningRate: lr, initialAccumulatorValue: h.initialAccumulator ?? d.initialAccumulatorValue,
                                   l1: h.l1Strength ?? d.l1, l2: h.l2Strength ?? d.l2)
        case let d as RMSProp:
            return RMSProp(learningRate: lr, decay: h.decay ?? d.decay, momentum: h.rmsMomentum ?? d.momentum,
                           epsilon: h.epsilon ?? d.epsilon, centered: h.centered || d.centered)
        default: preconditionFailure("OptimizerKind.defaults returned an optimizer make does not know")
        }
    }
}

/// A hyper-parameter as help texts show it: 0 and 1 without ".0", 1e-08 as 1e-8.
func shown(_ v: Float) -> String {
    v == v.rounded() && abs(v) < 1e6 ? String(Int(v)) : "\(v)".replacing("e-0", with: "e-")
}

/// Optimizer hyper-parameters beyond the learning rate (nil: the library's default).
struct HyperParameters: Equatable {
    var nesterov = false
    var centered = false
    var beta1: Float?, beta2: Float?, epsilon: Float?, rho: Float?, decay: Float?
    var initialAccumulator: Float?, l1Strength: Float?, l2Strength: Float?, l2Shrinkage: Float?
    var lrPower: Float?, ftrlBeta: Float?
    /// RMSProp's momentum (from --momentum, default 0).
    var rmsMomentum: Float?
}

/// What a `train` run uses once the flags are applied over the model's recipe.
struct ResolvedSettings {
    var optimizer: OptimizerKind
    var learningRate: Float
    var momentum: Float
    var batchSize: Int
    var epochs: Int
    var schedule: LearningRateSchedule

    init(model: ModelKind, optimizer: OptimizerKind?, learningRate: Float?, momentum: Float?,
         batchSize: Int?, epochs: Int?, lrDecay: Float? = nil) {
        let recipe = model.recipe
        let recipeKind = OptimizerKind(recipe.optimizer)
        self.optimizer = optimizer ?? recipeKind ?? .adam
        let sameOptimizer = self.optimizer == recipeKind
        self.learningRate = learningRate
            ?? (sameOptimizer ? recipe.optimizer : self.optimizer.defaults).learningRate
        self.momentum = momentum ?? ((sameOptimizer ? recipe.optimizer as? Momentum : nil) ?? Momentum()).momentum
        self.batchSize = batchSize ?? recipe.batchSize
        self.epochs = epochs ?? recipe.epochs
        // The model's decay unless --lr-decay says otherwise, whatever other flags
        // are typed: one flag never changes another's effect.
        if let lrDecay {
            self.schedule = lrDecay == 1 ? .constant : .exponentialDecay(rate: lrDecay)
        } else {
            self.schedule = recipe.schedule
        }
    }

    var optimizerDescription: String {
        var s = "\(optimizer.rawValue), learning rate \(learningRate)"
        if optimizer == .momentum { s += ", momentum \(momentum)" }
        switch schedule {
        case .exponentialDecay(let rate): s += ", ×\(rate) per epoch (--lr-decay)"
        case .step(let every, let factor): s += ", ×\(factor) every \(every) epochs"
        default: s += ", constant (--lr-decay 1)"
        }
        return s
    }
}
