extension Models {
    /// EfficientNet-Lite0 (Tan & Le 2019; the "lite" variant for mobile CPUs:
    /// no squeeze-and-excitation, ReLU6 instead of swish, stem and head of
    /// fixed width) as a `Graph`, matching the pretrained weights that
    /// `Pretrained.efficientNetLite0` converts:
    ///
    /// - stem: 3×3 convolution stride 2 (32 filters), BatchNorm, ReLU6;
    /// - 16 MBConv blocks in 7 stages (expansion, kernel, first stride, filters,
    ///   repeats): (1,3,1,16,1) (6,3,2,24,2) (6,5,2,40,2) (6,3,2,80,3)
    ///   (6,5,1,112,3) (6,5,2,192,4) (6,3,1,320,1). A block: 1×1 expansion
    ///   convolution + BatchNorm + ReLU6 (when the expansion is not 1), depthwise
    ///   convolution + BatchNorm + ReLU6, 1×1 projection + BatchNorm, and the
    ///   block's input added when the stride is 1 and the widths agree;
    /// - head: 1×1 convolution to 1280, BatchNorm, ReLU6, global average
    ///   pooling, dropout 0.2, a dense layer to `classes` logits, softmax.
    ///
    /// Convolutions have no bias (BatchNorm follows each), TensorFlow SAME
    /// padding, BatchNorm ε 1e-3. Input: 224×224×3, normalised as
    /// `ImagePreprocessing.efficientNetLite` says. Node names: "stem/conv",
    /// "block3/depthwise/bn", "block3/add", "head/relu6", "avg_pool" (the 1280-d
    /// features), "logits", "predictions".
    public static func efficientNetLite0(classes: Int = 1000, softmax: Bool = true, seed: UInt64 = 42) throws -> Graph {
        guard classes >= 1 else { throw AxonError.invalidArgument("efficientNetLite0: classes must be >= 1, got \(classes)") }
        var b = GraphBuilder()
        /// Convolution (or depthwise convolution) + BatchNorm [+ ReLU6], named "<name>/conv", "/bn", "/relu6".
        func unit(_ x: GraphBuilder.Value, _ name: String, _ conv: any Layer, relu6: Bool = true) -> GraphBuilder.Value {
            var y = b.apply(conv, to: x, name: "\(name)/conv")
            y = b.apply(BatchNorm(epsilon: 1e-3), to: y, name: "\(name)/bn")
            return relu6 ? b.apply(ReLU6(), to: y, name: "\(name)/relu6") : y
        }
        var x = unit(b.input(), "stem", Conv2D(filters: 32, kernelSize: 3, strides: 2, padding: .same, useBias: false))
        var width = 32, block = 0
        let stages = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
                      (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]
        for (expansion, kernel, firstStride, filters, repeats) in stages {
            for r in 0..<repeats {
                let stride = r == 0 ? firstStride : 1
                let name = "block\(block)"
                var y = x
                if expansion != 1 {
                    y = unit(y, "\(name)/expand", Conv2D(filters: width * expansion, kernelSize: 1, padding: .same, useBias: false))
                }
                y = unit(y, "\(name)/depthwise", DepthwiseConv2D(kernelSize: kernel, strides: stride, padding: .same, useBias: false))
                y = unit(y, "\(name)/project", Conv2D(filters: filters, kernelSize: 1, padding: .same, useBias: false), relu6: false)
                if stride == 1 && width == filters { y = b.apply(Add(), to: y, x, name: "\(name)/add") }
                x = y
                width = filters
                block += 1
            }
        }
        x = unit(x, "head", Conv2D(filters: 1280, kernelSize: 1, padding: .same, useBias: false))
        x = b.apply(GlobalAveragePool2D(), to: x, name: "avg_pool")
        x = b.apply(Dropout(0.2), to: x, name: "dropout")
        x = b.apply(Dense(classes), to: x, name: "logits")
        if softmax { x = b.apply(Softmax(), to: x, name: "predictions") }
        return try b.graph(outputs: [x], seed: seed)
    }
}

extension ImagePreprocessing {
    /// TensorFlow's EfficientNet-Lite evaluation: 224×224 from a centred crop of
    /// 224/256 of the shorter side, (value − 127) / 128.
    public static let efficientNetLite = ImagePreprocessing(size: 224, centralFraction: 0.875,
                                                             mean: [127, 127, 127], std: [128, 128, 128])
}
