import Foundation

/// The op-by-op mapping of ONNX nodes onto Axon layers (see `ONNXImport`).
extension ONNXState {
    mutating func visit(_ node: ONNXNode) throws {
        let out = node.outputs.first ?? node.name
        switch node.op {
        case "Constant":
            guard case .tensor(let c)? = node.attrs["value"] ?? node.attrs["value_float"].map(scalar)
                    ?? node.attrs["value_floats"].map(scalar) ?? node.attrs["value_int"].map(scalar)
                    ?? node.attrs["value_ints"].map(scalar) else {
                throw fail(node, "supported with a value, value_float(s) or value_int(s) attribute")
            }
            value[out] = .constant(c)
        case "Identity", "Dropout":
            try singleOutput(node)
            if node.op == "Dropout", let training = try constant(node, 2), training.values.first != 0 {
                throw fail(node, "training_mode true is not supported (imported graphs run inference)")
            }
            value[out] = value[node.inputs[0]]
        case "Relu", "Sigmoid", "Tanh":
            let x = try tensor(node)
            let layer: any Layer = node.op == "Relu" ? ReLU() : node.op == "Sigmoid" ? Sigmoid() as any Layer : Tanh()
            define(out, layer, inputs: [x], shape: x.shape, nhwc: x.nhwc)
        case "Clip":
            let x = try tensor(node)
            let lo = try constant(node, 1)?.values.first, hi = try constant(node, 2)?.values.first
            switch (lo, hi) {
            case (0?, nil): define(out, ReLU(), inputs: [x], shape: x.shape, nhwc: x.nhwc)
            case (0?, 6?): define(out, ReLU6(), inputs: [x], shape: x.shape, nhwc: x.nhwc)
            default: define(out, Clip(lower: lo, upper: hi), inputs: [x], shape: x.shape, nhwc: x.nhwc)
            }
        case "Softmax", "LogSoftmax":
            try visitSoftmax(node, out)
        case "Conv":
            try visitConv(node, out)
        case "MaxPool", "AveragePool":
            try singleOutput(node)
            try visitPool(node, out)
        case "GlobalAveragePool":
            let x = try inNHWC(try tensor(node), node)
            add(out + "/global_average", GlobalAveragePool2D(), inputs: [x.name])
            define(out, Reshape([1, 1, x.shape[1]]), inputs: [ONNXTensor(name: out + "/global_average", shape: [])],
                   shape: [x.shape[0], x.shape[1], 1, 1], nhwc: true)
        case "BatchNormalization":
            try singleOutput(node)
            if try int(node, "training_mode", default: 0) != 0 { throw fail(node, "training_mode 1 is not supported") }
            var x = try tensor(node)
            guard x.shape.count == 4 || x.shape.count == 2 else { throw fail(node, "supported on NCHW or [N, C] tensors, got \(x.shape)") }
            if x.shape.count == 4 { x = try inNHWC(x, node) }
            let c = x.shape[1]
            var tensors: [String: Tensor] = [:]
            for (k, name) in [(1, "gamma"), (2, "beta"), (3, "moving_mean"), (4, "moving_variance")] {
                guard let t = try constant(node, k), t.values.count == c else { throw fail(node, "input \(k + 1) must be a constant of \(c) values") }
                tensors[name] = Tensor(uncheckedShape: [c], scalars: t.values)
            }
            let bn = try ImportSupport.built(BatchNorm(epsilon: try float(node, "epsilon", default: 1e-5)), inputShape: [c], tensors)
            define(out, bn, inputs: [x], shape: x.shape, nhwc: x.nhwc)
        case "Gemm", "MatMul":
            try visitDense(node, out)
        case "Add", "Sub", "Mul", "Div":
            try visitArithmetic(node, out)
        case "Concat":
            let parts = try node.inputs.indices.map { try tensor(node, $0) }
            let rank = parts[0].shape.count
            let a = try axis(node, try int(node, "axis", default: -99), rank: rank)
            var shape = parts[0].shape
            shape[a] = parts.reduce(0) { $0 + ($1.shape.count == rank ? $1.shape[a] : 0) }
            if parts.allSatisfy(\.nhwc) {
                define(out, Concatenate(axis: [0, 3, 1, 2][a]), inputs: parts, shape: shape, nhwc: true)
            } else {
                define(out, Concatenate(axis: exampleAxis(a) + 1), inputs: try parts.map { try inONNXOrder($0) }, shape: shape)
            }
        case "Flatten":
            let x = try inONNXOrder(try tensor(node))
            var a = try int(node, "axis", default: 1)
            a = a < 0 ? a + x.shape.count : a
            guard (0...x.shape.count).contains(a) else { throw fail(node, "axis \(a) is out of range for shape \(x.shape)") }
            let shape = [x.shape[..<a].reduce(1, *), x.shape[a...].reduce(1, *)]
            if batched {
                guard a == 1 else {
                    throw fail(node, "axis \(a) is not supported: Axon flattens each example (axis 1), keeping the batch axis apart")
                }
                define(out, Flatten(), inputs: [x], shape: shape)
            } else {
                define(out, Reshape(shape), inputs: [x], shape: shape)
            }
        case "Reshape", "Squeeze", "Unsqueeze":
            try visitReshape(node, out)
        case "Transpose":
            try visitTranspose(node, out)
        case "Pad":
            try visitPad(node, out)
        case "LSTM":
            try visitLSTM(node)
        default:
            throw fail(node, "not supported")
        }
    }

