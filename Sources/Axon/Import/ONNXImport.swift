import Foundation

/// Turns ONNX models (opsets 13 and later) into Axon `Graph`s.
///
/// ONNX lays images out NCHW and Axon NHWC. Weights are converted at import
/// (convolution filters OIHW → HWIO) and every value keeps track of its layout:
/// a 4-D value made by a convolution, pooling or normalization stays NHWC
/// through the elementwise ops after it, and a `Permute` is inserted only where
/// ONNX's axis order matters (Flatten, Reshape, Transpose, Softmax over channels,
/// the graph's outputs in `.onnx` layout). Nodes keep ONNX's value names.
public enum ONNXImport {
    /// The ops Axon imports (default domain).
    public static let supportedOps = [
        "Add", "AveragePool", "BatchNormalization", "Clip", "Concat", "Constant", "Conv", "Div", "Dropout", "Flatten",
        "Gemm", "GlobalAveragePool", "Identity", "LSTM", "LogSoftmax", "MatMul", "MaxPool", "Mul", "Pad", "Relu", "Reshape",
        "Sigmoid", "Softmax", "Squeeze", "Sub", "Tanh", "Transpose", "Unsqueeze",
    ]

    /// How the imported graph takes its 4-D inputs and gives its 4-D outputs.
    public enum Layout: Sendable {
        /// Axon's: NHWC images in, NHWC out (what `axon classify` feeds).
        case axon
        /// ONNX's own: NCHW in and out, every tensor exactly as onnxruntime takes and
        /// gives it (the backend node tests).
        case onnx
        /// ONNX's own, and each input and output tensor is one whole example (fed with a
        /// batch axis of 1 in front): for graphs whose ops work along ONNX's axis 0
        /// (a Transpose or Concat of it, 1-D tensors), which Axon's layers keep
        /// apart as the batch axis otherwise. No convolution or pooling in this form.
        case onnxUnbatched
    }

    public struct Imported {
        /// The network, built for the input shapes the model declares.
        public var graph: Graph
        /// ONNX's names of the graph's inputs and outputs.
        public var inputNames: [String]
        public var outputNames: [String]
        /// Shapes of one example of each input, in the imported graph's layout.
        public var inputShapes: [[Int]]
        /// The model's default-domain opset.
        public var opset: Int
        /// How many nodes of each op the model holds.
        public var opCounts: [String: Int] = [:]
    }

    static func importModel(_ model: Onnx_ModelProto, layout: Layout, constants: [String: Tensor] = [:]) throws -> Imported {
        let defaultDomain = model.opsetImport.first { $0.domain.isEmpty || $0.domain == "ai.onnx" }
        guard let opset = defaultDomain.map({ Int($0.version) }) else {
            throw AxonError.invalidArgument("the model imports no default-domain opset (ir_version \(model.irVersion))")
        }
        guard ONNXFile.opsets.contains(opset) else {
            throw AxonError.invalidArgument("opset \(opset) is not supported (Axon imports opsets \(ONNXFile.opsets.lowerBound) to "
                + "\(ONNXFile.opsets.upperBound); onnx.version_converter.convert_version moves a model to one)")
        }
        let g = model.graph
        guard !g.node.isEmpty || !g.output.isEmpty else { throw AxonError.invalidArgument("the model's graph is empty") }
        var s = ONNXState(layout: layout)
        for t in g.initializer { s.value[t.name] = .constant(try ONNXFile.constant(t)) }
        for (name, t) in constants { s.value[name] = .constant(TFConstant(shape: t.shape, values: t.scalars)) }
        var inputNames: [String] = []
        for input in g.input where s.value[input.name] == nil {
            // An image input that the graph only transposes to NCHW (tf2onnx's Keras models) is NHWC already.
            let readers = g.node.filter { $0.input.contains(input.name) }
            let nhwc = !readers.isEmpty && readers.allSatisfy { n in
                n.opType == "Transpose" && n.attribute.contains { $0.name == "perm" && $0.ints == [0, 3, 1, 2] }
            }
            try s.addInput(input, heldNHWC: nhwc)
            inputNames.append(input.name)
        }
        guard !inputNames.isEmpty else { throw AxonError.invalidArgument("the model has no input (every input is an initializer)") }
        var counts: [String: Int] = [:]
        for (i, n) in g.node.enumerated() {
            let node = try ONNXFile.node(n, index: i)
            counts[node.op, default: 0] += 1
            guard node.domain.isEmpty || node.domain == "ai.onnx" else {
                throw s.fail(node, "domain \"\(node.domain)\" is not supported (the default ONNX domain only)")
            }
            guard supportedOps.contains(node.op) else {
                throw s.fail(node, "not supported; Axon imports \(supportedOps.joined(separator: ", "))")
            }
            for input in node.inputs where !input.isEmpty && s.value[input] == nil {
                throw s.fail(node, "reads \"\(input)\", which no earlier node, input or initializer defines")
            }
            try s.visit(node)
        }
        var outputs: [String] = []
        for o in g.output {
            guard let v = s.value[o.name] else { throw AxonError.invalidArgument("the output \"\(o.name)\" is computed by no node") }
            guard case .tensor(let t) = v else {
                throw AxonError.invalidArgument("the output \"\(o.name)\" is a constant; Axon imports outputs computed from the inputs")
            }
            guard t.batchAxis == 0 else {
                throw AxonError.invalidArgument("the output \"\(o.name)\" of shape \(t.shape) holds the batch on ONNX's axis \(t.batchAxis) "
                    + "(a time-major value); Axon gives every output batch-first")
            }
            outputs.append(layout != .axon ? try s.inONNXOrder(t).name : t.name)
        }
        var graph = try Graph(inputs: inputNames, nodes: s.nodes, outputs: outputs)
        try graph.build(inputShapes: s.inputShapes)
        try graph.checkMemory(batch: 1, training: false)
        return Imported(graph: graph, inputNames: inputNames, outputNames: g.output.map(\.name), inputShapes: s.inputShapes,
                        opset: opset, opCounts: counts)
    }
}

