/// A network that is a directed acyclic graph of layers, like a Keras
/// functional model: named inputs, then named nodes, each a layer applied to
/// the outputs of inputs or earlier nodes, and one or more named outputs.
///
/// Nodes are kept in the order they were added, which is an order in which
/// they can run (a node may only read names defined before it). Gradients are
/// summed where a value feeds several nodes. A Graph is itself a `Layer`, so
/// it nests inside `Sequential` and the other way round; as a layer it takes
/// its inputs in order and returns its first output.
///
/// Parameters are named "<node>.<parameter>" (e.g. "mixed0/branch1x1/conv.kernel").
/// `GraphBuilder` writes Graphs in a few lines; `Graph(inputs:nodes:outputs:)` takes them whole.
public struct Graph: Network {
    public struct Node {
        public var name: String
        public var layer: any Layer
        /// Names of the inputs or earlier nodes whose outputs this node takes, in order.
        public var inputs: [String]

        public init(_ name: String, _ layer: any Layer, inputs: [String]) {
            self.name = name
            self.layer = layer
            self.inputs = inputs
        }
    }

    public let seed: UInt64
    public let inputNames: [String]
    public private(set) var nodes: [Node]
    public let outputNames: [String]
    public private(set) var inputShapes: [[Int]]?

    /// Per node, the indices of the values it reads: 0..<inputNames.count are
    /// the graph's inputs, inputNames.count + j is the output of node j.
    private let sources: [[Int]]
    private let outputIndices: [Int]
    /// Whether each value needs its gradient in a backward pass without input
    /// gradients: it is the output of a node with parameters or of one reading such a value.
    private let feedsParameters: [Bool]
    private var lastInputShapes: [[Int]] = []

    /// Checks that names are unique and non-empty, that every node reads only
    /// inputs or earlier nodes with as many inputs as its layer takes, and that
    /// the outputs exist.
    public init(seed: UInt64 = 42, inputs: [String] = ["input"], nodes: [Node], outputs: [String]) throws {
        var index: [String: Int] = [:]
        func define(_ name: String, _ what: String) throws {
            guard !name.isEmpty else { throw AxonError.invalidArgument("Graph: \(what) has an empty name") }
            guard index[name] == nil else { throw AxonError.invalidArgument("Graph: the name \"\(name)\" is used twice") }
            index[name] = index.count
        }
        guard !inputs.isEmpty else { throw AxonError.invalidArgument("Graph: needs at least one input") }
        for name in inputs { try define(name, "an input") }
        var sources: [[Int]] = []
        var feeds = [Bool](repeating: false, count: inputs.count)
        for node in nodes {
            guard node.layer.inputCount.contains(node.inputs.count) else {
                throw AxonError.invalidArgument("Graph: node \"\(node.name)\" (\(node.layer.summary)) takes "
                                                + "\(node.layer.inputCount) inputs, got \(node.inputs.count)")
            }
            let s = try node.inputs.map { name in
                guard let i = index[name] else {
                    throw AxonError.invalidArgument("Graph: node \"\(node.name)\" reads \"\(name)\", which is not an input or an earlier node")
                }
                return i
            }
            try define(node.name, "a node")
            sources.append(s)
            feeds.append(!node.layer.parameterNames.isEmpty || s.contains { feeds[$0] })
        }
        guard !outputs.isEmpty else { throw AxonError.invalidArgument("Graph: needs at least one output") }
        self.outputIndices = try outputs.map { name in
            guard let i = index[name] else { throw AxonError.invalidArgument("Graph: output \"\(name)\" is not a node or input") }
            return i
        }
        self.seed = seed
        self.inputNames = inputs
        self.nodes = nodes
        self.outputNames = outputs
        self.sources = sources
        self.feedsParameters = feeds
    }

    public var isBuilt: Bool { inputShapes != nil }
    public var summary: String { "Graph(\(nodes.count) nodes)" }
    public var inputCount: ClosedRange<Int> { inputNames.count...inputNames.count }