    private func scalar(_ a: TFAttr) -> TFAttr {
        switch a {
        case .float(let f): return .tensor(TFConstant(shape: [], values: [f]))
        case .int(let i): return .tensor(TFConstant(shape: [], values: [Float(i)]))
        case .floats(let f): return .tensor(TFConstant(shape: [f.count], values: f))
        case .ints(let i): return .tensor(TFConstant(shape: [i.count], values: i.map { Float($0) }))
        default: return a
        }
    }

    mutating func visitSoftmax(_ node: ONNXNode, _ out: String) throws {
        var x = try tensor(node)
        let a = try axis(node, try int(node, "axis", default: -1), rank: x.shape.count)
        func layer() -> any Layer { node.op == "Softmax" ? Softmax() : LogSoftmax() }
        if x.nhwc && a == 1 { return define(out, layer(), inputs: [x], shape: x.shape, nhwc: true) }
        x = try inONNXOrder(x)
        if a == x.shape.count - 1 { return define(out, layer(), inputs: [x], shape: x.shape) }
        // Another axis: move it last, normalise, move it back.
        var axes = Array(0..<x.axonExample.count)
        axes.swapAt(exampleAxis(a), axes.count - 1)
        var moved = x.shape
        moved.swapAt(a, moved.count - 1)
        let t = ONNXTensor(name: out + "/moved", shape: moved)
        define(t.name, Permute(axes), inputs: [x], shape: moved)
        define(out + "/normalized", layer(), inputs: [t], shape: moved)
        define(out, Permute(axes), inputs: [ONNXTensor(name: out + "/normalized", shape: moved)], shape: x.shape)
    }

    /// Gemm (A·B·alpha + C·beta, B and C constants) and MatMul (A·B) as a Dense layer.
    mutating func visitDense(_ node: ONNXNode, _ out: String) throws {
        let x = try inONNXOrder(try tensor(node))
        guard x.shape.count == 2 || (node.op == "MatMul" && x.shape.count >= 2) else {
            throw fail(node, "supported on [N, K] inputs (a batch of vectors), got \(x.shape)")
        }
        guard var w = try constant(node, 1), w.shape.count == 2 else {
            throw fail(node, "input 2 must be a constant matrix (products of two computed tensors are not supported)")
        }
        var alpha: Float = 1, beta: Float = 1
        if node.op == "Gemm" {
            if try int(node, "transA", default: 0) != 0 { throw fail(node, "transA 1 is not supported") }
            if try int(node, "transB", default: 0) != 0 { w = w.transposed() }
            alpha = try float(node, "alpha", default: 1)
            beta = try float(node, "beta", default: 1)
        }
        let (k, n) = (w.shape[0], w.shape[1])
        guard x.shape.last == k else { throw fail(node, "input of shape \(x.shape) does not match weights \(w.shape)") }
        var bias = [Float](repeating: 0, count: n)
        if node.op == "Gemm", let c = try constant(node, 2) {
            guard c.values.count == 1 || (c.values.count == n && c.shape.last == n) else {
                throw fail(node, "bias C of shape \(c.shape) is not supported (a scalar or [\(n)] vector; Axon adds one bias per output)")
            }
            bias = (0..<n).map { c.values[c.values.count == 1 ? 0 : $0] * beta }
        }
        let dense = try ImportSupport.built(Dense(n), inputShape: [k], [
            "kernel": Tensor(uncheckedShape: [k, n], scalars: w.values.map { $0 * alpha }),
            "bias": Tensor(uncheckedShape: [n], scalars: bias),
        ])
        define(out, dense, inputs: [x], shape: x.shape.dropLast() + [n])
    }

