import Foundation
import Testing
@testable import Axon

/// Graph, the layers of branching networks (BatchNorm, DepthwiseConv2D,
/// Concatenate, Add, GlobalAveragePool2D, ZeroPadding2D, ReLU6), files and
/// checkpoints of Graphs, BatchNorm folding and Inception-v3.
@Suite struct GraphTests {
    static let tolerance: Float = 2e-2

    /// A small graph holding every new layer: fan-out (the stem feeds three
    /// branches and a residual Add), Concatenate, Add, two BatchNorms, two
    /// depthwise convolutions, zero padding, global average pooling.
    static func smallGraph(seed: UInt64 = 5, momentum: Float = 0.99) throws -> Graph {
        var b = GraphBuilder()
        let x = b.input()
        var stem = b.apply(Conv2D(filters: 4, kernelSize: 3, padding: .same, useBias: false), to: x, name: "stem")
        stem = b.apply(BatchNorm(momentum: momentum), to: stem, name: "stem/bn")
        stem = b.apply(Tanh(), to: stem, name: "stem/tanh")
        let mixed = b.branches(from: stem, name: "mixed") {
            Branch { Conv2D(filters: 3, kernelSize: 1, activation: .tanh) }
            Branch { ZeroPadding2D(1); DepthwiseConv2D(kernelSize: 3, activation: .sigmoid) }
            Branch { AvgPool2D(poolSize: 3, stride: 1, padding: .same) }
        }
        let projected = b.apply(Conv2D(filters: 4, kernelSize: 1), to: mixed, name: "project")
        let residual = b.apply(Add(), to: projected, stem, name: "residual")
        var y = b.apply(DepthwiseConv2D(kernelSize: 3, strides: 2, padding: .same, useBias: false), to: residual, name: "dw")
        y = b.apply(BatchNorm(momentum: momentum, center: false), to: y, name: "dw/bn")
        y = b.apply(ReLU6(), to: y, name: "dw/relu6")
        y = b.apply(GlobalAveragePool2D(), to: y, name: "pool")
        y = b.apply(Dense(3), to: y, name: "logits")
        return try b.graph(outputs: [y], seed: seed)
    }

    static func batch(_ n: Int = 3, seed: UInt64 = 11) -> Tensor {
        spacedTensor([n, 6, 6, 2], seed: seed, gap: 0.011, offset: -1)
    }

    @Test func graphBackwardMatchesFiniteDifferences() throws {
        var g = try Self.smallGraph()
        try g.build(inputShapes: [[6, 6, 2]])
        let r = try gradientCheck(g, Self.batch(), eps: 1e-3, maxProbes: 12)
        #expect(r.maxError < Self.tolerance, "\(r)")
        #expect(r.worst.count == g.parameterNames.count + 1, "every parameter and the input were checked: \(r)")
    }

    @Test func graphsAndSequentialsNest() throws {
        // A Sequential inside a Graph node, and that Graph inside a Sequential.
        var b = GraphBuilder()
        let x = b.input()
        let left = b.apply(Sequential { Dense(5, activation: .tanh); Dense(4) }, to: x, name: "chain")
        let right = b.apply(Dense(4, activation: .sigmoid), to: x, name: "side")
        let sum = b.apply(Add(), to: left, right, name: "sum")
        let both = b.apply(Concatenate(), to: sum, x, name: "both")
        var outer = Sequential(seed: 3) {
            Dense(6, activation: .tanh)
            try! b.graph(outputs: [both])
            Dense(2)
        }
        try outer.build(inputShape: [3])
        #expect(try outer.outputShape(for: [3]) == [2])
        #expect(outer.parameterNames.contains("layers.1.chain.layers.0.kernel"), "\(outer.parameterNames)")
        let r = try gradientCheck(outer, randomTensor([4, 3], seed: 2), maxProbes: 20)
        #expect(r.maxError < Self.tolerance, "\(r)")
    }

