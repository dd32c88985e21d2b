import Foundation
import SwiftProtobuf

/// Writes Axon networks as ONNX models (opset 13, IR version 7) that
/// onnxruntime runs, through the Swift types generated from `onnx.proto`
/// (see `ONNXFile` for the other direction).
///
/// Images: Axon holds them NHWC, ONNX's operators and its users expect NCHW.
/// By default (`ImageLayout.nchw`) the exported model takes and gives 4-D
/// tensors NCHW, as models from PyTorch or the ONNX model zoo do, so its
/// convolutions and pools are ONNX's native ones and preprocessing written for
/// ONNX models applies. Every 4-D value remembers its layout: a `Transpose`
/// back to Axon's order is written only where the axis order matters (a Flatten,
/// Reshape, Dense, Permute or LSTM after a convolution), once per value.
/// `.nhwc` takes and gives the tensors Axon does (one Transpose after each
/// image input), for callers that feed Axon's arrays unchanged.
///
/// Every layer of Axon's presets and pretrained graphs is exported (see
/// `supportedLayers`); another layer is an error naming it and its path.
public enum ONNXExport {
    /// The default-domain opset of the exported models.
    public static let opset = 13

    /// How the exported model takes and gives 4-D (image) tensors.
    public enum ImageLayout: String, Sendable, CaseIterable {
        /// [N, C, H, W], ONNX's convention (the default).
        case nchw
        /// [N, H, W, C], Axon's: the arrays Axon takes, unchanged.
        case nhwc
    }

    /// The layers the export writes.
    public static let supportedLayers = [
        "Sequential", "Graph", "Conv2D", "DepthwiseConv2D", "Dense", "MaxPool2D", "AvgPool2D", "StochasticPool2D",
        "GlobalAveragePool2D", "ZeroPadding2D", "BatchNorm", "Dropout", "Flatten", "Reshape", "LSTM", "ReLU", "ReLU6",
        "Sigmoid", "Tanh", "Clip", "Softmax", "LogSoftmax", "Permute", "Concatenate", "Add", "Multiply", "Divide",
    ]

    /// `network` (built) as a binary ModelProto.
    public static func serialized(_ network: any Network, layout: ImageLayout = .nchw) throws -> [UInt8] {
        try model(network, layout: layout).serializedBytes() as [UInt8]
    }

    /// What an exported model holds.
    public struct Summary: Sendable {
        public var nodes: Int
        public var opCounts: [String: Int]
        /// Names and shapes (without the batch axis) of the inputs and outputs, as the model declares them.
        public var inputs: [(name: String, shape: [Int])]
        public var outputs: [(name: String, shape: [Int])]
    }

    /// Writes `network` (built) as an ONNX model to `path`, atomically.
    @discardableResult
    public static func write(_ network: any Network, to path: String, layout: ImageLayout = .nchw) throws -> Summary {
        let m = try model(network, layout: layout)
        try writeFileAtomically(m.serializedBytes() as [UInt8], to: path)
        func shapes(_ values: [Onnx_ValueInfoProto]) -> [(name: String, shape: [Int])] {
            values.map { ($0.name, $0.type.tensorType.shape.dim.dropFirst().map { Int($0.dimValue) }) }
        }
        return Summary(nodes: m.graph.node.count, opCounts: Dictionary(m.graph.node.map { ($0.opType, 1) }, uniquingKeysWith: +),
                       inputs: shapes(m.graph.input), outputs: shapes(m.graph.output))
    }

    /// `x` (Axon's layout, batch axis first) as the exported model takes or gives it.
    public static func exported(_ x: Tensor, layout: ImageLayout) -> Tensor {
        guard x.rank == 4, layout == .nchw else { return x }
        var y = Tensor.empty
        Permute.permuted(x, [0, 3, 1, 2], into: &y)
        return y
    }

    /// Writes `tensor` as a float32 TensorProto called `name` (the files of ONNX's
    /// test data sets, `input_0.pb` and `output_0.pb`), atomically.
    public static func writeTensor(_ tensor: Tensor, name: String, to path: String) throws {
        var t = ONNXWriter.floatTensor(name, tensor.shape, tensor.scalars)
        t.name = name
        try writeFileAtomically(t.serializedBytes() as [UInt8], to: path)
    }

    static func model(_ network: any Network, layout: ImageLayout) throws -> Onnx_ModelProto {
        guard let shapes = network.inputShapes else {
            throw AxonError.invalidArgument("the \(type(of: network).kind) is not built; build it for its input shape before exporting")
        }
        var w = ONNXWriter(layout: layout)
        let inputNames = (network as? Graph)?.inputNames ?? ["input"]
        let inputs = zip(inputNames, shapes).map { w.input($0, example: $1) }
        let outputs = try w.network(network, inputs, path: "")
        let outputNames = (network as? Graph)?.outputNames ?? ["output"]
        for (value, name) in zip(outputs, outputNames) { w.output(value, name: name) }
        var model = Onnx_ModelProto()
        model.irVersion = 7
        model.producerName = "axon"
        model.producerVersion = AxonVersion.string
        var set = Onnx_OperatorSetIdProto()
        set.domain = ""
        set.version = Int64(opset)
        model.opsetImport = [set]
        w.graph.name = type(of: network).kind
        model.graph = w.graph
        return model
    }
}

/// The graph being written: ONNX nodes, initializers and the layout of each value.
struct ONNXWriter {
    /// A value of the exported graph: its name, the shape of one example in
    /// Axon's axis order, and whether ONNX holds it NCHW (4-D values only).
    struct Value {
        var name: String
        var example: [Int]
        var nchw = false
    }

