import Testing
import Axon

/// Every layer's backward against central finite differences, through the Swift API.
@Suite struct LayerGradientTests {
    static let tolerance: Float = 2e-2

    @Test(arguments: Activation.allCases)
    func dense(_ act: Activation) throws {
        // Inputs away from relu's kink; bias shifts keep pre-activations off 0 in practice.
        let layer = try built(Dense(5, activation: act, biasInitializer: .constant(0.05)), [7])
        let r = try gradientCheck(layer, spacedTensor([3, 7], seed: 2, gap: 0.031, offset: -0.3))
        #expect(r.maxError < Self.tolerance, "Dense \(act): \(r)")
        #expect(r.worst.keys.sorted() == ["bias", "input", "kernel"])
    }

    @Test func denseOverLeadingAxes() throws {
        let layer = try built(Dense(3, activation: .tanh), [2, 4])
        let r = try gradientCheck(layer, randomTensor([2, 2, 4], seed: 3))
        #expect(r.maxError < Self.tolerance, "Dense on [2,2,4]: \(r)")
    }

    @Test(arguments: [(Padding.same, 1, Activation.relu), (.valid, 1, .linear), (.same, 2, .tanh), (.valid, 2, .sigmoid)])
    func conv2d(_ padding: Padding, _ stride: Int, _ act: Activation) throws {
        let layer = try built(Conv2D(filters: 3, kernelSize: (3, 2), strides: (stride, stride), padding: padding,
                                     activation: act, biasInitializer: .constant(0.02)), [6, 5, 2])
        // A bias step moves all 60 pre-activations of a filter at once: keep it
        // small enough that none crosses relu's kink.
        let r = try gradientCheck(layer, spacedTensor([2, 6, 5, 2], seed: 4, gap: 0.013, offset: -0.6),
                                  eps: act == .relu ? 2e-4 : 2e-3)
        #expect(r.maxError < Self.tolerance, "Conv2D \(padding) stride \(stride) \(act): \(r)")
    }

    @Test(arguments: [(2, 2, Padding.valid), (3, 2, .same), (3, 1, .valid), (2, 2, .same)])
    func maxPool(_ size: Int, _ stride: Int, _ padding: Padding) throws {
        let layer = MaxPool2D(poolSize: size, stride: stride, padding: padding)
        let r = try gradientCheck(layer, spacedTensor([2, 5, 5, 2], seed: 5, offset: -1))
        #expect(r.maxError < Self.tolerance, "MaxPool2D \(size)/\(stride) \(padding): \(r)")
    }

