import Foundation
import Testing
@testable import Axon

/// A small labelled set: class c images carry a bright square at a class-specific place plus noise.
/// Keeps what `fit` tells its callbacks.
final class Recorder: TrainingCallback {
    var batches: [BatchProgress] = []
    var records: [EpochRecord] = []
    var ended: History?
    func batchEnded<Model: Layer>(_ model: inout Model, progress: BatchProgress, trainer: Trainer) { batches.append(progress) }
    func epochEnded<Model: Layer>(_ model: inout Model, record: EpochRecord, trainer: Trainer) -> TrainingDecision {
        records.append(record)
        return .continue
    }
    func trainingEnded<Model: Layer>(_ model: inout Model, history: History, trainer: Trainer) { ended = history }
}

func toyDataset(count: Int, size: Int = 8, classes: Int = 4, seed: UInt64) throws -> Dataset {
    var g = SeededGenerator(seed: seed)
    var pixels = [Float](repeating: 0, count: count * size * size)
    var labels = [Int32]()
    for n in 0..<count {
        let c = Int(g.next() % UInt64(classes))
        labels.append(Int32(c))
        for i in 0..<(size * size) { pixels[n * size * size + i] = 0.3 * g.nextUniform() }
        let (r0, c0) = ((c / 2) * size / 2, (c % 2) * size / 2)
        for r in r0..<(r0 + size / 2) { for q in c0..<(c0 + size / 2) { pixels[n * size * size + r * size + q] += 0.7 } }
    }
    return try Dataset(images: Tensor(shape: [count, size, size, 1], scalars: pixels), labels: labels, classCount: classes)
}

/// Every layer kind in one network.
func everyLayerModel(seed: UInt64) -> Sequential {
    Sequential(seed: seed) {
        Conv2D(filters: 4, kernelSize: 3, padding: .same); ReLU()
        StochasticPool2D(poolSize: 2)                                   // [4, 4, 4]
        Conv2D(filters: 8, kernelSize: (3, 3), strides: (1, 1), padding: .same, activation: .relu)
        MaxPool2D(poolSize: 2, stride: 2)                               // [2, 2, 8]
        AvgPool2D(poolSize: 2, stride: 1, padding: .same)               // [2, 2, 8]
        Reshape([4, 8])
        LSTM(units: 16, returnSequences: true)                          // [4, 16]
        Flatten()
        Dense(32); Tanh()
        Dense(32); Sigmoid()
        Dropout(rate: 0.1)
        Dense(4)
    }
}

@Suite struct TrainingTests {
    @Test func everyLayerKindOverfitsASmallBatch() throws {
        var model = everyLayerModel(seed: 1)
        let data = try toyDataset(count: 16, seed: 3)
        let batch = data.batch(0..<16)
        let labels = batch.labels
        let trainer = Trainer(loss: .softmaxCrossEntropy, optimizer: Adam(learningRate: 0.01))
        var first: Float = 0, last: Float = 0
        for i in 0..<400 {
            let (l, _) = try trainer.step(&model, images: batch.images, labels: labels)
            if i == 0 { first = l }
            last = l
        }
        let logits = try model(batch.images)
        let eval = try Loss.softmaxCrossEntropy.compute(logits: logits, labels: labels).loss
        let predicted = logits.argmaxRows().map(Int32.init)
        #expect(first > 1.0, "initial loss \(first)")
        #expect(last < 0.02, "training loss after 400 steps: \(last) (from \(first))")
        #expect(eval < 0.05 && predicted == labels, "inference loss \(eval)")
    }

    @Test func softmaxLayerWithQuadraticLossOverfits() throws {
        var model = Sequential(seed: 2) { Flatten(); Dense(16, activation: .tanh); Dense(4); Softmax() }
        let data = try toyDataset(count: 12, seed: 4)
        let batch = data.batch(0..<12)
        let trainer = Trainer(loss: .quadratic, optimizer: Adam(learningRate: 0.02))
        var last: Float = 1
        for _ in 0..<300 { last = try trainer.step(&model, images: batch.images, labels: batch.labels).loss }
        #expect(last < 0.01, "quadratic loss of softmax outputs: \(last)")
    }

