/// A network's structure as a Graphviz DOT graph, drawn the way TensorBoard
/// shows a TensorFlow graph: nodes whose names share a scope ("mixed_3/tower/conv",
/// "mixed_3/pool", ...) collapse into one box per block, edges carry the shape
/// that flows along them, and named blocks can be expanded into a cluster that
/// shows what is inside.
public enum GraphDrawing {
    /// DOT text for `rows` (a network's `summaryRows`, in evaluation order).
    /// Names are split into scopes at "/": `depth` scopes are kept (0 draws every
    /// node, 1 draws one box per top-level block), and every scope named in
    /// `expand` (e.g. "mixed_3", "mixed_3/tower") is opened one level further.
    public static func dot(_ rows: [NetworkSummaryRow], title: String, depth: Int = 1, expand: Set<String> = []) -> String {
        // Rows of a chain (a Sequential) read the row before them.
        let isChain = rows.dropFirst().allSatisfy { $0.inputs.isEmpty }
        let inputsOf: [[String]] = rows.indices.map { i in
            isChain ? (i == 0 ? [] : [rows[i - 1].name]) : rows[i].inputs
        }
        let keyOf = Dictionary(rows.map { ($0.name, box(for: $0.name, depth: depth, expand: expand)) },
                               uniquingKeysWith: { first, _ in first })
        let rowIndex = Dictionary(rows.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })

        // Boxes in order of first appearance, with their members.
        var boxes: [String] = [], members: [String: [Int]] = [:]
        for (i, row) in rows.enumerated() {
            let key = keyOf[row.name]!
            if members[key] == nil { boxes.append(key) }
            members[key, default: []].append(i)
        }
        // Edges between boxes (one per pair), labelled with the shape that crosses.
        var edges: [(from: String, to: String, shape: [Int])] = [], seen = Set<String>()
        var readOutside = Set<Int>()
        for (i, row) in rows.enumerated() {
            for input in inputsOf[i] {
                guard let j = rowIndex[input], let from = keyOf[input] else { continue }
                let to = keyOf[row.name]!
                guard from != to else { continue }
                readOutside.insert(j)
                if seen.insert(from + "\u{0}" + to).inserted { edges.append((from, to, rows[j].outputShape)) }
            }
        }

        var lines = ["digraph \"\(escaped(title))\" {",
                     "  graph [rankdir=TB, fontname=\"Helvetica\", label=\"\(escaped(title))\", labelloc=t, fontsize=16, nodesep=0.25, ranksep=0.3];",
                     "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10];",
                     "  edge [fontname=\"Helvetica\", fontsize=8, color=\"#555555\"];"]
        // Boxes inside the clusters of the scopes they were expanded from.
        var clusters = Set<String>()
        for key in boxes {
            var scope = cluster(of: key, expand: expand)
            while let s = scope, clusters.insert(s).inserted { scope = parentScope(of: s, expand: expand) }
        }
        func emit(cluster: String?, indent: String) {
            for key in boxes where self.cluster(of: key, expand: expand) == cluster {
                let inBox = members[key]!
                let outputs = inBox.filter { readOutside.contains($0) || $0 == inBox.last }.map { rows[$0] }
                lines.append(indent + "\"\(escaped(key))\" [\(attributes(key: key, rows: inBox.map { rows[$0] }, outputs: outputs, expand: expand))];")
            }
            for child in clusters.sorted() where parentScope(of: child, expand: expand) == cluster {
                lines.append(indent + "subgraph \"cluster_\(escaped(child))\" {")
                lines.append(indent + "  label=\"\(escaped(child))\"; style=\"rounded,dashed\"; color=\"#7f7f7f\"; fontsize=11;")
                emit(cluster: child, indent: indent + "  ")
                lines.append(indent + "}")
            }
        }
        emit(cluster: nil, indent: "  ")
        for e in edges {
            lines.append("  \"\(escaped(e.from))\" -> \"\(escaped(e.to))\" [label=\"\(shapeText(e.shape))\"];")
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The box a node named `name` is drawn in.
    static func box(for name: String, depth: Int, expand: Set<String>) -> String {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        var keep = depth <= 0 ? parts.count : min(depth, parts.count)
        while keep < parts.count && expand.contains(parts[..<keep].joined(separator: "/")) { keep += 1 }
        return parts[..<keep].joined(separator: "/")
    }

    /// The cluster the box `key` is drawn in: its own scope's when it is the
    /// node that closes an expanded block (an Inception block's concatenation).
    static func cluster(of key: String, expand: Set<String>) -> String? {
        expand.contains(key) ? key : parentScope(of: key, expand: expand)
    }

    /// The innermost expanded scope that strictly contains `key`, if any.
    static func parentScope(of key: String, expand: Set<String>) -> String? {
        var scope = parent(of: key)
        while let s = scope, !expand.contains(s) { scope = parent(of: s) }
        return scope
    }

    static func parent(of name: String) -> String? {
        name.lastIndex(of: "/").map { String(name[..<$0]) }
    }

    /// Label text of the box `key`: its name within the frame it is drawn in, what it
    /// holds (the layer, or how many), the shapes it hands on and its parameter count.
    static func attributes(key: String, rows: [NetworkSummaryRow], outputs: [NetworkSummaryRow], expand: Set<String>) -> String {
        var name = key
        if let frame = parentScope(of: key, expand: expand), !expand.contains(key) { name = String(key.dropFirst(frame.count + 1)) }
        let params = rows.reduce(0) { $0 + $1.parameters + $1.state }
        let paramText = params > 0 ? "\\n\(grouped(params)) parameters" : ""
        if rows.count == 1 {
            let r = rows[0]
            let isInput = r.layer == "Input"
            let color = isInput ? "#fde7c8" : "#ffffff"
            return "label=\"\(escaped(name))\\n\(escaped(r.layer))\\n\(shapeText(r.outputShape))\(paramText)\", fillcolor=\"\(color)\""
        }
        let shapes = Set(outputs.map { shapeText($0.outputShape) }).sorted().joined(separator: ", ")
        return "label=\"\(escaped(name))\\n\(rows.count) layers\\n\(shapes)\(paramText)\", fillcolor=\"#c9e2f8\", penwidth=1.5"
    }

    /// "35×35×288" for one example's shape.
    static func shapeText(_ shape: [Int]) -> String { shape.map(String.init).joined(separator: "×") }

    static func escaped(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}

/// `1234567` → `1,234,567`: counts as `axon inspect` and the drawings print them.
public func grouped(_ n: Int) -> String {
    let digits = String(n.magnitude)
    var out = ""
    for (i, c) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(c)
    }
    return (n < 0 ? "-" : "") + out
}
