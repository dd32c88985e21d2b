import Foundation

/// Names of a classifier's classes, in label order. They belong to the data
/// (`MNIST.classNames(in:testLabels:)`), can be given in a text file (one name
/// per line), and travel in a model file's metadata under `metadataKey` as a
/// JSON array of strings.
public enum ClassNames {
    public static let metadataKey = "axon.class_names"

    /// Reads one name per line; spaces around a name and blank lines at the end are dropped.
    public static func read(from path: String) throws -> [String] {
        let text = String(decoding: try readFileBytes(path, maxLength: 1 << 20), as: UTF8.self)
        var names = text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        while names.last?.isEmpty == true { names.removeLast() }
        guard !names.isEmpty else { throw AxonError.file(path: path, "holds no class names; expected one per line") }
        if let blank = names.firstIndex(of: "") {
            throw AxonError.file(path: path, "line \(blank + 1) is blank; expected one class name per line")
        }
        return names
    }

    /// The metadata entry that keeps `names` in a model file.
    public static func metadata(_ names: [String]) -> [String: String] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return [metadataKey: String(decoding: (try? encoder.encode(names)) ?? Data("[]".utf8), as: UTF8.self)]
    }

    /// The names kept in the metadata of the model file at `path`, nil if it keeps none.
    public static func from(metadata: [String: String], path: String) throws -> [String]? {
        guard let json = metadata[metadataKey] else { return nil }
        guard let names = try? JSONDecoder().decode([String].self, from: Data(json.utf8)), !names.isEmpty else {
            throw AxonError.file(path: path, "metadata \(metadataKey) is not a JSON array of class names")
        }
        return names
    }
}