    /// A network ending in Softmax outputs probabilities: its cross-entropy is the mean
    /// of −log p[label], not that of a second softmax over the probabilities.
    @Test func evaluateTakesTheProbabilitiesOfASoftmaxNetwork() throws {
        var model = Sequential(seed: 2) { Flatten(); Dense(4); Softmax() }
        try model.build(inputShape: [8, 8, 1])
        try model.setParameter("layers.1.kernel", to: randomTensor([64, 4], seed: 5, range: -2...2))
        let data = try toyDataset(count: 40, seed: 4)
        let p = try model(data.batch(0..<40).images)
        var expected = 0.0
        for (r, label) in data.labels.enumerated() { expected -= log(Double(p[flat: r * 4 + Int(label)])) / 40 }
        let (loss, accuracy) = try evaluate(model, on: data)
        #expect(abs(Double(loss) - expected) < 1e-4 * max(1, expected), "loss \(loss), mean cross-entropy \(expected)")
        #expect(accuracy == Double(countCorrect(p, data.labels)) / 40)
    }

    static let optimizers: [(String, any Optimizer)] = [
        ("GradientDescent", GradientDescent(learningRate: 0.5)),
        ("Momentum", Momentum(learningRate: 0.1, momentum: 0.9)),
        ("Nesterov", Momentum(learningRate: 0.1, momentum: 0.9, nesterov: true)),
        ("Adam", Adam(learningRate: 0.05)),
        ("Adagrad", Adagrad(learningRate: 0.5)),
        ("Adadelta", Adadelta(learningRate: 20)),
        ("RMSProp", RMSProp(learningRate: 0.05)),
        ("RMSProp centered", RMSProp(learningRate: 0.05, momentum: 0.5, centered: true)),
        ("ProximalGradientDescent", ProximalGradientDescent(learningRate: 0.5, l1: 0.001, l2: 0.001)),
        ("ProximalAdagrad", ProximalAdagrad(learningRate: 0.5)),
        ("AdagradDA", AdagradDA(learningRate: 0.5)),
        ("Ftrl", Ftrl(learningRate: 0.5)),
    ]

    /// Softmax regression is convex: every optimizer must drive the loss down.
    @Test(arguments: 0..<12)
    func optimizerDecreasesConvexLoss(_ index: Int) throws {
        let (name, optimizer) = Self.optimizers[index]
        var model = Sequential(seed: 5) { Flatten(); Dense(4) }
        let data = try toyDataset(count: 64, seed: 6)
        let batch = data.batch(0..<64)
        let trainer = Trainer(loss: .softmaxCrossEntropy, optimizer: optimizer)
        let initial = try Loss.softmaxCrossEntropy.compute(logits: model(batch.images), labels: batch.labels).loss
        for _ in 0..<100 { try trainer.step(&model, images: batch.images, labels: batch.labels) }
        let final = try Loss.softmaxCrossEntropy.compute(logits: model(batch.images), labels: batch.labels).loss
        #expect(final < 0.5 * initial, "\(name): loss \(initial) → \(final)")
        #expect(trainer.optimizer.step == 100)
    }

