/// The reference networks of the course, ready to train on 28×28×1 images
/// with 10 classes (MNIST, Fashion-MNIST). Each returns an unbuilt
/// `Sequential`: parameters are created from `seed` at the first forward pass
/// (or `build(inputShape: [28, 28, 1])`).
public enum Models {
    /// LeNet-5 with ReLU: conv 6@5×5 SAME, max-pool 2, conv 16@5×5 VALID,
    /// max-pool 2, dense 120, 84, 10 (the DESIGN.md example).
    public static func lenet5(seed: UInt64 = 42) -> Sequential {
        Sequential(seed: seed) {
            Conv2D(filters: 6, kernelSize: 5, padding: .same, activation: .relu)
            MaxPool2D(poolSize: 2, stride: 2)
            Conv2D(filters: 16, kernelSize: 5, padding: .valid, activation: .relu)
            MaxPool2D(poolSize: 2, stride: 2)
            Flatten()
            Dense(120, activation: .relu); Dense(84, activation: .relu); Dense(10)
        }
    }

    /// Multilayer perceptron 784-500-300-10 with ReLU and dropout.
    public static func mlp(dropout: Float = 0.2, seed: UInt64 = 42) -> Sequential {
        Sequential(seed: seed) {
            Flatten()
            Dense(500, activation: .relu)
            if dropout > 0 { Dropout(rate: dropout) }
            Dense(300, activation: .relu)
            if dropout > 0 { Dropout(rate: dropout) }
            Dense(10)
        }
    }

    /// The TensorFlow "deep MNIST" CNN: conv 32@5×5 SAME, pool, conv 64@5×5
    /// SAME, pool, dense 1024, dropout 0.5, dense 10; weights truncated normal
    /// (std 0.1), biases 0.1, as the course initialises them.
    public static func deepMNIST(dropout: Float = 0.5, seed: UInt64 = 42) -> Sequential {
        let w = Initializer.truncatedNormal(std: 0.1), b = Initializer.constant(0.1)
        return Sequential(seed: seed) {
            Conv2D(filters: 32, kernelSize: 5, padding: .same, activation: .relu, kernelInitializer: w, biasInitializer: b)
            MaxPool2D(poolSize: 2, stride: 2, padding: .same)
            Conv2D(filters: 64, kernelSize: 5, padding: .same, activation: .relu, kernelInitializer: w, biasInitializer: b)
            MaxPool2D(poolSize: 2, stride: 2, padding: .same)
            Flatten()
            Dense(1024, activation: .relu, kernelInitializer: w, biasInitializer: b)
            if dropout > 0 { Dropout(rate: dropout) }
            Dense(10, kernelInitializer: w, biasInitializer: b)
        }
    }

    /// Reads each 28×28 image as 28 steps of 28 pixels through an LSTM, then a
    /// dense layer on the last hidden state.
    public static func lstmClassifier(hidden: Int = 128, seed: UInt64 = 42) -> Sequential {
        Sequential(seed: seed) {
            Reshape([28, 28])
            LSTM(units: hidden)
            Dense(10)
        }
    }

    /// Names accepted by `named(_:)`.
    public static let names = ["lenet5", "mlp", "deep-mnist", "lstm"]

    /// The model called `name` (see `names`).
    public static func named(_ name: String, seed: UInt64 = 42) throws -> Sequential {
        switch name.lowercased() {
        case "lenet5", "lenet-5", "lenet": return lenet5(seed: seed)
        case "mlp": return mlp(seed: seed)
        case "deep-mnist", "deepmnist", "deep_mnist", "cnn": return deepMNIST(seed: seed)
        case "lstm", "lstm-classifier": return lstmClassifier(seed: seed)
        default:
            throw AxonError.invalidArgument("unknown model \"\(name)\"; expected one of \(names.joined(separator: ", "))")
        }
    }

    /// Training settings that reach the accuracy goals on Fashion-MNIST for
    /// each model (optimizer, epochs, batch size, schedule).
    public struct Recipe: Sendable {
        public var optimizer: any Optimizer
        public var epochs: Int
        public var batchSize: Int
        public var schedule: LearningRateSchedule
    }

    /// The recommended recipe for the model called `name`.
    public static func recipe(for name: String) throws -> Recipe {
        switch name.lowercased() {
        case "lenet5", "lenet-5", "lenet":
            return Recipe(optimizer: Momentum(learningRate: 0.01, momentum: 0.9), epochs: 10, batchSize: 64,
                          schedule: .constant)
        case "mlp":
            return Recipe(optimizer: Adam(learningRate: 0.001), epochs: 10, batchSize: 64,
                          schedule: .constant)
        case "deep-mnist", "deepmnist", "deep_mnist", "cnn":
            return Recipe(optimizer: Adam(learningRate: 1e-4), epochs: 10, batchSize: 50, schedule: .constant)
        case "lstm", "lstm-classifier":
            return Recipe(optimizer: Adam(learningRate: 0.001), epochs: 10, batchSize: 64, schedule: .constant)
        default:
            throw AxonError.invalidArgument("unknown model \"\(name)\"; expected one of \(names.joined(separator: ", "))")
        }
    }
}