    @Test func fanOutSumsGradientsAndOutputsAreReachableByName() throws {
        // y = x + x + x through one Add: dL/dx = 3·dy.
        var b = GraphBuilder()
        let x = b.input()
        let y = b.apply(Add(), to: x, x, b.apply(Reshape([2]), to: x, name: "same"), name: "sum")
        var g = try b.graph(outputs: [y])
        let input = randomTensor([2, 2], seed: 4)
        let out = try g.forward(input, training: true)
        #expect(out.scalars == input.scalars.map { $0 + $0 + $0 })
        let dx = try g.backward(Tensor(repeating: 1, shape: [2, 2]))
        #expect(dx.scalars == [Float](repeating: 3, count: 4))
        #expect(try g.forward([input], outputs: ["same"])[0] == input)
        #expect(throws: AxonError.self) { try g.forward([input], outputs: ["nope"]) }
    }

    @Test func badGraphsAreRejectedWithTheirNames() throws {
        func message(_ body: () throws -> Graph) -> String {
            do { _ = try body(); return "" } catch { return "\(error)" }
        }
        let dense = Dense(2)
        #expect(message { try Graph(nodes: [.init("a", dense, inputs: ["b"])], outputs: ["a"]) }.contains("reads \"b\""))
        #expect(message { try Graph(nodes: [.init("input", dense, inputs: ["input"])], outputs: ["input"]) }
            .contains("\"input\" is used twice"))
        #expect(message { try Graph(nodes: [.init("a", dense, inputs: ["input", "input"])], outputs: ["a"]) }
            .contains("takes 1...1 inputs, got 2"))
        #expect(message { try Graph(nodes: [.init("a", dense, inputs: ["input"])], outputs: ["z"]) }.contains("output \"z\""))
        var g = try Graph(nodes: [.init("a", Concatenate(), inputs: ["input", "input"]), .init("b", Conv2D(filters: 2, kernelSize: 3), inputs: ["a"])],
                          outputs: ["b"])
        let e = message { try g.build(inputShapes: [[4]]); return g }
        #expect(e.contains("nodes.b (Conv2D"), "\(e)")
    }

    /// Trains `model` for a few steps so that BatchNorm's moving statistics move.
    static func trainSteps<M: Layer>(_ model: inout M, steps: Int = 3) throws {
        let trainer = Trainer(optimizer: Adam(learningRate: 0.01))
        for k in 0..<steps {
            try trainer.step(&model, images: Self.batch(4, seed: 30 + UInt64(k)), labels: [0, 1, 2, 1])
        }
    }

    @Test func saveAndLoadGiveIdenticalOutputs() throws {
        var g = try Self.smallGraph(momentum: 0.5)
        try g.build(inputShapes: [[6, 6, 2]])
        try Self.trainSteps(&g)
        #expect(g.state.count == 4 && g.stateCount == 16, "\(g.state.map(\.name))")
        #expect(g.state.contains { $0.name == "stem/bn.moving_mean" && $0.value.scalars != [0, 0, 0, 0] })
        let dir = try makeTempDir("graph")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("g.safetensors").path
        try g.save(to: path)
        var loaded = try Graph.load(from: path)
        #expect(loaded.nodes.map(\.name) == g.nodes.map(\.name))
        #expect(loaded.parameters.map(\.value) == g.parameters.map(\.value))
        #expect(loaded.state.map(\.value) == g.state.map(\.value))
        let x = Self.batch(2, seed: 50)
        #expect(try loaded(x) == g(x))
        #expect(try loaded.forward(x, training: true) == g.forward(x, training: true))
        #expect(throws: AxonError.self) { try Sequential.load(from: path) }
        #expect(try LayerConfig(loaded) == LayerConfig(g))
    }

    /// A Graph made of the nodes of a trained Graph keeps their weights and statistics.
    @Test func rewrappedNodesKeepTheirParameters() throws {
        var g = try Self.smallGraph(momentum: 0.5)
        try g.build(inputShapes: [[6, 6, 2]])
        try Self.trainSteps(&g)
        var c = try Graph(seed: g.seed, inputs: g.inputNames, nodes: g.nodes, outputs: g.outputNames)
        let x = Self.batch(2, seed: 51)
        #expect(try c(x) == g(x))
        let kept = c.parameters.map(\.value) == g.parameters.map(\.value) && c.state.map(\.value) == g.state.map(\.value)
        #expect(kept, "the nodes' parameters and moving statistics must be kept")
        var wrong = try Graph(seed: g.seed, inputs: g.inputNames, nodes: g.nodes, outputs: g.outputNames)
        #expect { try wrong.build(inputShapes: [[6, 6, 3]]) } throws: { "\($0)".contains("nodes.stem ") }
    }

    @Test func checkpointResumesBitExactWithBatchNorm() throws {
        let data = try Dataset(images: randomTensor([40, 6, 6, 2], seed: 60), labels: (0..<40).map { Int32($0 % 3) }, classCount: 3)
        func model() throws -> Graph { try Self.smallGraph(seed: 9, momentum: 0.9) }
        var straight = try model()
        let a = Trainer(optimizer: Adam(learningRate: 0.01))
        try a.fit(&straight, on: data, epochs: 3, batchSize: 8, seed: 2)

        var first = try model()
        let b = Trainer(optimizer: Adam(learningRate: 0.01))
        try b.fit(&first, on: data, epochs: 1, batchSize: 8, seed: 2)
        let dir = try makeTempDir("graph-ckpt")
        defer { try? FileManager.default.removeItem(at: dir) }
        try CheckpointDirectory.save(Checkpoint(model: first, optimizer: b.optimizer, epoch: 1), in: dir.path)
        let restored = try CheckpointDirectory.latest(in: dir.path)
        var second = try #require(restored.model as? Graph)
        let c = Trainer(optimizer: Adam(learningRate: 0.01))
        try restored.restore(into: &c.optimizer)
        try c.fit(&second, on: data, epochs: 3, batchSize: 8, seed: 2, startEpoch: 2)
        #expect(second.parameters.map(\.value) == straight.parameters.map(\.value))
        #expect(second.state.map(\.value) == straight.state.map(\.value))
        #expect(second.state.map(\.value) != first.state.map(\.value), "the moving statistics moved after the checkpoint")
    }

    @Test func foldingBatchNormKeepsOutputs() throws {
        var g = try Self.smallGraph(momentum: 0.3)
        try g.build(inputShapes: [[6, 6, 2]])
        try Self.trainSteps(&g, steps: 4)
        var folded = try g.foldedForInference()
        #expect(!folded.nodes.contains { $0.layer is BatchNorm }, "\(folded.nodes.map(\.name))")
        #expect(folded.nodes.count == g.nodes.count - 4, "two BatchNorms and one Tanh, one ReLU6 fused: \(folded.nodes.map(\.name))")
        let x = Self.batch(5, seed: 70)
        let want = try g(x), got = try folded(x)
        let worst = zip(want.scalars, got.scalars).map { abs($0 - $1) }.max()!
        #expect(worst < 1e-5, "largest difference \(worst)")

        var seq = Sequential(seed: 4) {
            Conv2D(filters: 3, kernelSize: 3, useBias: false); BatchNorm(momentum: 0.2); ReLU()
            Flatten(); Dense(4); BatchNorm(momentum: 0.2, scale: false)
        }
        try Self.trainSteps(&seq)
        var fs = try seq.foldedForInference()
        #expect(fs.layers.map { type(of: $0 as! any SerializableLayer).kind } == ["Conv2D", "Flatten", "Dense"])
        let w = try seq(x), f = try fs(x)
        #expect(zip(w.scalars, f.scalars).map { abs($0 - $1) }.max()! < 1e-5)
    }

    @Test func batchNormTrainingAndInference() throws {
        var bn = BatchNorm(momentum: 0.75)
        let x = randomTensor([5, 3, 2, 4], seed: 80, range: -2...5)
        let y = try bn.forward(x, training: true)
        for c in 0..<4 {
            let xs = stride(from: c, to: x.count, by: 4).map { Double(x[flat: $0]) }
            let ys = stride(from: c, to: y.count, by: 4).map { Double(y[flat: $0]) }
            let mean = xs.reduce(0, +) / Double(xs.count)
            let variance = xs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(xs.count)
            for (a, b) in zip(xs, ys) { #expect(abs((a - mean) / (variance + 1e-3).squareRoot() - b) < 1e-4) }
            #expect(abs(Double(bn.movingMean[flat: c]) - 0.25 * mean) < 1e-5)
            #expect(abs(Double(bn.movingVariance[flat: c]) - (0.75 + 0.25 * variance)) < 1e-4)
        }
        // Inference: the moving statistics.
        let z = try bn.forward(x, training: false)
        let i = 7, c = i % 4
        let expected = (x[flat: i] - bn.movingMean[flat: c]) / (bn.movingVariance[flat: c] + 1e-3).squareRoot()
        #expect(abs(z[flat: i] - expected) < 1e-5)
        for (center, scale) in [(true, true), (false, true), (true, false)] {
            let layer = try built(BatchNorm(center: center, scale: scale), [3, 2, 4])
            let r = try gradientCheck(layer, x, eps: 1e-3)
            #expect(r.maxError < Self.tolerance, "center \(center) scale \(scale): \(r)")
        }
    }

    @Test(arguments: [(3, 1, Padding.same), (3, 2, .same), (5, 2, .valid), (2, 3, .valid)])
    func depthwiseMatchesDirectLoopsAndFiniteDifferences(_ k: Int, _ s: Int, _ padding: Padding) throws {
        var layer = try built(DepthwiseConv2D(kernelSize: k, strides: s, padding: padding, activation: .tanh), [7, 8, 3], seed: 2)
        try layer.setParameter("bias", to: randomTensor([3], seed: 3))
        let x = randomTensor([2, 7, 8, 3], seed: 4)
        let y = try layer.forward(x, training: false)
        let (oh, ow) = (y.shape[1], y.shape[2])
        let padTop = padding == .same ? max(0, (oh - 1) * s + k - 7) / 2 : 0
        let padLeft = padding == .same ? max(0, (ow - 1) * s + k - 8) / 2 : 0
        var worst: Float = 0
        for n in 0..<2 { for i in 0..<oh { for j in 0..<ow { for c in 0..<3 {
            var sum = Double(layer.bias[flat: c])
            for a in 0..<k { for b in 0..<k {
                let (r, q) = (i * s + a - padTop, j * s + b - padLeft)
                guard r >= 0, r < 7, q >= 0, q < 8 else { continue }
                sum += Double(x[flat: ((n * 7 + r) * 8 + q) * 3 + c]) * Double(layer.kernel[flat: (a * k + b) * 3 + c])
            } }
            worst = max(worst, abs(Float(tanh(sum)) - y[flat: ((n * oh + i) * ow + j) * 3 + c]))
        } } } }
        #expect(worst < 1e-5, "largest difference from the direct loops \(worst)")
        let r = try gradientCheck(layer, x)
        #expect(r.maxError < Self.tolerance, "\(r)")
    }

    @Test func spatialLayersAndReLU6() throws {
        let x = spacedTensor([2, 3, 4, 2], seed: 90, gap: 0.31, offset: -2)
        for (name, layer) in [("GlobalAveragePool2D", GlobalAveragePool2D() as any Layer),
                              ("ZeroPadding2D", ZeroPadding2D(top: 1, bottom: 0, left: 2, right: 1)), ("ReLU6", ReLU6())] {
            let r = try gradientCheck(layer, x)
            #expect(r.maxError < Self.tolerance, "\(name): \(r)")
        }
        var pad = ZeroPadding2D(top: 1, bottom: 0, left: 2, right: 1)
        let p = try pad.forward(x, training: false)
        #expect(p.shape == [2, 4, 7, 2] && p[flat: 0] == 0 && p[flat: ((0 * 4 + 1) * 7 + 2) * 2] == x[flat: 0])
        var gap = GlobalAveragePool2D()
        let m = try gap.forward(x, training: false)
        #expect(abs(m[flat: 1] - stride(from: 1, to: 24, by: 2).map { x[flat: $0] }.reduce(0, +) / 12) < 1e-5)
        var r6 = ReLU6()
        #expect(try r6.forward(try Tensor(shape: [1, 4], scalars: [-1, 3, 6, 9]), training: false).scalars == [0, 3, 6, 6])
    }

    @Test func inceptionV3HasKerasParameterCounts() throws {
        var net = try Models.inceptionV3()
        try net.build(inputShapes: [[299, 299, 3]])
        #expect(net.parameterCount == 23_817_352)
        #expect(net.stateCount == 34_432)
        #expect(net.parameterCount + net.stateCount == 23_851_784)
        #expect(try net.outputShape(for: [299, 299, 3]) == [1000])
        let bottleneck = try net.summaryRows(for: [[299, 299, 3]]).first { $0.name == "avg_pool" }
        #expect(bottleneck?.outputShape == [2048])
        #expect(try net.outputShapes(forInputs: [[299, 299, 3]]) == [[1000]])
    }

    /// The backward pass through every branch of Inception-v3 (same blocks, 1/16 of the
    /// filters, 107×107 inputs so the last grid is 2×2). For the finite differences the
    /// ReLUs become tanh and the max pools average pools: the kinks of ReLU and max
    /// (checked on their own above) make central differences through 95 layers
    /// meaningless, while the smooth version agrees to ~7e-3 everywhere.
    @Test func scaledDownInceptionBackwardMatchesFiniteDifferences() throws {
        let inception = try Models.inceptionV3(classes: 4, widthDivisor: 16, softmax: false)
        let smooth = inception.nodes.map { node -> Graph.Node in
            switch node.layer {
            case is ReLU: return Graph.Node(node.name, Tanh(), inputs: node.inputs)
            case let pool as MaxPool2D: return Graph.Node(node.name, AvgPool2D(window: pool.window), inputs: node.inputs)
            default: return node
            }
        }
        var net = try Graph(seed: 3, inputs: inception.inputNames, nodes: smooth, outputs: inception.outputNames)
        try net.build(inputShapes: [[107, 107, 3]])
        let r = try gradientCheck(net, randomTensor([4, 107, 107, 3], seed: 100), eps: 1e-3, maxProbes: 2)
        #expect(r.maxError < Self.tolerance, "\(r.worst.sorted { $0.value > $1.value }.prefix(5))")
        #expect(r.worst.count == net.parameterNames.count + 1, "every parameter tensor and the input were probed")
    }

    @Test func scaledDownInceptionTrains() throws {
        var net = try Models.inceptionV3(classes: 3, widthDivisor: 16, softmax: false, seed: 5)
        let x = randomTensor([6, 107, 107, 3], seed: 101)
        let labels: [Int32] = [0, 1, 2, 0, 1, 2]
        let trainer = Trainer(optimizer: Adam(learningRate: 0.003))
        let before = try trainer.step(&net, images: x, labels: labels).loss
        for _ in 0..<8 { try trainer.step(&net, images: x, labels: labels) }
        let after = try trainer.step(&net, images: x, labels: labels).loss
        #expect(after < 0.5 * before, "loss \(before) -> \(after)")
    }
}

