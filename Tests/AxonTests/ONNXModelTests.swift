import Foundation
import Testing
@testable import Axon

/// A small CNN written by tools/onnx/make_fixtures.py with ONNX's reference
/// evaluator's outputs: imported NHWC (Axon's layout, a Permute before its
/// Flatten) and in ONNX's own layout, both must give ONNX's probabilities.
@Suite struct ONNXModelTests {
    static let models = repositoryRoot.appendingPathComponent("Tests/Fixtures/onnx/models")

    @Test(arguments: [ONNXImport.Layout.axon, .onnx])
    func cnnMatchesONNXReference(_ layout: ONNXImport.Layout) throws {
        let imported = try ONNXFile.load(Self.models.appendingPathComponent("cnn.onnx").path, layout: layout)
        let x = try ONNXFile.readTensor(Self.models.appendingPathComponent("cnn_input_0.pb").path).tensor
        let expected = try ONNXFile.readTensor(Self.models.appendingPathComponent("cnn_output_0.pb").path).tensor
        #expect(x.shape == [2, 3, 12, 20])
        let input = layout == .axon ? try Permute([1, 2, 0]).callAsFunctionForTests(x) : x
        var graph = imported.graph
        let y = try graph.forward([input], training: false)[0]
        #expect(y.shape == [2, 5])
        let worst = zip(y.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst < 1e-5, "largest difference \(worst)")
        // Folding the batch normalization into the depthwise convolution keeps the result.
        var folded = try imported.graph.foldedForInference()
        let z = try folded.forward([input], training: false)[0]
        #expect((zip(z.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? .infinity) < 1e-5)
        #expect(imported.opCounts["Conv"] == 2 && imported.opset == 17)
    }

    @Test func cliInspectsAndDrawsONNX() throws {
        let model = Self.models.appendingPathComponent("cnn.onnx").path
        let r = try runAxon(["inspect", model])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("ONNX") && r.stdout.contains("opset 17") && r.stdout.contains("Conv 2"))
        let dot = FileManager.default.temporaryDirectory.appendingPathComponent("axon-onnx-\(getpid()).dot").path
        defer { try? FileManager.default.removeItem(atPath: dot) }
        let g = try runAxon(["graph", model, "--out", dot])
        #expect(g.status == 0, "\(g.stderr)")
        let broken = FileManager.default.temporaryDirectory.appendingPathComponent("axon-broken-\(getpid()).onnx").path
        defer { try? FileManager.default.removeItem(atPath: broken) }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: model))
        #expect(FileManager.default.createFile(atPath: broken, contents: bytes.prefix(bytes.count / 3)))
        let bad = try runAxon(["inspect", broken])
        #expect(bad.status != 0 && bad.stderr.contains("is not an ONNX model"), "\(bad.stderr)")
    }
}

extension Permute {
    /// One forward pass (no cache kept), for tests.
    func callAsFunctionForTests(_ x: Tensor) throws -> Tensor {
        var p = self
        return try p.forward(x, training: false)
    }
}
