/// The reference networks of the course, ready to train on 28×28×1 images
/// with 10 classes (MNIST, Fashion-MNIST; `classes` changes the count), and a
/// small CNN for colour images of any size. Each returns an unbuilt
/// `Sequential`: parameters are created from `seed` at the first forward pass
/// (or `build(inputShape: [28, 28, 1])`).
public enum Models {
    /// The pooling of the convolutional models (the course's chapter 5 teaches all three).
    public enum Pooling: String, Sendable, CaseIterable {
        case max
        case average = "avg"
        case stochastic

        /// A pooling layer of this kind.
        public func layer(poolSize: Int = 2, stride: Int = 2, padding: Padding = .valid) -> any Layer {
            switch self {
            case .max: return MaxPool2D(poolSize: poolSize, stride: stride, padding: padding)
            case .average: return AvgPool2D(poolSize: poolSize, stride: stride, padding: padding)
            case .stochastic: return StochasticPool2D(poolSize: poolSize, stride: stride, padding: padding)
            }
        }
    }

    /// Softmax regression, the course's first MNIST model: one dense layer from
    /// the flattened pixels to `classes` logits (the softmax is in the loss, or a
    /// `Softmax` layer appended for the quadratic cost).
    public static func softmaxRegression(classes: Int = 10, seed: UInt64 = 42) -> Sequential {
        Sequential(seed: seed) {
            Flatten()
            Dense(classes, kernelInitializer: .zeros)
        }
    }

    /// LeNet-5 with ReLU: conv 6@5×5 SAME, max-pool 2, conv 16@5×5 VALID,
    /// max-pool 2, dense 120, 84, 10 (the DESIGN.md example); `pool` swaps the pooling.
    public static func lenet5(pool: Pooling = .max, classes: Int = 10, seed: UInt64 = 42) -> Sequential {
        Sequential(seed: seed) {
            Conv2D(filters: 6, kernelSize: 5, padding: .same, activation: .relu)
            pool.layer()
            Conv2D(filters: 16, kernelSize: 5, padding: .valid, activation: .relu)
            pool.layer()
            Flatten()
            Dense(120, activation: .relu); Dense(84, activation: .relu); Dense(classes)
        }
    }

    /// Multilayer perceptron 784-500-300-10 with ReLU and dropout.
    public static func mlp(dropout: Float = 0.2, classes: Int = 10, seed: UInt64 = 42) -> Sequential {
        Sequential(seed: seed) {
            Flatten()
            Dense(500, activation: .relu)
            if dropout > 0 { Dropout(rate: dropout) }
            Dense(300, activation: .relu)
            if dropout > 0 { Dropout(rate: dropout) }
            Dense(classes)
        }
    }

    /// The TensorFlow "deep MNIST" CNN: conv 32@5×5 SAME, pool, conv 64@5×5
    /// SAME, pool, dense 1024, dropout 0.5, dense 10; weights truncated normal
    /// (std 0.1), biases 0.1, as the course initialises them.
    public static func deepMNIST(dropout: Float = 0.5, pool: Pooling = .max, classes: Int = 10, seed: UInt64 = 42) -> Sequential {
        let w = Initializer.truncatedNormal(std: 0.1), b = Initializer.constant(0.1)
        return Sequential(seed: seed) {
            Conv2D(filters: 32, kernelSize: 5, padding: .same, activation: .relu, kernelInitializer: w, biasInitializer: b)
            pool.layer(padding: .same)
            Conv2D(filters: 64, kernelSize: 5, padding: .same, activation: .relu, kernelInitializer: w, biasInitializer: b)
            pool.layer(padding: .same)
            Flatten()
            Dense(1024, activation: .relu, kernelInitializer: w, biasInitializer: b)
            if dropout > 0 { Dropout(rate: dropout) }
            Dense(classes, kernelInitializer: w, biasInitializer: b)
        }
    }

    /// Reads each 28×28 image as 28 steps of 28 pixels through an LSTM, then a
    /// dense layer on the last hidden state.
    public static func lstmClassifier(hidden: Int = 128, classes: Int = 10, seed: UInt64 = 42) -> Sequential {
        Sequential(seed: seed) {
            Reshape([28, 28])
            LSTM(units: hidden)
            Dense(classes)
        }
    }

