import Foundation

/// The layer-by-layer mapping of Axon networks onto ONNX nodes (see `ONNXExport`).
extension ONNXWriter {
    /// `child` inside the network at `path` ("" at the top).
    private func join(_ path: String, _ child: String) -> String { path.isEmpty ? child : "\(path)/\(child)" }

    /// Writes `network` reading `inputs`; returns its outputs.
    mutating func network(_ network: any Layer, _ inputs: [Value], path: String) throws -> [Value] {
        switch network {
        case let s as Sequential:
            guard inputs.count == 1 else { throw failure(path, s, "takes one input, got \(inputs.count)") }
            var v = inputs[0]
            for (i, l) in s.layers.enumerated() { v = try layer(l, [v], path: join(path, "layers.\(i)")) }
            return [v]
        case let g as Graph:
            guard inputs.count == g.inputNames.count else { throw failure(path, g, "takes \(g.inputNames.count) inputs, got \(inputs.count)") }
            var values = Dictionary(uniqueKeysWithValues: zip(g.inputNames, inputs))
            for n in g.nodes {
                values[n.name] = try layer(n.layer, n.inputs.map { values[$0]! }, path: join(path, n.name))
            }
            return g.outputNames.map { values[$0]! }
        default:
            return [try layer(network, inputs, path: path)]
        }
    }

    private func failure(_ path: String, _ layer: any Layer, _ message: String) -> AxonError {
        .invalidArgument("layer \"\(path)\" (\(layer.summary)): \(message)")
    }

