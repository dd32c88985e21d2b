import Axon
import Foundation
import Workloads

// Measures Axon's side of `compare.py`: each workload of issue #6 on real
// Fashion-MNIST, printed as one JSON object. Usage:
//   axon-workloads [--threads N] [--seconds S] [--data DIR] [--only a,b] [--rss-steps N] [--graphdef FILE]
// (--graphdef: the frozen Inception-v3 GraphDef of the imported_inception rows).
//   axon-workloads --machine      (prints the machine line: CPU, cores, ISA, GEMM path)
// A hidden flag, `--dump-efficientnet FILE`, writes the batch-1 EfficientNet-Lite0
// input and Axon's logits and probabilities for it as JSON and exits, for checking
// tf_workloads.py's Keras model (`tf_workloads.py --check-efficientnet FILE`).
// `--only lenet5_peak_rss_mib` must run in a process of its own (compare.py does):
// peak RSS is a high-water mark of the whole process.

struct Options {
    var threads = 0
    var seconds = 3.0
    var data = MNIST.defaultDirectory
    var only: Set<String>? = nil
    var rssSteps = 300
    var dumpEfficientNet: String? = nil
    var graphDef = "../build/inception/inception_v3_frozen.pb"
}

func parse() -> Options {
    var o = Options()
    var args = CommandLine.arguments.dropFirst()
    func value(_ flag: String) -> String {
        guard let v = args.popFirst() else { fail("\(flag) needs a value") }
        return v
    }
    while let a = args.popFirst() {
        switch a {
        case "--threads": guard let n = Int(value(a)), n >= 0 else { fail("--threads: expected an integer >= 0") }; o.threads = n
        case "--seconds": guard let s = Double(value(a)), s > 0 else { fail("--seconds: expected a number > 0") }; o.seconds = s
        case "--data": o.data = value(a)
        case "--only": o.only = Set(value(a).split(separator: ",").map(String.init))
        case "--rss-steps": guard let n = Int(value(a)), n > 0 else { fail("--rss-steps: expected an integer > 0") }; o.rssSteps = n
        case "--dump-efficientnet": o.dumpEfficientNet = value(a)
        case "--graphdef": o.graphDef = value(a)
        case "--machine": print(machineDescription()); exit(0)
        default: fail("unknown argument \(a)")
        }
    }
    return o
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("axon-workloads: \(message)\n".utf8))
    exit(2)
}

/// Images per second of training: a few untimed warm-up steps, then steps
/// until `seconds` have passed (at least 10).
func trainingRate(_ w: TrainingWorkload, seconds: Double) throws -> Double {
    for _ in 0..<3 { try w.step() }
    var steps = 0
    let start = monotonicSeconds()
    var now = start
    while steps < 10 || now - start < seconds {
        try w.step()
        steps += 1
        now = monotonicSeconds()
    }
    return Double(steps * w.batchSize) / (now - start)
}

/// Median latency in milliseconds of single inference calls (`warmUp` untimed
/// first, then at least `minimum` timed calls).
func latencyMs(seconds: Double, warmUp: Int = 20, minimum: Int = 50, _ run: () throws -> Tensor) throws -> Double {
    for _ in 0..<warmUp { _ = try run() }
    var samples: [Double] = []
    let start = monotonicSeconds()
    while samples.count < minimum || monotonicSeconds() - start < seconds {
        let t0 = monotonicSeconds()
        _ = try run()
        samples.append(monotonicSeconds() - t0)
    }
    samples.sort()
    return 1000 * samples[samples.count / 2]
}

/// Images per second of batched inference.
func inferenceRate(seconds: Double, batchSize: Int, _ run: () throws -> Tensor) throws -> Double {
    for _ in 0..<3 { _ = try run() }
    var calls = 0
    let start = monotonicSeconds()
    var now = start
    while calls < 10 || now - start < seconds {
        _ = try run()
        calls += 1
        now = monotonicSeconds()
    }
    return Double(calls * batchSize) / (now - start)
}

let options = parse()
try setThreadCount(options.threads)
func wanted(_ key: String) -> Bool { options.only?.contains(key) ?? (key != "lenet5_peak_rss_mib") }

