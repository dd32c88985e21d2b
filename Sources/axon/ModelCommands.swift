import ArgumentParser
import Axon
import AxonPlot
#if canImport(Glibc)
import Glibc
#endif

/// `axon inspect FILE`: the layers (or graph nodes) of a saved model with their
/// output shapes and parameter counts (like Keras' `model.summary()`), then the
/// metadata; `axon inspect --architecture NAME`: the same table for one of
/// Axon's built-in architectures, without a file.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the layers, output shapes, parameter counts and metadata of a saved model file or a built-in architecture.")

    @Argument(help: ArgumentHelp("A model file written by `axon train --save` or Network.save(to:), a TensorFlow GraphDef (.pb) or an ONNX model (.onnx).", valueName: "file"))
    var file: String?

    @Option(help: ArgumentHelp("A built-in architecture instead of a file: \(Self.architectures.joined(separator: ", ")).",
                               valueName: "name"))
    var architecture: String?

    static let architectures = ModelKind.allCases.map(\.rawValue) + ["inception-v3"]

    /// A model file or `--architecture NAME`, exactly one of them (inspect, graph, export).
    static func requireOneSource(file: String?, architecture: String?) throws {
        guard (file == nil) != (architecture == nil) else {
            throw ValidationError("give a model file or --architecture NAME (one of \(architectures.joined(separator: ", ")))")
        }
    }

    func validate() throws {
        try Self.requireOneSource(file: file, architecture: architecture)
    }

    func run() throws {
        if let file, file.hasSuffix(".pb") {
            let imported = try GraphDefFile.load(file)
            let nodes = imported.opCounts.values.reduce(0, +)
            print("GraphDef \(file): \(nodes) nodes; ops: "
                  + imported.opCounts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            if let p = imported.preprocessing {
                print("input: JPEG bytes (\(imported.inputName)), resized to \(p.height)×\(p.inputWidth), (x − \(p.mean[0])) / \(p.std[0])")
            }
            print(networkSummary(imported.graph, inputShapes: imported.graph.inputShapes ?? [], title: "Imported as"))
            return
        }
        if let file, file.hasSuffix(".onnx") {
            let imported = try ONNXFile.load(file)
            let nodes = imported.opCounts.values.reduce(0, +)
            print("ONNX \(file): opset \(imported.opset), \(nodes) nodes; ops: "
                  + imported.opCounts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            print("inputs (one example each; images NHWC): " + zip(imported.inputNames, imported.inputShapes).map { "\($0) \($1)" }.joined(separator: ", "))
            print(networkSummary(imported.graph, inputShapes: imported.inputShapes, title: "Imported as"))
            return
        }
        if let file {
            print(modelSummary(try ModelFile.load(from: file), path: file))
            return
        }
        let (network, shapes) = try Self.builtIn(architecture!)
        print(networkSummary(network, inputShapes: shapes, title: "Architecture \(architecture!.lowercased())"))
    }

    /// One of Axon's built-in architectures, built for its input.
    static func builtIn(_ architecture: String) throws -> (any Network, [[Int]]) {
        let name = architecture.lowercased()
        let (network, shape): (any Network, [Int])
        if ["inception-v3", "inceptionv3", "inception_v3", "inception"].contains(name) {
            (network, shape) = (try Models.inceptionV3(), [299, 299, 3])
        } else if let kind = ModelKind(rawValue: name) {
            (network, shape) = (try kind.build(seed: 42), [28, 28, 1])
        } else {
            throw ValidationError("unknown architecture \"\(architecture)\"; expected one of \(architectures.joined(separator: ", "))")
        }
        var built = network
        try built.build(inputShapes: [shape])
        return (built, [shape])
    }
}

/// The Keras-like table of a loaded model and its metadata.
func modelSummary(_ loaded: ModelFile.Loaded, path: String) -> String {
    var lines = [networkSummary(loaded.model, inputShapes: loaded.model.inputShapes ?? [loaded.inputShape],
                                title: "Model file \(path)")]
    lines.append("Metadata:")
    for (key, value) in loaded.metadata.sorted(by: { $0.key < $1.key }) where key != ModelFile.architectureKey {
        lines.append("  \(key): \(value)")
    }
    lines.append("  \(ModelFile.architectureKey): \(loaded.metadata[ModelFile.architectureKey] ?? "")")
    return lines.joined(separator: "\n")
}

/// One row per layer or node (for a Graph with the nodes it reads), output
/// shapes, parameter counts, then the totals as Keras counts them.
func networkSummary(_ network: any Network, inputShapes: [[Int]], title: String) -> String {
    func shapeText(_ s: [Int]) -> String { "(None, " + s.map(String.init).joined(separator: ", ") + ")" }
    let isGraph = network is Graph
    var rows: [[String]] = [[isGraph ? "Node" : "#  Layer", isGraph ? "Layer" : "", "Output shape", "Params",
                             isGraph ? "Inputs" : ""]]
    if !isGraph { rows.append(["   Input", "", inputShapes.first.map(shapeText) ?? "?", "0", ""]) }
    var header = "\(title): \(type(of: network).kind), seed \(network.seed)"
    do {
        let summary = try network.summaryRows(for: inputShapes)
        header += ", \(summary.count) \(isGraph ? "nodes" : "layers")"
        for r in summary {
            let name = isGraph ? r.name : "\(r.name.padding(toLength: 2, withPad: " ", startingAt: 0)) \(r.layer)"
            rows.append([name, isGraph ? r.layer : "", shapeText(r.outputShape), grouped(r.parameters + r.state),
                         r.inputs.joined(separator: ", ")])
        }
    } catch {
        header += " (its layers do not accept \(inputShapes): \(error))"
    }
    let widths = (0..<5).map { c in rows.map { $0[c].count }.max()! }
    func line(_ r: [String]) -> String {
        var text = ""
        for c in 0..<5 where widths[c] > 0 {
            text += c == 3 ? r[c].leftPadded(to: max(widths[c], 6)) + "  "
                : r[c].padding(toLength: widths[c] + 2, withPad: " ", startingAt: 0)
        }
        return String(text.reversed().drop { $0 == " " }.reversed())
    }
    let rule = String(repeating: "─", count: line(rows[0]).count + 4)
    var lines = [header, line(rows[0]), rule] + rows.dropFirst().map(line) + [rule]
    let trainable = network.parameterCount, fixed = network.stateCount
    lines.append("Total parameters: \(grouped(trainable + fixed)) (\(grouped((trainable + fixed) * 4)) bytes of float32)")
    lines.append("Trainable parameters: \(grouped(trainable))")
    lines.append("Non-trainable parameters: \(grouped(fixed))")
    return lines.joined(separator: "\n")
}

/// Loads a model file and checks that it takes examples of `shape`.
func loadModel(_ path: String, expecting shape: [Int], dataDescription: String) throws -> ModelFile.Loaded {
    let loaded = try ModelFile.load(from: path)
    guard loaded.inputShape == shape else {
        throw ValidationError("\(path): the model takes examples of shape \(loaded.inputShape), but \(dataDescription) has \(shape)")
    }
    return loaded
}

/// `--classes FILE`, and where the names of the classes come from without it.
struct ClassOptions: ParsableArguments {
    @Option(help: ArgumentHelp("A text file naming the classes, one per line in label order. Without it: the names kept in the model file, else the data's (classes.txt in the data directory; Fashion-MNIST's names for Fashion-MNIST; otherwise the digits 0-9).", valueName: "file"))
    var classes: String?

    /// The names of `count` classes: from --classes, else from the model file
    /// (`model`, read from `path`), else `data()`'s if it has `count` of them;
    /// nil when none is known (show class numbers only).
    func names(count: Int, model: ModelFile.Loaded? = nil, path: String = "", data: (() throws -> [String])? = nil) throws -> [String]? {
        func checked(_ names: [String], _ source: String) throws -> [String] {
            guard names.count == count else {
                throw ValidationError("\(source) has \(names.count) class names; the model has \(count) classes")
            }
            return names
        }
        if let classes { return try checked(ClassNames.read(from: classes), "--classes \(classes)") }
        if let model, let names = try ClassNames.from(metadata: model.metadata, path: path) {
            return try checked(names, "\(path): its \(ClassNames.metadataKey) metadata")
        }
        return try data.map { try $0() }.flatMap { $0.count == count ? $0 : nil }
    }
}

/// "7 (Sneaker)", or "7" when the class has no name other than its number.
func classLabel(_ k: Int, _ names: [String]?) -> String {
    guard let names, names.indices.contains(k), names[k] != String(k) else { return String(k) }
    let name = names[k]
    return "\(k) (\(name))"
}

/// `axon eval --model FILE`: test-set loss and accuracy of a saved model.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a saved model on the test set (MNIST-format files, or an image folder's testing set): accuracy and the mean of the loss the model was trained with (softmax cross-entropy unless its file says quadratic).")

    @Option(help: ArgumentHelp("The model file.", valueName: "file"))
    var model: String

    @Option(help: ArgumentHelp("A folder of class folders of images (as for `axon train --images`): evaluate on its testing set, preprocessed as the model file says.", valueName: "dir"))
    var images: String?

    @Option(parsing: .unconditional, help: "With --images: the validation percentage the model was trained with.")
    var validationPercentage: Double = 10

    @Option(parsing: .unconditional, help: "With --images: the testing percentage the model was trained with.")
    var testingPercentage: Double = 10

    @Option(help: ArgumentHelp("Directory holding the four MNIST-format files (each raw or .gz).", valueName: "dir"))
    var data: String = MNIST.defaultDirectory

    @OptionGroup var machine: MachineOptions

    @Option(help: ArgumentHelp("Also draw the 10×10 confusion matrix as a heat map in this PNG file (and print it as a table).", valueName: "file"))
    var confusion: String?

    @OptionGroup var classes: ClassOptions

    func validate() throws {
        if let confusion { try checkCanWrite(confusion, flag: "--confusion") }
    }

    func run() throws {
        try machine.apply()
        let test: Dataset, loaded: ModelFile.Loaded, source: String
        var folderNames: [String]?
        if let images {
            loaded = try ModelFile.load(from: model)
            guard let preprocessing = try Pretrained.preprocessing(in: loaded.metadata) else {
                throw ValidationError("\(model): the model file has no image preprocessing (\(Pretrained.preprocessingKey)) to read \(images) with; train it with `axon train --images`")
            }
            let folder = try ImageFolder(directory: images, validationPercentage: validationPercentage, testingPercentage: testingPercentage)
            test = try folder.dataset(.testing, preprocessing: preprocessing)
            guard test.count > 0 else { throw ValidationError("\(images): no image fell into the testing set") }
            guard loaded.inputShape == test.exampleShape else {
                throw ValidationError("\(model): the model takes examples of shape \(loaded.inputShape), but its preprocessing makes \(test.exampleShape)")
            }
            let names = try ClassNames.from(metadata: loaded.metadata, path: model)
            if let names, names != folder.classNames {
                throw ValidationError("\(images): its classes \(folder.classNames) are not the model's \(names)")
            }
            folderNames = folder.classNames
            source = images
        } else {
            test = try MNIST.load(from: data).test
            loaded = try loadModel(model, expecting: test.exampleShape, dataDescription: "the test set in \(data)")
            source = data
        }
        let network = loaded.model
        let outputs = try network.outputShape(for: loaded.inputShape).last ?? 0
        if let top = test.labels.max(), Int(top) >= outputs {
            throw ValidationError("\(model): the model has \(plural(outputs, "class")) (outputs 0...\(outputs - 1)), but the test set of \(source) holds label \(top); evaluate it on data of its own classes")
        }
        let lossKind = try LossKind.of(metadata: loaded.metadata, path: model)
        let (loss, accuracy) = try evaluate(network, on: test, loss: lossKind.loss)
        print("\(model) on the \(test.count) test images of \(source)")
        print("test accuracy \(percent(accuracy)) (\(fixed(accuracy * Double(test.count), 0))/\(test.count)), "
              + "loss \(fixed(Double(loss), 4))" + (lossKind == .quadratic ? " (quadratic cost)" : ""))
        if let confusion {
            let predicted = try predict(network, test.images)
            let count = outputs
            var counts = [[Int]](repeating: [Int](repeating: 0, count: count), count: count)
            for (p, t) in zip(predicted, test.labels) { counts[Int(t)][p] += 1 }
            let names = try classes.names(count: count, model: loaded, path: model) {
                try folderNames ?? MNIST.classNames(in: data, testLabels: test.labels)
            } ?? (0..<count).map { String($0) }
            print("confusion matrix (rows: true class, columns: predicted class)")
            print(confusionTable(counts, classNames: names))
            try Chart.confusion(counts, classNames: names).writePNG(to: confusion)
            print("wrote \(confusion)")
        }
    }
}

