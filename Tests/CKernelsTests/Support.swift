// Shared helpers for the kernel tests: a seeded generator, random buffers,
// the largest difference between two arrays, and central finite differences.
import CKernels
import Testing

/// SplitMix64: small, seedable, good enough to draw test inputs.
struct TestRNG {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    mutating func uniform() -> Float { Float(next() >> 40) / Float(1 << 24) }
    mutating func uniform(_ lo: Float, _ hi: Float) -> Float { lo + (hi - lo) * uniform() }
    mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }
    mutating func array(_ n: Int, _ lo: Float = -1, _ hi: Float = 1) -> [Float] {
        (0..<n).map { _ in uniform(lo, hi) }
    }
}

/// Largest absolute difference, and the largest difference relative to max(1, |b|).
func maxDiff(_ a: [Float], _ b: [Float]) -> (abs: Float, rel: Float) {
    precondition(a.count == b.count, "length \(a.count) vs \(b.count)")
    var ma: Float = 0, mr: Float = 0
    for i in a.indices {
        let d = abs(a[i] - b[i])
        ma = max(ma, d)
        mr = max(mr, d / max(1, abs(b[i])))
    }
    return (ma, mr)
}

/// Central finite differences of a scalar function f at x, in double precision
/// accumulation of the two evaluations: df/dx_i ≈ (f(x+h e_i) − f(x−h e_i)) / 2h.
func numericGradient(_ x: [Float], h: Float = 1e-2, _ f: ([Float]) -> Double) -> [Float] {
    var x = x
    var g = [Float](repeating: 0, count: x.count)
    for i in x.indices {
        let v = x[i]
        x[i] = v + h; let fp = f(x)
        x[i] = v - h; let fm = f(x)
        x[i] = v
        g[i] = Float((fp - fm) / (2 * Double(h)))
    }
    return g
}

/// Σ a_i·b_i in double: the scalar loss L = <y, dy> whose gradient is the VJP.
func dot(_ a: [Float], _ b: [Float]) -> Double {
    var s = 0.0
    for i in a.indices { s += Double(a[i]) * Double(b[i]) }
    return s
}

/// Status of a C call as a Swift Int for #expect comparisons.
let ok = Int32(CK_OK.rawValue)
let einval = Int32(CK_EINVAL.rawValue)
let enospc = Int32(CK_ENOSPC.rawValue)
