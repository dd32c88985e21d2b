import Foundation
import SwiftProtobuf
import Testing
@testable import Axon

/// `ONNXExport` checked against Axon's own ONNX import: every preset of
/// `axon train` and graphs with batch norm, depthwise convolutions,
/// concatenation and residual sums, exported, imported back and run, give
/// Axon's outputs within 1e-5 (`make check-onnx` holds the export to onnxruntime).
@Suite struct ONNXExportTests {
    /// `network` built for `shape` with its BatchNorms' moving statistics made random
    /// (fresh ones are the identity, which would hide a mistake in their export).
    static func prepared(_ network: any Network, _ shape: [Int]) throws -> any Network {
        var n = network
        try n.build(inputShapes: [shape])
        var seed: UInt64 = 7
        n.updateState { name, value in
            seed += 1
            let range: ClosedRange<Float> = name.hasSuffix("variance") ? 0.5...2 : -0.5...0.5
            value = randomTensor(value.shape, seed: seed, range: range)
        }
        return n
    }

    /// Exports `network` in `layout`, imports the file back and returns the largest
    /// difference between the two on a batch of 3 random examples.
    static func roundTripDifference(_ network: any Network, layout: ONNXExport.ImageLayout,
                                    importLayout: ONNXImport.Layout? = nil) throws -> Float {
        let bytes = try ONNXExport.serialized(network, layout: layout)
        let model = try Onnx_ModelProto(serializedBytes: bytes)
        #expect(model.opsetImport.first?.version == Int64(ONNXExport.opset))
        // Images NCHW: the importer's Axon layout takes them NHWC again; NHWC: ONNX's layout takes them as they are.
        let imported = try ONNXImport.importModel(model, layout: importLayout ?? (layout == .nchw ? .axon : .onnx))
        let shapes = network.inputShapes!
        #expect(imported.inputShapes == shapes)
        let inputs = shapes.enumerated().map { randomTensor([3] + $1, seed: UInt64(10 + $0), range: 0...1) }
        var original = network, graph = imported.graph
        let expected: [Tensor]
        if var g = original as? Graph {
            expected = try g.forward(inputs, training: false)
        } else {
            expected = [try original.forward(inputs[0], training: false)]
        }
        let got = try graph.forward(inputs, training: false)
        #expect(got.map(\.shape) == expected.map(\.shape))
        return zip(got, expected).flatMap { zip($0.scalars, $1.scalars).map { abs($0 - $1) } }.max() ?? .infinity
    }

    @Test(arguments: Models.names)
    func presetsRoundTrip(_ name: String) throws {
        let shape = name == "small-cnn" ? [20, 12, 3] : [28, 28, 1]
        let network = try Self.prepared(try Models.named(name, seed: 3), shape)
        for layout in ONNXExport.ImageLayout.allCases {
            let worst = try Self.roundTripDifference(network, layout: layout)
            #expect(worst < 1e-5, "\(name) \(layout): largest difference \(worst)")
        }
    }

    /// Stacked LSTMs: every step's output (ONNX's Y, squeezed and transposed back) feeding the next.
    @Test func stackedLSTMsRoundTrip() throws {
        let network = try Self.prepared(Sequential(seed: 6) {
            Reshape([6, 10])
            LSTM(5, returnSequences: true)
            Dense(4, activation: .tanh)
            LSTM(3)
            Dense(2)
        }, [6, 5, 2])
        for layout in ONNXExport.ImageLayout.allCases {
            let worst = try Self.roundTripDifference(network, layout: layout)
            #expect(worst < 1e-5, "\(layout): largest difference \(worst)")
        }
    }

    @Test func averagePoolingRoundTrips() throws {
        let network = try Self.prepared(Models.deepMNIST(pool: .average, seed: 4), [28, 28, 1])
        #expect(try Self.roundTripDifference(network, layout: .nchw) < 1e-5)
    }

