import CKernels

/// Sets how many threads every kernel uses (OpenMP and OpenBLAS together);
/// `n <= 0` means one per available core. More than `maxThreadCount` is
/// refused (nothing changes), so a typo cannot start 100,000 threads.
public func setThreadCount(_ n: Int) throws {
    guard n <= maxThreadCount else {
        throw AxonError.invalidArgument("thread count \(n) is above the limit of \(maxThreadCount) (4 per core, at most 256); 0 uses every core")
    }
    try check(ck_set_num_threads(Int32(clamping: n)), "ck_set_num_threads")
}

/// The number of threads kernels currently use.
public func threadCount() -> Int { Int(ck_get_num_threads()) }

/// The largest count `setThreadCount` accepts: 4 per available core, at most 256
/// (never fewer than the cores).
public var maxThreadCount: Int { Int(ck_max_threads()) }
