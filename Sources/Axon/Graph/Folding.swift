/// A layer whose outputs are affine per output channel in its weights, so a
/// BatchNorm right after it folds into its kernel and bias.
protocol BatchNormFoldable: Layer {
    var activation: Activation { get }
    /// How many output channels there are (the length of `scale` and `shift`).
    var outputChannels: Int { get }
    /// This layer with output channel j scaled by scale[j] and shift[j] added
    /// (bias included), with the fused `activation`; always with a bias.
    func folded(scale: [Float], shift: [Float], activation: Activation) throws -> Self
}

extension Conv2D: BatchNormFoldable { var outputChannels: Int { filters } }
extension DepthwiseConv2D: BatchNormFoldable { var outputChannels: Int { channels } }
extension Dense: BatchNormFoldable { var outputChannels: Int { units } }

/// Inference-time folding of BatchNorm (and the activation layer after it)
/// into the convolution or dense layer before it: one kernel call where there
/// were three, and no pass over the activations for the normalization.
enum BatchNormFolding {
    /// The folded layer when `layer`, `next` (and `after`, an activation) form the pattern.
    private static func fold(_ layer: any Layer, _ next: any Layer, _ after: (any Layer)?) throws -> (any Layer, fusedActivation: Bool)? {
        guard let f = layer as? any BatchNormFoldable, f.isBuilt, f.activation == .linear,
              let bn = next as? BatchNorm, bn.isBuilt else { return nil }
        let (scale, shift) = bn.inferenceAffine()
        let activation = after.flatMap { $0 as? any ActivationLayer }.map { type(of: $0).activation }
        return (try f.folded(scale: scale, shift: shift, activation: activation ?? .linear), activation != nil)
    }

    /// Nested networks fold themselves.
    private static func inside(_ layer: any Layer) throws -> any Layer {
        guard let n = layer as? any Network else { return layer }
        return try n.foldedForInference()
    }

    /// A chain of layers (Sequential's).
    static func fold(_ layers: [any Layer]) throws -> [any Layer] {
        let layers = try layers.map(inside)
        var out: [any Layer] = []
        var i = 0
        while i < layers.count {
            if i + 1 < layers.count,
               let (folded, fused) = try fold(layers[i], layers[i + 1], i + 2 < layers.count ? layers[i + 2] : nil) {
                out.append(folded)
                i += fused ? 3 : 2
            } else {
                out.append(layers[i])
                i += 1
            }
        }
        return out
    }

    /// A graph: a node followed by a BatchNorm node that is its only reader (and
    /// an activation node that is the BatchNorm's only reader) becomes one node
    /// under the first node's name; readers of the removed nodes read it instead.
    static func fold(_ g: Graph) throws -> Graph {
        var nodes = try g.nodes.map { Graph.Node($0.name, try inside($0.layer), inputs: $0.inputs) }
        var outputs = g.outputNames
        /// The index of the only node reading `name`, if exactly one does and it is not an output.
        func onlyReader(_ name: String) -> Int? {
            guard !outputs.contains(name) else { return nil }
            let readers = nodes.indices.filter { nodes[$0].inputs.contains(name) }
            return readers.count == 1 && nodes[readers[0]].inputs == [name] ? readers[0] : nil
        }
        var j = 0
        while j < nodes.count {
            guard let k = onlyReader(nodes[j].name) else { j += 1; continue }
            let m = onlyReader(nodes[k].name)
            guard let (folded, fused) = try fold(nodes[j].layer, nodes[k].layer, m.map { nodes[$0].layer }) else {
                j += 1
                continue
            }
            let (from, to) = (nodes[fused ? m! : k].name, nodes[j].name)
            nodes[j].layer = folded
            for r in nodes.indices { nodes[r].inputs = nodes[r].inputs.map { $0 == from ? to : $0 } }
            outputs = outputs.map { $0 == from ? to : $0 }
            for r in (fused ? [m!, k] : [k]) { nodes.remove(at: r) }   // m > k > j: readers come later
            j += 1
        }
        var folded = try Graph(seed: g.seed, inputs: g.inputNames, nodes: nodes, outputs: outputs)
        if let shapes = g.inputShapes { try folded.build(inputShapes: shapes) }  // keeps the built layers
        return folded
    }
}