    /// Batch norm on images and on rows, depthwise convolutions, explicit padding,
    /// concatenation along channels, a residual sum, a gating product, ReLU6 and Clip, a Permute,
    /// average pooling with SAME padding, two outputs.
    static func mixedGraph() throws -> Graph {
        var b = GraphBuilder()
        let x = b.input("image")
        let stem = b.chain(x, name: "stem") {
            Conv2D(filters: 6, kernelSize: 3, strides: 2, padding: .same, useBias: false)
            BatchNorm()
            ReLU6()
        }
        let dw = b.chain(stem, name: "dw") {
            DepthwiseConv2D(kernelSize: 3, padding: .same, activation: .relu)
            BatchNorm(epsilon: 1e-5)
            Conv2D(filters: 6, kernelSize: 1)
        }
        let residual = b.apply(Add(), to: stem, dw, name: "residual")
        let sum = b.apply(Multiply(), to: residual, b.apply(Sigmoid(), to: residual, name: "gate"), name: "gated")
        let padded = b.chain(sum, name: "side") {
            ZeroPadding2D(top: 1, bottom: 0, left: 1, right: 0)
            Conv2D(filters: 4, kernelSize: 2, activation: .tanh)
            AvgPool2D(poolSize: 3, stride: 1, padding: .same)
        }
        let joined = b.apply(Concatenate(), to: [b.apply(MaxPool2D(poolSize: 2, stride: 1, padding: .same), to: sum), padded], name: "joined")
        let head = b.chain(joined, name: "head") {
            GlobalAveragePool2D()
            Dense(8, activation: .sigmoid)
            BatchNorm()
            Clip(lower: 0.1, upper: 0.9)
            Dense(5)
            Softmax()
        }
        let map = b.chain(joined, name: "map") {
            Permute([2, 0, 1])
            Flatten()
            Dense(3, activation: .relu6)
            LogSoftmax()
        }
        return try b.graph(outputs: [head, map], seed: 5)
    }

    @Test func graphWithBatchNormDepthwiseAndConcatRoundTrips() throws {
        let graph = try Self.prepared(Self.mixedGraph(), [13, 11, 3])
        for layout in ONNXExport.ImageLayout.allCases {
            let worst = try Self.roundTripDifference(graph, layout: layout)
            #expect(worst < 1e-5, "\(layout): largest difference \(worst)")
        }
        // NHWC in, only transposed to NCHW (as tf2onnx writes Keras models): Axon's layout takes it NHWC as it is.
        #expect(try Self.roundTripDifference(graph, layout: .nhwc, importLayout: .axon) < 1e-5)
    }

    @Test func smallInceptionV3RoundTrips() throws {
        let inception = try Self.prepared(Models.inceptionV3(classes: 7, widthDivisor: 16, seed: 2), [75, 75, 3])
        let worst = try Self.roundTripDifference(inception, layout: .nchw)
        #expect(worst < 1e-5, "largest difference \(worst)")
    }

    /// A layer the export does not know.
    struct Doubling: Layer {
        var isBuilt: Bool { true }
        var summary: String { "Doubling()" }
        mutating func build(inputShape: [Int], generator: inout SeededGenerator) throws {}
        func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }
        mutating func forward(_ x: Tensor, training: Bool) throws -> Tensor { try Tensor(shape: x.shape, scalars: x.scalars.map { 2 * $0 }) }
        mutating func backward(_ dy: Tensor) throws -> Tensor { dy }
    }

    @Test func unsupportedLayerIsNamed() throws {
        var network = Sequential(layers: [Flatten(), Dense(4), Doubling()])
        try network.build(inputShape: [2, 2, 1])
        #expect {
            try ONNXExport.serialized(network)
        } throws: { "\($0)".contains("layers.2") && "\($0)".contains("Doubling()") && "\($0)".contains("not supported by the ONNX export") }
        let unbuilt = Models.lenet5()
        #expect(throws: AxonError.self) { try ONNXExport.serialized(unbuilt) }
    }

    @Test func cliExportsWithTestData() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("axon-export-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = "\(dir)/lenet.safetensors", onnx = "\(dir)/lenet.onnx"
        try Self.prepared(Models.lenet5(seed: 9), [28, 28, 1]).save(to: model)
        let r = try runAxon(["export", model, "--onnx", onnx, "--test-data", "\(dir)/data", "--examples", "2"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("Conv 2") && r.stdout.contains("input [N, 1, 28, 28]"), "\(r.stdout)")
        // The written test data: NCHW inputs, and outputs that the re-imported model reproduces.
        let x = try ONNXFile.readTensor("\(dir)/data/input_0.pb").tensor
        let expected = try ONNXFile.readTensor("\(dir)/data/output_0.pb").tensor
        #expect(x.shape == [2, 1, 28, 28] && expected.shape == [2, 10])
        var graph = try ONNXFile.load(onnx, layout: .onnx).graph
        let y = try graph.forward([x], training: false)[0]
        #expect((zip(y.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? .infinity) < 1e-5)
        let bad = try runAxon(["export", model, "--onnx", dir])
        #expect(bad.status != 0 && bad.stderr.contains("is a directory"), "\(bad.stderr)")
    }
}
