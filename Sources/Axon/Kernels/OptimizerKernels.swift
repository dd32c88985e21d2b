import CKernels

// The optimizers' per-element rules (optim.c, spec §8), applied where the
// gradient is stored or where a kernel makes it.

extension Kernels {
    /// w ← rule(w, g) with the rule's slots, over the whole parameter.
    static func applyUpdate(_ rule: UnsafePointer<ck_update_rule>, w: inout Tensor, g: Tensor) throws {
        let n = w.count
        try withPointers([g], &w) { r, wp in try check(ck_update_apply(rule, 0, n, wp, r[0]), "ck_update_apply") }
    }

    /// A dense layer's kernel w [inputs, units] updated by `rule` with the
    /// gradient xᵀ·dz, which is never stored whole (`ck_dense_update_kernel`).
    static func denseUpdateKernel(n: Int, inputs: Int, units: Int, x: Tensor, dz: Tensor, w: inout Tensor,
                                  rule: UnsafePointer<ck_update_rule>) throws {
        try withPointers([x, dz], &w) { r, wp in
            try check(ck_dense_update_kernel(Int32(n), Int32(inputs), Int32(units), r[0], r[1], wp, rule),
                      "ck_dense_update_kernel")
        }
    }
}
