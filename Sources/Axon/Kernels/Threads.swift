import CKernels

/// Sets how many threads every kernel uses (OpenMP and OpenBLAS together);
/// `n <= 0` means one per available core.
public func setThreadCount(_ n: Int) {
    ck_set_num_threads(Int32(clamping: n))
}

/// The number of threads kernels currently use.
public func threadCount() -> Int { Int(ck_get_num_threads()) }