    mutating func visitArithmetic(_ node: ONNXNode, _ out: String) throws {
        let ops: [String: (Float, Float) -> Float] = ["Add": { $0 + $1 }, "Sub": { $0 - $1 }, "Mul": { $0 * $1 }, "Div": { $0 / $1 }]
        let op = ops[node.op]!
        switch (value[node.inputs[0]], value[node.inputs[1]]) {
        case (.constant(let a)?, .constant(let b)?):
            guard let r = TFConstant.broadcast(a, b, op) else { throw fail(node, "cannot broadcast constants of shapes \(a.shape) and \(b.shape)") }
            value[out] = .constant(r)
        case (.tensor(let x)?, .constant(let c)?):
            let v = try channelVector(node, c, x)
            switch node.op {
            case "Add": try defineAffine(out, x, scale: nil, shift: v)
            case "Sub": try defineAffine(out, x, scale: nil, shift: v.map { -$0 })
            case "Mul": try defineAffine(out, x, scale: v, shift: v.map { _ in 0 })
            default: try defineAffine(out, x, scale: v.map { 1 / $0 }, shift: v.map { _ in 0 })
            }
        case (.constant(let c)?, .tensor(let x)?) where node.op == "Add" || node.op == "Mul" || node.op == "Sub":
            let v = try channelVector(node, c, x)
            switch node.op {
            case "Add": try defineAffine(out, x, scale: nil, shift: v)
            case "Mul": try defineAffine(out, x, scale: v, shift: v.map { _ in 0 })
            default: try defineAffine(out, x, scale: v.map { _ in -1 }, shift: v)
            }
        case (.tensor(var x)?, .tensor(var y)?):
            guard x.shape == y.shape else {
                throw fail(node, "broadcasts \(x.shape) against \(y.shape); between two computed tensors Axon supports equal shapes only")
            }
            if x.nhwc != y.nhwc { (x, y) = (try inONNXOrder(x), try inONNXOrder(y)) }
            if node.op == "Mul" || node.op == "Div" {
                return define(out, node.op == "Mul" ? Multiply() : Divide() as any Layer, inputs: [x, y], shape: x.shape, nhwc: x.nhwc)
            }
            if node.op == "Sub" {
                try defineAffine(out + "/negated", y, scale: [Float](repeating: -1, count: y.axonExample.last!),
                                 shift: [Float](repeating: 0, count: y.axonExample.last!))
                guard case .tensor(let n)? = value[out + "/negated"] else { return }
                y = n
            }
            define(out, Add(), inputs: [x, y], shape: x.shape, nhwc: x.nhwc)
        default:
            throw fail(node, "supported between a tensor and a constant broadcast per channel, two constants, "
                + "or two tensors of one shape")
        }
    }

    mutating func defineAffine(_ out: String, _ x: ONNXTensor, scale: [Float]?, shift: [Float]) throws {
        define(out, try ImportSupport.affine(scale: scale, shift: shift, inputShape: x.axonExample), inputs: [x],
               shape: x.shape, nhwc: x.nhwc)
    }

    /// A constant broadcast against `x` as one value per entry of Axon's last axis
    /// (ONNX's channel axis for an NHWC-held value).
    func channelVector(_ node: ONNXNode, _ c: TFConstant, _ x: ONNXTensor) throws -> [Float] {
        let last = x.axonExample.last ?? 1
        if c.values.count == 1 { return [Float](repeating: c.values[0], count: last) }
        // The constant's dimensions, aligned with x's from the right.
        let dims = Array(repeating: 1, count: max(0, x.shape.count - c.shape.count)) + c.shape
        let channel = x.nhwc ? 1 : x.shape.count - 1
        guard dims.count == x.shape.count, dims[channel] == last,
              dims.indices.allSatisfy({ $0 == channel || dims[$0] == 1 }) else {
            throw fail(node, "constant of shape \(c.shape) is not supported against a tensor of shape \(x.shape) "
                + "(a scalar or one value per \(x.nhwc ? "channel" : "entry of the last axis"))")
        }
        return c.values
    }