    public var outputLayer: (any Layer)? { node(named: outputNames[0])?.layer }

    /// The node called `name`.
    public func node(named name: String) -> Node? { nodes.first { $0.name == name } }

    // MARK: shapes and building

    /// The example shape of every value (inputs, then nodes) for `inputShapes`.
    private func valueShapes(_ inputShapes: [[Int]]) throws -> [[Int]] {
        guard inputShapes.count == inputNames.count else {
            throw AxonError.invalidArgument("Graph takes \(inputNames.count) inputs (\(inputNames)), got \(inputShapes.count) shapes")
        }
        var shapes = inputShapes
        for (j, node) in nodes.enumerated() {
            do { shapes.append(try node.layer.outputShape(forInputs: sources[j].map { shapes[$0] })) } catch { throw self.error(at: j, error) }
        }
        return shapes
    }

    /// `error`, thrown by node `j`, with the node's name in front. (Called after
    /// the failing call returns: holding a copy of the node or of the graph during
    /// a call would share every layer's buffers and make the layer copy them.)
    private func error(at j: Int, _ error: Error) -> Error {
        guard let e = error as? AxonError else { return error }
        if case .invalidArgument(let m) = e, m.hasPrefix("nodes.") { return e }
        return AxonError.invalidArgument("nodes.\(nodes[j].name) (\(nodes[j].layer.summary)): \(e)")
    }

    public func outputShape(for inputShape: [Int]) throws -> [Int] { try outputShape(forInputs: [inputShape]) }

    public func outputShape(forInputs inputShapes: [[Int]]) throws -> [Int] {
        try valueShapes(inputShapes)[outputIndices[0]]
    }

    /// The example shape of each output for examples of `inputShapes`.
    public func outputShapes(forInputs inputShapes: [[Int]]) throws -> [[Int]] {
        let shapes = try valueShapes(inputShapes)
        return outputIndices.map { shapes[$0] }
    }

    public mutating func build(inputShapes: [[Int]]) throws {
        var g = SeededGenerator(seed: seed)
        try build(inputShapes: inputShapes, generator: &g)
    }

    public mutating func build(inputShape: [Int], generator: inout SeededGenerator) throws {
        try build(inputShapes: [inputShape], generator: &generator)
    }

    /// Builds every node in order, drawing the initial values of the layers not
    /// built yet from `generator`; built layers keep their parameters and are only
    /// checked to accept their input shapes (see `buildKeepingParameters`).
    public mutating func build(inputShapes: [[Int]], generator: inout SeededGenerator) throws {
        guard inputShapes.count == inputNames.count else {
            throw AxonError.invalidArgument("Graph takes \(inputNames.count) inputs (\(inputNames)), got \(inputShapes.count) shapes")
        }
        var shapes = inputShapes
        for j in nodes.indices {
            let inShapes = sources[j].map { shapes[$0] }
            do {
                shapes.append(try nodes[j].layer.buildKeepingParameters(inputShapes: inShapes, generator: &generator))
            } catch { throw self.error(at: j, error) }
        }
        self.inputShapes = inputShapes
    }

    // MARK: forward and backward