    /// Inference asks for no argmax, so LeNet's 2×2 pool over 6 channels takes the
    /// kernel's whole-row form there: the same bits as training's form, NaN included,
    /// and no backward after it.
    @Test func maxPoolInferenceMatchesTraining() throws {
        var layer = MaxPool2D(poolSize: 2, stride: 2)
        var x = spacedTensor([3, 28, 28, 6], seed: 11, offset: -1)
        x[flat: 100] = .nan
        let train = try layer.forward(x, training: true)
        let infer = try layer.forward(x, training: false)
        #expect(train.shape == [3, 14, 14, 6] && infer.shape == train.shape)
        #expect(zip(train.scalars, infer.scalars).allSatisfy { $0.bitPattern == $1.bitPattern },
                "inference maxima differ from training's")
        #expect(throws: AxonError.self) { try layer.backward(infer) }
    }

    @Test(arguments: [(2, 2, Padding.valid), (3, 2, .same), (2, 1, .same)])
    func avgPool(_ size: Int, _ stride: Int, _ padding: Padding) throws {
        let layer = AvgPool2D(poolSize: size, stride: stride, padding: padding)
        let r = try gradientCheck(layer, randomTensor([2, 5, 5, 2], seed: 6))
        #expect(r.maxError < Self.tolerance, "AvgPool2D \(size)/\(stride) \(padding): \(r)")
    }

    @Test func stochasticPoolTraining() throws {
        // Positive inputs (post-ReLU domain); the copied layer re-draws the same uniforms.
        let layer = try built(StochasticPool2D(poolSize: 2, stride: 2), [4, 4, 3], seed: 9)
        let r = try gradientCheck(layer, spacedTensor([2, 4, 4, 3], seed: 7, offset: 0.1), eps: 1e-3)
        #expect(r.maxError < Self.tolerance, "StochasticPool2D: \(r)")
    }

    @Test func stochasticPoolInferenceIsWeightedMean() throws {
        var layer = try built(StochasticPool2D(poolSize: 2, stride: 2), [2, 2, 1])
        let x = try Tensor(shape: [1, 2, 2, 1], scalars: [1, 2, 3, 0])
        let y = try layer.forward(x, training: false)
        #expect(abs(y[flat: 0] - 14.0 / 6.0) < 1e-6, "got \(y.scalars)")
        let s = try layer.forward(x, training: true)
        #expect([1, 2, 3].contains(s[flat: 0]), "a training sample must be one of the window's positive cells, got \(s.scalars)")
    }

    @Test func dropout() throws {
        let layer = try built(Dropout(rate: 0.4), [10])
        let r = try gradientCheck(layer, randomTensor([4, 10], seed: 8))
        #expect(r.maxError < Self.tolerance, "Dropout: \(r)")
        var d = layer
        let x = randomTensor([4, 10], seed: 8)
        let y = try d.forward(x, training: true)
        let kept = (0..<y.count).filter { y[flat: $0] != 0 }
        #expect(kept.count > 5 && kept.count < 38, "keeps about 60%: \(kept.count)/40")
        for i in kept { #expect(abs(y[flat: i] - x[flat: i] / 0.6) < 1e-5) }
        #expect(try d.forward(x, training: false) == x, "inference is the identity")
    }

    @Test func activationLayers() throws {
        let x = spacedTensor([3, 6], seed: 10, gap: 0.07, offset: -0.6)
        for (name, layer) in [("ReLU", ReLU() as any Layer), ("Sigmoid", Sigmoid()), ("Tanh", Tanh()), ("Softmax", Softmax())] {
            let r = try gradientCheck(layer, x)
            #expect(r.maxError < Self.tolerance, "\(name): \(r)")
        }
    }

    @Test func reshaping() throws {
        let x = randomTensor([2, 3, 4, 2], seed: 11)
        let f = try gradientCheck(Flatten(), x)
        #expect(f.maxError < 1e-3, "Flatten: \(f)")
        let r = try gradientCheck(Reshape([-1, 4]), x)
        #expect(r.maxError < 1e-3, "Reshape: \(r)")
        var flat = Flatten()
        #expect(try flat.forward(x, training: true).shape == [2, 24])
        var rs = Reshape([6, -1])
        #expect(try rs.forward(x, training: true).shape == [2, 6, 4])
    }

    @Test(arguments: [false, true])
    func lstm(_ returnSequences: Bool) throws {
        let layer = try built(LSTM(units: 4, returnSequences: returnSequences), [5, 3])
        let r = try gradientCheck(layer, randomTensor([2, 5, 3], seed: 12))
        #expect(r.maxError < Self.tolerance, "LSTM sequences=\(returnSequences): \(r)")
        #expect(r.worst.keys.sorted() == ["bias", "input", "kernel", "recurrent_kernel"])
    }

    @Test func sequentialEndToEnd() throws {
        var model = Sequential(seed: 3) {
            Conv2D(filters: 2, kernelSize: 3, padding: .same, activation: .tanh)
            AvgPool2D(poolSize: 2)
            Flatten(); Dense(4, activation: .sigmoid); Dense(3)
        }
        try model.build(inputShape: [4, 4, 1])
        let r = try gradientCheck(model, randomTensor([2, 4, 4, 1], seed: 13))
        #expect(r.maxError < Self.tolerance, "Sequential: \(r)")
        #expect(r.worst["layers.0.kernel"] != nil && r.worst["layers.4.bias"] != nil, "names: \(r.worst.keys)")
    }
}

