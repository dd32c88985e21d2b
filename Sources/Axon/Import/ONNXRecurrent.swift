/// ONNX's LSTM, and the Transpose that makes its time-major input, on Axon's
/// batch-first `LSTM` (see `ONNXImport`).
///
/// ONNX's LSTM (layout 0) reads X [T, B, D] and gives Y [T, 1, B, H] and
/// Y_h [1, B, H]: the batch is ONNX's axis 1 or 2. Axon keeps every value
/// batch-first, so such a value is held with its batch axis moved first and
/// marked (`ONNXTensor.batchAxis`): the Transpose(perm [1, 0, 2]) that usually
/// makes X from a batch-first tensor costs nothing, nor does the Squeeze and
/// Transpose that bring Y back. With layout 1 (batch-first) nothing moves.
/// Gates: ONNX packs W [1, 4H, D], R [1, 4H, H] in the order i, o, f, c and
/// B [1, 8H] as input then recurrent biases; Axon's kernel [D, 4U] and
/// recurrent kernel [U, 4U] are in Keras' order i, f, c, o with one bias.
extension ONNXState {
    mutating func visitTranspose(_ node: ONNXNode, _ out: String) throws {
        let t = try anyTensor(node)
        let rank = t.shape.count
        let perm = try ints(node, "perm") ?? Array((0..<rank).reversed())
        guard perm.count == rank, Set(perm) == Set(0..<rank) else { throw fail(node, "perm \(perm) is not a permutation of 0..<\(rank)") }
        if batched, t.batchAxis == 0, rank == 4, perm == (t.nhwc ? [0, 2, 3, 1] : [0, 3, 1, 2]) {
            // NHWC ↔ NCHW: what Axon holds already is the other layout of the result; nothing moves.
            value[out] = .tensor(ONNXTensor(name: t.name, shape: perm.map { t.shape[$0] }, nhwc: !t.nhwc))
            return
        }
        let x = try inONNXOrder(t)
        let shape = perm.map { x.shape[$0] }
        guard batched else { return define(out, Permute(perm), inputs: [x], shape: shape) }
        // The batch axis goes where perm puts it; the other axes keep Axon's order of them.
        let b = perm.firstIndex(of: x.batchAxis)!
        let before = (0..<rank).filter { $0 != x.batchAxis }, after = (0..<rank).filter { $0 != b }
        let axes = after.map { before.firstIndex(of: perm[$0])! }
        let y = ONNXTensor(name: out, shape: shape, batched: true, batchAxis: b)
        if axes == Array(axes.indices) {
            value[out] = .tensor(ONNXTensor(name: x.name, shape: shape, batched: true, batchAxis: b))
        } else {
            add(out, Permute(axes), inputs: [x.name])
            value[out] = .tensor(y)
        }
    }