    public mutating func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        try forward(inputs: [x], training: training)
    }

    public mutating func forward(inputs: [Tensor], training: Bool) throws -> Tensor {
        try forward(inputs, training: training)[0]
    }

    /// Runs the graph on one batch per input and returns every output, in `outputNames` order.
    public mutating func forward(_ inputs: [Tensor], training: Bool) throws -> [Tensor] {
        try run(inputs, outputs: outputIndices, training: training)
    }

    /// Inference that returns the values of the named nodes or inputs (any of
    /// them, not only the outputs: a bottleneck, a branch), running only the
    /// nodes they depend on.
    public mutating func forward(_ inputs: [Tensor], outputs names: [String]) throws -> [Tensor] {
        var index: [String: Int] = [:]
        for (i, n) in inputNames.enumerated() { index[n] = i }
        for (j, node) in nodes.enumerated() { index[node.name] = inputNames.count + j }
        let wanted = try names.map { name in
            guard let i = index[name] else { throw AxonError.invalidArgument("Graph has no node or input named \"\(name)\"") }
            return i
        }
        return try run(inputs, outputs: wanted, training: false)
    }

    private mutating func run(_ inputs: [Tensor], outputs: [Int], training: Bool) throws -> [Tensor] {
        guard inputs.count == inputNames.count, inputs.allSatisfy({ $0.rank >= 1 }),
              inputs.allSatisfy({ $0.shape[0] == inputs[0].shape[0] }) else {
            throw AxonError.invalidArgument("Graph takes \(inputNames.count) inputs (\(inputNames)) with one batch size, "
                                            + "got shapes \(inputs.map(\.shape))")
        }
        let exampleShapes = inputs.map(\.exampleShape)
        if inputShapes == nil { try build(inputShapes: exampleShapes) }
        guard exampleShapes == inputShapes! else {
            throw AxonError.invalidArgument("Graph inputs: expected examples of shapes \(inputShapes!), got \(exampleShapes)")
        }
        // Only the nodes the requested values depend on run.
        var needed = [Bool](repeating: false, count: inputNames.count + nodes.count)
        for o in outputs { needed[o] = true }
        for j in nodes.indices.reversed() where needed[inputNames.count + j] {
            for s in sources[j] { needed[s] = true }
        }
        // Each value is released after its last reader, so a layer's output
        // buffer is unshared again by its next call and is reused in place.
        var lastReader = [Int](repeating: -1, count: needed.count)
        for j in nodes.indices where needed[inputNames.count + j] { for s in sources[j] { lastReader[s] = j } }
        for o in outputs { lastReader[o] = Int.max }
        var values = inputs + [Tensor](repeating: .empty, count: nodes.count)
        for j in nodes.indices where needed[inputNames.count + j] {
            let xs = sources[j].map { values[$0] }
            do { values[inputNames.count + j] = try nodes[j].layer.forward(inputs: xs, training: training) } catch {
                throw self.error(at: j, error)
            }
            for s in sources[j] where lastReader[s] == j { values[s] = .empty }
        }
        lastInputShapes = training ? inputs.map(\.shape) : []
        return outputs.map { values[$0] }
    }

    public mutating func backward(_ dy: Tensor) throws -> Tensor { try backward(dy, inputGradient: true) }

    public mutating func backward(_ dy: Tensor, inputGradient: Bool) throws -> Tensor {
        try backwardToInputs(dy, inputGradient: inputGradient)[0]
    }

    public mutating func backwardToInputs(_ dy: Tensor, inputGradient: Bool) throws -> [Tensor] {
        try backward(outputGradients: [dy], inputGradient: inputGradient)
    }

    /// Each node's parameters are updated right after its own backward pass
    /// (names prefixed as in `updateParameters`); nodes the gradient does not
    /// reach are updated after the pass, as a whole update would.
    public mutating func backward(_ dy: Tensor, inputGradient: Bool, update: ParameterUpdate) throws -> Tensor {
        try backward(outputGradients: [dy], inputGradient: inputGradient, update: update)[0]
    }

    /// Given ∂L/∂output for the first `outputGradients.count` outputs (the others
    /// count as zero), stores the parameter gradients and returns ∂L/∂input for
    /// each input (empty tensors when `inputGradient` is false).
    public mutating func backward(outputGradients: [Tensor], inputGradient: Bool) throws -> [Tensor] {
        try backward(outputGradients: outputGradients, inputGradient: inputGradient, update: nil)
    }

    private mutating func backward(outputGradients: [Tensor], inputGradient: Bool,
                                   update: ParameterUpdate?) throws -> [Tensor] {
        guard !lastInputShapes.isEmpty else {
            throw AxonError.invalidArgument("Graph: backward needs a preceding forward(training: true)")
        }
        guard outputGradients.count <= outputIndices.count else {
            throw AxonError.invalidArgument("Graph has \(outputIndices.count) outputs, got \(outputGradients.count) gradients")
        }
        let n = inputNames.count
        var wants = feedsParameters
        if inputGradient {
            for i in 0..<n { wants[i] = true }
            for j in nodes.indices where sources[j].contains(where: { wants[$0] }) { wants[n + j] = true }
        }
        var grads = [Tensor?](repeating: nil, count: n + nodes.count)
        for (k, g) in outputGradients.enumerated() { try accumulate(&grads[outputIndices[k]], g) }
        var updated = [Bool](repeating: false, count: nodes.count)
        for j in nodes.indices.reversed() {
            guard wants[n + j], let g = grads[n + j] else { continue }
            grads[n + j] = nil
            let wantInputs = sources[j].contains { wants[$0] }
            let dxs: [Tensor]
            do {
                if let update, sources[j].count == 1 {  // updated in or right after its backward pass
                    dxs = [try nodes[j].layer.backward(g, inputGradient: wantInputs, update: update.prefixed(nodes[j].name + "."))]
                    updated[j] = true
                } else {
                    dxs = try nodes[j].layer.backwardToInputs(g, inputGradient: wantInputs)
                    if let update { updated[j] = try updateNode(j, update) }
                }
            } catch { throw self.error(at: j, error) }
            guard wantInputs else { continue }
            for (s, dx) in zip(sources[j], dxs) where wants[s] { try accumulate(&grads[s], dx) }
        }
        if let update {
            for j in nodes.indices where !updated[j] { _ = try updateNode(j, update) }
        }
        let result = (0..<n).map { i in inputGradient ? (grads[i] ?? Tensor(zeros: lastInputShapes[i])) : .empty }
        lastInputShapes = []
        return result
    }

    /// `update` over node j's parameters, under their names in the graph;
    /// false when it has none.
    private mutating func updateNode(_ j: Int, _ update: ParameterUpdate) throws -> Bool {
        guard !nodes[j].layer.parameterNames.isEmpty else { return false }
        let prefix = nodes[j].name + "."
        try update { body in try nodes[j].layer.updateParameters(prefix: prefix, body) }
        return true
    }

    /// sum ← sum + g (sum starts as g).
    private func accumulate(_ sum: inout Tensor?, _ g: Tensor) throws {
        guard var s = sum else { sum = g; return }
        sum = nil
        try s.expectShape(g.shape, "Graph gradient")
        s.withUnsafeMutableBufferPointer { out in
            g.withUnsafeBufferPointer { src in for i in 0..<out.count { out[i] += src[i] } }
        }
        sum = s
    }

    // MARK: parameters and state

    public var parameterNames: [String] {
        nodes.flatMap { node in node.layer.parameterNames.map { "\(node.name).\($0)" } }
    }

    public mutating func updateParameters(_ body: (String, inout Tensor, inout Tensor) throws -> Void) rethrows {
        for j in nodes.indices { try nodes[j].layer.updateParameters(prefix: nodes[j].name + ".", body) }
    }

    public mutating func updateState(_ body: (String, inout Tensor) throws -> Void) rethrows {
        for j in nodes.indices { try nodes[j].layer.updateState(prefix: nodes[j].name + ".", body) }
    }

    public mutating func updateCounters(_ body: (String, inout UInt64) throws -> Void) rethrows {
        for j in nodes.indices { try nodes[j].layer.updateCounters(prefix: nodes[j].name + ".", body) }
    }

    public func tensorShapes(for inputShape: [Int]) throws -> [(name: String, shape: [Int])] {
        try tensorShapes(forInputs: [inputShape])
    }

    public func tensorShapes(forInputs inputShapes: [[Int]]) throws -> [(name: String, shape: [Int])] {
        guard inputShapes.count == inputNames.count else {
            throw AxonError.invalidArgument("Graph takes \(inputNames.count) inputs, got \(inputShapes.count) shapes")
        }
        var shapes = inputShapes
        var out: [(name: String, shape: [Int])] = []
        for (j, node) in nodes.enumerated() {
            let inShapes = sources[j].map { shapes[$0] }
            if inShapes.count == 1 {
                let r = try node.layer.checkedTensorShapes(for: inShapes[0], prefix: node.name + ".")
                out += r.tensors
                shapes.append(r.output)
            } else {
                do { shapes.append(try node.layer.outputShape(forInputs: inShapes)) } catch { throw self.error(at: j, error) }
            }
        }
        return out
    }

    public func summaryRows(for inputShapes: [[Int]]) throws -> [NetworkSummaryRow] {
        let shapes = try valueShapes(inputShapes)
        var rows = inputNames.enumerated().map { i, name in
            NetworkSummaryRow(name: name, layer: "Input", inputs: [], outputShape: inputShapes[i], parameters: 0, state: 0)
        }
        for (j, node) in nodes.enumerated() {
            let inShapes = sources[j].map { shapes[$0] }
            let tensors = inShapes.count == 1 ? try node.layer.tensorShapes(for: inShapes[0]) : []
            let trainable = Set(node.layer.parameterNames)
            func total(_ keep: Bool) -> Int {
                tensors.filter { trainable.contains($0.name) == keep }.reduce(0) { $0 + $1.shape.reduce(1, *) }
            }
            rows.append(NetworkSummaryRow(name: node.name, layer: node.layer.summary, inputs: node.inputs,
                                          outputShape: shapes[inputNames.count + j], parameters: total(true), state: total(false)))
        }
        return rows
    }

    public func foldedForInference() throws -> Graph {
        try BatchNormFolding.fold(self)
    }
}

