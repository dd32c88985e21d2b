import Axon
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The model workloads of issue #6, defined once and used by both the
// package-benchmark target `Models` and the `axon-workloads` executable that
// `compare.py` runs against TensorFlow. tf_workloads.py mirrors every choice
// made here (models, optimizers, batches), so keep the two in step.

public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Peak resident set size of this process so far, in MiB (ru_maxrss is KiB on Linux).
public func peakResidentMiB() -> Double {
    var usage = rusage()
    #if os(Linux)
    getrusage(RUSAGE_SELF.rawValue, &usage)
    #else
    getrusage(RUSAGE_SELF, &usage)
    #endif
    #if os(Linux)
    return Double(usage.ru_maxrss) / 1024
    #else
    return Double(usage.ru_maxrss) / (1024 * 1024)
    #endif
}

/// A fixed set of real training batches: batch k holds examples
/// [k·size, (k+1)·size) of the training set, in file order (Fashion-MNIST's
/// training order is already mixed). Prepared before timing and cycled, so the
/// timings measure the network, not the data pipeline; TF gets the same.
public struct Batches: Sendable {
    public let images: [Tensor]
    public let labels: [[Int32]]
    public init(_ data: Dataset, size: Int, count: Int) {
        var images: [Tensor] = [], labels: [[Int32]] = []
        for k in 0..<count {
            let begin = (k * size) % max(data.count - size + 1, 1)
            let b = data.batch(begin..<(begin + size))
            images.append(b.images); labels.append(b.labels)
        }
        self.images = images
        self.labels = labels
    }
}

public enum ModelName: String, CaseIterable, Sendable {
    case lenet5, deepMNIST = "deep-mnist", lstm

    public func make() -> Sequential {
        switch self {
        case .lenet5: return Models.lenet5(seed: 1)
        case .deepMNIST: return Models.deepMNIST(seed: 1)
        case .lstm: return Models.lstmClassifier(hidden: 128, seed: 1)
        }
    }

    /// The optimizer each workload trains with (issue #6).
    public func optimizer() -> any Optimizer {
        switch self {
        case .lenet5: return Momentum(learningRate: 0.01, momentum: 0.9)
        case .deepMNIST: return Adam(learningRate: 1e-4)
        case .lstm: return Adam(learningRate: 1e-3)
        }
    }
}

/// One model, its trainer and its batches; `step()` is one training step
/// (forward, loss, backward, optimizer update).
public final class TrainingWorkload: @unchecked Sendable {
    public var model: Sequential
    public let trainer: Trainer
    public let batches: Batches
    public let batchSize: Int
    private var next = 0

    public init(_ name: ModelName, data: Dataset, batchSize: Int, batchCount: Int = 16) throws {
        model = name.make()
        trainer = Trainer(loss: .softmaxCrossEntropy, optimizer: name.optimizer())
        batches = Batches(data, size: batchSize, count: batchCount)
        self.batchSize = batchSize
        try step()  // builds the parameters and every layer's workspaces
    }

    @discardableResult
    public func step() throws -> Float {
        let k = next
        next = (next + 1) % batches.images.count
        return try trainer.step(&model, images: batches.images[k], labels: batches.labels[k]).loss
    }
}

/// Inference (training: false) of a freshly initialised model on one fixed
/// real batch; the result's values do not change the cost of the pass.
public final class InferenceWorkload: @unchecked Sendable {
    public var model: Sequential
    public let input: Tensor
    public let batchSize: Int

    public init(_ name: ModelName, data: Dataset, batchSize: Int) throws {
        model = name.make()
        input = Batches(data, size: batchSize, count: 1).images[0]
        self.batchSize = batchSize
        try run()
    }

    /// The frozen TensorFlow 2 Inception-v3 that `make check-inception` writes
    /// (tools/graphdef/inception_full.py), imported and run on Axon's kernels.
    public static func importedInception(batchSize: Int, path: String) throws -> ImageWorkload {
        guard FileManager.default.fileExists(atPath: path) else {
            throw AxonError.file(path: path, "no such file: the imported Inception-v3 graph is missing; compare.py writes it "
                                 + "with tools/graphdef/inception_full.py (or run `make check-inception`)")
        }
        return try ImageWorkload(GraphDefFile.load(path).graph, side: 299, batchSize: batchSize)
    }

    @discardableResult
    public func run() throws -> Tensor {
        try model.forward(input, training: false)
    }
}

/// Inference of an ImageNet network (BatchNorm folded as Axon does at
/// inference, up to its softmax) on random images in [-1, 1):
/// - Inception-v3 with Keras' topology and fresh weights, 299×299×3; TensorFlow
///   runs `keras.applications.InceptionV3(weights=None)`;
/// - EfficientNet-Lite0 with its pretrained weights, 224×224×3: the model file
///   `make pretrained` writes; tf_workloads.py builds the same network in Keras
///   from the same weights file.
public final class ImageWorkload: @unchecked Sendable {
    public static let efficientNetName = "efficientnet-lite0"
    public var model: any Network
    public let input: Tensor
    public let batchSize: Int

    init(_ network: any Network, side: Int, batchSize: Int) throws {
        model = try network.foldedForInference()
        var g = SeededGenerator(seed: 2)
        input = try Tensor(shape: [batchSize, side, side, 3], scalars: (0..<(batchSize * side * side * 3)).map { _ in
            2 * g.nextUniform() - 1
        })
        self.batchSize = batchSize
        try run()
    }

    public static func inceptionV3(batchSize: Int) throws -> ImageWorkload {
        var net = try Models.inceptionV3(seed: 1)
        try net.build(inputShapes: [[299, 299, 3]])
        return try ImageWorkload(net, side: 299, batchSize: batchSize)
    }

    public static func efficientNetLite0(batchSize: Int, path: String = Pretrained.modelPath(efficientNetName)) throws -> ImageWorkload {
        guard FileManager.default.fileExists(atPath: path) else {
            throw AxonError.file(path: path, "no such file: the pretrained EfficientNet-Lite0 model file is missing; "
                                 + "run `make pretrained` first (in Axon's source tree; it fetches the weights once)")
        }
        return try ImageWorkload(ModelFile.load(from: path).model, side: 224, batchSize: batchSize)
    }

    /// The frozen TensorFlow 2 Inception-v3 that `make check-inception` writes
    /// (tools/graphdef/inception_full.py), imported and run on Axon's kernels.
    public static func importedInception(batchSize: Int, path: String) throws -> ImageWorkload {
        guard FileManager.default.fileExists(atPath: path) else {
            throw AxonError.file(path: path, "no such file: the imported Inception-v3 graph is missing; compare.py writes it "
                                 + "with tools/graphdef/inception_full.py (or run `make check-inception`)")
        }
        return try ImageWorkload(GraphDefFile.load(path).graph, side: 299, batchSize: batchSize)
    }

    @discardableResult
    public func run() throws -> Tensor {
        try model.forward(input, training: false)
    }
}
