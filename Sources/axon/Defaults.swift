import ArgumentParser
import Axon

/// The four reference models of `axon train --model`. Their default training
/// settings live in one place, `Models.recipe(for:)`.
enum ModelKind: String, CaseIterable, ExpressibleByArgument {
    case lenet5, mlp, cnn, lstm

    var displayName: String {
        switch self {
        case .lenet5: return "LeNet-5"
        case .mlp: return "MLP"
        case .cnn: return "deep-MNIST CNN"
        case .lstm: return "LSTM classifier"
        }
    }

    func build(seed: UInt64) throws -> Sequential { try Models.named(rawValue, seed: seed) }
    var recipe: Models.Recipe { try! Models.recipe(for: rawValue) }  // every case is a known name
}

/// Optimizers selectable from the command line; TensorFlow's class names are accepted too.
enum OptimizerKind: String, CaseIterable, ExpressibleByArgument {
    case gd, momentum, adam

    init?(argument: String) {
        switch argument.lowercased() {
        case "gd", "gradientdescent": self = .gd
        case "momentum": self = .momentum
        case "adam": self = .adam
        default: return nil
        }
    }

    /// The kind of a configured optimizer (nil for the ones the CLI does not offer).
    init?(_ optimizer: any Optimizer) {
        switch optimizer {
        case is GradientDescent: self = .gd
        case is Momentum: self = .momentum
        case is Adam: self = .adam
        default: return nil
        }
    }

    /// Learning rate when neither the flag nor the model's recipe gives one
    /// (the recipe's rate belongs to the recipe's optimizer only).
    var fallbackLearningRate: Float {
        switch self {
        case .gd, .momentum: return 0.01
        case .adam: return 0.001
        }
    }

    func make(learningRate: Float, momentum: Float) -> any Optimizer {
        switch self {
        case .gd: return GradientDescent(learningRate: learningRate)
        case .momentum: return Momentum(learningRate: learningRate, momentum: momentum)
        case .adam: return Adam(learningRate: learningRate)
        }
    }
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
         batchSize: Int?, epochs: Int?) {
        let recipe = model.recipe
        let recipeKind = OptimizerKind(recipe.optimizer)
        self.optimizer = optimizer ?? recipeKind ?? .adam
        let sameOptimizer = self.optimizer == recipeKind
        self.learningRate = learningRate
            ?? (sameOptimizer ? recipe.optimizer.learningRate : self.optimizer.fallbackLearningRate)
        self.momentum = momentum ?? ((sameOptimizer ? recipe.optimizer as? Momentum : nil)?.momentum ?? 0.9)
        self.batchSize = batchSize ?? recipe.batchSize
        self.epochs = epochs ?? recipe.epochs
        // A schedule tuned for the recipe's optimizer and rate would be wrong for another one.
        self.schedule = sameOptimizer && learningRate == nil ? recipe.schedule : .constant
    }

    var optimizerDescription: String {
        var s = "\(optimizer.rawValue), learning rate \(learningRate)"
        if optimizer == .momentum { s += ", momentum \(momentum)" }
        if case .exponentialDecay(let rate) = schedule { s += ", decay \(rate) per epoch" }
        if case .step(let every, let factor) = schedule { s += ", ×\(factor) every \(every) epochs" }
        return s
    }
}