    /// Writes one layer reading `inputs`, named after its `path`; returns its output.
    mutating func layer(_ layer: any Layer, _ inputs: [Value], path: String) throws -> Value {
        if layer is Sequential || layer is Graph { return try network(layer, inputs, path: path)[0] }
        let example: [Int]
        do { example = try layer.outputShape(forInputs: inputs.map(\.example)) } catch {
            throw failure(path, layer, "does not take inputs of shape \(inputs.map(\.example)): \(error)")
        }
        let x = inputs[0]
        switch layer {
        case let c as Conv2D:
            let v = nchw(x), (kh, kw) = c.kernelSize, (ci, o) = (x.example[2], c.filters)
            var oihw = [Float](repeating: 0, count: c.kernel.count)
            c.kernel.withUnsafeBufferPointer { k in
                for oo in 0..<o { for i in 0..<ci { for r in 0..<kh { for s in 0..<kw {
                    oihw[((oo * ci + i) * kh + r) * kw + s] = k[((r * kw + s) * ci + i) * o + oo]
                } } } }
            }
            var args = [v.name, floats(path + "/kernel", [o, ci, kh, kw], oihw)]
            if c.useBias { args.append(floats(path + "/bias", [o], c.bias.scalars)) }
            let y = value("Conv", args, path, example: example, nchw: true,
                          window(x, (kh, kw), c.strides, c.padding) + [Self.attribute("group", int: 1)])
            return activation(c.activation, y, path)
        case let d as DepthwiseConv2D:
            let v = nchw(x), (kh, kw) = d.kernelSize, c = x.example[2]
            var chw = [Float](repeating: 0, count: c * kh * kw)
            d.kernel.withUnsafeBufferPointer { k in
                for ch in 0..<c { for r in 0..<kh { for s in 0..<kw { chw[(ch * kh + r) * kw + s] = k[(r * kw + s) * c + ch] } } }
            }
            var args = [v.name, floats(path + "/kernel", [c, 1, kh, kw], chw)]
            if d.useBias { args.append(floats(path + "/bias", [c], d.bias.scalars)) }
            let y = value("Conv", args, path, example: example, nchw: true,
                          window(x, (kh, kw), d.strides, d.padding) + [Self.attribute("group", int: c)])
            return activation(d.activation, y, path)
        case let p as MaxPool2D:
            return value("MaxPool", [nchw(x).name], path, example: example, nchw: true, pool(x, p.window))
        case let p as AvgPool2D:
            return value("AveragePool", [nchw(x).name], path, example: example, nchw: true,
                         pool(x, p.window) + [Self.attribute("count_include_pad", int: 0)])
        case let p as StochasticPool2D:
            // Inference: Σ a⁺·a / Σ a⁺ over each window (0 where Σ a⁺ = 0), as two
            // average pools over the same cells; the 0/0 case becomes 0/FLT_MIN.
            let v = nchw(x), attrs = pool(x, p.window) + [Self.attribute("count_include_pad", int: 0)]
            let positive = value("Relu", [v.name], path + "/positive", example: x.example, nchw: true)
            let product = value("Mul", [positive.name, v.name], path + "/product", example: x.example, nchw: true)
            let num = value("AveragePool", [product.name], path + "/numerator", example: example, nchw: true, attrs)
            let den = value("AveragePool", [positive.name], path + "/denominator", example: example, nchw: true, attrs)
            let safe = value("Max", [den.name, floats(path + "/min", [], [Float.leastNormalMagnitude])], path + "/safe_denominator",
                             example: example, nchw: true)
            return value("Div", [num.name, safe.name], path, example: example, nchw: true)
        case is GlobalAveragePool2D:
            let pooled = value("GlobalAveragePool", [nchw(x).name], path + "/pool", example: [1, 1, example[0]], nchw: true)
            return value("Flatten", [pooled.name], path, example: example, nchw: false, [Self.attribute("axis", int: 1)])
        case let z as ZeroPadding2D:
            let pads = int64s(path + "/pads", [0, 0, z.top, z.left, 0, 0, z.bottom, z.right])
            return value("Pad", [nchw(x).name, pads], path, example: example, nchw: true)
        case let b as BatchNorm:
            return batchNorm(b, x, path)
        case is Dropout:
            return x
        case is Flatten:
            return value("Flatten", [axonOrder(x).name], path, example: example, nchw: false, [Self.attribute("axis", int: 1)])
        case is Reshape:
            return value("Reshape", [axonOrder(x).name, int64s(path + "/shape", [-1] + example)], path, example: example, nchw: false)
        case let d as Dense:
            let v = axonOrder(x), k = x.example.last!
            let w = floats(path + "/kernel", [k, d.units], d.kernel.scalars), b = floats(path + "/bias", [d.units], d.bias.scalars)
            let y: Value
            if x.example.count == 1 {
                y = value("Gemm", [v.name, w, b], path, example: example, nchw: false)
            } else {
                let product = value("MatMul", [v.name, w], path + "/matmul", example: example, nchw: false)
                y = value("Add", [product.name, b], path, example: example, nchw: false)
            }
            return activation(d.activation, y, path)
        case let l as LSTM:
            return lstm(l, axonOrder(x), example, path)
        case let a as any ActivationLayer:
            return activation(type(of: a).activation, x, path, name: path)
        case let c as Clip:
            let lo = c.lower.map { floats(path + "/min", [], [$0]) } ?? "", hi = c.upper.map { floats(path + "/max", [], [$0]) } ?? ""
            return value("Clip", [x.name, lo, hi], path, example: example, nchw: x.nchw)
        case is Softmax, is LogSoftmax:
            return value(layer is Softmax ? "Softmax" : "LogSoftmax", [x.name], path, example: example, nchw: x.nchw,
                         [Self.attribute("axis", int: x.nchw ? 1 : -1)])
        case let p as Permute:
            return value("Transpose", [axonOrder(x).name], path, example: example, nchw: false,
                         [Self.attribute("perm", ints: [0] + p.axes.map { $0 + 1 })])
        case let c as Concatenate:
            let rank = x.example.count + 1, a = c.axis < 0 ? c.axis + rank : c.axis
            let parts = sameLayout(inputs)
            let axis = parts[0].nchw ? [0, 2, 3, 1][a] : a
            return value("Concat", parts.map(\.name), path, example: example, nchw: parts[0].nchw, [Self.attribute("axis", int: axis)])
        case is Add, is Multiply, is Divide:
            let parts = sameLayout(inputs), op = layer is Add ? "Add" : layer is Multiply ? "Mul" : "Div"
            var result = parts[0]
            for (i, p) in parts.dropFirst().enumerated() {
                result = value(op, [result.name, p.name], i == parts.count - 2 ? path : path + "/partial", example: example, nchw: result.nchw)
            }
            return result
        default:
            throw failure(path, layer, "not supported by the ONNX export; it writes \(ONNXExport.supportedLayers.joined(separator: ", "))")
        }
    }

    /// Inputs in one layout: NCHW when they are images and one of them is NCHW already.
    private mutating func sameLayout(_ inputs: [Value]) -> [Value] {
        inputs.contains(where: \.nchw) ? inputs.map { nchw($0) } : inputs
    }

    /// `activation` applied to `x` (nothing for linear); its output is named `name` or `path/op`.
    private mutating func activation(_ a: Activation, _ x: Value, _ path: String, name: String? = nil) -> Value {
        let ops: [Activation: String] = [.relu: "Relu", .sigmoid: "Sigmoid", .tanh: "Tanh"]
        switch a {
        case .linear: return x
        case .relu6:
            let args = [x.name, floats(path + "/zero", [], [0]), floats(path + "/six", [], [6])]
            return value("Clip", args, name ?? path + "/relu6", example: x.example, nchw: x.nchw)
        default:
            return value(ops[a]!, [x.name], name ?? path + "/" + a.rawValue, example: x.example, nchw: x.nchw)
        }
    }

