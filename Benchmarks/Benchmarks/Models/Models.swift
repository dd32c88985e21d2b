import Axon
import Benchmark
import Workloads

#if canImport(Glibc)
import Glibc
#endif

// The reference models on real Fashion-MNIST (MNIST.defaultDirectory, or
// AXON_DATA): one benchmark iteration is one training step or one inference
// call. Training and batched inference report images/s as a custom metric
// (package-benchmark's `.throughput` counts iterations, not images); latency is
// the wall-clock time itself. The same workloads, against TensorFlow, are what
// `make compare` measures (Sources/Workloads, tf_workloads.py).

let imagesPerSecond = BenchmarkMetric.custom("images/s", polarity: .prefersLarger, useScalingFactor: false)

/// Training set loaded once per process, on first use.
let trainingSet: Dataset = {
    let dir = getenv("AXON_DATA").map { String(cString: $0) } ?? MNIST.defaultDirectory
    do { return try MNIST.load(from: dir).train } catch { fatalError("Models benchmarks need Fashion-MNIST: \(error)") }
}()

func configureThreads() {
    var n = 0
    if let s = getenv("AXON_THREADS"), let v = Int(String(cString: s)) { n = v }
    do { try setThreadCount(n) } catch { fatalError("AXON_THREADS: \(error)") }
}

func trainingBenchmark(_ label: String, _ model: ModelName, batch: Int, extraMetrics: [BenchmarkMetric] = []) {
    Benchmark(label, configuration: .init(metrics: [.wallClock, imagesPerSecond] + extraMetrics,
                                          warmupIterations: 3, maxDuration: .seconds(5), maxIterations: 500)) { benchmark, w in
        let t0 = monotonicSeconds()
        do { try w.step() } catch { fatalError("\(label): \(error)") }
        benchmark.measurement(imagesPerSecond, Int((Double(batch) / (monotonicSeconds() - t0)).rounded()))
    } setup: {
        try TrainingWorkload(model, data: trainingSet, batchSize: batch)
    }
}

func inferenceBenchmark(_ label: String, _ model: ModelName, batch: Int) {
    let metrics: [BenchmarkMetric] = batch > 1 ? [.wallClock, imagesPerSecond] : [.wallClock]
    Benchmark(label, configuration: .init(metrics: metrics, timeUnits: batch > 1 ? .automatic : .microseconds,
                                          warmupIterations: 20, maxDuration: .seconds(3), maxIterations: 20_000)) { benchmark, w in
        let t0 = monotonicSeconds()
        do { blackHole(try w.run()) } catch { fatalError("\(label): \(error)") }
        if batch > 1 {
            benchmark.measurement(imagesPerSecond, Int((Double(batch) / (monotonicSeconds() - t0)).rounded()))
        }
    } setup: {
        try InferenceWorkload(model, data: trainingSet, batchSize: batch)
    }
}

let benchmarks: @Sendable () -> Void = {
    configureThreads()
    // Peak memory is the process's resident high-water mark, sampled while
    // LeNet-5 trains (the loaded training set, 180 MiB of floats, included).
    trainingBenchmark("LeNet-5 training b64 Momentum 0.9", .lenet5, batch: 64,
                      extraMetrics: [.peakMemoryResident, .peakMemoryResidentDelta])
    trainingBenchmark("deep-MNIST CNN training b50 Adam 1e-4", .deepMNIST, batch: 50)
    trainingBenchmark("LSTM-128 training b128 Adam 1e-3", .lstm, batch: 128)
    trainingBenchmark("LSTM-128 training b50 Adam 1e-3", .lstm, batch: 50)
    inferenceBenchmark("LeNet-5 inference b1 latency", .lenet5, batch: 1)
    inferenceBenchmark("LeNet-5 inference b256", .lenet5, batch: 256)
    inferenceBenchmark("LSTM-128 inference b1 latency", .lstm, batch: 1)
}
