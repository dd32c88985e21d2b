/// Convolution, pooling and padding of ONNX nodes (NCHW, explicit or automatic
/// padding) onto Axon's NHWC layers with SAME or VALID padding (see `ONNXImport`).
extension ONNXState {
    /// The padding of a 2-D window op as [top, left, bottom, right], from
    /// auto_pad or pads, for an input of `size` (height, width).
    func windowPads(_ node: ONNXNode, size: [Int], kernel: [Int], strides: [Int]) throws -> [Int] {
        switch try string(node, "auto_pad", default: "NOTSET") {
        case "NOTSET":
            let p = try ints(node, "pads") ?? [0, 0, 0, 0]
            guard p.count == 4, p.allSatisfy({ (0...(1 << 16)).contains($0) }) else {
                throw fail(node, "pads \(p) must be four values in 0...65536")
            }
            return p
        case "VALID": return [0, 0, 0, 0]
        case let mode where mode == "SAME_UPPER" || mode == "SAME_LOWER":
            var p = [0, 0, 0, 0]
            for d in 0..<2 {
                let out = (size[d] + strides[d] - 1) / strides[d]
                let total = max((out - 1) * strides[d] + kernel[d] - size[d], 0)
                p[d] = mode == "SAME_UPPER" ? total / 2 : total - total / 2
                p[d + 2] = total - p[d]
            }
            return p
        case let mode: throw fail(node, "auto_pad \(mode) is not supported")
        }
    }

    /// Kernel size, strides and checks shared by Conv and the pools.
    func window(_ node: ONNXNode, kernel given: [Int]?) throws -> (kernel: [Int], strides: [Int]) {
        guard let kernel = try ints(node, "kernel_shape") ?? given, kernel.count == 2, kernel.allSatisfy({ (1...(1 << 16)).contains($0) }) else {
            throw fail(node, "supported on 2-D windows (kernel_shape of two values) over NCHW tensors")
        }
        let strides = try ints(node, "strides") ?? [1, 1]
        guard strides.count == 2, strides.allSatisfy({ (1...(1 << 16)).contains($0) }) else {
            throw fail(node, "strides \(strides) must be two values in 1...65536")
        }
        if let d = try ints(node, "dilations"), d.contains(where: { $0 != 1 }) { throw fail(node, "dilations \(d) are not supported") }
        return (kernel, strides)
    }

    /// Zero padding as its own layer (an exact stand-in for explicit pads before a VALID window).
    mutating func zeroPadded(_ x: ONNXTensor, _ p: [Int], _ out: String) -> ONNXTensor {
        let s = [x.shape[0], x.shape[1], x.shape[2] + p[0] + p[2], x.shape[3] + p[1] + p[3]]
        define(out + "/pad", ZeroPadding2D(top: p[0], bottom: p[2], left: p[1], right: p[3]), inputs: [x], shape: s, nhwc: true)
        return ONNXTensor(name: out + "/pad", shape: s, nhwc: true)
    }

    func outputShape(_ x: ONNXTensor, channels: Int, _ p: [Int], kernel: [Int], strides: [Int]) -> [Int] {
        [x.shape[0], channels, (x.shape[2] + p[0] + p[2] - kernel[0]) / strides[0] + 1,
         (x.shape[3] + p[1] + p[3] - kernel[1]) / strides[1] + 1]
    }