/// The batch-1 EfficientNet-Lite0 workload's input, logits and probabilities, as JSON at `path`.
func dumpEfficientNet(to path: String) throws {
    let w = try ImageWorkload.efficientNetLite0(batchSize: 1)
    guard var graph = w.model as? Graph else { fail("\(ImageWorkload.efficientNetName) is not a Graph") }
    let out = try graph.forward([w.input], outputs: ["logits", "predictions"])
    let object: [String: Any] = ["input_shape": w.input.shape, "input": w.input.scalars,
                                 "logits": out[0].scalars, "probabilities": out[1].scalars]
    try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
}

do {
    if let path = options.dumpEfficientNet {
        try dumpEfficientNet(to: path)
        exit(0)
    }
    let data = try MNIST.load(from: options.data).train
    var results: [String: Double] = [:]
    if wanted("lenet5_train_ips") {
        results["lenet5_train_ips"] = try trainingRate(TrainingWorkload(.lenet5, data: data, batchSize: 64), seconds: options.seconds)
    }
    if wanted("deep_mnist_train_ips") {
        results["deep_mnist_train_ips"] = try trainingRate(TrainingWorkload(.deepMNIST, data: data, batchSize: 50), seconds: options.seconds)
    }
    if wanted("lstm_train_ips") {
        results["lstm_train_ips"] = try trainingRate(TrainingWorkload(.lstm, data: data, batchSize: 128), seconds: options.seconds)
    }
    if wanted("lenet5_infer_b1_ms") {
        let w = try InferenceWorkload(.lenet5, data: data, batchSize: 1)
        results["lenet5_infer_b1_ms"] = try latencyMs(seconds: options.seconds, w.run)
    }
    if wanted("lenet5_infer_b256_ips") {
        let w = try InferenceWorkload(.lenet5, data: data, batchSize: 256)
        results["lenet5_infer_b256_ips"] = try inferenceRate(seconds: options.seconds, batchSize: 256, w.run)
    }
    if wanted("lstm_infer_b1_ms") {
        let w = try InferenceWorkload(.lstm, data: data, batchSize: 1)
        results["lstm_infer_b1_ms"] = try latencyMs(seconds: options.seconds, w.run)
    }
    if wanted("inception_infer_b1_ms") {
        let w = try ImageWorkload.inceptionV3(batchSize: 1)
        results["inception_infer_b1_ms"] = try latencyMs(seconds: options.seconds, warmUp: 3, minimum: 10, w.run)
    }
    if wanted("inception_infer_b16_ips") {
        let w = try ImageWorkload.inceptionV3(batchSize: 16)
        results["inception_infer_b16_ips"] = try inferenceRate(seconds: options.seconds, batchSize: 16, w.run)
    }
    if wanted("imported_inception_infer_b1_ms") {
        let w = try ImageWorkload.importedInception(batchSize: 1, path: options.graphDef)
        results["imported_inception_infer_b1_ms"] = try latencyMs(seconds: options.seconds, warmUp: 3, minimum: 10, w.run)
    }
    if wanted("imported_inception_infer_b16_ips") {
        let w = try ImageWorkload.importedInception(batchSize: 16, path: options.graphDef)
        results["imported_inception_infer_b16_ips"] = try inferenceRate(seconds: options.seconds, batchSize: 16, w.run)
    }
    if wanted("efficientnet_infer_b1_ms") {
        let w = try ImageWorkload.efficientNetLite0(batchSize: 1)
        results["efficientnet_infer_b1_ms"] = try latencyMs(seconds: options.seconds, warmUp: 5, minimum: 20, w.run)
    }
    if wanted("efficientnet_infer_b16_ips") {
        let w = try ImageWorkload.efficientNetLite0(batchSize: 16)
        results["efficientnet_infer_b16_ips"] = try inferenceRate(seconds: options.seconds, batchSize: 16, w.run)
    }
    if wanted("lenet5_peak_rss_mib") {
        // Whole-process high-water mark: runtime, the loaded training set
        // (60000×784 floats, 180 MiB, held by TF's side too), model and workspaces.
        let w = try TrainingWorkload(.lenet5, data: data, batchSize: 64)
        for _ in 0..<options.rssSteps { try w.step() }
        results["lenet5_peak_rss_mib"] = peakResidentMiB()
    }
    results["threads"] = Double(threadCount())
    let json = try JSONSerialization.data(withJSONObject: results, options: [.sortedKeys])
    print(String(decoding: json, as: UTF8.self))
} catch {
    fail("\(error)")
}
