import CKernels

// The wrapper of the bilinear resize (jpeg.c's image helpers).

extension Kernels {
    /// x [n, h, w, c] → y [n, oh, ow, c], TensorFlow's bilinear resize (see ck_resize_bilinear).
    static func resizeBilinear(_ x: Tensor, height oh: Int, width ow: Int, alignCorners: Bool = false,
                               halfPixelCenters: Bool = true, y: inout Tensor) throws {
        let (n, h, w, c) = try nhwc(x, "resize input")
        Tensor.reuse(&y, shape: [Int(n), oh, ow, Int(c)])
        try withPointers([x], &y) { r, yp in
            try check(ck_resize_bilinear(n, h, w, c, Int32(oh), Int32(ow), alignCorners ? 1 : 0, halfPixelCenters ? 1 : 0,
                                         r[0], yp), "ck_resize_bilinear(\(x.shape) to \(oh)×\(ow))")
        }
    }
}