@Suite struct LayerBehaviourTests {
    @Test func lstmKerasInitialisation() throws {
        let l = try built(LSTM(units: 8), [10, 5])
        #expect(l.kernel.shape == [5, 32] && l.recurrentKernel.shape == [8, 32] && l.bias.shape == [32])
        #expect(l.bias.scalars == [Float](repeating: 0, count: 8) + [Float](repeating: 1, count: 8)
                + [Float](repeating: 0, count: 16))
        // Orthogonal [8, 32]: rows are orthonormal.
        var worst: Float = 0
        for i in 0..<8 { for j in 0..<8 {
            var d: Float = 0
            for k in 0..<32 { d += l.recurrentKernel[flat: i * 32 + k] * l.recurrentKernel[flat: j * 32 + k] }
            worst = max(worst, abs(d - (i == j ? 1 : 0)))
        } }
        #expect(worst < 1e-5, "R·Rᵀ differs from I by \(worst)")
        let limit = (6.0 / Float(5 + 32)).squareRoot()
        #expect(l.kernel.scalars.allSatisfy { abs($0) <= limit }, "glorot bound \(limit)")
    }

    @Test func initialiserStatistics() throws {
        var g = SeededGenerator(seed: 5)
        let t = Initializer.truncatedNormal(std: 0.1).make([100, 100], generator: &g)
        let mean = t.scalars.reduce(0, +) / Float(t.count)
        let std = (t.scalars.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(t.count)).squareRoot()
        #expect(t.scalars.allSatisfy { abs($0) <= 0.2 }, "truncated at 2σ")
        #expect(abs(mean) < 0.003 && abs(std - 0.088) < 0.003, "mean \(mean) std \(std), expected 0, 0.088")
        let h = Initializer.heNormal.make([200, 50], generator: &g)
        let hstd = (h.squaredNorm() / Float(h.count)).squareRoot()
        #expect(abs(hstd - (2.0 / 200).squareRoot()) < 0.005, "he normal std \(hstd)")
        let q = Initializer.orthogonal.make([6, 4], generator: &g)  // tall: orthonormal columns
        var worst: Float = 0
        for i in 0..<4 { for j in 0..<4 {
            var d: Float = 0
            for k in 0..<6 { d += q[flat: k * 4 + i] * q[flat: k * 4 + j] }
            worst = max(worst, abs(d - (i == j ? 1 : 0)))
        } }
        #expect(worst < 1e-5, "QᵀQ differs from I by \(worst)")
        #expect(Initializer.constant(0.1).make([3], generator: &g).scalars == [0.1, 0.1, 0.1])
    }

    @Test func shapeMismatchNamesBothShapes() throws {
        var d = try built(Dense(10), [784])
        do {
            _ = try d.forward(Tensor(zeros: [2, 100]), training: false)
            Issue.record("Dense accepted the wrong input size")
        } catch let e as AxonError {
            let text = e.description
            #expect(text.contains("784") && text.contains("[2, 100]"), "message: \(text)")
        }
        var model = Models.lenet5()
        try model.build(inputShape: [28, 28, 1])
        do {
            _ = try model.forward(Tensor(zeros: [3, 32, 32, 1]), training: false)
            Issue.record("LeNet-5 accepted 32×32 input after being built for 28×28")
        } catch let e as AxonError {
            #expect(e.description.contains("[3, 28, 28, 1]") && e.description.contains("[3, 32, 32, 1]"), "\(e)")
        }
        var conv = try built(Conv2D(filters: 2, kernelSize: 3), [5, 5, 3])
        do {
            _ = try conv.forward(Tensor(zeros: [1, 5, 5, 2]), training: false)
            Issue.record("Conv2D accepted 2 channels after being built for 3")
        } catch let e as AxonError {
            #expect(e.description.contains("3]") && e.description.contains("[1, 5, 5, 2]"), "\(e)")
        }
        #expect(throws: AxonError.self) { try Loss.softmaxCrossEntropy.compute(logits: Tensor(zeros: [2, 3]), labels: [0]) }
    }

    // Inference keeps a convolution's prepared filter between calls (ConvFilterCache): the same
    // bits as the training-mode forward, for a Winograd shape (1×7, 153 tiles), a batch-1 GEMM
    // cut over the threads and image groups; after an optimizer-style update the next inference
    // uses the new kernel; a copy of the layer given other weights keeps its own results.
    @Test(arguments: [([17, 17, 16], 1, (1, 7), 1), ([9, 9, 16], 1, (3, 3), 2), ([9, 9, 16], 4, (3, 3), 2)])
    func convolutionInferenceCacheFollowsTheKernel(shape: [Int], batch: Int, kernel: (Int, Int), stride: Int) throws {
        var layer = try built(Conv2D(filters: 24, kernelSize: kernel, strides: (stride, stride), padding: .same,
                                     activation: .relu), shape)
        let x = randomTensor([batch] + shape, seed: 41)
        func shift(_ l: inout Conv2D, by d: Float) {
            l.updateParameters { name, v, _ in
                if name == "kernel" { for i in 0..<v.count { v[flat: i] += d * Float(i % 7 - 3) } }
            }
        }
        let before = try layer.forward(x, training: true)
        #expect(try layer.forward(x, training: false) == before)
        #expect(try layer.forward(x, training: false) == before, "second call, from the cache")
        shift(&layer, by: 0.01)
        let after = try layer.forward(x, training: true)
        #expect(after != before)
        #expect(try layer.forward(x, training: false) == after, "inference after an update")
        var other = layer
        shift(&other, by: -0.02)
        let otherRef = try other.forward(x, training: true)
        #expect(try other.forward(x, training: false) == otherRef)
        #expect(try layer.forward(x, training: false) == after, "the original keeps its own filter")
        #expect(try other.forward(x, training: false) == otherRef)
    }

    @Test func builderSupportsSemicolonsConditionsAndLoops() throws {
        let deep = true
        let model = Sequential {
            Flatten()
            for width in [8, 6] { Dense(width, activation: .relu) }
            if deep { Dense(5); ReLU() } else { Dense(4) }
            Dense(3)
        }
        #expect(model.layers.map(\.summary) == ["Flatten()", "Dense(8, relu)", "Dense(6, relu)", "Dense(5, linear)",
                                                 "ReLU()", "Dense(3, linear)"])
        #expect(try model.outputShape(for: [2, 2]) == [3])
    }

    @Test func modelsHaveExpectedShapesAndSizes() throws {
        var lenet = Models.lenet5()
        try lenet.build(inputShape: [28, 28, 1])
        #expect(try lenet.shapes(for: [28, 28, 1]).map { $0 } ==
                [[28, 28, 6], [14, 14, 6], [10, 10, 16], [5, 5, 16], [400], [120], [84], [10]])
        #expect(lenet.parameterCount == 156 + 2416 + 48120 + 10164 + 850)
        var deep = Models.deepMNIST()
        try deep.build(inputShape: [28, 28, 1])
        #expect(try deep.outputShape(for: [28, 28, 1]) == [10])
        #expect(deep.parameterCount == 832 + 51264 + 3136 * 1024 + 1024 + 10250)
        var lstm = Models.lstmClassifier(hidden: 128)
        try lstm.build(inputShape: [28, 28, 1])
        #expect(lstm.parameterCount == 4 * 128 * (28 + 128 + 1) + 1290)
        var mlp = Models.mlp()
        try mlp.build(inputShape: [28, 28, 1])
        #expect(mlp.parameterCount == 784 * 500 + 500 + 500 * 300 + 300 + 3010)
        let logits = try lstm(Tensor(zeros: [2, 28, 28, 1]))
        #expect(logits.shape == [2, 10])
    }
}