    mutating func visitConv(_ node: ONNXNode, _ out: String) throws {
        var x = try inNHWC(try tensor(node), node)
        guard let w = try constant(node, 1), w.shape.count == 4 else {
            throw fail(node, "the weights (input 2) must be a constant of shape [out, in/group, kh, kw]")
        }
        let (kernel, strides) = try window(node, kernel: Array(w.shape[2...]))
        guard kernel == Array(w.shape[2...]) else { throw fail(node, "kernel_shape \(kernel) disagrees with weights \(w.shape)") }
        let (o, ig, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3]), c = x.shape[1]
        let group = try int(node, "group", default: 1)
        let bias = try constant(node, 2)
        if let bias, bias.values.count != o { throw fail(node, "bias of \(bias.values.count) values for \(o) filters") }
        let p = try windowPads(node, size: Array(x.shape[2...]), kernel: kernel, strides: strides)
        let shape = outputShape(x, channels: o, p, kernel: kernel, strides: strides)
        var padding = Padding.valid
        if p == ImportSupport.samePads(size: Array(x.shape[2...]), kernel: kernel, strides: strides) && p != [0, 0, 0, 0] {
            padding = .same
        } else if p != [0, 0, 0, 0] {
            x = zeroPadded(x, p, out)
        }
        var tensors: [String: Tensor] = [:]
        if let bias { tensors["bias"] = Tensor(uncheckedShape: [o], scalars: bias.values) }
        let layer: any Layer
        if group == 1 && ig == c {
            var hwio = [Float](repeating: 0, count: w.values.count)
            for oo in 0..<o { for ci in 0..<c { for i in 0..<kh { for j in 0..<kw {
                hwio[((i * kw + j) * c + ci) * o + oo] = w.values[((oo * c + ci) * kh + i) * kw + j]
            } } } }
            tensors["kernel"] = Tensor(uncheckedShape: [kh, kw, c, o], scalars: hwio)
            layer = try ImportSupport.built(Conv2D(filters: o, kernelSize: (kh, kw), strides: (strides[0], strides[1]),
                                                   padding: padding, useBias: bias != nil), inputShape: [1, 1, c], tensors)
        } else if group == c && ig == 1 && o == c {
            var hwc = [Float](repeating: 0, count: w.values.count)
            for ci in 0..<c { for i in 0..<kh { for j in 0..<kw { hwc[(i * kw + j) * c + ci] = w.values[(ci * kh + i) * kw + j] } } }
            tensors["kernel"] = Tensor(uncheckedShape: [kh, kw, c, 1], scalars: hwc)
            layer = try ImportSupport.built(DepthwiseConv2D(kernelSize: (kh, kw), strides: (strides[0], strides[1]),
                                                            padding: padding, useBias: bias != nil), inputShape: [1, 1, c], tensors)
        } else {
            throw fail(node, "group \(group) with weights \(w.shape) on \(c) channels is not supported "
                + "(group 1, or depthwise: group = channels = filters)")
        }
        define(out, layer, inputs: [x], shape: shape, nhwc: true)
    }

    mutating func visitPool(_ node: ONNXNode, _ out: String) throws {
        var x = try inNHWC(try tensor(node), node)
        let (kernel, strides) = try window(node, kernel: nil)
        if try int(node, "storage_order", default: 0) != 0 { throw fail(node, "storage_order 1 is not supported") }
        let size = Array(x.shape[2...])
        let p = try windowPads(node, size: size, kernel: kernel, strides: strides)
        var shape = outputShape(x, channels: x.shape[1], p, kernel: kernel, strides: strides)
        let includePad = try int(node, "count_include_pad", default: 0) != 0
        var padding = Padding.valid
        let same = ImportSupport.samePads(size: size, kernel: kernel, strides: strides)
        if try int(node, "ceil_mode", default: 0) != 0 {
            // Ceil mode adds the windows that run past the end (one may start in the
            // padding at the start, none past the input). Where its windows start where
            // SAME's do and are as many, they are SAME pooling's: both pool the in-bounds cells.
            let count = (0..<2).map { d -> Int in
                let o = (size[d] + p[d] + p[d + 2] - kernel[d] + strides[d] - 1) / strides[d] + 1
                return (o - 1) * strides[d] >= size[d] + p[d] ? o - 1 : o
            }
            guard count == (0..<2).map({ (size[$0] + strides[$0] - 1) / strides[$0] }), p[0] == same[0], p[1] == same[1],
                  !(node.op == "AveragePool" && includePad) else {
                throw fail(node, "ceil_mode 1 is supported where its windows are SAME pooling's (pads starting with "
                    + "\(same[0]), \(same[1]) and ⌈size/stride⌉ outputs, padding not counted), not with pads \(p)")
            }
            shape = [x.shape[0], x.shape[1]] + count
            padding = .same
        } else if p != [0, 0, 0, 0] {
            if node.op == "AveragePool" && includePad {
                x = zeroPadded(x, p, out)
            } else if p == same {
                padding = .same   // Axon's SAME pooling leaves the padding out, as ONNX's MaxPool and count_include_pad 0 do
            } else {
                throw fail(node, "pads \(p) are not supported here: Axon pools with SAME padding (the smaller half first, "
                    + "\(same)), none, or zeros counted in the average")
            }
        }
        let (k, st) = ((kernel[0], kernel[1]), (strides[0], strides[1]))
        let layer: any Layer = node.op == "MaxPool" ? MaxPool2D(poolSize: k, stride: st, padding: padding)
            : AvgPool2D(poolSize: k, stride: st, padding: padding)
        define(out, layer, inputs: [x], shape: shape, nhwc: true)
    }

    mutating func visitPad(_ node: ONNXNode, _ out: String) throws {
        let mode = try string(node, "mode", default: "constant")
        guard mode == "constant" else { throw fail(node, "mode \(mode) is not supported (constant zeros only)") }
        if let v = try constant(node, 2), v.values.contains(where: { $0 != 0 }) {
            throw fail(node, "constant_value \(v.values) is not supported (zeros only)")
        }
        let x = try inNHWC(try tensor(node), node)
        guard let given = try intValues(node, 1, limit: 1 << 16) else { throw fail(node, "pads must be a constant") }
        let axes = try intValues(node, 3, limit: 8)?.map { $0 < 0 ? $0 + 4 : $0 } ?? [0, 1, 2, 3]
        guard given.count == 2 * axes.count else { throw fail(node, "pads \(given) do not match axes \(axes)") }
        var p = [Int](repeating: 0, count: 8)
        for (i, a) in axes.enumerated() where (0..<4).contains(a) { (p[a], p[a + 4]) = (given[i], given[i + axes.count]) }
        guard p[0] == 0, p[1] == 0, p[4] == 0, p[5] == 0, p.allSatisfy({ $0 >= 0 }) else {
            throw fail(node, "pads \(given) must pad only height and width, by >= 0")
        }
        let padded = zeroPadded(x, [p[2], p[3], p[6], p[7]], out)
        value[out] = .tensor(padded)
    }
}