/// A layer kind defined outside Axon: one type and one registration make it
/// save, load and checkpoint like Axon's own.
struct ScaleShift: SerializableLayer {
    static let kind = "TestScaleShift"
    let factor: Float
    var shift = Tensor.empty, shiftGradient = Tensor.empty
    var calls: UInt64 = 0
    private var shape: [Int] = []

    init(factor: Float) { self.factor = factor }
    init(config: LayerConfig) throws { self.init(factor: try config.float("factor")) }
    func encode(into config: inout LayerConfig) throws { config.set("factor", factor) }

    var isBuilt: Bool { !shift.shape.isEmpty && shift.count > 0 }
    var summary: String { "ScaleShift(\(factor))" }
    var parameterNames: [String] { ["shift"] }
    func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }
    mutating func build(inputShape: [Int], generator: inout SeededGenerator) throws {
        shift = Initializer.glorotUniform.make([inputShape.last!], generator: &generator)
        shiftGradient = Tensor(zeros: shift.shape)
    }
    mutating func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        if training { calls += 1 }
        shape = x.shape
        let c = shift.count
        return try Tensor(shape: x.shape, scalars: x.scalars.enumerated().map { $1 * factor + shift[flat: $0 % c] })
    }
    mutating func backward(_ dy: Tensor) throws -> Tensor {
        let c = shift.count
        var g = [Float](repeating: 0, count: c)
        for (i, v) in dy.scalars.enumerated() { g[i % c] += v }
        shiftGradient = try Tensor(shape: [c], scalars: g)
        return try Tensor(shape: shape, scalars: dy.scalars.map { $0 * factor })
    }
    mutating func updateParameters(_ body: (String, inout Tensor, inout Tensor) throws -> Void) rethrows {
        try body("shift", &shift, &shiftGradient)
    }
    mutating func updateCounters(_ body: (String, inout UInt64) throws -> Void) rethrows { try body("calls", &calls) }
}