    /// `Trainer.step` updates each layer right after its backward pass; that must give the
    /// bits of one update after the whole pass, for every optimizer, through nested containers.
    @Test(arguments: 0..<12)
    func eachLayerUpdatedInBackwardGivesTheSameBits(_ index: Int) throws {
        let (name, optimizer) = Self.optimizers[index]
        func model() -> Sequential {
            Sequential(seed: 11) {
                Conv2D(filters: 4, kernelSize: 3, padding: .same); BatchNorm(); ReLU()
                MaxPool2D(poolSize: 2, stride: 2)
                Sequential { Reshape([4, 16]); LSTM(units: 8) }
                Dense(16, activation: .relu); Dropout(rate: 0.2)
                Dense(4)
            }
        }
        let data = try toyDataset(count: 16, seed: 12)
        let b = data.batch(0..<16)
        var (eachLayer, whole) = (model(), model())
        let (t1, t2) = (Trainer(optimizer: optimizer), Trainer(optimizer: optimizer))
        t2.updatesEachLayer = false
        for _ in 0..<4 {
            let r1 = try t1.step(&eachLayer, images: b.images, labels: b.labels)
            let r2 = try t2.step(&whole, images: b.images, labels: b.labels)
            #expect(r1.loss.bitPattern == r2.loss.bitPattern && r1.correct == r2.correct, "\(name)")
        }
        #expect(eachLayer.parameters.count == 11)
        for ((n1, w1), (n2, w2)) in zip(eachLayer.parameters, whole.parameters) {
            #expect(n1 == n2 && w1.scalars.map(\.bitPattern) == w2.scalars.map(\.bitPattern), "\(name): \(n1)")
        }
        #expect(t1.optimizer.step == 4 && t2.optimizer.step == 4)
        #expect(t1.optimizer.scalarState.mapValues(\.bitPattern) == t2.optimizer.scalarState.mapValues(\.bitPattern))
        #expect(Set(t1.optimizer.slots.keys) == Set(t2.optimizer.slots.keys), "\(name)")
        for (key, slot) in t2.optimizer.slots {
            #expect(t1.optimizer.slots[key]?.scalars.map(\.bitPattern) == slot.scalars.map(\.bitPattern), "\(name): \(key)")
        }
    }

    /// A `ParameterUpdate` made from a walk alone (no rule for the kernels): each layer is
    /// updated after its backward pass, the same bits as one update after, gradients kept.
    @Test func parameterUpdateFromAWalkAlone() throws {
        func model() -> Sequential { Sequential(seed: 5) { Dense(8, activation: .relu); Dense(3) } }
        var (each, whole) = (model(), model())
        var (o1, o2) = (Momentum(learningRate: 0.1), Momentum(learningRate: 0.1))
        let x = try Tensor(shape: [5, 6], scalars: (0..<30).map { Float($0 % 7) / 7 - 0.4 })
        let dy = try Tensor(shape: [5, 3], scalars: (0..<15).map { Float($0 % 4) / 4 - 0.3 })
        for _ in 0..<3 {
            _ = try each.forward(x, training: true)
            _ = try each.backward(dy, inputGradient: false, update: ParameterUpdate { walk in try o1.update(walk) })
            _ = try whole.forward(x, training: true)
            _ = try whole.backward(dy, inputGradient: false)
            try o2.update(&whole)
        }
        for ((n1, w1), (_, w2)) in zip(each.parameters, whole.parameters) {
            #expect(w1.scalars.map(\.bitPattern) == w2.scalars.map(\.bitPattern), "\(n1)")
        }
        #expect(o1.slots.mapValues { $0.scalars } == o2.slots.mapValues { $0.scalars })
        #expect(each.gradients.allSatisfy { !$0.1.scalars.isEmpty }, "a walk alone leaves every gradient stored")
    }

    /// The same through a Graph (fan-out, Concatenate, Add, BatchNorm, depthwise).
    @Test(arguments: [0, 3, 7, 11])
    func eachNodeOfAGraphUpdatedInBackwardGivesTheSameBits(_ index: Int) throws {
        let (name, optimizer) = Self.optimizers[index]
        var (eachNode, whole) = (try GraphTests.smallGraph(), try GraphTests.smallGraph())
        let x = GraphTests.batch(4)
        let labels: [Int32] = [0, 2, 1, 2]
        let (t1, t2) = (Trainer(optimizer: optimizer), Trainer(optimizer: optimizer))
        t2.updatesEachLayer = false
        for _ in 0..<3 {
            let r1 = try t1.step(&eachNode, images: x, labels: labels)
            let r2 = try t2.step(&whole, images: x, labels: labels)
            #expect(r1.loss.bitPattern == r2.loss.bitPattern, "\(name)")
        }
        #expect(eachNode.parameters.count > 8)
        for ((n1, w1), (n2, w2)) in zip(eachNode.parameters, whole.parameters) {
            #expect(n1 == n2 && w1.scalars.map(\.bitPattern) == w2.scalars.map(\.bitPattern), "\(name): \(n1)")
        }
        #expect(t1.optimizer.step == 3 && Set(t1.optimizer.slots.keys) == Set(t2.optimizer.slots.keys))
        for (key, slot) in t2.optimizer.slots {
            #expect(t1.optimizer.slots[key]?.scalars.map(\.bitPattern) == slot.scalars.map(\.bitPattern), "\(name): \(key)")
        }
    }