/// `axon predict --model FILE`: the class of one test image or of an image file (PNG or PGM).
struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify with a saved model: a test-set image by index, or image files (PNG, JPEG or PGM) of any size.")

    @Option(help: ArgumentHelp("The model file.", valueName: "file"))
    var model: String

    @Option(parsing: .unconditional, help: "Index of a test-set image (0-based).")
    var index: Int?

    @Option(help: ArgumentHelp("An image file (repeat for several): PNG or JPEG of any size and colour (centre-cropped to the model's aspect ratio, resized, turned grey for a grey model) or PGM of the model's size. Fashion-MNIST models expect a light object on a dark background: see --invert.", valueName: "file"))
    var image: [String] = []

    @Flag(help: "Invert the images' brightness first (for dark objects on a light background).")
    var invert = false

    @Option(parsing: .unconditional, help: "How many classes to list per image (default: all).")
    var top: Int?

    @Option(help: ArgumentHelp("Directory holding the MNIST-format files, for --index.", valueName: "dir"))
    var data: String = MNIST.defaultDirectory

    @OptionGroup var classes: ClassOptions
    @OptionGroup var machine: MachineOptions

    func validate() throws {
        guard (index == nil) != image.isEmpty else {
            throw ValidationError("give --index N or one or more --image FILE (.png, .jpg or .pgm), not both")
        }
        if let index, index < 0 { throw ValidationError("--index must be >= 0, got \(index)") }
        if let top, top < 1 { throw ValidationError("--top must be >= 1, got \(top)") }
    }

    func run() throws {
        try machine.apply()
        let loaded = try ModelFile.load(from: model)
        var network = loaded.model
        let shape = loaded.inputShape
        var inputs: [(label: String, x: Tensor, truth: Int?)] = []
        var dataNames: (() throws -> [String])?
        if let index {
            let test = try MNIST.load(from: data).test
            dataNames = { [data] in try MNIST.classNames(in: data, testLabels: test.labels) }
            guard index < test.count else {
                throw ValidationError("--index \(index) is past the end of the test set (\(test.count) images, 0...\(test.count - 1))")
            }
            guard test.exampleShape == shape else {
                throw ValidationError("\(model): the model takes examples of shape \(shape), but the test set in \(data) has \(test.exampleShape)")
            }
            inputs.append(("test image \(index) of \(data)", test.rows(index..<(index + 1)), Int(test.labels[index])))
        } else {
            guard shape.count == 3, shape[2] == 1 || shape[2] == 3 else {
                throw ValidationError("\(model): the model takes examples of shape \(shape), not images")
            }
            for path in image {
                var x: Tensor
                if path.lowercased().hasSuffix(".pgm") {
                    x = try GrayImage.read(path).tensor(expectingWidth: shape[1], height: shape[0], path: path)
                } else {
                    let p = try Pretrained.preprocessing(in: loaded.metadata)
                        ?? .unitScale(height: shape[0], width: shape[1], channels: shape[2])
                    x = try p.batch([RGBImage.read(path)])
                }
                if invert { x = try Tensor(shape: x.shape, scalars: x.scalars.map { 1 - $0 }) }
                inputs.append(("image \(path)", x, nil))
            }
        }
        for (label, x, truth) in inputs {
            print(label)
            let output = try network(x)
            guard output.rank == 2, output.shape[0] == 1 else {
                throw ValidationError("\(model): the model outputs shape \(output.shape), not one row of class scores")
            }
            let scores = output.scalars
            let probabilities = network.outputsProbabilities ? scores : softmax(scores)
            let names = try classes.names(count: scores.count, model: loaded, path: model, data: dataNames)
            let best = probabilities.indices.max { probabilities[$0] < probabilities[$1] }!
            var line = "predicted class \(classLabel(best, names)), probability \(percent(Double(probabilities[best])))"
            if let truth {
                line += "; true class \(classLabel(truth, names))"
                    + (truth == best ? ", correct" : truth < scores.count ? ", wrong" : " (not one of the model's \(plural(scores.count, "class")))")
            }
            print(line)
            // A class whose name is its number gets no name column.
            let shown = probabilities.indices.map { k in classLabel(k, names) == String(k) ? "" : names![k] }
            let width = shown.map(\.count).max() ?? 0
            for k in probabilities.indices.sorted(by: { probabilities[$0] > probabilities[$1] }).prefix(top ?? scores.count) {
                let name = width == 0 ? "" : shown[k].padding(toLength: max(width, 12), withPad: " ", startingAt: 0) + " "
                print("  \(String(k).leftPadded(to: 2)) \(name)" + percent(Double(probabilities[k])).leftPadded(to: 7))
            }
        }
    }
}

/// Softmax of one row of logits, shifted by the maximum for stability.
func softmax(_ z: [Float]) -> [Float] {
    let m = z.max() ?? 0
    var e = z.map { Double($0 - m) }
    for i in e.indices { e[i] = exp(e[i]) }
    let s = e.reduce(0, +)
    return e.map { Float($0 / s) }
}
