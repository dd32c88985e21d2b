import ArgumentParser
import Axon
import Foundation

/// `axon graph MODEL --out FILE`: the network's structure as a picture, one box
/// per block as TensorBoard shows a TensorFlow graph (GraphDrawing), rendered
/// by Graphviz's `dot` for .svg and .png, or written as DOT text.
struct GraphCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graph",
        abstract: "Draw a network's structure (a model file, a TensorFlow GraphDef or a built-in architecture) as .svg, .png or Graphviz .dot.")

    @Argument(help: ArgumentHelp("A model file written by `axon train --save`, a TensorFlow GraphDef (.pb) or an ONNX model (.onnx).", valueName: "file"))
    var file: String?

    @Option(help: ArgumentHelp("A built-in architecture instead of a file: \(Inspect.architectures.joined(separator: ", ")).", valueName: "name"))
    var architecture: String?

    @Option(help: ArgumentHelp("The picture: .svg or .png (drawn by Graphviz's dot), or .dot / .gv (the graph as text).", valueName: "file"))
    var out: String

    @Option(help: ArgumentHelp("Name scopes kept in a box's name: 1 draws one box per block (\"mixed_3\"), 0 every layer.", valueName: "n"))
    var depth: Int = 1

    @Option(help: ArgumentHelp("Open a block (a name scope such as mixed_3 or mixed_3/tower) into a frame that shows its parts; repeat for several.", valueName: "scope"))
    var expand: [String] = []

    enum Format: String { case svg, png, dot, gv }

    var format: Format? { Format(rawValue: (out as NSString).pathExtension.lowercased()) }

    func validate() throws {
        try Inspect.requireOneSource(file: file, architecture: architecture)
        guard format != nil else { throw ValidationError("--out \(out): expected a file ending in .svg, .png, .dot or .gv") }
        guard depth >= 0 else { throw ValidationError("--depth must be >= 0, got \(depth)") }
        try checkCanWrite(out, flag: "--out")
    }

    func run() throws {
        let network: any Network, shapes: [[Int]], title: String
        if let file, file.hasSuffix(".pb") || file.hasSuffix(".onnx") {
            network = file.hasSuffix(".onnx") ? try ONNXFile.load(file).graph : try GraphDefFile.load(file).graph
            shapes = network.inputShapes ?? []
            title = (file as NSString).lastPathComponent
        } else if let file {
            let loaded = try ModelFile.load(from: file)
            (network, title) = (loaded.model, (file as NSString).lastPathComponent)
            shapes = network.inputShapes ?? [loaded.inputShape]
        } else {
            (network, shapes) = try Inspect.builtIn(architecture!)
            title = architecture!.lowercased()
        }
        let rows = try network.summaryRows(for: shapes)
        let known = Set(rows.flatMap { row in
            row.name.split(separator: "/").indices.map { row.name.split(separator: "/")[...$0].joined(separator: "/") }
        })
        for scope in expand where !known.contains(scope) {
            throw ValidationError("--expand \(scope): the network has no block or node of that name")
        }
        let text = GraphDrawing.dot(rows, title: title, depth: depth, expand: Set(expand))
        let bytes = format == .svg || format == .png ? try render(text, as: format!.rawValue) : Data(text.utf8)
        do {
            try writeFileAtomically([UInt8](bytes), to: out)
        } catch {
            throw ValidationError("\(out): cannot write the picture: \(error)")
        }
        print("Wrote \(out) (\(rows.count) nodes)")
    }

    /// `text` rendered by Graphviz's dot as `format` (svg or png).
    func render(_ text: String, as format: String) throws -> Data {
        guard let dot = ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":")
            .map({ "\($0)/dot" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw ValidationError("drawing .\(format) needs Graphviz's dot (`make deps` or `apt-get install graphviz`); --out FILE.dot writes the graph without it")
        }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("axon-graph-\(getpid())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let source = scratch.appendingPathComponent("graph.dot"), drawn = scratch.appendingPathComponent("graph.\(format)")
        try Data(text.utf8).write(to: source)
        let process = Process(), errors = Pipe()
        process.executableURL = URL(fileURLWithPath: dot)
        process.arguments = ["-T\(format)", source.path, "-o", drawn.path]
        process.standardError = errors
        try process.run()
        let complaints = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0, let picture = try? Data(contentsOf: drawn), !picture.isEmpty else {
            throw ValidationError("Graphviz's dot failed to draw \(out): \(String(decoding: complaints, as: UTF8.self))")
        }
        return picture
    }
}