    mutating func visitLSTM(_ node: ONNXNode) throws {
        let x = try inONNXOrder(try anyTensor(node))
        let layout = try int(node, "layout", default: 0)
        guard x.shape.count == 3, layout == 0 || layout == 1 else {
            throw fail(node, "supported on 3-D inputs with layout 0 or 1, got X of shape \(x.shape) and layout \(layout)")
        }
        let direction = try string(node, "direction", default: "forward")
        guard direction == "forward" else { throw fail(node, "direction \(direction) is not supported (forward only)") }
        switch node.attrs["activations"] {
        case nil: break
        case .strings(let a)? where a.map({ $0.lowercased() }) == ["sigmoid", "tanh", "tanh"]: break
        case .strings(let a)?: throw fail(node, "activations \(a) are not supported (Sigmoid, Tanh, Tanh only)")
        default: throw fail(node, "attribute activations must be a list of strings")
        }
        for key in ["clip", "activation_alpha", "activation_beta"] where node.attrs[key] != nil {
            throw fail(node, "attribute \(key) is not supported")
        }
        if try int(node, "input_forget", default: 0) != 0 { throw fail(node, "input_forget 1 is not supported") }
        let (steps, d) = layout == 0 ? (x.shape[0], x.shape[2]) : (x.shape[1], x.shape[2])
        guard let w = try constant(node, 1), let r = try constant(node, 2), w.shape.count == 3, w.shape[0] == 1,
              w.shape[2] == d, w.shape[1] % 4 == 0 else {
            throw fail(node, "W and R (inputs 2, 3) must be constants of shapes [1, 4H, \(d)] and [1, 4H, H] (one direction)")
        }
        let h = w.shape[1] / 4
        guard r.shape == [1, 4 * h, h], try int(node, "hidden_size", default: h) == h else {
            throw fail(node, "R of shape \(r.shape) and hidden_size disagree with W of shape \(w.shape)")
        }
        let bias = try constant(node, 3)
        if let bias, bias.values.count != 8 * h { throw fail(node, "B must hold 8·\(h) values, got shape \(bias.shape)") }
        if let lens = try constant(node, 4), lens.values.contains(where: { $0 != Float(steps) }) {
            throw fail(node, "sequence_lens \(lens.values) is not supported (every sequence of all \(steps) steps only)")
        }
        for (k, name) in [(5, "initial_h"), (6, "initial_c")] where k < node.inputs.count && !node.inputs[k].isEmpty {
            guard let c = try? constant(node, k), c.values.allSatisfy({ $0 == 0 }) else {
                throw fail(node, "\(name) is not supported (a zero initial state only)")
            }
        }
        if node.inputs.count > 7 && !node.inputs[7].isEmpty { throw fail(node, "peepholes (input P) are not supported") }
        if node.outputs.count > 2 && !node.outputs[2].isEmpty { throw fail(node, "output Y_c is not supported (Y and Y_h only)") }

        // Axon's weights: kernel[d, g'·H + j] = W[0, g·H + j, d] for ONNX's gate g and Axon's g'.
        let gates = [0, 3, 1, 2]   // Axon's gate of ONNX's i, o, f, c
        var kernel = [Float](repeating: 0, count: d * 4 * h), recurrent = [Float](repeating: 0, count: h * 4 * h)
        var b = [Float](repeating: 0, count: 4 * h)
        for g in 0..<4 {
            for j in 0..<h {
                let row = g * h + j, column = gates[g] * h + j
                for i in 0..<d { kernel[i * 4 * h + column] = w.values[row * d + i] }
                for i in 0..<h { recurrent[i * 4 * h + column] = r.values[row * h + i] }
                if let bias { b[column] = bias.values[row] + bias.values[4 * h + row] }
            }
        }
        // Axon's input: [B, T, D] sequences (with the batch axis when batched; one example of several sequences when not).
        var input = x
        if batched {
            guard x.batchAxis == (layout == 0 ? 1 : 0) else {
                throw fail(node, "X of shape \(x.shape) is " + (layout == 0
                    ? "time-major (layout 0) with ONNX's axis 0 as Axon's batch axis; give it batch-first as a Transpose(perm [1, 0, 2]) of a [B, T, D] tensor, or use layout 1"
                    : "batch-first (layout 1) but holds the batch on ONNX's axis \(x.batchAxis)"))
            }
        } else if layout == 0 {
            input = ONNXTensor(name: node.name + "/batch_first", shape: [x.shape[1], steps, d], batched: false)
            add(input.name, Permute([1, 0, 2]), inputs: [x.name])
        }
        for (k, sequences) in [(0, true), (1, false)] where k < node.outputs.count && !node.outputs[k].isEmpty {
            let lstm = try ImportSupport.built(LSTM(units: h, returnSequences: sequences), inputShape: [steps, d],
                                               ["kernel": Tensor(uncheckedShape: [d, 4 * h], scalars: kernel),
                                                "recurrent_kernel": Tensor(uncheckedShape: [h, 4 * h], scalars: recurrent),
                                                "bias": Tensor(uncheckedShape: [4 * h], scalars: b)])
            let name = node.outputs[k]
            add(name + "/lstm", lstm, inputs: [input.name])
            // ONNX's shapes: Y [T, 1, B, H] or [B, T, 1, H]; Y_h [1, B, H] or [B, 1, H].
            let n = layout == 0 ? x.shape[1] : x.shape[0]
            let shape = sequences ? (layout == 0 ? [steps, 1, n, h] : [n, steps, 1, h]) : (layout == 0 ? [1, n, h] : [n, 1, h])
            let y = ONNXTensor(name: name, shape: shape, batched: batched,
                               batchAxis: batched && layout == 0 ? (sequences ? 2 : 1) : 0)
            var held = name + "/lstm"
            if !batched && layout == 0 && sequences {
                held = name + "/time_major"
                add(held, Permute([1, 0, 2]), inputs: [name + "/lstm"])
            }
            add(name, Reshape(y.axonExample), inputs: [held])
            value[name] = .tensor(y)
        }
    }
}
