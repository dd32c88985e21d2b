import ArgumentParser

/// The four reference models of `axon train --model`.
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
}

/// The training settings of each model when no flag overrides them — the
/// course's settings for the program the model comes from. This table is the
/// one place they are kept.
struct TrainingDefaults {
    var optimizer: OptimizerKind
    var learningRate: Float
    var momentum: Float = 0.9
    var batchSize: Int
    var epochs: Int

    static func forModel(_ model: ModelKind) -> TrainingDefaults {
        switch model {
        case .lenet5: return TrainingDefaults(optimizer: .momentum, learningRate: 0.01, batchSize: 64, epochs: 10)
        case .cnn: return TrainingDefaults(optimizer: .adam, learningRate: 1e-4, batchSize: 50, epochs: 20)
        case .lstm: return TrainingDefaults(optimizer: .adam, learningRate: 1e-3, batchSize: 128, epochs: 10)
        case .mlp: return TrainingDefaults(optimizer: .adam, learningRate: 1e-3, batchSize: 100, epochs: 20)
        }
    }
}
