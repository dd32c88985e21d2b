import Benchmark
import CKernels

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// GFLOP/s as a package-benchmark metric. package-benchmark 1.38.1 has no
/// FLOP-aware metric: `.throughput` is iterations per second and its
/// `scalingFactor` only takes powers of ten, so a FLOP count cannot be its
/// scale. Custom metrics take one Int sample per `measurement` call; an Int
/// in GFLOP/s would lose a digit on the small kernels, so we record MFLOP/s and
/// display it in thousands (`units: .kilo`): the table's "MFLOP/s (K)" column
/// reads directly as GFLOP/s.
let gflops = BenchmarkMetric.custom("MFLOP/s", polarity: .prefersLarger, useScalingFactor: false)

/// Thread count from AXON_THREADS (same variable the comparison script sets);
/// unset or 0 means every available core.
func configureThreads() {
    var n: Int32 = 0
    if let s = getenv("AXON_THREADS"), let v = Int32(String(cString: s)) { n = v }
    ck_set_num_threads(n)
}

func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// A heap buffer of floats filled with uniform draws in [-1, 1) from a fixed
/// seed. A class so the benchmark closures (which escape) can share it
/// without copying; nothing runs concurrently, hence @unchecked Sendable.
final class Floats: @unchecked Sendable {
    let p: UnsafeMutablePointer<Float>
    let count: Int
    init(_ count: Int, seed: UInt64 = 1) {
        self.count = max(count, 1)
        p = .allocate(capacity: self.count)
        ck_random_uniform(seed, 0, p, self.count)
        for i in 0..<self.count { p[i] = 2 * p[i] - 1 }
    }
    deinit { p.deallocate() }
}

final class Int32s: @unchecked Sendable {
    let p: UnsafeMutablePointer<Int32>
    init(_ count: Int) {
        p = .allocate(capacity: max(count, 1))
        p.initialize(repeating: 0, count: max(count, 1))
    }
    deinit { p.deallocate() }
}

/// Fails the process loudly: a kernel refusing a benchmark's arguments means
/// the benchmark is wrong, and a timing of an early error return is worthless.
@inline(__always)
func check(_ status: Int32, _ what: String) {
    if status != 0 {
        fatalError("\(what): \(String(cString: ck_status_string(status)))")
    }
}

/// Registers a benchmark that reports wall-clock time and, when `flops` > 0,
/// GFLOP/s computed from the same iteration's time.
func kernelBenchmark(_ name: String, flops: Double, maxDuration: Duration = .seconds(2),
                     _ body: @escaping @Sendable () -> Void) {
    let metrics: [BenchmarkMetric] = flops > 0 ? [.wallClock, gflops] : [.wallClock]
    Benchmark(name, configuration: .init(metrics: metrics, units: [gflops: .kilo],
                                         warmupIterations: 3, maxDuration: maxDuration,
                                         maxIterations: 1000)) { benchmark in
        let t0 = monotonicSeconds()
        body()
        let dt = monotonicSeconds() - t0
        if flops > 0, dt > 0 {
            benchmark.measurement(gflops, Int((flops / dt / 1e6).rounded()))
        }
    }
}