    /// A small CNN for colour (or grey) images of any size: three conv 3×3 SAME
    /// + ReLU blocks of 32, 64 and 64 filters, the first two max-pooled by 2, global
    /// average pooling, dense 64 + ReLU, dropout, dense `classes`. Its parameter
    /// count does not depend on the input size (the global pooling); inputs need
    /// at least 4×4 pixels.
    public static func smallCNN(dropout: Float = 0.3, pool: Pooling = .max, classes: Int = 10, seed: UInt64 = 42) -> Sequential {
        Sequential(seed: seed) {
            Conv2D(filters: 32, kernelSize: 3, padding: .same, activation: .relu)
            pool.layer()
            Conv2D(filters: 64, kernelSize: 3, padding: .same, activation: .relu)
            pool.layer()
            Conv2D(filters: 64, kernelSize: 3, padding: .same, activation: .relu)
            GlobalAveragePool2D()
            Dense(64, activation: .relu)
            if dropout > 0 { Dropout(rate: dropout) }
            Dense(classes)
        }
    }

    /// Names accepted by `named(_:)`.
    public static let names = ["softmax", "lenet5", "mlp", "deep-mnist", "lstm", "small-cnn"]

    /// The model called `name` (see `names`) with `classes` outputs.
    public static func named(_ name: String, classes: Int = 10, seed: UInt64 = 42) throws -> Sequential {
        switch name.lowercased() {
        case "softmax", "softmax-regression": return softmaxRegression(classes: classes, seed: seed)
        case "lenet5", "lenet-5", "lenet": return lenet5(classes: classes, seed: seed)
        case "mlp": return mlp(classes: classes, seed: seed)
        case "deep-mnist", "deepmnist", "deep_mnist", "cnn": return deepMNIST(classes: classes, seed: seed)
        case "lstm", "lstm-classifier": return lstmClassifier(classes: classes, seed: seed)
        case "small-cnn", "smallcnn", "small_cnn": return smallCNN(classes: classes, seed: seed)
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
        case "softmax", "softmax-regression":
            // The course's plain gradient descent with batch 100, at 0.1 instead of its 0.5 (for
            // MNIST digits): on Fashion-MNIST cross-entropy oscillates at 0.5 (74.8% after 5 epochs
            // against 82.9% at 0.1).
            return Recipe(optimizer: GradientDescent(learningRate: 0.1), epochs: 5, batchSize: 100, schedule: .constant)
        case "lenet5", "lenet-5", "lenet":
            return Recipe(optimizer: Adam(learningRate: 0.002), epochs: 10, batchSize: 64,
                          schedule: .exponentialDecay(rate: 0.85))
        case "mlp":
            return Recipe(optimizer: Adam(learningRate: 0.001), epochs: 15, batchSize: 64,
                          schedule: .exponentialDecay(rate: 0.9))
        case "deep-mnist", "deepmnist", "deep_mnist", "cnn":
            return Recipe(optimizer: Adam(learningRate: 0.0005), epochs: 10, batchSize: 64,
                          schedule: .exponentialDecay(rate: 0.85))
        case "lstm", "lstm-classifier":
            return Recipe(optimizer: Adam(learningRate: 0.002), epochs: 10, batchSize: 64,
                          schedule: .exponentialDecay(rate: 0.85))
        case "small-cnn", "smallcnn", "small_cnn":
            return Recipe(optimizer: Adam(learningRate: 0.002), epochs: 15, batchSize: 32,
                          schedule: .exponentialDecay(rate: 0.9))
        case "inception-v3", "inceptionv3", "inception_v3":
            // Training from scratch on one's own photos: Adam rather than the paper's RMSProp
            // 0.045 (tuned for ImageNet on 50 GPUs), its decay of 0.94 per epoch.
            return Recipe(optimizer: Adam(learningRate: 0.001), epochs: 20, batchSize: 32,
                          schedule: .exponentialDecay(rate: 0.94))
        default:
            throw AxonError.invalidArgument("unknown model \"\(name)\"; expected one of \(names.joined(separator: ", "))")
        }
    }
}
