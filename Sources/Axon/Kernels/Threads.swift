import CKernels

/// Sets the number of threads every kernel uses (OpenMP and OpenBLAS together).
/// `n <= 0` selects the number of available cores.
public func setThreadCount(_ n: Int) {
    ck_set_num_threads(Int32(clamping: n))
}

/// The number of threads kernels currently use.
public var threadCount: Int { Int(ck_get_num_threads()) }
