import ArgumentParser
import Axon
import Foundation

/// `axon retrain --image-dir DIR`: TensorFlow's retrain.py — a new final layer
/// for a pretrained network, trained on the user's own folders of photos.
struct Retrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Retrain a pretrained network's final layer on your own photos (one sub-folder per class), as TensorFlow's retrain.py does.")

    @Option(help: ArgumentHelp("Folder of class folders holding JPEG or PNG photos.", valueName: "dir"))
    var imageDir: String

    @Option(help: ArgumentHelp("The pretrained network: \(Pretrained.names.joined(separator: ", ")), an Axon model file carrying its preprocessing, a GraphDef (.pb) that decodes JPEGs, or the course's inception-2015-12-05 directory.", valueName: "name|file|dir"))
    var model: String = "efficientnet-lite0"

    @Option(help: ArgumentHelp("The node whose output is the bottleneck (default: avg_pool, or pool_3/_reshape for a GraphDef).", valueName: "node"))
    var bottleneck: String?

    @Option(help: ArgumentHelp("Where each image's bottleneck is kept for later runs (default: bottlenecks/ in Axon's cache).", valueName: "dir"))
    var bottleneckDir: String?

    @Option(parsing: .unconditional, help: "Training steps.")
    var howManyTrainingSteps: Int = Retrainer.Settings().steps

    @Option(parsing: .unconditional, help: "Learning rate of the gradient descent.")
    var learningRate: Float = Retrainer.Settings().learningRate

    @Option(parsing: .unconditional, help: "Bottlenecks per step, drawn at random with replacement.")
    var trainBatchSize: Int = Retrainer.Settings().batchSize

    @Option(parsing: .unconditional, help: "Steps between evaluations (train accuracy, cross-entropy, validation accuracy).")
    var evalStepInterval: Int = Retrainer.Settings().evalInterval

    @Option(parsing: .unconditional, help: "Percentage of images for validation (by retrain.py's hash of the file name).")
    var validationPercentage: Double = 10

    @Option(parsing: .unconditional, help: "Percentage of images for the final test.")
    var testingPercentage: Double = 10

    @Option(help: ArgumentHelp("The retrained model: backbone, new layer and class names, for `axon classify --model`.", valueName: "file"))
    var outputModel: String = "retrained.safetensors"

    @Option(help: ArgumentHelp("The class labels, one per line.", valueName: "file"))
    var outputLabels: String = "retrained_labels.txt"

    @Flag(help: "Distortion: mirror half of the training images left-right at random (as retrain.py; bypasses the bottleneck cache).")
    var flipLeftRight = false

    @Option(parsing: .unconditional, help: ArgumentHelp("Distortion: a margin of P percent around the training images, cropped at a random place (retrain.py's --random_crop).", valueName: "P"))
    var randomCrop: Float = 0

    @Option(parsing: .unconditional, help: ArgumentHelp("Distortion: enlarge the training images by a random 0…P percent before the crop (retrain.py's --random_scale).", valueName: "P"))
    var randomScale: Float = 0

    @Option(parsing: .unconditional, help: ArgumentHelp("Distortion: multiply the training images' pixels by a random factor in [1 − P/100, 1 + P/100) (retrain.py's --random_brightness).", valueName: "P"))
    var randomBrightness: Float = 0

    @Option(parsing: .unconditional, help: "Seed of the batch draws, the distortions and the new layer's weights.")
    var seed: UInt64 = 1

    @OptionGroup var machine: MachineOptions

    func validate() throws {
        for (flag, value) in [("--how-many-training-steps", howManyTrainingSteps), ("--train-batch-size", trainBatchSize),
                              ("--eval-step-interval", evalStepInterval)] where value < 1 {
            throw ValidationError("\(flag) must be >= 1, got \(value)")
        }
        try checkBatchSize(trainBatchSize, flag: "--train-batch-size")
        guard learningRate > 0, learningRate.isFinite else { throw ValidationError("--learning-rate must be > 0, got \(learningRate)") }
        for (flag, v) in [("--random-crop", randomCrop), ("--random-scale", randomScale)] where !(v >= 0 && v <= 1000) {
            throw ValidationError("\(flag) must be a percentage in [0, 1000], got \(v)")
        }
        guard randomBrightness >= 0, randomBrightness <= 100 else {
            throw ValidationError("--random-brightness must be a percentage in [0, 100], got \(randomBrightness)")
        }
        try checkCanWrite(outputModel, flag: "--output-model")
        try checkCanWrite(outputLabels, flag: "--output-labels")
        if let bottleneckDir { try checkCanCreateDirectory(bottleneckDir, flag: "--bottleneck-dir") }
    }

    func run() throws {
        try machine.apply()
        let folder = try ImageFolder(directory: imageDir, validationPercentage: validationPercentage,
                                     testingPercentage: testingPercentage)
        print("\(folder.classNames.count) classes, \(folder.images.count) images in \(imageDir)"
              + (folder.skipped > 0 ? " (\(folder.skipped) files that are not JPEG or PNG skipped)" : ""))
        for name in folder.smallClasses { print("warning: class \"\(name)\" has fewer than 20 images") }
        var isDirectory: ObjCBool = false
        let path = Pretrained.names.contains(model.lowercased()) ? try ensurePretrained(model.lowercased())
            : FileManager.default.fileExists(atPath: model, isDirectory: &isDirectory) && isDirectory.boolValue
            ? "\(model)/\(InceptionLabels.graphFile)" : model
        var retrainer = try Retrainer(modelFile: path, bottleneck: bottleneck)
        let cache = bottleneckDir ?? Pretrained.cacheDirectory + "/bottlenecks"
        let distortions = Distortions(flipLeftRight: flipLeftRight, randomCrop: randomCrop, randomScale: randomScale,
                                      randomBrightness: randomBrightness)
        // With distortions, retrain.py makes the training bottlenecks afresh every
        // step; only the validation and testing images' bottlenecks are cached.
        let cached = distortions.isEmpty ? folder.images : folder.images.filter { $0.subset != .training }
        let start = monotonicSeconds()
        let x = try retrainer.bottlenecks(of: cached, cache: cache) { done, total in
            FileHandle.standardError.write(Data("\rbottlenecks \(done)/\(total)\(done == total ? "\n" : "")".utf8))
        }
        print("bottlenecks (\(retrainer.features) values each) ready in \(fixed(monotonicSeconds() - start, 1)) s, cached in \(cache)")
        func subset(_ s: ImageFolder.Subset) -> (x: Tensor, labels: [Int32]) {
            let rows = cached.indices.filter { cached[$0].subset == s }
            return (x.gatheringRows(rows), rows.map { Int32(cached[$0].label) })
        }
        let trainImages = folder.images(in: .training)
        let validation = subset(.validation), test = subset(.testing)
        print("training \(trainImages.count), validation \(validation.labels.count), testing \(test.labels.count) images")
        var settings = Retrainer.Settings()
        settings.steps = howManyTrainingSteps
        settings.learningRate = learningRate
        settings.batchSize = trainBatchSize
        settings.evalInterval = evalStepInterval
        settings.seed = seed
        let trainStart = monotonicSeconds()
        let makeBatch: ([Int]) throws -> Tensor
        if distortions.isEmpty {
            let train = subset(.training)
            makeBatch = { train.x.gatheringRows($0) }
        } else {
            print("distortions: \(distortions.summary); each training image is distorted and run through the network at every step (slow, as in retrain.py)")
            var g = SeededGenerator(seed: seed &+ 2)
            makeBatch = { picks in try retrainer.distortedBottlenecks(of: picks.map { trainImages[$0] }, distortions: distortions, generator: &g) }
        }
        var head = try Retrainer.trainHead(labels: trainImages.map { Int32($0.label) }, features: retrainer.features,
                                           validation: validation.labels.isEmpty ? nil : validation,
                                           classes: folder.classNames.count, settings: settings, batch: makeBatch) { e in
            var line = "step \(e.step): train accuracy \(percent(e.trainAccuracy)), cross-entropy \(fixed(Double(e.crossEntropy), 4))"
            if let v = e.validationAccuracy { line += ", validation accuracy \(percent(v))" }
            print(line)
        }
        print("trained in \(fixed(monotonicSeconds() - trainStart, 1)) s")
        try retrainer.saveRetrainedModel(head: head, classNames: folder.classNames, to: outputModel)
        try writeFileAtomically(Array((folder.classNames.joined(separator: "\n") + "\n").utf8), to: outputLabels)
        print("saved the model to \(outputModel) and the labels to \(outputLabels)")
        if !test.labels.isEmpty {
            let predicted = try predict(&head, test.x)
            let correct = zip(predicted, test.labels).filter { $0 == Int($1) }.count
            print("final test accuracy \(percent(Double(correct) / Double(test.labels.count))) (\(correct)/\(test.labels.count))")
        }
    }
}
