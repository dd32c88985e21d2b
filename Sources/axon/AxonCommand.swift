import ArgumentParser
import Axon
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The entry point of `axon` and `axon-mpi` (Sources/axon-main, Sources/axon-mpi):
/// one command line, two programs. `distributed` starts the data-parallel
/// runtime that `train --distributed` needs (nil in `axon`, which has no MPI).
public enum AxonProgram {
    nonisolated(unsafe) static var name = "axon"
    nonisolated(unsafe) static var startDistributed: (() throws -> any DataParallel)?
    /// The runtime once `train --distributed` started it (for error reporting).
    nonisolated(unsafe) static var parallel: (any DataParallel)?
    /// Called before a failed run exits when every rank failed alike (a refused start).
    nonisolated(unsafe) static var endCollectively: (() -> Void)?

    public static func main(name: String = "axon", distributed: (() throws -> any DataParallel)? = nil,
                            endCollectively: (() -> Void)? = nil) {
        self.name = name
        startDistributed = distributed
        self.endCollectively = endCollectively
        AxonCommand.main()
    }
}

struct AxonCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "axon",
        abstract: "Axon's reference programs: train LeNet-5, the deep-MNIST CNN, an MLP or an LSTM on CPU, classify photos with a pretrained network, retrain it on your own, and measure speed.",
        version: "axon \(AxonVersion.string)",
        subcommands: [Train.self, Eval.self, Predict.self, Classify.self, Retrain.self, PretrainedCommand.self, DatasetCommand.self, Inspect.self, GraphCommand.self, ExportCommand.self, Bench.self, Demo.self,
                      Plot.self, Visualize.self])

    /// Like ArgumentParser's own `main`, but a bad flag or a failed run ends
    /// with one line `axon: <what was wrong>` on stderr (no usage dump, no
    /// stack trace) and a non-zero exit; --help still prints the full help.
    static func main() {
        // Epoch lines must appear as they happen even when stdout is a pipe (make run | tee).
        setvbuf(stdout, nil, _IOLBF, 0)
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Glibc.exit(0)
            }
            var message = self.message(for: error)
            if message.isEmpty { message = "\(error)" }
            // One line, whatever the error's text looks like.
            message = message.split(whereSeparator: \.isNewline)
                .map { $0.drop(while: { $0 == " " }) }.joined(separator: " ")
            // Under mpirun: a failure every rank shares (ranks disagree at start) is told
            // once, by rank 0; any other names its rank. Exiting without MPI_Finalize
            // makes mpirun stop the other ranks.
            if let parallel = AxonProgram.parallel {
                if error is DataParallelMismatch {
                    if parallel.rank == 0 { fputs("\(AxonProgram.name): \(message)\n", stderr) }
                    AxonProgram.endCollectively?()
                    Glibc.exit(EXIT_FAILURE)
                }
                message = "rank \(parallel.rank) of \(parallel.size): " + message
            }
            fputs("\(AxonProgram.name): \(message)\n", stderr)
            Glibc.exit(code.rawValue != 0 ? code.rawValue : EXIT_FAILURE)
        }
    }
}