    /// kernel_shape, strides and pads of a window over `x` (TensorFlow's SAME: the smaller half first).
    private func window(_ x: Value, _ kernel: (Int, Int), _ strides: (Int, Int), _ padding: Padding) -> [Onnx_AttributeProto] {
        let k = [kernel.0, kernel.1], s = [strides.0, strides.1]
        let pads = padding == .same ? ImportSupport.samePads(size: [x.example[0], x.example[1]], kernel: k, strides: s) : [0, 0, 0, 0]
        return [Self.attribute("kernel_shape", ints: k), Self.attribute("strides", ints: s), Self.attribute("pads", ints: pads)]
    }

    private func pool(_ x: Value, _ w: PoolWindow) -> [Onnx_AttributeProto] {
        window(x, (w.size.height, w.size.width), (w.stride.height, w.stride.width), w.padding)
    }

    /// BatchNormalization on NCHW images and [N, C] rows; x·scale + shift along the last axis otherwise.
    private mutating func batchNorm(_ b: BatchNorm, _ x: Value, _ path: String) -> Value {
        let c = b.channels
        if x.example.count == 3 || x.example.count == 1 {
            let v = nchw(x)
            let args = [v.name, floats(path + "/gamma", [c], b.scale ? b.gamma.scalars : [Float](repeating: 1, count: c)),
                        floats(path + "/beta", [c], b.center ? b.beta.scalars : [Float](repeating: 0, count: c)),
                        floats(path + "/moving_mean", [c], b.movingMean.scalars),
                        floats(path + "/moving_variance", [c], b.movingVariance.scalars)]
            return value("BatchNormalization", args, path, example: x.example, nchw: v.nchw,
                         [Self.attribute("epsilon", float: b.epsilon)])
        }
        let (scale, shift) = b.inferenceAffine()
        let scaled = value("Mul", [x.name, floats(path + "/scale", [c], scale)], path + "/scaled", example: x.example, nchw: false)
        return value("Add", [scaled.name, floats(path + "/shift", [c], shift)], path, example: x.example, nchw: false)
    }

    /// ONNX's LSTM (sequence-first, gates i, o, f, c; W [1, 4U, D], R [1, 4U, U],
    /// B [1, 8U] = input bias then a zero recurrent bias) from Axon's
    /// (batch-first, Keras' gates i, f, c, o; kernel [D, 4U], recurrent kernel [U, 4U]).
    private mutating func lstm(_ l: LSTM, _ x: Value, _ example: [Int], _ path: String) -> Value {
        let (d, u) = (x.example[1], l.units)
        let gates = [0, 3, 1, 2]   // Axon's gate of ONNX's gate i, o, f, c
        func onnxOrder(_ t: Tensor, rows: Int) -> [Float] {
            var out = [Float](repeating: 0, count: 4 * u * rows)
            t.withUnsafeBufferPointer { k in
                for g in 0..<4 { for j in 0..<u { for r in 0..<rows { out[(g * u + j) * rows + r] = k[r * 4 * u + gates[g] * u + j] } } }
            }
            return out
        }
        let bias = l.bias.scalars
        var b = [Float](repeating: 0, count: 8 * u)
        for g in 0..<4 { for j in 0..<u { b[g * u + j] = bias[gates[g] * u + j] } }
        let steps = value("Transpose", [x.name], path + "/time_major", example: [x.example[1]], nchw: false,
                          [Self.attribute("perm", ints: [1, 0, 2])])
        // Outputs Y (every step) or Y_h (the last), whichever the layer gives.
        let y = fresh(path + (l.returnSequences ? "/Y" : "/Y_h"))
        node("LSTM", [steps.name, floats(path + "/W", [1, 4 * u, d], onnxOrder(l.kernel, rows: d)),
                      floats(path + "/R", [1, 4 * u, u], onnxOrder(l.recurrentKernel, rows: u)), floats(path + "/B", [1, 8 * u], b)],
             l.returnSequences ? y : "", outputs: l.returnSequences ? [] : [y], name: path + "/lstm",
             [Self.attribute("hidden_size", int: u), Self.attribute("direction", string: "forward")])
        if l.returnSequences {
            let squeezed = value("Squeeze", [y, int64s(path + "/axes", [1])], path + "/sequence", example: example, nchw: false)
            return value("Transpose", [squeezed.name], path, example: example, nchw: false, [Self.attribute("perm", ints: [1, 0, 2])])
        }
        return value("Squeeze", [y, int64s(path + "/axes", [0])], path, example: example, nchw: false)
    }
}
