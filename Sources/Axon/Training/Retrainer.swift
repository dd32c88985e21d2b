import Foundation

/// Transfer learning as TensorFlow's `retrain.py` does it: a pretrained
/// network's features ("bottlenecks") are computed once per image, and only a
/// new softmax layer is trained on them; the result is one model file holding
/// the pretrained layers, the new layer and the class names, which
/// `axon classify` uses directly.
public struct Retrainer {
    /// The pretrained network, with BatchNorm folded (it is not trained).
    public private(set) var backbone: Graph
    /// The node whose output is the bottleneck, e.g. "avg_pool".
    public let bottleneck: String
    public let preprocessing: ImagePreprocessing
    /// Identifies the backbone's file: bottlenecks cached for another file are not reused.
    public let fingerprint: String
    /// Length of one bottleneck.
    public let features: Int

    /// Loads the pretrained network at `path`: an Axon model file carrying its
    /// preprocessing (as the files `axon pretrained` writes do; bottleneck
    /// "avg_pool" by default) or a TensorFlow GraphDef that decodes JPEGs itself,
    /// like the course's classify_image_graph_def.pb (bottleneck "pool_3/_reshape"
    /// by default). The bottleneck must be a node with a vector output.
    public init(modelFile path: String, bottleneck: String? = nil) throws {
        let bytes = try readWholeFile(path)
        let graph: Graph, preprocessing: ImagePreprocessing
        if path.hasSuffix(".pb") {
            let imported = try GraphDefFile.load(path)
            guard let p = imported.preprocessing else {
                throw AxonError.file(path: path, "takes a tensor (\(imported.inputName)), not a JPEG; retraining needs a graph that decodes images itself")
            }
            (graph, preprocessing) = (imported.graph, p)
        } else {
            let loaded = try ModelFile.decode(bytes, path: path)
            guard let g = loaded.model as? Graph else {
                throw AxonError.file(path: path, "holds a \(type(of: loaded.model).kind), not a Graph with a bottleneck node")
            }
            guard let p = try Pretrained.preprocessing(in: loaded.metadata) else {
                throw AxonError.file(path: path, "carries no image preprocessing (\(Pretrained.preprocessingKey)); use a model made by `axon pretrained`")
            }
            (graph, preprocessing) = (g, p)
        }
        let bottleneck = bottleneck ?? (path.hasSuffix(".pb") ? "pool_3/_reshape" : "avg_pool")
        guard let row = try graph.summaryRows(for: graph.inputShapes ?? []).first(where: { $0.name == bottleneck }),
              row.outputShape.count == 1 else {
            throw AxonError.file(path: path, "has no node \"\(bottleneck)\" with a vector output to take bottlenecks from")
        }
        backbone = try graph.foldedForInference()
        self.bottleneck = bottleneck
        self.preprocessing = preprocessing
        features = row.outputShape[0]
        fingerprint = String(SHA1.hex(bytes).prefix(16))
        unfolded = graph
    }

    /// The backbone as saved (BatchNorm not folded), for the retrained model file.
    private let unfolded: Graph