@Suite struct LayerRegistryTests {
    @Test func aNewKindIsOneTypeAndOneRegistration() throws {
        try LayerRegistry.register(ScaleShift.self)
        #expect(LayerRegistry.kinds.contains("TestScaleShift"))
        try LayerRegistry.register(ScaleShift.self)  // again: the same type is no conflict
        var model = Sequential(seed: 1) { Dense(3); ScaleShift(factor: 0.5) }
        try model.build(inputShape: [2])
        let trainer = Trainer(optimizer: Momentum(learningRate: 0.1))
        try trainer.step(&model, images: randomTensor([4, 2], seed: 1), labels: [0, 1, 2, 0])
        let dir = try makeTempDir("registry")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("m.safetensors").path
        try model.save(to: path)
        let loaded = try Sequential.load(from: path)
        #expect(loaded.parameters.map(\.value) == model.parameters.map(\.value))
        #expect((loaded.layers[1] as? ScaleShift)?.factor == 0.5)
        try Checkpoint(model: model, optimizer: trainer.optimizer, epoch: 1).save(to: path)
        let restored = try Checkpoint.load(from: path)
        #expect(restored.layerCounters == ["layers.1.calls": 1])
        #expect((restored.model as? Sequential)?.layers[1] is ScaleShift)
    }
}

