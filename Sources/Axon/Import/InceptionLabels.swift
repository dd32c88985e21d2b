import Foundation

/// The label files of inception-2015-12-05.tgz, as the course's
/// classify_image.py reads them: `imagenet_2012_challenge_label_map_proto.pbtxt`
/// maps each output index (target_class) to a synset (target_class_string), and
/// `imagenet_synset_to_human_label_map.txt` each synset to its names
/// ("n02510455<TAB>giant panda, panda, panda bear, coon bear, Ailuropoda melanoleuca").
public enum InceptionLabels {
    public static let graphFile = "classify_image_graph_def.pb"
    public static let labelMapFile = "imagenet_2012_challenge_label_map_proto.pbtxt"
    public static let synsetFile = "imagenet_synset_to_human_label_map.txt"

    /// Human-readable names by output index (indices without an entry are absent).
    public static func read(directory: String) throws -> [Int: String] {
        let mapPath = "\(directory)/\(labelMapFile)", synsetPath = "\(directory)/\(synsetFile)"
        var human: [String: String] = [:]
        for (n, line) in String(decoding: try readFileBytes(synsetPath, maxLength: 1 << 26), as: UTF8.self)
            .split(separator: "\n").enumerated() {
            let parts = line.split(separator: "\t", maxSplits: 1)
            guard parts.count == 2 else {
                throw AxonError.file(path: synsetPath, "line \(n + 1) is not \"<synset><TAB><names>\"")
            }
            human[String(parts[0])] = String(parts[1]).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        var labels: [Int: String] = [:]
        var target: Int?
        for line in String(decoding: try readFileBytes(mapPath, maxLength: 1 << 26), as: UTF8.self).split(separator: "\n") {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.hasPrefix("target_class:") {
                target = Int(t.dropFirst("target_class:".count).trimmingCharacters(in: .whitespaces))
                guard target != nil else { throw AxonError.file(path: mapPath, "\"\(t)\" has no integer class") }
            } else if t.hasPrefix("target_class_string:") {
                let synset = t.dropFirst("target_class_string:".count).trimmingCharacters(in: .whitespaces)
                    .trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                guard let k = target else { throw AxonError.file(path: mapPath, "target_class_string before its target_class") }
                guard let name = human[synset] else {
                    throw AxonError.file(path: synsetPath, "has no names for synset \(synset) (class \(k) of \(mapPath))")
                }
                labels[k] = name
                target = nil
            }
        }
        guard !labels.isEmpty else { throw AxonError.file(path: mapPath, "holds no target_class entries") }
        return labels
    }
}
