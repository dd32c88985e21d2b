import Testing
import Axon  // not @testable: everything used here must be public

/// Public API a user writing their own training code needs (issue 13, item 17).
@Suite struct PublicAPITests {
    func images(_ shape: [Int], seed: UInt64) throws -> Tensor {
        var g = SeededGenerator(seed: seed)
        return try Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in g.nextUniform() })
    }

    /// Deterministic adjust_brightness and flip_left_right (tf.image), for 1 and 3 channels.
    @Test(arguments: [1, 3]) func brightnessAndFlip(channels c: Int) throws {
        let (n, h, w) = (3, 4, 5)
        let x = try images([n, h, w, c], seed: 2)
        let deltas: [Float] = [-0.25, 0, 0.5]
        let b = try ImageAdjust.brightness(x, deltas: deltas)
        let f = try ImageAdjust.flipLeftRight(x)
        #expect(b.shape == x.shape && f.shape == x.shape)
        for i in 0..<n { for r in 0..<h { for t in 0..<w { for k in 0..<c {
            let at = ((i * h + r) * w + t) * c + k, mirrored = ((i * h + r) * w + (w - 1 - t)) * c + k
            #expect(b[flat: at] == x[flat: at] + deltas[i])
            #expect(f[flat: at] == x[flat: mirrored])
        } } } }
        #expect(try ImageAdjust.flipLeftRight(f) == x)
        #expect(throws: AxonError.self) { _ = try ImageAdjust.brightness(x, deltas: [1]) }
    }

    /// Per-example losses: their mean is `compute`'s loss; each row is the loss of that row alone.
    @Test(arguments: Loss.allCases) func perExampleLosses(loss: Loss) throws {
        let logits = try images([4, 3], seed: 3)
        let labels: [Int32] = [0, 2, 1, 2]
        let each = try loss.perExample(logits: logits, labels: labels)
        #expect(each.shape == (loss == .sigmoidCrossEntropy ? [4, 3] : [4]))
        let mean = each.scalars.reduce(0, +) / Float(each.count)
        #expect(abs(mean - (try loss.compute(logits: logits, labels: labels).loss)) < 1e-6)
        let perRow = each.count / 4
        for r in 0..<4 {
            let alone = try loss.compute(logits: logits.rows(r..<(r + 1)), labels: [labels[r]]).loss
            let mine = each.scalars[(r * perRow)..<((r + 1) * perRow)].reduce(0, +) / Float(perRow)
            #expect(abs(alone - mine) < 1e-6, "\(loss) row \(r): \(mine) vs \(alone)")
        }
    }

    /// Every optimizer's slots exist with TF's initial values before the first update.
    @Test func slotsReadableBeforeTheFirstUpdate() throws {
        var model = Sequential(seed: 1) { Flatten(); Dense(3) }
        try model.build(inputShape: [2, 2, 1])
        let expected: [(any Optimizer, [String: Float])] = [
            (GradientDescent(learningRate: 0.1), [:]),
            (Momentum(learningRate: 0.1), ["momentum": 0]),
            (Adam(), ["m": 0, "v": 0]),
            (Adagrad(learningRate: 0.1, initialAccumulatorValue: 0.3), ["accumulator": 0.3]),
            (Adadelta(), ["accum": 0, "accum_update": 0]),
            (RMSProp(learningRate: 0.1, centered: true), ["rms": 1, "momentum": 0, "mg": 0]),
            (ProximalGradientDescent(learningRate: 0.1), [:]),
            (ProximalAdagrad(learningRate: 0.1), ["accumulator": 0.1]),
            (AdagradDA(learningRate: 0.1), ["gradient_accumulator": 0, "gradient_squared_accumulator": 0.1]),
            (Ftrl(learningRate: 0.1, initialAccumulatorValue: 0.2), ["accum": 0.2, "linear": 0]),
        ]
        for (o, slots) in expected {
            var optimizer = o
            #expect(optimizer.slots.isEmpty)
            optimizer.createSlots(for: model)
            #expect(optimizer.slots.count == 2 * slots.count, "\(optimizer.summary): \(optimizer.slots.keys.sorted())")
            for (name, value) in slots {
                let kernel = try #require(optimizer.slots["layers.1.kernel/" + name], "\(optimizer.summary): no slot \(name)")
                #expect(kernel.shape == [4, 3] && kernel.scalars.allSatisfy { $0 == value }, "\(optimizer.summary) \(name)")
                #expect(optimizer.slots["layers.1.bias/" + name]?.shape == [3])
            }
        }
        // A Trainer creates them before its first update: the same weights as without.
        let x = try images([5, 2, 2, 1], seed: 4)
        var a = model, b = model
        let t = Trainer(optimizer: Adagrad(learningRate: 0.1))
        try t.step(&a, images: x, labels: [0, 1, 2, 0, 1])
        var manual: any Optimizer = Adagrad(learningRate: 0.1)
        _ = try b.forward(x, training: true)
        let g = try Loss.softmaxCrossEntropy.compute(logits: b.forward(x, training: true), labels: [0, 1, 2, 0, 1]).gradient
        _ = try b.backward(g)
        try manual.update(&b)
        #expect(a.parameters.map(\.value) == b.parameters.map(\.value))
    }

    /// Tensor.empty and the course's L2/L1 penalties are public.
    @Test func emptyTensorAndPenalties() throws {
        #expect(Tensor.empty.count == 0)
        let w = try Tensor(shape: [3], scalars: [1, -2, 0])
        var g = Tensor(zeros: [3])
        #expect(try Penalty.l2(w, coefficient: 0.5, gradient: &g) == 0.25 * 5)
        #expect(g.scalars == [0.5, -1, 0])
        #expect(try Penalty.l1(w, coefficient: 0.5) == 1.5)
        var wrong = Tensor(zeros: [2])
        #expect(throws: AxonError.self) { _ = try Penalty.l2(w, coefficient: 1, gradient: &wrong) }
    }
}