    let layout: ONNXExport.ImageLayout
    var graph = Onnx_GraphProto()
    private var used: Set<String> = []
    /// Values already written in the other layout, by name.
    private var converted: [String: Value] = [:]

    init(layout: ONNXExport.ImageLayout) { self.layout = layout }

    /// `base`, or `base_2`, `base_3`… if taken: ONNX values are assigned once.
    mutating func fresh(_ base: String) -> String {
        var name = base, k = 1
        while used.contains(name) {
            k += 1
            name = "\(base)_\(k)"
        }
        used.insert(name)
        return name
    }

    // MARK: graph inputs and outputs

    mutating func input(_ name: String, example: [Int]) -> Value {
        let v = Value(name: fresh(name), example: example, nchw: example.count == 3 && layout == .nchw)
        graph.input.append(valueInfo(v))
        return v
    }

    mutating func output(_ value: Value, name: String) {
        var v = value.example.count == 3 && layout == .nchw ? nchw(value) : axonOrder(value)
        if v.name != name && !used.contains(name) {
            v.name = node("Identity", [v.name], fresh(name))
        } else if graph.input.contains(where: { $0.name == v.name }) {
            v.name = node("Identity", [v.name], fresh(name + "/output"))
        }
        graph.output.append(valueInfo(v))
    }

    /// The name, element type (float) and shape (a symbolic batch axis "N") of `v`.
    private func valueInfo(_ v: Value) -> Onnx_ValueInfoProto {
        var shape = Onnx_TensorShapeProto()
        var batch = Onnx_TensorShapeProto.Dimension()
        batch.dimParam = "N"
        shape.dim = [batch] + onnxShape(v).map { d in
            var dim = Onnx_TensorShapeProto.Dimension()
            dim.dimValue = Int64(d)
            return dim
        }
        var tensor = Onnx_TypeProto.Tensor()
        tensor.elemType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        tensor.shape = shape
        var info = Onnx_ValueInfoProto()
        info.name = v.name
        info.type.tensorType = tensor
        return info
    }

    /// One example's shape as ONNX holds it.
    func onnxShape(_ v: Value) -> [Int] { v.nchw ? [v.example[2], v.example[0], v.example[1]] : v.example }

    // MARK: nodes and constants

    /// Appends a node named after its (first) output, or `name`, and returns that output's name.
    @discardableResult
    mutating func node(_ op: String, _ inputs: [String], _ output: String, outputs more: [String] = [], name: String? = nil,
                       _ attributes: [Onnx_AttributeProto] = []) -> String {
        var n = Onnx_NodeProto()
        n.opType = op
        n.name = name ?? output
        n.input = inputs
        n.output = [output] + more
        n.attribute = attributes
        graph.node.append(n)
        return output
    }

    /// A node whose output is a new value named after `base`, with `example` and `nchw` as given.
    mutating func value(_ op: String, _ inputs: [String], _ base: String, example: [Int], nchw: Bool,
                        _ attributes: [Onnx_AttributeProto] = []) -> Value {
        Value(name: node(op, inputs, fresh(base), attributes), example: example, nchw: nchw)
    }

    /// A float initializer; returns its name.
    mutating func floats(_ base: String, _ shape: [Int], _ values: [Float]) -> String {
        let t = Self.floatTensor(fresh(base), shape, values)
        graph.initializer.append(t)
        return t.name
    }

    /// A 1-D int64 initializer (shapes, axes, pads); returns its name.
    mutating func int64s(_ base: String, _ values: [Int]) -> String {
        var t = Onnx_TensorProto()
        t.name = fresh(base)
        t.dims = [Int64(values.count)]
        t.dataType = Int32(Onnx_TensorProto.DataType.int64.rawValue)
        t.int64Data = values.map { Int64($0) }
        graph.initializer.append(t)
        return t.name
    }

    static func floatTensor(_ name: String, _ shape: [Int], _ values: [Float]) -> Onnx_TensorProto {
        var t = Onnx_TensorProto()
        t.name = name
        t.dims = shape.map { Int64($0) }
        t.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        var bytes = Data(capacity: values.count * 4)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        t.rawData = bytes
        return t
    }

    static func attribute(_ name: String, int: Int) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        (a.name, a.type, a.i) = (name, .int, Int64(int))
        return a
    }

    static func attribute(_ name: String, ints: [Int]) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        (a.name, a.type, a.ints) = (name, .ints, ints.map { Int64($0) })
        return a
    }

    static func attribute(_ name: String, float: Float) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        (a.name, a.type, a.f) = (name, .float, float)
        return a
    }

    static func attribute(_ name: String, string: String) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        (a.name, a.type, a.s) = (name, .string, Data(string.utf8))
        return a
    }

    // MARK: layouts

    /// `v` held NCHW (a Transpose written the first time a value needs it).
    mutating func nchw(_ v: Value) -> Value {
        v.nchw || v.example.count != 3 ? v : transposed(v, [0, 3, 1, 2], nchw: true, suffix: "/nchw")
    }

    /// `v` in Axon's axis order.
    mutating func axonOrder(_ v: Value) -> Value {
        v.nchw ? transposed(v, [0, 2, 3, 1], nchw: false, suffix: "/nhwc") : v
    }

    private mutating func transposed(_ v: Value, _ perm: [Int], nchw: Bool, suffix: String) -> Value {
        if let c = converted[v.name] { return c }
        let out = value("Transpose", [v.name], v.name + suffix, example: v.example, nchw: nchw,
                        [Self.attribute("perm", ints: perm)])
        converted[v.name] = out
        return out
    }
}
