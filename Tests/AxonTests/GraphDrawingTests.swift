import Foundation
import Testing
@testable import Axon

/// `GraphDrawing` (what `axon graph` draws) on Inception-v3, a chain and the
/// imported GraphDef fixture; `axon graph` itself with Graphviz.
@Suite struct GraphDrawingTests {
    static func inceptionRows() throws -> [NetworkSummaryRow] {
        var network = try Models.inceptionV3()
        try network.build(inputShapes: [[299, 299, 3]])
        return try network.summaryRows(for: [[299, 299, 3]])
    }

    /// The quoted box names declared in a DOT text, and its edges.
    static func parse(_ dot: String) -> (boxes: [String], edges: [(String, String)]) {
        var boxes: [String] = [], edges: [(String, String)] = []
        for line in dot.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) where line.hasPrefix("\"") {
            let quoted = line.split(separator: "\"", omittingEmptySubsequences: false)
            if line.contains("\" -> \"") { edges.append((String(quoted[1]), String(quoted[3]))) } else { boxes.append(String(quoted[1])) }
        }
        return (boxes, edges)
    }

    @Test func inceptionCollapsesIntoOneBoxPerBlock() throws {
        let rows = try Self.inceptionRows()
        let dot = GraphDrawing.dot(rows, title: "inception-v3")
        let (boxes, edges) = Self.parse(dot)
        #expect(boxes == ["input", "stem", "stem2"] + (0...10).map { "mixed\($0)" } + ["avg_pool", "logits", "predictions"])
        // A chain of blocks: each box feeds the next, once.
        #expect(edges.count == boxes.count - 1)
        #expect(zip(edges, zip(boxes, boxes.dropFirst())).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 })
        #expect(dot.contains("\"mixed2\" -> \"mixed3\" [label=\"35×35×288\"]"))
        #expect(dot.contains("\"mixed10\" [label=\"mixed10\\n31 layers\\n8×8×2048\\n6,080,064 parameters\""))
        // Every parameter is counted in exactly one box: the boxes' totals add up to the network's.
        let counted = dot.split(separator: "\n").compactMap { line -> Int? in
            guard let r = line.range(of: #"\\n([0-9,]+) parameters"#, options: .regularExpression) else { return nil }
            return Int(line[r].dropFirst(2).split(separator: " ")[0].replacingOccurrences(of: ",", with: ""))
        }.reduce(0, +)
        #expect(counted == rows.reduce(0) { $0 + $1.parameters + $1.state })
    }

    @Test func expandingOpensABlockIntoAFrame() throws {
        let dot = GraphDrawing.dot(try Self.inceptionRows(), title: "inception-v3", expand: ["mixed3", "mixed3/branch1"])
        let (boxes, edges) = Self.parse(dot)
        #expect(boxes.contains("mixed3/branch0") && boxes.contains("mixed3/branch2") && boxes.contains("mixed3"))
        #expect(boxes.contains("mixed3/branch1/conv1") && !boxes.contains("mixed3/branch1"))
        #expect(dot.contains("subgraph \"cluster_mixed3\" {") && dot.contains("subgraph \"cluster_mixed3/branch1\" {"))
        // The frame mixed3/branch1 sits inside mixed3's, and the concatenation inside mixed3's frame.
        let lines = dot.split(separator: "\n").map(String.init)
        let outer = lines.firstIndex { $0.contains("cluster_mixed3\"") }!, inner = lines.firstIndex { $0.contains("cluster_mixed3/branch1\"") }!
        #expect(outer < inner && lines[inner].hasPrefix("    subgraph"))
        #expect(lines.contains { $0.hasPrefix("    \"mixed3\" [label=\"mixed3\\nConcatenate") })
        // Inside a frame a box is named relative to it.
        #expect(dot.contains("\"mixed3/branch1/conv2\" [label=\"conv2\\n3 layers\\n35×35×96"))
        #expect(edges.filter { $0.1 == "mixed3" }.count == 3)
        #expect(edges.contains { $0 == ("mixed2", "mixed3/branch1/conv1") })
    }

    @Test func depthZeroDrawsEveryNodeAndEveryConnection() throws {
        let rows = try Self.inceptionRows()
        let (boxes, edges) = Self.parse(GraphDrawing.dot(rows, title: "t", depth: 0))
        #expect(boxes == rows.map(\.name))
        #expect(edges.count == rows.reduce(0) { $0 + $1.inputs.count })
    }

    @Test func aChainIsDrawnInOrderAndNamesAreEscaped() throws {
        var net = Models.lenet5(seed: 1)
        try net.build(inputShapes: [[28, 28, 1]])
        var rows = try net.summaryRows(for: [[28, 28, 1]])
        rows[1].name = "say \"hi\""
        let dot = GraphDrawing.dot(rows, title: "a \"quoted\" title")
        let (boxes, edges) = Self.parse(dot)
        #expect(boxes.count == rows.count && edges.count == rows.count - 1)
        #expect(dot.contains("digraph \"a \\\"quoted\\\" title\""))
        #expect(dot.contains("\"say \\\"hi\\\"\" -> \"\(rows[2].name)\""))
    }

    @Test func axonGraphWritesSvgPngAndDot() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("axon-graph-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let svg = dir.appendingPathComponent("inception.svg").path
        var r = try runAxon(["graph", "--architecture", "inception-v3", "--out", svg, "--expand", "mixed5"])
        #expect(r.status == 0, "\(r.stderr)")
        let text = try String(contentsOfFile: svg, encoding: .utf8)
        #expect(text.contains("<svg") && text.contains("mixed5") && text.contains("cluster_mixed5"))
        let png = dir.appendingPathComponent("graph.png").path
        let pb = GraphDefTests.fixtures.appendingPathComponent("inception2015_small.pb").path
        r = try runAxon(["graph", pb, "--out", png])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: png)).prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
        let dot = dir.appendingPathComponent("graph.dot").path
        r = try runAxon(["graph", pb, "--out", dot, "--expand", "mixed"])
        #expect(r.status == 0, "\(r.stderr)")
        let (boxes, _) = Self.parse(try String(contentsOfFile: dot, encoding: .utf8))
        #expect(boxes.contains("conv") && boxes.contains("mixed/tower") && boxes.contains("softmax"))

        for (arguments, message) in [(["graph", pb, "--out", dir.appendingPathComponent("x.jpg").path], "expected a file ending in .svg"),
                                     (["graph", pb, "--out", dot, "--expand", "nope"], "--expand nope: the network has no block"),
                                     (["graph", "--architecture", "lenet5", "--out", "/nonexistent/dir/x.dot"], "/nonexistent/dir/x.dot"),
                                     (["graph", dir.appendingPathComponent("missing.pb").path, "--out", dot], "missing.pb")] {
            r = try runAxon(arguments)
            #expect(r.status != 0 && r.stderr.hasPrefix("axon: ") && r.stderr.contains(message), "\(arguments): \(r.stderr)")
        }
    }
}