    mutating func visitReshape(_ node: ONNXNode, _ out: String) throws {
        let shapeOf: ([Int]) throws -> [Int]
        let this = self   // the shape rules below only read
        switch node.op {
        case "Reshape":
            guard let target = try intValues(node, 1) else { throw fail(node, "the shape must be a constant") }
            let allowZero = try int(node, "allowzero", default: 0) != 0
            shapeOf = { input in
                var s = target.enumerated().map { i, d in d == 0 && !allowZero && i < input.count ? input[i] : d }
                let n = input.reduce(1, *)
                if let i = s.firstIndex(of: -1) {
                    let others = s.enumerated().filter { $0.offset != i }.map(\.element)
                    guard others.allSatisfy({ $0 >= 1 }), let known = ModelFile.checkedProduct(others), n % known == 0 else {
                        throw this.fail(node, "cannot reshape \(input) to \(target)")
                    }
                    s[i] = n / known
                }
                guard s.allSatisfy({ $0 >= 1 }), ModelFile.checkedProduct(s) == n else { throw this.fail(node, "cannot reshape \(input) to \(target)") }
                return s
            }
        case "Squeeze":
            let given = try intValues(node, 1, limit: 64) ?? ints(node, "axes")
            shapeOf = { input in
                let axes = Set((given ?? input.indices.filter { input[$0] == 1 }).map { $0 < 0 ? $0 + input.count : $0 })
                guard axes.allSatisfy({ input.indices.contains($0) && input[$0] == 1 }) else {
                    throw this.fail(node, "axes \(given ?? []) are not all of size 1 in \(input)")
                }
                return input.indices.filter { !axes.contains($0) }.map { input[$0] }
            }
        default:
            guard let given = try intValues(node, 1, limit: 64) ?? ints(node, "axes"), given.count <= 8 else { throw fail(node, "axes are missing") }
            shapeOf = { input in
                let rank = input.count + given.count
                let axes = Set(given.map { $0 < 0 ? $0 + rank : $0 })
                guard axes.count == given.count, axes.allSatisfy({ (0..<rank).contains($0) }) else {
                    throw this.fail(node, "axes \(given) are invalid for rank \(input.count)")
                }
                var rest = input.makeIterator()
                return (0..<rank).map { axes.contains($0) ? 1 : rest.next()! }
            }
        }
        if case .constant(let c)? = value[node.inputs[0]] {
            value[out] = .constant(TFConstant(shape: try shapeOf(c.shape), values: c.values))
            return
        }
        let x = try inONNXOrder(node.op == "Reshape" ? try tensor(node) : try anyTensor(node))
        guard batched else {
            let s = try shapeOf(x.shape)
            guard s.count <= 7 else { throw fail(node, "shape \(s) has more than 7 axes") }
            return define(out, Reshape(s), inputs: [x], shape: s)
        }
        // Where the batch axis lands (Squeeze and Unsqueeze only remove or add axes of size 1, never the batch axis).
        var s = try shapeOf(x.shape), b: Int? = s.first == x.shape[0] ? 0 : nil
        if node.op != "Reshape" {
            var marked = x.shape
            marked[x.batchAxis] = -7
            let m = try? shapeOf(marked)
            b = m?.firstIndex(of: -7)
            s = m?.map { $0 == -7 ? x.shape[x.batchAxis] : $0 } ?? s
        }
        guard let b, s.count >= 2 else {
            throw fail(node, "reshapes \(x.shape) to \(s), across the batch axis; Axon reshapes each example, keeping the batch axis")
        }
        guard s.count <= 8 else { throw fail(node, "shape \(s) has more than 8 axes") }
        let y = ONNXTensor(name: out, shape: s, batched: true, batchAxis: b)
        if y.axonExample == x.axonExample {
            value[out] = .tensor(ONNXTensor(name: x.name, shape: s, batched: true, batchAxis: b))
        } else {
            add(out, Reshape(y.axonExample), inputs: [x.name])
            value[out] = .tensor(y)
        }
    }
}
