import Foundation

/// One node of a TensorFlow GraphDef, decoded (see `GraphDefFile`): what the
/// importer needs and nothing else.
struct TFNode {
    var name: String
    var op: String
    /// Data inputs, as node names ("conv:0" and "conv" both become "conv");
    /// control inputs ("^name") are dropped.
    var inputs: [String]
    /// Output index of each data input (0 for "conv", 1 for "bn:1").
    var inputPorts: [Int]
    var attrs: [String: TFAttr]
}

enum TFAttr {
    case int(Int)
    case float(Float)
    case bool(Bool)
    case string(String)
    case ints([Int])
    case floats([Float])
    case strings([String])
    case type(Int)
    /// Dimensions (-1 where unknown); nil for an unknown rank.
    case shape([Int]?)
    case tensor(TFConstant)
    case other
}

/// A constant: float data (integers are converted) and its shape.
struct TFConstant {
    var shape: [Int]
    var values: [Float]
    var tensor: Tensor { Tensor(uncheckedShape: shape, scalars: values) }
}

/// Turns TensorFlow graphs into Axon `Graph`s: the 2015 op set of the course's
/// `classify_image_graph_def.pb` and frozen TensorFlow 2 graphs. Constants are
/// folded, `Identity` and `CheckNumerics` dropped, a bias after a convolution or
/// matrix product becomes its bias, and batch normalization becomes a
/// `BatchNorm` layer holding TensorFlow's statistics (folded into the
/// convolution by `foldedForInference()`, trainable like any other). The
/// `DecodeJpeg → Cast → ExpandDims → ResizeBilinear → Sub → Mul` front of the
/// 2015 graph becomes the model's `ImagePreprocessing`; the Graph's input is
/// the normalised image.
public enum GraphDefImport {
    /// The ops Axon imports.
    public static let supportedOps = [
        "Add", "AddV2", "AvgPool", "BatchNormWithGlobalNormalization", "BiasAdd", "Cast", "CheckNumerics", "Concat",
        "ConcatV2", "Const", "Conv2D", "DecodeJpeg", "DepthwiseConv2dNative", "ExpandDims", "FusedBatchNorm",
        "FusedBatchNormV3", "Identity", "MatMul", "MaxPool", "Mean", "Mul", "NoOp", "Pack", "Pad", "Placeholder", "Relu",
        "Relu6", "Reshape", "ResizeBilinear", "Rsqrt", "Shape", "Softmax", "Squeeze", "StridedSlice", "Sub",
    ]

    public struct Imported {
        /// The network, built; its nodes keep TensorFlow's names (a folded bias or
        /// batch normalization takes the name of the last node it replaced).
        public var graph: Graph
        /// The JPEG front of a 2015 graph as preprocessing, nil for a graph that takes a tensor.
        public var preprocessing: ImagePreprocessing?
        /// TensorFlow's name of the graph's input node.
        public var inputName: String
        /// How many nodes of each op the GraphDef holds.
        public var opCounts: [String: Int] = [:]
    }

    static func fail(_ node: TFNode, _ message: String) -> AxonError {
        .invalidArgument("node \"\(node.name)\" (op \(node.op)): \(message)")
    }

