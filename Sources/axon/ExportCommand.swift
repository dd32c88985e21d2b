import ArgumentParser
import Axon
import Foundation

extension ONNXExport.ImageLayout: ExpressibleByArgument {}

/// `axon export MODEL --onnx OUT.onnx`: a model file (or a built-in
/// architecture) as an ONNX model; `--test-data DIR` also writes inputs and
/// Axon's outputs as ONNX TensorProto files, for checking a runtime against Axon.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a model as an ONNX model (opset \(ONNXExport.opset)) that onnxruntime and other ONNX runtimes run.")

    @Argument(help: ArgumentHelp("A model file written by `axon train --save`, `axon pretrained` or Network.save(to:).", valueName: "file"))
    var file: String?

    @Option(help: ArgumentHelp("A built-in architecture (random weights) instead of a file: \(Inspect.architectures.joined(separator: ", ")).",
                               valueName: "name"))
    var architecture: String?

    @Option(help: ArgumentHelp("Where to write the ONNX model (written atomically).", valueName: "out.onnx"))
    var onnx: String

    @Option(help: ArgumentHelp("Layout of the exported model's image inputs and outputs: nchw (ONNX's convention, default) or nhwc (the arrays Axon takes, one Transpose inside).", valueName: "layout"))
    var layout: ONNXExport.ImageLayout = .nchw

    @Option(help: ArgumentHelp("Also write test data into this directory, as ONNX's test data sets hold it: input_<k>.pb (uniform random in [0, 1), in the exported layout) and output_<k>.pb (Axon's outputs for them).", valueName: "dir"))
    var testData: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Examples in the test data's batch.", valueName: "N"))
    var examples = 4

    @Option(parsing: .unconditional, help: ArgumentHelp("Seed of the test data's inputs.", valueName: "N"))
    var seed: UInt64 = 1

    func validate() throws {
        try Inspect.requireOneSource(file: file, architecture: architecture)
        guard (1...1024).contains(examples) else { throw ValidationError("--examples must be in 1...1024, got \(examples)") }
    }

    func run() throws {
        var network: any Network
        if let file {
            guard !file.hasSuffix(".onnx") && !file.hasSuffix(".pb") else {
                throw ValidationError("\(file): export takes Axon model files (.safetensors); this is an ONNX or TensorFlow model already")
            }
            network = try ModelFile.load(from: file).model
        } else {
            network = try Inspect.builtIn(architecture!).0
        }
        let summary = try ONNXExport.write(network, to: onnx, layout: layout)
        print("Wrote \(onnx): ONNX opset \(ONNXExport.opset), \(summary.nodes) nodes ("
              + summary.opCounts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")")
        func describe(_ values: [(name: String, shape: [Int])]) -> String {
            values.map { "\($0.name) [N, \($0.shape.map(String.init).joined(separator: ", "))]" }.joined(separator: ", ")
        }
        print("inputs: \(describe(summary.inputs)); outputs: \(describe(summary.outputs))")
        if let testData { try writeTestData(&network, to: testData) }
    }

    /// Random inputs and Axon's outputs for them, as input_<k>.pb and output_<k>.pb.
    private func writeTestData(_ network: inout any Network, to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var g = SeededGenerator(seed: seed)
        let inputs = try (network.inputShapes ?? []).map { shape in
            let n = examples * shape.reduce(1, *)
            return try Tensor(shape: [examples] + shape, scalars: (0..<n).map { _ in Float.random(in: 0..<1, using: &g) })
        }
        let outputs: [Tensor]
        if var graph = network as? Graph {
            outputs = try graph.forward(inputs, training: false)
        } else {
            outputs = [try network.forward(inputs[0], training: false)]
        }
        for (kind, tensors) in [("input", inputs), ("output", outputs)] {
            for (k, t) in tensors.enumerated() {
                try ONNXExport.writeTensor(ONNXExport.exported(t, layout: layout), name: "\(kind)_\(k)", to: "\(directory)/\(kind)_\(k).pb")
            }
        }
        print("Wrote \(directory)/input_0.pb…: \(inputs.count) input\(inputs.count == 1 ? "" : "s") of \(examples) examples and Axon's \(outputs.count) output\(outputs.count == 1 ? "" : "s")")
    }
}