/// A computed ONNX value: the Axon graph value holding it, its ONNX shape and
/// whether Axon holds it NHWC (4-D values only).
struct ONNXTensor {
    var name: String
    var shape: [Int]
    var nhwc = false
    /// False when the whole ONNX tensor is one Axon example (`Layout.onnxUnbatched`).
    var batched = true
    /// ONNX's axis that is Axon's batch axis: 0 but in time-major values (the
    /// input and outputs of an LSTM of layout 0), which Axon holds with that
    /// axis moved first; only Transpose, Squeeze, Unsqueeze and LSTM read those.
    var batchAxis = 0
    /// The shape of one example as Axon holds it.
    var axonExample: [Int] {
        if nhwc { return [shape[2], shape[3], shape[1]] }
        return batched ? shape.enumerated().filter { $0.offset != batchAxis }.map(\.element) : shape
    }
}

enum ONNXValue {
    case constant(TFConstant)
    case tensor(ONNXTensor)
}

struct ONNXState {
    let layout: ONNXImport.Layout
    var value: [String: ONNXValue] = [:]
    var nodes: [Graph.Node] = []
    var inputShapes: [[Int]] = []
    /// Values already converted to the other layout, by name.
    var converted: [String: ONNXTensor] = [:]

    init(layout: ONNXImport.Layout) { self.layout = layout }

    /// Whether ONNX's axis 0 is Axon's batch axis; else the ONNX tensor is one example.
    var batched: Bool { layout != .onnxUnbatched }
    /// ONNX axis `a` as an axis of one Axon example (for values in ONNX's order).
    func exampleAxis(_ a: Int) -> Int { batched ? a - 1 : a }

    func fail(_ node: ONNXNode, _ message: String) -> AxonError {
        .invalidArgument("node \"\(node.name)\" (op \(node.op)): \(message)")
    }

    /// Adds a graph input; `heldNHWC`: a 4-D input that is NHWC in ONNX already (kept as it is).
    mutating func addInput(_ input: Onnx_ValueInfoProto, heldNHWC: Bool = false) throws {
        let what = "the input \"\(input.name)\""
        guard case .tensorType(let t)? = input.type.value else {
            throw AxonError.invalidArgument("\(what) is not a tensor (sequences, maps and optionals are not supported)")
        }
        guard t.elemType == Int32(Onnx_TensorProto.DataType.float.rawValue) else {
            throw AxonError.invalidArgument("\(what) has element type \(t.elemType); Axon computes in float32 (type 1) only")
        }
        var shape: [Int] = []
        for (i, d) in t.shape.dim.enumerated() {
            if case .dimValue(let v)? = d.value, v >= 1 { shape.append(Int(clamping: v)) }
            else if i == 0 { shape.append(1) }   // a symbolic batch size
            else { throw AxonError.invalidArgument("\(what) has no fixed size along axis \(i) (shape \(t.shape.dim.map(\.dimValue)))") }
        }
        guard let n = ModelFile.checkedProduct(shape), n <= 1 << 31 else {
            throw AxonError.invalidArgument("\(what) has shape \(shape), more than 2^31 values")
        }
        guard shape.count >= (batched ? 2 : 1), shape.count <= (batched ? 8 : 7) else {
            throw AxonError.invalidArgument("\(what) has shape \(shape); Axon needs a batch axis and at least one more, 8 axes at most")
        }
        let tensor = ONNXTensor(name: input.name, shape: shape, nhwc: shape.count == 4 && layout == .axon && !heldNHWC, batched: batched)
        value[input.name] = .tensor(tensor)
        inputShapes.append(tensor.axonExample)
    }

    mutating func add(_ name: String, _ layer: any Layer, inputs: [String]) {
        nodes.append(Graph.Node(name, layer, inputs: inputs))
    }

    /// Adds `layer` reading `inputs` as the ONNX value `output` of ONNX shape `shape`.
    mutating func define(_ output: String, _ layer: any Layer, inputs: [ONNXTensor], shape: [Int], nhwc: Bool = false) {
        add(output, layer, inputs: inputs.map(\.name))
        value[output] = .tensor(ONNXTensor(name: output, shape: shape, nhwc: nhwc, batched: batched))
    }