    /// Imports decoded nodes. `outputs` names the nodes to expose (default: every
    /// node nothing reads).
    static func importNodes(_ nodes: [TFNode], outputs requested: [String]? = nil) throws -> Imported {
        let byName = Dictionary(nodes.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for node in nodes where !supportedOps.contains(node.op) {
            throw fail(node, "not supported; Axon imports \(supportedOps.joined(separator: ", "))")
        }
        for node in nodes {
            for (input, port) in zip(node.inputs, node.inputPorts) {
                guard byName[input] != nil else { throw fail(node, "reads \"\(input)\", which is not in the graph") }
                if port != 0 { throw fail(node, "reads output \(port) of \"\(input)\"; Axon imports the first output of each node") }
            }
        }
        var s = ImportState(byName: byName)
        for node in try topologicalOrder(nodes) { try s.visit(node) }
        guard let input = s.inputName else {
            throw AxonError.invalidArgument("the graph has no Placeholder or DecodeJpeg input")
        }
        // Outputs: the requested ones, else the values nothing reads.
        var read = Set<String>()
        for node in s.nodes { read.formUnion(node.inputs) }
        let outputs = try (requested ?? s.nodes.map(\.name).filter { !read.contains($0) }).map { name -> String in
            guard let v = s.value[name], case .node(let n) = v else {
                throw AxonError.invalidArgument("\"\(name)\" is not a node of the imported network (a constant or not in the graph)")
            }
            return n
        }
        var graph = try Graph(inputs: [s.graphInput], nodes: s.nodes, outputs: outputs.isEmpty ? [s.graphInput] : outputs)
        guard let shape = s.inputShape, shape.allSatisfy({ $0 > 0 }) else {
            throw AxonError.invalidArgument("the input \"\(input)\" has no fully known shape (got \(s.inputShape ?? []))")
        }
        try graph.build(inputShapes: [shape])
        // One example must fit the memory budget (a Pad of 10^6 pixels is refused here, not when run).
        try graph.checkMemory(batch: 1, training: false)
        return Imported(graph: graph, preprocessing: s.preprocessing, inputName: input,
                        opCounts: nodes.reduce(into: [:]) { $0[$1.op, default: 0] += 1 })
    }

    /// Kahn's order: GraphDef nodes are usually, not always, listed inputs first.
    static func topologicalOrder(_ nodes: [TFNode]) throws -> [TFNode] {
        var remaining = Dictionary(nodes.map { ($0.name, Set($0.inputs)) }, uniquingKeysWith: { a, _ in a })
        var readers: [String: [String]] = [:]
        for node in nodes { for i in Set(node.inputs) { readers[i, default: []].append(node.name) } }
        let index = Dictionary(nodes.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        var ready = nodes.filter { $0.inputs.isEmpty }.map(\.name)
        var order: [TFNode] = []
        while let name = ready.first {
            ready.removeFirst()
            order.append(nodes[index[name]!])
            for r in readers[name] ?? [] {
                remaining[r]?.remove(name)
                if remaining[r]?.isEmpty == true { remaining[r] = nil; ready.append(r) }
            }
        }
        guard order.count == nodes.count else { throw AxonError.invalidArgument("the graph has a cycle") }
        return order
    }
}

/// What a TensorFlow node's output became.
enum ImportedValue {
    case constant(TFConstant)
    /// An Axon graph value (input or node), by name.
    case node(String)
    /// The raw image of the JPEG front, before the resize that ends it.
    case image(stage: Int)
}

struct ImportState {
    let byName: [String: TFNode]
    var value: [String: ImportedValue] = [:]
    var nodes: [Graph.Node] = []
    var inputName: String?
    var inputShape: [Int]?
    var graphInput = "input"
    var preprocessing: ImagePreprocessing?
    /// For the JPEG front: the resize size and align_corners, then Sub and Mul constants.
    var resize: (height: Int, width: Int)?
    var subtract: Float = 0

    func fail(_ node: TFNode, _ message: String) -> AxonError { GraphDefImport.fail(node, message) }

    func constant(_ node: TFNode, input k: Int) throws -> TFConstant {
        guard k < node.inputs.count, case .constant(let c)? = value[node.inputs[k]] else {
            throw fail(node, "input \(k + 1) must be a constant")
        }
        return c
    }

    /// A constant input of whole numbers (shapes, axes, sizes).
    func integers(_ node: TFNode, input k: Int) throws -> [Int] {
        try constant(node, input: k).values.map { v in
            guard let i = exactInteger(v) else { throw fail(node, "input \(k + 1) holds \(v), not an integer within ±2^31") }
            return i
        }
    }

    func source(_ node: TFNode, _ k: Int = 0) throws -> String {
        guard k < node.inputs.count, case .node(let n)? = value[node.inputs[k]] else {
            throw fail(node, "input \(k + 1) must be a tensor computed by the network")
        }
        return n
    }

    func ints(_ node: TFNode, _ key: String) throws -> [Int] {
        guard case .ints(let v)? = node.attrs[key] else { throw fail(node, "attribute \(key) (a list of integers) is missing") }
        return v
    }

    func string(_ node: TFNode, _ key: String, default d: String? = nil) throws -> String {
        if case .string(let v)? = node.attrs[key] { return v }
        if let d { return d }
        throw fail(node, "attribute \(key) is missing")
    }

    func padding(_ node: TFNode) throws -> Padding {
        switch try string(node, "padding") {
        case "SAME": return .same
        case "VALID": return .valid
        case let p: throw fail(node, "padding \(p) is not supported (SAME or VALID)")
        }
    }

    /// Strides or window [1, h, w, 1] of an NHWC op.
    func spatial(_ node: TFNode, _ key: String) throws -> (Int, Int) {
        if try string(node, "data_format", default: "NHWC") != "NHWC" {
            throw fail(node, "data_format \(try string(node, "data_format")) is not supported (NHWC only)")
        }
        let v = try ints(node, key)
        guard v.count == 4, v[0] == 1, v[3] == 1, v[1] >= 1, v[2] >= 1 else { throw fail(node, "\(key) \(v) must be [1, h, w, 1]") }
        return (v[1], v[2])
    }

    /// Readers of `name` among the nodes not yet visited cannot be known in one
    /// pass, so a bias or normalization is merged into the node before it only
    /// when that node is read by nothing else in the whole GraphDef.
    func readBy(_ name: String) -> Int {
        byName.values.reduce(0) { $0 + $1.inputs.filter { $0 == name }.count }
    }

    func built<L: Layer>(_ layer: L, inputShape: [Int], _ tensors: [String: Tensor]) throws -> L {
        try ImportSupport.built(layer, inputShape: inputShape, tensors)
    }

    mutating func add(_ name: String, _ layer: any Layer, inputs: [String]) {
        nodes.append(Graph.Node(name, layer, inputs: inputs))
        value[name] = .node(name)
    }

    /// Replaces the layer of Axon node `axonName` and renames it to `newName`.
    mutating func replaceLast(_ axonName: String, with layer: any Layer, newName: String) {
        guard let i = nodes.lastIndex(where: { $0.name == axonName }) else { return }
        nodes[i].layer = layer
        nodes[i].name = newName
        value[newName] = .node(newName)
    }

    mutating func visit(_ node: TFNode) throws {
        // Every op but these reads its first input (make fuzz: an Identity without one trapped).
        if node.inputs.isEmpty && !["Const", "NoOp", "Placeholder", "DecodeJpeg"].contains(node.op) {
            throw fail(node, "has no input")
        }
        switch node.op {
        case "Const":
            guard case .tensor(let t)? = node.attrs["value"] else { throw fail(node, "has no tensor value") }
            value[node.name] = .constant(t)
        case "NoOp":
            break
        case "Identity", "CheckNumerics":
            value[node.name] = value[node.inputs[0]]
        case "Placeholder":
            guard inputName == nil else { throw fail(node, "a second input; Axon imports graphs with one input") }
            guard case .shape(let dims)? = node.attrs["shape"], let dims, dims.count >= 2 else {
                throw fail(node, "needs a known shape [batch, ...]")
            }
            inputName = node.name
            graphInput = node.name
            inputShape = Array(dims.dropFirst())
            value[node.name] = .node(node.name)
        case "DecodeJpeg":
            guard inputName == nil else { throw fail(node, "a second input; Axon imports graphs with one input") }
            inputName = node.name
            value[node.name] = .image(stage: 0)
        case "Cast", "ExpandDims":
            if case .image(let stage)? = value[node.inputs[0]] {
                value[node.name] = .image(stage: stage + 1)
            } else if case .constant(let c)? = value[node.inputs[0]] {
                value[node.name] = .constant(c)   // integer constants are floats already
            } else {
                throw fail(node, "supported only in the JPEG input chain or on constants")
            }
        case "ResizeBilinear":
            guard case .image? = value[node.inputs[0]] else { throw fail(node, "supported only right after the JPEG decoding") }
            let size = try integers(node, input: 1)
            guard size.count == 2, size.allSatisfy({ $0 >= 1 && $0 <= 4096 }) else { throw fail(node, "size \(size) must be [h, w]") }
            if case .bool(true)? = node.attrs["half_pixel_centers"] { throw fail(node, "half_pixel_centers is not supported") }
            if case .bool(true)? = node.attrs["align_corners"] { throw fail(node, "align_corners is not supported") }
            resize = (size[0], size[1])
            value[node.name] = .image(stage: 100)
        case "Sub", "Mul", "Add", "AddV2":
            try visitArithmetic(node)
        case "Rsqrt":
            guard case .constant(let c)? = value[node.inputs[0]] else { throw fail(node, "supported on constants only") }
            value[node.name] = .constant(TFConstant(shape: c.shape, values: c.values.map { 1 / $0.squareRoot() }))
        case "Conv2D":
            let (sh, sw) = try spatial(node, "strides")
            if case .ints(let d)? = node.attrs["dilations"], d.contains(where: { $0 != 1 }) {
                throw fail(node, "dilations \(d) are not supported")
            }
            let w = try constant(node, input: 1)
            guard w.shape.count == 4 else { throw fail(node, "filter shape \(w.shape) must be [kh, kw, in, out]") }
            let conv = Conv2D(filters: w.shape[3], kernelSize: (w.shape[0], w.shape[1]), strides: (sh, sw),
                              padding: try padding(node), useBias: false)
            add(node.name, try built(conv, inputShape: Array(w.shape.prefix(3)), ["kernel": w.tensor]), inputs: [try source(node)])
        case "DepthwiseConv2dNative":
            let (sh, sw) = try spatial(node, "strides")
            let w = try constant(node, input: 1)
            guard w.shape.count == 4, w.shape[3] == 1 else { throw fail(node, "filter shape \(w.shape) must be [kh, kw, c, 1]") }
            let conv = DepthwiseConv2D(kernelSize: (w.shape[0], w.shape[1]), strides: (sh, sw), padding: try padding(node),
                                       useBias: false)
            add(node.name, try built(conv, inputShape: Array(w.shape.prefix(3)), ["kernel": w.tensor]), inputs: [try source(node)])
        case "MatMul":
            if case .bool(true)? = node.attrs["transpose_a"] { throw fail(node, "transpose_a is not supported") }
            var w = try constant(node, input: 1)
            guard w.shape.count == 2 else { throw fail(node, "weights of shape \(w.shape) must be a matrix") }
            if case .bool(true)? = node.attrs["transpose_b"] { w = w.transposed() }
            add(node.name, try built(Dense(w.shape[1]), inputShape: [w.shape[0]], ["kernel": w.tensor]), inputs: [try source(node)])
        case "BiasAdd":
            try visitBias(node, try constant(node, input: 1))
        case "BatchNormWithGlobalNormalization":
            // Inputs t, m, v, beta, gamma.
            let (m, v, beta, gamma) = (try constant(node, input: 1), try constant(node, input: 2), try constant(node, input: 3),
                                       try constant(node, input: 4))
            guard case .float(let eps)? = node.attrs["variance_epsilon"] else { throw fail(node, "variance_epsilon is missing") }
            var scaled = false
            if case .bool(let b)? = node.attrs["scale_after_normalization"] { scaled = b }
            try addBatchNorm(node, mean: m, variance: v, beta: beta, gamma: scaled ? gamma : nil, epsilon: eps)
        case "FusedBatchNorm", "FusedBatchNormV3":
            if case .bool(true)? = node.attrs["is_training"] { throw fail(node, "is_training must be false in an imported graph") }
            _ = try spatialFormat(node)
            var eps: Float = 1e-4
            if case .float(let e)? = node.attrs["epsilon"] { eps = e }
            try addBatchNorm(node, mean: try constant(node, input: 3), variance: try constant(node, input: 4),
                             beta: try constant(node, input: 2), gamma: try constant(node, input: 1), epsilon: eps)
        case "Relu": add(node.name, ReLU(), inputs: [try source(node)])
        case "Relu6": add(node.name, ReLU6(), inputs: [try source(node)])
        case "Softmax": add(node.name, Softmax(), inputs: [try source(node)])
        case "MaxPool", "AvgPool":
            let (kh, kw) = try spatial(node, "ksize"), (sh, sw) = try spatial(node, "strides")
            let p = try padding(node)
            add(node.name, node.op == "MaxPool" ? MaxPool2D(poolSize: (kh, kw), stride: (sh, sw), padding: p) as any Layer
                : AvgPool2D(poolSize: (kh, kw), stride: (sh, sw), padding: p), inputs: [try source(node)])
        case "Concat", "ConcatV2":
            // Concat: the axis first; ConcatV2: the axis last.
            let axisIndex = node.op == "Concat" ? 0 : node.inputs.count - 1
            let axis = Int(try constant(node, input: axisIndex).values.first ?? -1)
            let parts = try node.inputs.indices.filter { $0 != axisIndex }.map { try source(node, $0) }
            add(node.name, Concatenate(axis: axis), inputs: parts)
        case "Reshape", "Squeeze":
            if case .constant(let c)? = value[node.inputs[0]] {
                value[node.name] = .constant(c)   // a constant's values, whatever its shape (biases reshaped to vectors)
            } else {
                try visitReshape(node)
            }
        case "Shape":
            // Only the batch size is ever taken from a shape here (Flatten's
            // [batch, -1]): every entry unknown, -1.
            value[node.name] = .constant(TFConstant(shape: [4], values: [-1, -1, -1, -1]))
        case "StridedSlice":
            let x = try constant(node, input: 0), begin = try integers(node, input: 1)
            let end = try integers(node, input: 2), step = try integers(node, input: 3)
            guard begin.count == 1, end.count == 1, step == [1], begin[0] >= 0, end[0] <= x.values.count, begin[0] < end[0] else {
                throw fail(node, "supported on a vector constant with one range and step 1")
            }
            var shrink = false
            if case .int(let m)? = node.attrs["shrink_axis_mask"] { shrink = m & 1 == 1 }
            let v = Array(x.values[begin[0]..<(shrink ? begin[0] + 1 : end[0])])
            value[node.name] = .constant(TFConstant(shape: shrink ? [] : [v.count], values: v))
        case "Pack":
            let parts = try node.inputs.indices.map { try constant(node, input: $0) }
            if case .int(let axis)? = node.attrs["axis"], axis != 0 { throw fail(node, "supported along axis 0 only") }
            let v = parts.flatMap(\.values)
            value[node.name] = .constant(TFConstant(shape: [v.count], values: v))
        case "Mean":
            let axes = Set(try integers(node, input: 1))
            guard axes == [1, 2] || axes == [-3, -2] else { throw fail(node, "reduces axes \(axes.sorted()); Axon imports the mean over H and W") }
            var keep = false
            if case .bool(let b)? = node.attrs["keep_dims"] { keep = b }
            let src = try source(node)
            if keep {
                add(node.name + "/global_average", GlobalAveragePool2D(), inputs: [src])
                add(node.name, Reshape([1, 1, -1]), inputs: [node.name + "/global_average"])
            } else {
                add(node.name, GlobalAveragePool2D(), inputs: [src])
            }
        case "Pad":
            let p = try integers(node, input: 1)
            guard p.count == 8, p[0] == 0, p[1] == 0, p[6] == 0, p[7] == 0, p.allSatisfy({ $0 >= 0 }) else {
                throw fail(node, "paddings \(p) must pad only height and width, by >= 0")
            }
            add(node.name, ZeroPadding2D(top: p[2], bottom: p[3], left: p[4], right: p[5]), inputs: [try source(node)])
        default:
            throw fail(node, "not supported")
        }
    }

    func spatialFormat(_ node: TFNode) throws -> String {
        let f = try string(node, "data_format", default: "NHWC")
        guard f == "NHWC" else { throw fail(node, "data_format \(f) is not supported (NHWC only)") }
        return f
    }

    mutating func visitArithmetic(_ node: TFNode) throws {
        let a = value[node.inputs[0]], b = node.inputs.count > 1 ? value[node.inputs[1]] : nil
        switch (a, b) {
        case (.constant(let x)?, .constant(let y)?):
            value[node.name] = .constant(try elementwise(node, x, y))
        case (.image(let stage)?, .constant(let c)?) where stage >= 100 && c.values.count == 1:
            // The 2015 front: (image − 128) · (1/128).
            if node.op == "Sub" {
                subtract = c.values[0]
                value[node.name] = .image(stage: stage + 1)
            } else if node.op == "Mul", c.values[0] > 0, let (h, w) = resize {
                let std = 1 / c.values[0]
                preprocessing = ImagePreprocessing(size: h, centralFraction: 1, mean: [subtract, subtract, subtract],
                                                   std: [std, std, std], width: w == h ? nil : w, halfPixelCenters: false,
                                                   keepAspectRatio: false)
                inputShape = [h, w, 3]
                value[node.name] = .node(graphInput)
            } else {
                throw fail(node, "unexpected in the JPEG input chain")
            }
        case (.node?, .constant(let c)?) where node.op == "Add" || node.op == "AddV2" || node.op == "Sub":
            try visitBias(node, node.op == "Sub" ? TFConstant(shape: c.shape, values: c.values.map { -$0 }) : c)
        case (.node(let src)?, .constant(let c)?) where node.op == "Mul":
            // x · scale per channel (a decomposed batch normalization): a BatchNorm with
            // mean 0, variance 1, ε 0 and γ = scale, exact, which folds like any other.
            let one = TFConstant(shape: c.shape, values: c.values.map { _ in 1 })
            let zero = TFConstant(shape: c.shape, values: c.values.map { _ in 0 })
            try addBatchNorm(node, mean: zero, variance: one, beta: zero, gamma: c, epsilon: 0, source: src)
        case (.node(let x)?, .node(let y)?) where node.op == "Add" || node.op == "AddV2":
            add(node.name, Add(), inputs: [x, y])
        default:
            throw fail(node, "supported between two tensors (Add), a tensor and a per-channel constant, or two constants")
        }
    }

    /// Constant folding with TensorFlow's broadcasting of a scalar or a trailing vector.
    func elementwise(_ node: TFNode, _ x: TFConstant, _ y: TFConstant) throws -> TFConstant {
        let op: (Float, Float) -> Float
        switch node.op {
        case "Sub": op = { $0 - $1 }
        case "Mul": op = { $0 * $1 }
        default: op = { $0 + $1 }
        }
        guard let r = TFConstant.broadcast(x, y, op) else {
            throw fail(node, "cannot broadcast constants of shapes \(x.shape) and \(y.shape)")
        }
        return r
    }

    /// A per-channel bias: merged into the convolution or matrix product before
    /// it when nothing else reads that, else into a BatchNorm after it.
    mutating func visitBias(_ node: TFNode, _ bias: TFConstant) throws {
        let src = try source(node)
        if readBy(node.inputs[0]) == 1, let i = nodes.lastIndex(where: { $0.name == src }) {
            var layer: (any Layer)?
            // Folded only where the bias has one value per output channel; otherwise the
            // BatchNorm below refuses the mismatch with the node's name (make fuzz).
            if let f = nodes[i].layer as? any BatchNormFoldable, f.activation == .linear, f.outputChannels == bias.values.count {
                layer = try f.folded(scale: bias.values.map { _ in 1 }, shift: bias.values, activation: .linear)
            }
            if var bn = nodes[i].layer as? BatchNorm, bn.center, bn.beta.count == bias.values.count {
                try bn.setTensor("beta", to: Tensor(uncheckedShape: [bias.values.count],
                                                   scalars: zip(bn.beta.scalars, bias.values).map { $0 + $1 }))
                layer = bn
            }
            if let layer {
                replaceLast(src, with: layer, newName: node.name)
                renameReads(from: src, to: node.name)
                return
            }
        }
        let one = TFConstant(shape: bias.shape, values: bias.values.map { _ in 1 })
        let zero = TFConstant(shape: bias.shape, values: bias.values.map { _ in 0 })
        try addBatchNorm(node, mean: zero, variance: one, beta: bias, gamma: nil, epsilon: 0, source: src)
    }

    mutating func renameReads(from old: String, to new: String) {
        for i in nodes.indices { nodes[i].inputs = nodes[i].inputs.map { $0 == old ? new : $0 } }
        for (k, v) in value { if case .node(old) = v { value[k] = .node(new) } }
    }

    mutating func addBatchNorm(_ node: TFNode, mean: TFConstant, variance: TFConstant, beta: TFConstant, gamma: TFConstant?,
                               epsilon: Float, source: String? = nil) throws {
        let c = mean.values.count
        guard c >= 1, variance.values.count == c, beta.values.count == c, gamma.map({ $0.values.count == c }) ?? true else {
            throw fail(node, "statistics of different lengths")
        }
        var tensors = ["moving_mean": mean.tensor.reshapedUnchecked([c]), "moving_variance": variance.tensor.reshapedUnchecked([c]),
                       "beta": beta.tensor.reshapedUnchecked([c])]
        tensors["gamma"] = gamma?.tensor.reshapedUnchecked([c])
        add(node.name, try built(BatchNorm(epsilon: epsilon, scale: gamma != nil), inputShape: [c], tensors),
            inputs: [try source ?? self.source(node)])
    }

    mutating func visitReshape(_ node: TFNode) throws {
        let src = try source(node)
        if node.op == "Squeeze" {
            add(node.name, Flatten(), inputs: [src])   // [N, 1, 1, C] → [N, C]: the squeeze Axon's graphs meet
            return
        }
        let shape = try integers(node, input: 1)
        let example = Array(shape.dropFirst())
        guard shape.count >= 2, shape[0] == -1 || shape[0] == 1, example.filter({ $0 == -1 }).count <= 1,
              example.allSatisfy({ $0 == -1 || $0 >= 1 }) else {
            throw fail(node, "shape \(shape) must keep the batch axis first (-1 or 1), with at most one other -1")
        }
        add(node.name, example == [-1] ? Flatten() as any Layer : Reshape(example), inputs: [src])
    }
}

extension TFConstant {
    /// The transpose of a matrix.
    func transposed() -> TFConstant {
        let (r, c) = (shape[0], shape[1])
        var out = [Float](repeating: 0, count: values.count)
        for i in 0..<r { for j in 0..<c { out[j * r + i] = values[i * c + j] } }
        return TFConstant(shape: [c, r], values: out)
    }
}
