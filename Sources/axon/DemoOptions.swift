import ArgumentParser
import Axon

/// What the training demos share: the data, the seed and the threads.
struct DemoOptions: ParsableArguments {
    @Option(help: ArgumentHelp("MNIST-format data directory.", valueName: "dir"))
    var data: String = MNIST.defaultDirectory
    @Option(parsing: .unconditional, help: "Seed (same initial weights and batches for every run).")
    var seed: UInt64 = 1
    @OptionGroup var machine: MachineOptions

    /// Sets the thread count and reads the data.
    func load() throws -> (train: Dataset, test: Dataset) {
        try machine.apply()
        let loaded = try MNIST.load(from: data)
        return (loaded.train, loaded.test)
    }
}