    /// `t` held NHWC (a Permute added the first time a value needs it).
    mutating func inNHWC(_ t: ONNXTensor, _ node: ONNXNode) throws -> ONNXTensor {
        guard t.shape.count == 4, t.batched else {
            throw fail(node, "supported on 4-D (NCHW) tensors with the batch axis first, got shape \(t.shape)")
        }
        if t.nhwc { return t }
        return permuted(t, [1, 2, 0], nhwc: true, suffix: "/nhwc")
    }

    /// `t` in ONNX's axis order.
    mutating func inONNXOrder(_ t: ONNXTensor) throws -> ONNXTensor {
        t.nhwc ? permuted(t, [2, 0, 1], nhwc: false, suffix: "/nchw") : t
    }

    private mutating func permuted(_ t: ONNXTensor, _ axes: [Int], nhwc: Bool, suffix: String) -> ONNXTensor {
        // Keyed by direction too: one Axon value can hold an NCHW value NHWC and that value's NHWC transpose as it is.
        if let c = converted[t.name + suffix] { return c }
        let out = ONNXTensor(name: t.name + suffix, shape: t.shape, nhwc: nhwc, batched: t.batched)
        add(out.name, Permute(axes), inputs: [t.name])
        converted[t.name + suffix] = out
        return out
    }

    // Reading inputs and attributes.

    func tensor(_ node: ONNXNode, _ k: Int = 0) throws -> ONNXTensor {
        let t = try anyTensor(node, k)
        guard t.batchAxis == 0 else {
            throw fail(node, "input \(k + 1) of shape \(t.shape) holds the batch on ONNX's axis \(t.batchAxis) (a time-major value); "
                + "Axon reads such values in Transpose, Squeeze, Unsqueeze and LSTM only")
        }
        return t
    }

    /// Input `k`, a computed tensor, wherever its batch axis is.
    func anyTensor(_ node: ONNXNode, _ k: Int = 0) throws -> ONNXTensor {
        guard k < node.inputs.count, case .tensor(let t)? = value[node.inputs[k]] else {
            throw fail(node, "input \(k + 1) must be a tensor computed from the graph's inputs")
        }
        return t
    }

    /// Input `k` as a constant; nil when it is omitted.
    func constant(_ node: ONNXNode, _ k: Int) throws -> TFConstant? {
        guard k < node.inputs.count, !node.inputs[k].isEmpty else { return nil }
        guard case .constant(let c)? = value[node.inputs[k]] else { throw fail(node, "input \(k + 1) must be a constant (an initializer)") }
        return c
    }

    /// Input `k`, a constant of integers (a shape, axes, pads) each within ±`limit`; nil when omitted.
    func intValues(_ node: ONNXNode, _ k: Int, limit: Int = 1 << 31) throws -> [Int]? {
        guard let c = try constant(node, k) else { return nil }
        return try c.values.map { v in
            guard let i = exactInteger(v, limit: limit) else {
                throw fail(node, "input \(k + 1) holds \(v), not an integer within ±\(limit)")
            }
            return i
        }
    }

    func int(_ node: ONNXNode, _ key: String, default d: Int) throws -> Int {
        switch node.attrs[key] {
        case nil: return d
        case .int(let v)?: return v
        default: throw fail(node, "attribute \(key) must be an integer")
        }
    }

    func float(_ node: ONNXNode, _ key: String, default d: Float) throws -> Float {
        switch node.attrs[key] {
        case nil: return d
        case .float(let v)?: return v
        default: throw fail(node, "attribute \(key) must be a float")
        }
    }

    func ints(_ node: ONNXNode, _ key: String) throws -> [Int]? {
        switch node.attrs[key] {
        case nil: return nil
        case .ints(let v)?: return v
        default: throw fail(node, "attribute \(key) must be a list of integers")
        }
    }

    func string(_ node: ONNXNode, _ key: String, default d: String) throws -> String {
        switch node.attrs[key] {
        case nil: return d
        case .string(let v)?: return v
        default: throw fail(node, "attribute \(key) must be a string")
        }
    }

    /// `axis` of a tensor of rank `rank`, made non-negative; axis 0 refused when it is the batch.
    func axis(_ node: ONNXNode, _ a: Int, rank: Int) throws -> Int {
        let r = a < 0 ? a + rank : a
        guard r >= 0, r < rank else { throw fail(node, "axis \(a) is out of range for rank \(rank)") }
        guard r != 0 || !batched else { throw fail(node, "operates along axis 0, the batch axis, which Axon's layers keep apart") }
        return r
    }

    /// Only the node's first output is computed; refuses nodes that ask for more.
    func singleOutput(_ node: ONNXNode) throws {
        if node.outputs.dropFirst().contains(where: { !$0.isEmpty }) {
            throw fail(node, "has \(node.outputs.count) outputs; Axon imports the first one only")
        }
    }
}