    @Test func slotsAreNamedByParameter() throws {
        var model = Sequential { Flatten(); Dense(3); Dense(2) }
        let data = try toyDataset(count: 4, classes: 2, seed: 7)
        let b = data.batch(0..<4)
        let trainer = Trainer(optimizer: Adam())
        try trainer.step(&model, images: b.images, labels: b.labels)
        #expect(Set(trainer.optimizer.slots.keys) == Set(["layers.1.kernel", "layers.1.bias", "layers.2.kernel",
                                                          "layers.2.bias"].flatMap { [$0 + "/m", $0 + "/v"] }))
        #expect(model.parameterNames == ["layers.1.kernel", "layers.1.bias", "layers.2.kernel", "layers.2.bias"])
    }

    /// Momentum through the Swift API against a direct Swift reference of spec §8.2.
    @Test func momentumMatchesReference() throws {
        var model = Sequential(seed: 8) { Flatten(); Dense(3) }
        let data = try toyDataset(count: 8, classes: 3, seed: 9)
        let b = data.batch(0..<8)
        _ = try model(b.images)
        var w = model.parameters[0].value.scalars
        var a = [Float](repeating: 0, count: w.count)
        let trainer = Trainer(optimizer: Momentum(learningRate: 0.1, momentum: 0.9))
        var worst: Float = 0
        for _ in 0..<3 {
            var probe = model
            let logits = try probe.forward(b.images, training: true)
            _ = try probe.backward(Loss.softmaxCrossEntropy.compute(logits: logits, labels: b.labels).gradient)
            let g = probe.gradients[0].value.scalars
            for i in w.indices { a[i] = 0.9 * a[i] + g[i]; w[i] -= 0.1 * a[i] }
            try trainer.step(&model, images: b.images, labels: b.labels)
            worst = zip(w, model.parameters[0].value.scalars).map { abs($0 - $1) }.max()!
        }
        #expect(worst < 1e-6, "largest difference from the reference: \(worst)")
    }

    /// AdagradDA through the Swift API against a direct Swift reference of spec §8.9 with l1 and l2
    /// non-zero (step t uses T = t; with l1 = l2 = 0, T drops out of the formula).
    @Test func adagradDAMatchesReference() throws {
        var model = Sequential(seed: 8) { Flatten(); Dense(3) }
        let data = try toyDataset(count: 8, classes: 3, seed: 9)
        let b = data.batch(0..<8)
        _ = try model(b.images)
        let (lr, l1, l2): (Float, Float, Float) = (0.5, 0.002, 0.1)
        var w = model.parameters.map(\.value.scalars)
        var gacc = w.map { [Float](repeating: 0, count: $0.count) }
        var gsq = w.map { [Float](repeating: 0.1, count: $0.count) }
        let trainer = Trainer(optimizer: AdagradDA(learningRate: lr, l1: l1, l2: l2))
        var worst: Float = 0
        for t in 1...5 {
            var probe = model
            let logits = try probe.forward(b.images, training: true)
            _ = try probe.backward(Loss.softmaxCrossEntropy.compute(logits: logits, labels: b.labels).gradient)
            let T = Float(t)
            for (p, g) in probe.gradients.map(\.value.scalars).enumerated() {
                for i in g.indices {
                    gacc[p][i] += g[i]
                    gsq[p][i] += g[i] * g[i]
                    let G = gacc[p][i]
                    let sign: Float = G > 0 ? 1 : (G < 0 ? -1 : 0)
                    w[p][i] = -lr * sign * max(abs(G) - l1 * T, 0) / (l2 * T * lr + gsq[p][i].squareRoot())
                }
            }
            try trainer.step(&model, images: b.images, labels: b.labels)
            for (p, value) in model.parameters.map(\.value.scalars).enumerated() {
                worst = max(worst, zip(w[p], value).map { abs($0 - $1) }.max()!)
            }
        }
        #expect(worst < 1e-6, "largest difference from the reference over 5 steps: \(worst)")
        #expect(w[0].contains(0) && w[0].contains { $0 != 0 }, "l1 should zero some weights, not all: \(w[0])")
    }

    @Test func sameSeedGivesBitwiseIdenticalWeights() throws {
        let data = try toyDataset(count: 40, seed: 10)
        func run(seed: UInt64) throws -> [Tensor] {
            var model = everyLayerModel(seed: seed)
            let trainer = Trainer(optimizer: Momentum(learningRate: 0.05, momentum: 0.9))
            var g = SeededGenerator(seed: 11)
            for _ in 0..<20 {
                let idx = (0..<8).map { _ in Int(g.next() % 40) }
                let b = data.batch(idx)
                try trainer.step(&model, images: b.images, labels: b.labels)
            }
            return model.parameters.map(\.value)
        }
        let a = try run(seed: 1), b = try run(seed: 1), c = try run(seed: 2)
        #expect(a == b, "same seed, same thread count: weights must be bitwise identical")
        #expect(a != c, "a different seed must give different weights")
    }

    @Test func fitReportsEpochsAndLearns() throws {
        let train = try toyDataset(count: 256, seed: 12), test = try toyDataset(count: 128, seed: 13)
        var model = Sequential(seed: 3) {
            Conv2D(filters: 4, kernelSize: 3, padding: .same, activation: .relu)
            MaxPool2D(poolSize: 2)
            Flatten(); Dense(16, activation: .relu); Dropout(rate: 0.2); Dense(4)
        }
        let recorder = Recorder()
        let trainer = Trainer(optimizer: Momentum(learningRate: 0.05, momentum: 0.9),
                              schedule: .exponentialDecay(rate: 0.5), l2: 0.01)
        let history = try trainer.fit(&model, on: train, epochs: 3, batchSize: 32, validation: test, seed: 1,
                                      callbacks: [recorder])
        #expect(history.epochs.count == 3 && recorder.records == history.epochs && recorder.ended == history)
        #expect(recorder.batches.count == 3 * 8 && recorder.batches.last?.batch == 8 && recorder.batches.last?.examplesDone == 256)
        #expect(history.epochs.map(\.learningRate) == [0.05, 0.025, 0.0125])
        let last = try #require(history.last)
        #expect(last.validationAccuracy! > 0.95, "validation accuracy \(last.validationAccuracy!)")
        #expect(last.imagesPerSecond > 0 && last.seconds > 0)
        let (_, acc) = try evaluate(model, on: test)
        #expect(acc == last.validationAccuracy!)
        let predicted = try predict(model, test.images)
        let correct = zip(predicted, test.labels).filter { $0 == Int($1) }.count
        #expect(Double(correct) / 128 == acc)
    }

    /// A run whose loss stops being finite ends at that batch with an error naming
    /// the epoch, the batch and the learning rate, before any further epoch is reported.
    @Test func divergingRunStopsAtTheFirstNonFiniteLoss() throws {
        var model = Sequential(seed: 3) { Flatten(); Dense(16, activation: .relu); Dense(16, activation: .relu); Dense(4) }
        let data = try toyDataset(count: 64, seed: 12)
        let trainer = Trainer(optimizer: Adam(learningRate: 1e30))
        let recorder = Recorder()
        #expect {
            try trainer.fit(&model, on: data, epochs: 3, batchSize: 8, callbacks: [recorder])
        } throws: { error in
            let m = "\(error)"
            return m.contains("epoch 1, batch ") && m.contains("of 8") && m.contains("learning rate") && m.contains("1e+30")
        }
        #expect(recorder.records.isEmpty && recorder.ended == nil,
                "\(recorder.records.count) epochs were reported after the loss stopped being finite")
    }

    @Test func badHyperParametersThrow() throws {
        var model = Models.mlp()
        let data = try toyDataset(count: 4, size: 28, seed: 1)
        let trainer = Trainer(optimizer: Adam(beta1: 1.5))
        #expect(throws: AxonError.self) { try trainer.fit(&model, on: data, epochs: 1, batchSize: 0) }
        #expect(throws: AxonError.self) { try trainer.fit(&model, on: data, epochs: 1, batchSize: 2) }
        var d = Sequential { Flatten(); Dropout(rate: 1.0) }
        #expect(throws: AxonError.self) { try d.build(inputShape: [2, 2]) }
    }
}
