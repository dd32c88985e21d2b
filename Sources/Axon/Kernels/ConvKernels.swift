import CKernels

// The wrappers of conv2d (conv*.c), depthwise conv2d (depthwise.c) and zero
// padding (pad.c). An empty bias stands for none (NULL).

extension Kernels {
    static func conv2dOutputShape(_ g: Geometry2D) throws -> (Int, Int) {
        var p = g.conv
        var oh: Int32 = 0, ow: Int32 = 0
        try check(ck_conv2d_output_shape(&p, &oh, &ow), "ck_conv2d_output_shape")
        return (Int(oh), Int(ow))
    }

    /// Workspace floats with which forward, backward-data and the filter gradient run at full speed.
    static func conv2dScratchSize(_ g: Geometry2D) -> Int {
        var p = g.conv
        return ck_conv2d_scratch_size(&p)
    }

    /// With a `cache`, the filter prepared for the forward pass is kept there between calls
    /// (inference: see `ConvFilterCache`).
    static func conv2dForward(_ g: Geometry2D, x: Tensor, w: Tensor, b: Tensor, activation: Activation,
                              y: inout Tensor, workspace: inout Tensor, cache: ConvFilterCache? = nil) throws {
        var p = g.conv
        let wsLen = workspace.count
        try withPointers([x, w, b.orNil], &y, &workspace) { r, yp, wsp in
            if let cache {
                try cache.use(for: w) { c in
                    try check(ck_conv2d_forward_cached(&p, r[0], r[1], r[2], activation.ck, yp, wsp, wsLen, c),
                              "ck_conv2d_forward_cached")
                }
            } else {
                try check(ck_conv2d_forward(&p, r[0], r[1], r[2], activation.ck, yp, wsp, wsLen), "ck_conv2d_forward")
            }
        }
    }

    static func conv2dBackwardData(_ g: Geometry2D, dz: Tensor, w: Tensor, dx: inout Tensor,
                                   workspace: inout Tensor) throws {
        var p = g.conv
        let wsLen = workspace.count
        try withPointers([dz, w], &dx, &workspace) { r, dxp, wsp in
            try check(ck_conv2d_backward_data(&p, r[0], r[1], dxp, wsp, wsLen), "ck_conv2d_backward_data")
        }
    }

    /// dw overwritten; db too unless nil (no bias).
    static func conv2dBackwardFilter(_ g: Geometry2D, x: Tensor, dz: Tensor, dw: inout Tensor, db: inout Tensor?,
                                     workspace: inout Tensor) throws {
        var p = g.conv
        let wsLen = workspace.count
        try withPointers([x, dz], &dw, &db, &workspace) { r, dwp, dbp, wsp in
            try check(ck_conv2d_backward_filter(&p, r[0], r[1], dwp, dbp, wsp, wsLen), "ck_conv2d_backward_filter")
        }
    }

    static func depthwiseForward(_ g: Geometry2D, x: Tensor, w: Tensor, b: Tensor, activation: Activation,
                                 y: inout Tensor) throws {
        var p = g.conv
        try withPointers([x, w, b.orNil], &y) { r, yp in
            try check(ck_depthwise_conv2d_forward(&p, r[0], r[1], r[2], activation.ck, yp), "ck_depthwise_conv2d_forward")
        }
    }

    static func depthwiseBackwardData(_ g: Geometry2D, dz: Tensor, w: Tensor, dx: inout Tensor) throws {
        var p = g.conv
        try withPointers([dz, w], &dx) { r, dxp in
            try check(ck_depthwise_conv2d_backward_data(&p, r[0], r[1], dxp), "ck_depthwise_conv2d_backward_data")
        }
    }

    /// dw overwritten; db too unless nil (no bias).
    static func depthwiseBackwardFilter(_ g: Geometry2D, x: Tensor, dz: Tensor, dw: inout Tensor, db: inout Tensor?) throws {
        var p = g.conv
        try withPointers([x, dz], &dw, &db) { r, dwp, dbp in
            try check(ck_depthwise_conv2d_backward_filter(&p, r[0], r[1], dwp, dbp), "ck_depthwise_conv2d_backward_filter")
        }
    }

    /// `shape` is the unpadded [n, h, w, c].
    static func pad2dForward(_ shape: [Int], top: Int, bottom: Int, left: Int, right: Int, x: Tensor, y: inout Tensor) throws {
        try withPointers([x], &y) { r, yp in
            try check(ck_pad2d_forward(Int32(shape[0]), Int32(shape[1]), Int32(shape[2]), Int32(shape[3]), Int32(top),
                                       Int32(bottom), Int32(left), Int32(right), r[0], yp), "ck_pad2d_forward")
        }
    }

    static func pad2dBackward(_ shape: [Int], top: Int, bottom: Int, left: Int, right: Int, dy: Tensor, dx: inout Tensor) throws {
        try withPointers([dy], &dx) { r, dxp in
            try check(ck_pad2d_backward(Int32(shape[0]), Int32(shape[1]), Int32(shape[2]), Int32(shape[3]), Int32(top),
                                        Int32(bottom), Int32(left), Int32(right), r[0], dxp), "ck_pad2d_backward")
        }
    }

    /// `rows` rows of `width` floats from `src` (rows `lds` apart) to `dst` (rows `ldd` apart), in parallel
    /// when large: the column blocks of Concatenate (pad.c).
    static func copyRows(_ rows: Int, width: Int, from src: UnsafePointer<Float>, stride lds: Int,
                         to dst: UnsafeMutablePointer<Float>, stride ldd: Int) throws {
        try check(ck_copy_rows(rows, width, src, lds, dst, ldd), "ck_copy_rows(\(rows) × \(width))")
    }
}

/// A convolution's filter as the forward pass prepares it (Winograd's transformed filters, or the
/// GEMM's packed copy: `ck_conv2d_cache`), kept between inference calls. At batch 1, preparing
/// Inception-v3's filters on every call was a quarter of its time. It remembers the kernel it was
/// prepared from (sharing its storage, so the check is one comparison of buffer identity while the
/// kernel is unchanged) and prepares again for any other. A layer holds one only while it is the
/// sole owner and drops it when its parameters change (training).
final class ConvFilterCache {
    private var cache = ck_conv2d_cache()
    private var kernel: [Float] = []

    deinit { ck_conv2d_cache_clear(&cache) }

    func use(for w: Tensor, _ body: (UnsafeMutablePointer<ck_conv2d_cache>) throws -> Void) rethrows {
        if kernel != w.scalars {
            ck_conv2d_cache_clear(&cache)
            kernel = w.scalars
        }
        try body(&cache)
    }
}