    /// The bottleneck of every image, [images.count, features], in order. With
    /// `cache`, each image's bottleneck is stored in
    /// `<cache>/<fingerprint>/<class folder>/<file name>.f32` (written atomically)
    /// and read back on later calls instead of being computed.
    public mutating func bottlenecks(of images: [ImageFolder.Image], cache: String? = nil, batchSize: Int = 16,
                                     progress: (_ done: Int, _ total: Int) -> Void = { _, _ in }) throws -> Tensor {
        var out = [Float](repeating: 0, count: images.count * features)
        var pending: [Int] = []
        func cachePath(_ image: ImageFolder.Image) -> String? {
            guard let cache else { return nil }
            let url = URL(fileURLWithPath: image.path)
            return "\(cache)/\(fingerprint)/\(url.deletingLastPathComponent().lastPathComponent)/\(url.lastPathComponent).f32"
        }
        for (i, image) in images.enumerated() {
            if let path = cachePath(image), let bytes = try? readWholeFile(path), bytes.count == features * 4 {
                bytes.withUnsafeBytes { raw in
                    for k in 0..<features { out[i * features + k] = Float(bitPattern: raw.load(fromByteOffset: 4 * k, as: UInt32.self).littleEndian) }
                }
            } else {
                pending.append(i)
            }
        }
        progress(images.count - pending.count, images.count)
        for start in stride(from: 0, to: pending.count, by: batchSize) {
            let chunk = Array(pending[start..<min(start + batchSize, pending.count)])
            let x = try preprocessing.batch(chunk.map { try RGBImage.read(images[$0].path) })
            let y = try backbone.forward([x], outputs: [bottleneck])[0]
            for (row, i) in chunk.enumerated() {
                let values = Array(y.scalars[(row * features)..<((row + 1) * features)])
                out.replaceSubrange((i * features)..<((i + 1) * features), with: values)
                if let path = cachePath(images[i]) {
                    try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path,
                                                            withIntermediateDirectories: true)
                    try writeFileAtomically(values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian, Array.init) }, to: path)
                }
            }
            progress(images.count - pending.count + start + chunk.count, images.count)
        }
        return Tensor(uncheckedShape: [images.count, features], scalars: out)
    }

    /// The settings of `retrain.py` that Axon keeps, with its defaults.
    public struct Settings: Sendable {
        public var steps = 4000
        public var learningRate: Float = 0.01
        public var batchSize = 100
        public var evalInterval = 10
        public var seed: UInt64 = 1
        public init() {}
    }

    /// One line of `retrain.py`'s log: the step's training batch and the whole validation set.
    public struct Evaluation: Sendable {
        public var step: Int
        public var trainAccuracy: Double
        public var crossEntropy: Float
        public var validationAccuracy: Double?
    }

    /// Trains a new softmax layer (weights truncated normal σ 0.001, bias 0, plain
    /// gradient descent) on bottlenecks: batches drawn at random with replacement
    /// from `train`, an evaluation every `evalInterval` steps and at the last.
    public static func trainHead(train: (x: Tensor, labels: [Int32]), validation: (x: Tensor, labels: [Int32])?, classes: Int,
                                 settings: Settings, report: (Evaluation) -> Void = { _ in }) throws -> Dense {
        guard train.x.shape.first == train.labels.count, train.x.rank == 2 else {
            throw AxonError.invalidArgument("retrain: \(train.labels.count) labels for bottlenecks of shape \(train.x.shape)")
        }
        return try trainHead(labels: train.labels, features: train.x.shape[1], validation: validation, classes: classes,
                             settings: settings, batch: { train.x.gatheringRows($0) }, report: report)
    }

    /// `trainHead` with each step's bottlenecks made by `batch` from the indices
    /// drawn into `labels` (for distorted images, made afresh every step).
    public static func trainHead(labels: [Int32], features: Int, validation: (x: Tensor, labels: [Int32])?, classes: Int,
                                 settings: Settings, batch: ([Int]) throws -> Tensor,
                                 report: (Evaluation) -> Void = { _ in }) throws -> Dense {
        guard labels.count > 0 else {
            throw AxonError.invalidArgument("retrain: no training images (every image fell into validation or testing?)")
        }
        guard settings.steps >= 1, settings.batchSize >= 1, settings.evalInterval >= 1 else {
            throw AxonError.invalidArgument("retrain: steps, batch size and evaluation interval must be >= 1")
        }
        var head = Sequential(seed: settings.seed) { Dense(classes, kernelInitializer: .truncatedNormal(std: 0.001)) }
        try head.build(inputShape: [features])
        let trainer = Trainer(loss: .softmaxCrossEntropy, optimizer: GradientDescent(learningRate: settings.learningRate))
        var g = SeededGenerator(seed: settings.seed &+ 1)
        let n = labels.count
        for step in 1...settings.steps {
            let picks = (0..<settings.batchSize).map { _ in Int(g.next() % UInt64(n)) }
            let (loss, correct) = try trainer.step(&head, images: try batch(picks), labels: picks.map { labels[$0] })
            if step % settings.evalInterval == 0 || step == settings.steps {
                let validationAccuracy = try validation.map { v in
                    Double(zip(try predict(&head, v.x), v.labels).filter { $0 == Int($1) }.count) / Double(max(1, v.labels.count))
                }
                report(Evaluation(step: step, trainAccuracy: Double(correct) / Double(picks.count), crossEntropy: loss,
                                  validationAccuracy: validationAccuracy))
            }
        }
        return head.layers[0] as! Dense
    }

    /// Bottlenecks of `images` distorted afresh (not cached), as retrain.py
    /// computes them for every training step when distortions are on.
    public mutating func distortedBottlenecks(of images: [ImageFolder.Image], distortions: Distortions,
                                              generator: inout SeededGenerator) throws -> Tensor {
        let x = try distortions.batch(try images.map { try RGBImage.read($0.path) }, preprocessing: preprocessing,
                                      generator: &generator)
        return try backbone.forward([x], outputs: [bottleneck])[0]
    }

    /// The backbone up to the bottleneck, then `head` and a softmax ("final_result"),
    /// saved with the class names and the preprocessing: a file `axon classify` uses.
    public func saveRetrainedModel(head: Dense, classNames: [String], to path: String) throws {
        guard let k = unfolded.nodes.firstIndex(where: { $0.name == bottleneck }) else {
            throw AxonError.invalidArgument("retrain: the backbone has no node \"\(bottleneck)\"")
        }
        var net = try Graph(seed: unfolded.seed, inputs: unfolded.inputNames,
                            nodes: Array(unfolded.nodes[...k]) + [Graph.Node("final_layer", head, inputs: [bottleneck]),
                                                                  Graph.Node("final_result", Softmax(), inputs: ["final_layer"])],
                            outputs: ["final_result"])
        try net.build(inputShapes: unfolded.inputShapes ?? [[preprocessing.size, preprocessing.size, 3]])
        let prep = String(decoding: try JSONEncoder().encode(preprocessing), as: UTF8.self)
        try net.save(to: path, metadata: ClassNames.metadata(classNames).merging(
            [Pretrained.preprocessingKey: prep, "axon.retrained.bottleneck": bottleneck]) { a, _ in a })
    }
}
