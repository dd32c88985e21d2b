import Foundation

/// Parameter initialisers (spec §11). All draw from a `SeededGenerator`.
public enum Initializer: Sendable, Equatable {
    /// U[−L, L], L = √(6/(fanIn+fanOut)): the Keras default for kernels.
    case glorotUniform
    /// Truncated normal with σ = √(2/(fanIn+fanOut)) / 0.8796…
    case glorotNormal
    /// Truncated normal with σ = √(2/fanIn) / 0.8796… (obtained std √(2/fanIn)).
    case heNormal
    /// U[−L, L], L = √(6/fanIn).
    case heUniform
    /// N(0, std²) redrawn beyond 2·std: the course's `tf.truncated_normal(stddev: 0.1)`.
    case truncatedNormal(std: Float)
    case constant(Float)
    case zeros
    case ones
    /// A matrix with orthonormal rows or columns, from a QR (Gram–Schmidt) of a Gaussian matrix.
    case orthogonal

    /// Standard deviation of a standard normal truncated to ±2.
    static let truncatedStd: Double = 0.87962566103423978

    /// A tensor of `shape` with fans as spec §11 defines them for `shape`
    /// (dense [in,out]; conv [kh,kw,c,o]; a vector has fanIn = fanOut = its length).
    public func make(_ shape: [Int], generator g: inout SeededGenerator) -> Tensor {
        let (fanIn, fanOut) = Initializer.fans(shape)
        let n = shape.reduce(1, *)
        var v = [Float](repeating: 0, count: n)
        switch self {
        case .zeros: break
        case .ones: for i in 0..<n { v[i] = 1 }
        case .constant(let c): for i in 0..<n { v[i] = c }
        case .glorotUniform: Initializer.uniform(&v, limit: (6.0 / Double(fanIn + fanOut)).squareRoot(), &g)
        case .heUniform: Initializer.uniform(&v, limit: (6.0 / Double(fanIn)).squareRoot(), &g)
        case .glorotNormal:
            Initializer.truncated(&v, std: (2.0 / Double(fanIn + fanOut)).squareRoot() / Initializer.truncatedStd, &g)
        case .heNormal:
            Initializer.truncated(&v, std: (2.0 / Double(fanIn)).squareRoot() / Initializer.truncatedStd, &g)
        case .truncatedNormal(let std): Initializer.truncated(&v, std: Double(std), &g)
        case .orthogonal:
            let cols = shape.last ?? 1
            let rows = n / max(cols, 1)
            v = Initializer.orthogonalMatrix(rows: rows, cols: cols, &g)
        }
        return Tensor(uncheckedShape: shape, scalars: v)
    }

    static func fans(_ shape: [Int]) -> (Int, Int) {
        switch shape.count {
        case 0: return (1, 1)
        case 1: return (shape[0], shape[0])
        case 2: return (shape[0], shape[1])
        default:
            let receptive = shape.dropLast(2).reduce(1, *)
            return (receptive * shape[shape.count - 2], receptive * shape[shape.count - 1])
        }
    }

    static func uniform(_ v: inout [Float], limit: Double, _ g: inout SeededGenerator) {
        for i in v.indices { v[i] = Float((Double(g.nextUniform()) * 2 - 1) * limit) }
    }

    /// Standard normal by Box–Muller from two uniforms in (0, 1].
    static func gaussian(_ g: inout SeededGenerator) -> Double {
        let u1 = (Double(g.next() >> 11) + 1) / 9_007_199_254_740_992.0
        let u2 = Double(g.next() >> 11) / 9_007_199_254_740_992.0
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    static func truncated(_ v: inout [Float], std: Double, _ g: inout SeededGenerator) {
        for i in v.indices {
            var z = gaussian(&g)
            while abs(z) > 2 { z = gaussian(&g) }
            v[i] = Float(z * std)
        }
    }

    /// rows × cols with orthonormal columns (rows ≥ cols) or rows (rows < cols):
    /// modified Gram–Schmidt on a Gaussian matrix. Its R has a positive diagonal,
    /// which is Keras' sign-corrected QR (q·sign(diag r)).
    static func orthogonalMatrix(rows: Int, cols: Int, _ g: inout SeededGenerator) -> [Float] {
        // Work on the tall orientation m × k (m ≥ k), columns stored contiguously.
        let m = max(rows, cols), k = min(rows, cols)
        var q = [Double](repeating: 0, count: m * k)  // column j at q[j*m ..< (j+1)*m]
        for i in q.indices { q[i] = gaussian(&g) }
        for j in 0..<k {
            for p in 0..<j {
                var dot = 0.0
                for r in 0..<m { dot += q[p * m + r] * q[j * m + r] }
                for r in 0..<m { q[j * m + r] -= dot * q[p * m + r] }
            }
            var norm = 0.0
            for r in 0..<m { norm += q[j * m + r] * q[j * m + r] }
            norm = norm.squareRoot()
            for r in 0..<m { q[j * m + r] /= norm }
        }
        var out = [Float](repeating: 0, count: rows * cols)
        if rows >= cols {  // out[r, j] = q column j, row r
            for r in 0..<rows { for j in 0..<cols { out[r * cols + j] = Float(q[j * m + r]) } }
        } else {  // out = Qᵀ: out[j, r] = q column j, row r
            for j in 0..<rows { for r in 0..<cols { out[j * cols + r] = Float(q[j * m + r]) } }
        }
        return out
    }
}
