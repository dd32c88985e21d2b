import CKernels

/// Which code multiplies matrices: OpenBLAS, or Axon's own packed kernels,
/// which run on AVX-512 CPUs and where OpenBLAS picked a core older than the
/// CPU (see
/// `ck_gemm_path` in ckernels.h; `AXON_GEMM=blas|axon` forces either, `AXON_GEMM=avx2`
/// Axon's AVX2 kernel).
public enum GemmPath: Int32, Sendable, CaseIterable {
    case blas = 0
    case avx2 = 1
    case avx512 = 2

    /// The path in use, chosen once at load.
    public static var current: GemmPath { GemmPath(rawValue: ck_gemm_get_path()) ?? .blas }

    /// Whether this CPU can run the path.
    public var isSupported: Bool { ck_gemm_path_supported(rawValue) != 0 }
}

/// One line describing the machine for benchmark reports: CPU model, cores,
/// the widest ISA the kernels use and the GEMM path (with OpenBLAS's core).
public func machineDescription() -> String {
    var buffer = [CChar](repeating: 0, count: 512)
    _ = ck_machine_info(&buffer, buffer.count)
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
