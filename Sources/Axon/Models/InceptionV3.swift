extension Models {
    /// Inception-v3 (Szegedy et al. 2015) as a `Graph`, with the topology of
    /// Keras' `InceptionV3`: every convolution is Conv2D without bias +
    /// BatchNorm without scale (ε 1e-3) + ReLU; the stem; blocks mixed0–mixed10
    /// (35×35, 17×17 and 8×8 grids); global average pooling; a dense
    /// classifier and a softmax. Input examples are 299×299×3 (75×75 at least).
    /// With 1000 classes: 23,851,784 parameters counted as Keras counts them
    /// (23,817,352 trainable, 34,432 moving statistics).
    ///
    /// Node names follow the blocks: "stem/conv1/conv", "mixed4/branch2/conv3/bn",
    /// "mixed4" (a block's concatenation), "avg_pool" (the 2048-d bottleneck),
    /// "logits", "predictions".
    ///
    /// `widthDivisor` divides every convolution's filter count (at least 1
    /// filter each), for small versions of the same graph in tests.
    public static func inceptionV3(classes: Int = 1000, widthDivisor: Int = 1, softmax: Bool = true,
                                   seed: UInt64 = 42) throws -> Graph {
        guard classes >= 1, widthDivisor >= 1 else {
            throw AxonError.invalidArgument("inceptionV3: classes and widthDivisor must be >= 1, got \(classes), \(widthDivisor)")
        }
        var b = GraphBuilder()
        /// conv2d_bn of Keras' inception_v3.py: (filters, kernel height, width, stride, padding).
        func conv(_ filters: Int, _ kh: Int, _ kw: Int, stride: Int = 1, padding: Padding = .same) -> [any Layer] {
            [Conv2D(filters: max(1, filters / widthDivisor), kernelSize: (kh, kw), strides: (stride, stride),
                    padding: padding, useBias: false),
             BatchNorm(scale: false), ReLU()]
        }
        /// A chain of conv2d_bn blocks named "<name>/conv<k>/{conv,bn,relu}".
        func convs(_ x: GraphBuilder.Value, _ name: String, _ blocks: [[any Layer]]) -> GraphBuilder.Value {
            var y = x
            for (k, block) in blocks.enumerated() {
                y = b.apply(block[0], to: y, name: "\(name)/conv\(k + 1)/conv")
                y = b.apply(block[1], to: y, name: "\(name)/conv\(k + 1)/bn")
                y = b.apply(block[2], to: y, name: "\(name)/conv\(k + 1)/relu")
            }
            return y
        }
        func pool(_ x: GraphBuilder.Value, _ name: String, _ layer: any Layer) -> GraphBuilder.Value {
            b.apply(layer, to: x, name: name)
        }
        func concat(_ name: String, _ parts: [GraphBuilder.Value]) -> GraphBuilder.Value {
            b.apply(Concatenate(), to: parts, name: name)
        }
        let avgSame = AvgPool2D(poolSize: 3, stride: 1, padding: .same)
        let max3x3 = MaxPool2D(poolSize: 3, stride: 2)

        var x = b.input()
        x = convs(x, "stem", [conv(32, 3, 3, stride: 2, padding: .valid), conv(32, 3, 3, padding: .valid), conv(64, 3, 3)])
        x = pool(x, "stem/pool1", max3x3)
        x = convs(x, "stem2", [conv(80, 1, 1, padding: .valid), conv(192, 3, 3, padding: .valid)])
        x = pool(x, "stem2/pool", max3x3)

        // mixed0-2: 35 × 35
        for (i, poolFilters) in [32, 64, 64].enumerated() {
            let m = "mixed\(i)"
            x = concat(m, [
                convs(x, "\(m)/branch0", [conv(64, 1, 1)]),
                convs(x, "\(m)/branch1", [conv(48, 1, 1), conv(64, 5, 5)]),
                convs(x, "\(m)/branch2", [conv(64, 1, 1), conv(96, 3, 3), conv(96, 3, 3)]),
                convs(pool(x, "\(m)/branch3/pool", avgSame), "\(m)/branch3", [conv(poolFilters, 1, 1)]),
            ])
        }
        // mixed3: 17 × 17
        x = concat("mixed3", [
            convs(x, "mixed3/branch0", [conv(384, 3, 3, stride: 2, padding: .valid)]),
            convs(x, "mixed3/branch1", [conv(64, 1, 1), conv(96, 3, 3), conv(96, 3, 3, stride: 2, padding: .valid)]),
            pool(x, "mixed3/branch2/pool", max3x3),
        ])
        // mixed4-7: 17 × 17 with factorised 7 × 7 convolutions
        for (i, f) in [128, 160, 160, 192].enumerated() {
            let m = "mixed\(4 + i)"
            x = concat(m, [
                convs(x, "\(m)/branch0", [conv(192, 1, 1)]),
                convs(x, "\(m)/branch1", [conv(f, 1, 1), conv(f, 1, 7), conv(192, 7, 1)]),
                convs(x, "\(m)/branch2", [conv(f, 1, 1), conv(f, 7, 1), conv(f, 1, 7), conv(f, 7, 1), conv(192, 1, 7)]),
                convs(pool(x, "\(m)/branch3/pool", avgSame), "\(m)/branch3", [conv(192, 1, 1)]),
            ])
        }
        // mixed8: 8 × 8
        x = concat("mixed8", [
            convs(x, "mixed8/branch0", [conv(192, 1, 1), conv(320, 3, 3, stride: 2, padding: .valid)]),
            convs(x, "mixed8/branch1", [conv(192, 1, 1), conv(192, 1, 7), conv(192, 7, 1),
                                        conv(192, 3, 3, stride: 2, padding: .valid)]),
            pool(x, "mixed8/branch2/pool", max3x3),
        ])
        // mixed9-10: 8 × 8 with split 3 × 3 branches
        for i in 0..<2 {
            let m = "mixed\(9 + i)"
            let b1 = convs(x, "\(m)/branch1", [conv(384, 1, 1)])
            let b2 = convs(x, "\(m)/branch2", [conv(448, 1, 1), conv(384, 3, 3)])
            x = concat(m, [
                convs(x, "\(m)/branch0", [conv(320, 1, 1)]),
                concat("\(m)/branch1/concat", [convs(b1, "\(m)/branch1a", [conv(384, 1, 3)]),
                                               convs(b1, "\(m)/branch1b", [conv(384, 3, 1)])]),
                concat("\(m)/branch2/concat", [convs(b2, "\(m)/branch2a", [conv(384, 1, 3)]),
                                               convs(b2, "\(m)/branch2b", [conv(384, 3, 1)])]),
                convs(pool(x, "\(m)/branch3/pool", avgSame), "\(m)/branch3", [conv(192, 1, 1)]),
            ])
        }
        x = b.apply(GlobalAveragePool2D(), to: x, name: "avg_pool")
        x = b.apply(Dense(classes), to: x, name: "logits")
        if softmax { x = b.apply(Softmax(), to: x, name: "predictions") }
        return try b.graph(outputs: [x], seed: seed)
    }
}
