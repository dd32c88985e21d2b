import Benchmark

// Entry point package-benchmark's plugin looks for. One file per op family.
let benchmarks: @Sendable () -> Void = {
    configureThreads()
    gemmBenchmarks()
    convBenchmarks()
    poolBenchmarks()
    lstmBenchmarks()
}
