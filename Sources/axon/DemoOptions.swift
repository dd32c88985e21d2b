import ArgumentParser
import Axon

/// What the training demos share: the data, the seed and the threads.
struct DemoOptions: ParsableArguments {
    @Option(help: ArgumentHelp("MNIST-format data directory.", valueName: "dir"))
    var data: String = MNIST.defaultDirectory
    @Option(parsing: .unconditional, help: "Seed (same initial weights and batches for every run).")
    var seed: UInt64 = 1
    @Option(parsing: .unconditional, help: "Kernel threads; 0 uses every core (default: every core).")
    var threads: Int?

    func validate() throws {
        if let threads, threads < 0 { throw ValidationError("--threads must be >= 0 (0 = every core), got \(threads)") }
    }

    /// Sets the thread count and reads the data.
    func load() throws -> (train: Dataset, test: Dataset) {
        if let threads { setThreadCount(threads) }
        let loaded = try MNIST.load(from: data)
        return (loaded.train, loaded.test)
    }
}
