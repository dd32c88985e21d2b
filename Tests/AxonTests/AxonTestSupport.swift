import Axon

/// Deterministic test data.
func randomTensor(_ shape: [Int], seed: UInt64, range: ClosedRange<Float> = -1...1) -> Tensor {
    var g = SeededGenerator(seed: seed)
    let n = shape.reduce(1, *)
    let v = (0..<n).map { _ in range.lowerBound + (range.upperBound - range.lowerBound) * g.nextUniform() }
    return try! Tensor(shape: shape, scalars: v)
}

/// Distinct values spaced `gap` apart in random order, shifted by `offset`:
/// keeps max-pool winners and ReLU signs stable under a finite-difference step.
func spacedTensor(_ shape: [Int], seed: UInt64, gap: Float = 0.05, offset: Float) -> Tensor {
    var g = SeededGenerator(seed: seed)
    let n = shape.reduce(1, *)
    var v = (0..<n).map { Float($0) * gap + offset }
    for i in stride(from: n - 1, to: 0, by: -1) { v.swapAt(i, Int(g.next() % UInt64(i + 1))) }
    return try! Tensor(shape: shape, scalars: v)
}

func perturbed(_ t: Tensor, _ i: Int, _ delta: Float) -> Tensor {
    var c = t
    c[flat: i] += delta
    return c
}

/// Result of comparing analytic and central-difference gradients of
/// L = Σ r ⊙ layer(x) for a random r.
struct GradientReport: CustomStringConvertible {
    var worst: [String: Float] = [:]  // largest |numeric − analytic| / max(1, |analytic|max)
    var maxError: Float { worst.values.max() ?? 0 }
    var description: String { worst.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") }
}

/// Checks `backward` of `layer` (already built) at `x` against central differences
/// of the training forward pass. Each evaluation starts from a copy of the layer
/// taken before the first forward, so dropout masks and pooling samples repeat.
func gradientCheck<L: Layer>(_ layer: L, _ x: Tensor, eps: Float = 2e-3, maxProbes: Int = 80,
                             seed: UInt64 = 7) throws -> GradientReport {
    let base = layer
    var l = base
    let y = try l.forward(x, training: true)
    let r = randomTensor(y.shape, seed: seed)
    let dx = try l.backward(r)
    let grads = l.gradients
    var report = GradientReport()

    func objective(_ layer: L, _ input: Tensor) throws -> Double {
        var c = layer
        let out = try c.forward(input, training: true)
        var s = 0.0
        for i in 0..<out.count { s += Double(out[flat: i]) * Double(r[flat: i]) }
        return s
    }
    func probes(_ n: Int) -> [Int] {
        if n <= maxProbes { return Array(0..<n) }
        var g = SeededGenerator(seed: seed &+ UInt64(n))
        return (0..<maxProbes).map { _ in Int(g.next() % UInt64(n)) }
    }
    func compare(_ name: String, analytic: Tensor, numeric: (Int) throws -> Double) rethrows {
        let scale = max(1, analytic.scalars.map { abs($0) }.max() ?? 0)
        var worst: Float = 0
        for i in probes(analytic.count) {
            let num = try numeric(i)
            worst = max(worst, Float(abs(num - Double(analytic[flat: i]))) / scale)
        }
        report.worst[name] = worst
    }

    if dx.shape != x.shape {
        report.worst["input (shape \(dx.shape) vs \(x.shape))"] = .infinity
    } else {
        try compare("input", analytic: dx) { i in
            (try objective(base, perturbed(x, i, eps)) - objective(base, perturbed(x, i, -eps))) / Double(2 * eps)
        }
    }
    for (name, g) in grads {
        let value = base.parameters.first { $0.name == name }!.value
        try compare(name, analytic: g) { i in
            var plus = base, minus = base
            try plus.setParameter(name, to: perturbed(value, i, eps))
            try minus.setParameter(name, to: perturbed(value, i, -eps))
            return (try objective(plus, x) - objective(minus, x)) / Double(2 * eps)
        }
    }
    return report
}

func built<L: Layer>(_ layer: L, _ inputShape: [Int], seed: UInt64 = 1) throws -> L {
    var l = layer
    var g = SeededGenerator(seed: seed)
    try l.build(inputShape: inputShape, generator: &g)
    return l
}
