import CKernels

// The only Swift code that calls the C kernels, one file per C source family
// (ConvKernels.swift for conv*.c, depthwise.c and pad.c; PoolKernels.swift for
// pool.c; ...). Each wrapper takes tensors (or plain buffers), passes their
// storage to one ck_* function through withPointers (Pointers.swift) and turns
// its status into a thrown error. Sizes come from the callers' shapes; the
// kernels validate them again and answer CK_EINVAL rather than crash.

extension Activation {
    var ck: Int32 {
        switch self {
        case .linear: return Int32(CK_ACT_NONE.rawValue)
        case .relu: return Int32(CK_ACT_RELU.rawValue)
        case .sigmoid: return Int32(CK_ACT_SIGMOID.rawValue)
        case .tanh: return Int32(CK_ACT_TANH.rawValue)
        case .relu6: return Int32(CK_ACT_RELU6.rawValue)
        }
    }
}

extension Padding {
    var ck: Int32 { self == .same ? Int32(CK_PAD_SAME.rawValue) : Int32(CK_PAD_VALID.rawValue) }
}

/// Window geometry shared by convolution and pooling.
struct Geometry2D: Equatable {
    var n = 0, h = 0, w = 0, c = 0
    var kh = 1, kw = 1
    var sh = 1, sw = 1
    var padding = Padding.valid
    var o = 0

    var conv: ck_conv2d_params {
        ck_conv2d_params(n: Int32(n), h: Int32(h), w: Int32(w), c: Int32(c), kh: Int32(kh), kw: Int32(kw),
                         o: Int32(o), sh: Int32(sh), sw: Int32(sw), padding: padding.ck)
    }
    var pool: ck_pool2d_params {
        ck_pool2d_params(n: Int32(n), h: Int32(h), w: Int32(w), c: Int32(c), kh: Int32(kh), kw: Int32(kw),
                         sh: Int32(sh), sw: Int32(sw), padding: padding.ck)
    }
}

enum Kernels {
    // MARK: geometry (window.c)

    /// Output length of one spatial axis (spec §1.2).
    static func outputSize(_ input: Int, window: Int, stride: Int, padding: Padding) throws -> Int {
        var out: Int32 = 0, pad: Int32 = 0
        guard let i = Int32(exactly: input), let k = Int32(exactly: window), let s = Int32(exactly: stride) else {
            throw AxonError.invalidArgument("window geometry out of range: input \(input), window \(window), stride \(stride)")
        }
        try check(ck_output_size(i, k, s, padding.ck, &out, &pad),
                  "ck_output_size(in: \(input), k: \(window), s: \(stride), \(padding))")
        return Int(out)
    }

    // MARK: random numbers (random.c)

    static func randomUniform(seed: UInt64, counter: UInt64, into out: inout Tensor) throws {
        let n = out.count
        try withPointers([], &out) { _, op in try check(ck_random_uniform(seed, counter, op, n), "ck_random_uniform") }
    }

    // MARK: utilities (gemm.c)

    static func sumRows(rows: Int, cols: Int, x: Tensor, out: inout Tensor) throws {
        try withPointers([x], &out) { r, op in
            try check(ck_sum_rows(Int32(rows), Int32(cols), r[0], op), "ck_sum_rows")
        }
    }
}
