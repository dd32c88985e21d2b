/// Writes a `Graph` the way a Keras functional model is written: take an
/// input, apply layers to values, get values back.
///
///     var b = GraphBuilder()
///     let x = b.input()
///     let y = b.apply(Conv2D(filters: 32, kernelSize: 3, padding: .same), to: x, name: "stem")
///     let mixed = b.branches(from: y, name: "mixed0") {
///         Branch { Conv2D(filters: 64, kernelSize: 1, padding: .same); ReLU() }
///         Branch { AvgPool2D(poolSize: 3, stride: 1, padding: .same); Conv2D(filters: 32, kernelSize: 1) }
///     }
///     let out = b.apply(Add(), to: y, b.apply(Conv2D(filters: 96, kernelSize: 1), to: mixed))   // a residual
///     let graph = try b.graph(outputs: [out])
///
/// Names must be unique; unnamed nodes get the layer kind and a number ("conv2d_3").
public struct GraphBuilder {
    /// A value of the graph under construction: the output of an input or a node.
    public struct Value: Hashable, Sendable {
        public let name: String
    }

    private var inputs: [String] = []
    private var nodes: [Graph.Node] = []
    private var counts: [String: Int] = [:]

    public init() {}

    /// A new graph input.
    public mutating func input(_ name: String = "input") -> Value {
        inputs.append(name)
        return Value(name: name)
    }

    /// Applies `layer` to `inputs` as a new node.
    @discardableResult
    public mutating func apply(_ layer: any Layer, to inputs: Value..., name: String? = nil) -> Value {
        apply(layer, to: inputs, name: name)
    }

    @discardableResult
    public mutating func apply(_ layer: any Layer, to inputs: [Value], name: String? = nil) -> Value {
        let name = name ?? uniqueName(for: layer)
        nodes.append(Graph.Node(name, layer, inputs: inputs.map(\.name)))
        return Value(name: name)
    }

    /// Applies `layers` one after another to `x`, one node each, named
    /// "<name>/<kind>" (with a number after a repeated kind).
    @discardableResult
    public mutating func chain(_ x: Value, name: String, @LayerBuilder _ layers: () -> [any Layer]) -> Value {
        chain(x, name: name, layers())
    }

    @discardableResult
    public mutating func chain(_ x: Value, name: String, _ layers: [any Layer]) -> Value {
        var seen: [String: Int] = [:]
        var y = x
        for layer in layers {
            let kind = Self.kindName(layer)
            seen[kind, default: 0] += 1
            y = apply(layer, to: y, name: "\(name)/\(kind)\(seen[kind]! > 1 ? "_\(seen[kind]! - 1)" : "")")
        }
        return y
    }

    /// Several chains of layers over one input, concatenated along the channel
    /// axis (an Inception block). Branch k's nodes are named "<name>/branch<k>/...",
    /// the concatenation "<name>".
    public mutating func branches(from x: Value, name: String, @BranchBuilder _ makeBranches: () -> [[any Layer]]) -> Value {
        branches(from: x, name: name, makeBranches())
    }

    public mutating func branches(from x: Value, name: String, _ branches: [[any Layer]]) -> Value {
        let ends = branches.enumerated().map { k, layers in chain(x, name: "\(name)/branch\(k)", layers) }
        return apply(Concatenate(), to: ends, name: name)
    }

    /// The graph with these outputs.
    public func graph(outputs: [Value], seed: UInt64 = 42) throws -> Graph {
        try Graph(seed: seed, inputs: inputs, nodes: nodes, outputs: outputs.map(\.name))
    }

    private static func kindName(_ layer: any Layer) -> String {
        ((layer as? any SerializableLayer).map { type(of: $0).kind } ?? "\(type(of: layer))").lowercased()
    }

    private mutating func uniqueName(for layer: any Layer) -> String {
        let kind = Self.kindName(layer)
        let k = counts[kind, default: 0]
        counts[kind] = k + 1
        return k == 0 ? kind : "\(kind)_\(k)"
    }
}

/// One branch of `GraphBuilder.branches`: its layers in order.
public struct Branch {
    public let layers: [any Layer]
    public init(@LayerBuilder _ layers: () -> [any Layer]) { self.layers = layers() }
}

/// Collects the `Branch { ... }` blocks written inside `branches(from:name:)`.
@resultBuilder
public enum BranchBuilder {
    public static func buildExpression(_ branch: Branch) -> [[any Layer]] { [branch.layers] }
    public static func buildBlock(_ parts: [[any Layer]]...) -> [[any Layer]] { parts.flatMap { $0 } }
}