extension LayerRegistryTests {
    @Test func checkpointsWithLayerKeyedCountersStillLoad() throws {
        var model = Sequential(seed: 2) { Dense(4); Dropout(0.5); Dense(2) }
        try model.build(inputShape: [3])
        _ = try model.forward(randomTensor([5, 3], seed: 1), training: true)
        let dir = try makeTempDir("old-ckpt")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("c.safetensors").path
        try Checkpoint(model: model, optimizer: Adam(), epoch: 1).save(to: path)
        var contents = try SafeTensors.read(path)
        let key = Checkpoint.metadataKey
        contents.metadata[key] = contents.metadata[key]!.replacingOccurrences(of: "\"layers.1.counter\"", with: "\"layers.1\"")
        #expect(contents.metadata[key]!.contains("\"layers.1\":20"))
        try writeFileAtomically(SafeTensors.encode(contents.tensors, metadata: contents.metadata), to: path)
        #expect(try Checkpoint.load(from: path).layerCounters == ["layers.1.counter": 20])
    }
}

@Suite struct GraphCLITests {
    @Test func inspectShowsInceptionWithoutAFileAndAGraphFileWithItsBranches() throws {
        let r = try runAxon(["inspect", "--architecture", "inception-v3"])
        #expect(r.status == 0, "\(r.stderr)")
        for needle in ["Total parameters: 23,851,784", "Trainable parameters: 23,817,352", "Non-trainable parameters: 34,432",
                       "mixed10/branch3/conv1/conv", "(None, 8, 8, 2048)", "avg_pool"] {
            #expect(r.stdout.contains(needle), "inspect --architecture lacks \"\(needle)\"")
        }
        var g = try GraphTests.smallGraph()
        try g.build(inputShapes: [[6, 6, 2]])
        let dir = try makeTempDir("graph-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("g.safetensors").path
        try g.save(to: path)
        let i = try runAxon(["inspect", path])
        #expect(i.status == 0, "\(i.stderr)")
        let row = i.stdout.split(separator: "\n").first { $0.hasPrefix("residual ") }.map(String.init) ?? ""
        #expect(row.contains("Add()") && row.contains("project, stem/tanh"), "residual row: \(row)\n\(i.stdout)")
        let bad = try runAxon(["inspect", "--architecture", "resnet"])
        #expect(bad.status != 0 && bad.stderr.contains("inception-v3"), "\(bad.stderr)")
    }
}

extension GraphCLITests {
    @Test func versionIsPrintedAndRecordedInModelFiles() throws {
        let r = try runAxon(["--version"])
        #expect(r.status == 0 && r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "axon \(AxonVersion.string)", "\(r.stdout)")
        var g = try GraphTests.smallGraph()
        try g.build(inputShapes: [[6, 6, 2]])
        let dir = try makeTempDir("version")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("g.safetensors").path
        try g.save(to: path)
        #expect(try ModelFile.load(from: path).metadata["axon.version"] == AxonVersion.string)
    }
}
