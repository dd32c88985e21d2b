/// The course's weight penalties (spec §7) on one weight tensor, as `Trainer`
/// applies them to every kernel: with `coefficient` = λ/n (n the training-set
/// size) `l2` is the course's (λ/2n)·Σw² and `l1` its (λ/n)·Σ|w|.
public enum Penalty {
    /// Returns (coefficient/2)·Σw² and adds coefficient·w to `gradient` (w's shape).
    public static func l2(_ w: Tensor, coefficient: Float, gradient: inout Tensor) throws -> Float {
        try gradient.expectShape(w.shape, "L2 penalty gradient")
        return try Kernels.l2Penalty(w: w, coef: coefficient, grad: &gradient)
    }

    /// Returns coefficient·Σ|w| and adds coefficient·sign(w) to `gradient` (sign(0) = 0).
    public static func l1(_ w: Tensor, coefficient: Float, gradient: inout Tensor) throws -> Float {
        try gradient.expectShape(w.shape, "L1 penalty gradient")
        return try Kernels.l1Penalty(w: w, coef: coefficient, grad: &gradient)
    }

    /// The value alone: (coefficient/2)·Σw².
    public static func l2(_ w: Tensor, coefficient: Float) throws -> Float {
        var g = Tensor(zeros: w.shape)
        return try l2(w, coefficient: coefficient, gradient: &g)
    }

    /// The value alone: coefficient·Σ|w|.
    public static func l1(_ w: Tensor, coefficient: Float) throws -> Float {
        var g = Tensor(zeros: w.shape)
        return try l1(w, coefficient: coefficient, gradient: &g)
    }
}