extension Graph {
    public static let kind = "Graph"

    /// {"kind": "Graph", "seed": 42, "inputs": ["input"], "outputs": ["softmax"], "input_shapes": [[299, 299, 3]],
    ///  "nodes": [{"name": "conv1", "inputs": ["input"], "layer": {"kind": "Conv2D", ...}}, ...]}
    public init(config c: LayerConfig) throws {
        guard case .array(let entries)? = c["nodes"] else { throw AxonError.invalidArgument("missing \"nodes\" (a list)") }
        let nodes: [Node] = try entries.enumerated().map { i, entry in
            guard case .object(let o) = entry, case .string(let name)? = o["name"], case .array(let ins)? = o["inputs"],
                  case .object(var layer)? = o["layer"], case .string(let kind)? = layer.removeValue(forKey: "kind") else {
                throw AxonError.invalidArgument("nodes[\(i)] must be {\"name\": ..., \"inputs\": [...], \"layer\": {\"kind\": ...}}")
            }
            let inputs: [String] = try ins.map {
                guard case .string(let s) = $0 else { throw AxonError.invalidArgument("nodes[\(i)] \"\(name)\": inputs must be names") }
                return s
            }
            return Node(name, try LayerConfig(kind: kind, fields: layer).makeLayer(path: "nodes.\(name)"), inputs: inputs)
        }
        func names(_ key: String) throws -> [String] {
            guard case .array(let a)? = c[key] else { throw AxonError.invalidArgument("missing \"\(key)\" (a list of names)") }
            return try a.map {
                guard case .string(let s) = $0 else { throw AxonError.invalidArgument("\"\(key)\" must hold names") }
                return s
            }
        }
        try self.init(seed: try c.uint64("seed", default: 42), inputs: try names("inputs"), nodes: nodes, outputs: try names("outputs"))
    }

    public func encode(into c: inout LayerConfig) throws {
        c.set("seed", seed)
        c.set("inputs", inputNames)
        c.set("outputs", outputNames)
        c["nodes"] = .array(try nodes.map { node in
            .object(["name": .string(node.name), "inputs": node.inputs.json, "layer": try LayerConfig(node.layer).json])
        })
        if let inputShapes { c["input_shapes"] = .array(inputShapes.map(\.json)) }
    }
}
