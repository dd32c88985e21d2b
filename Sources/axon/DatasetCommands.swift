import ArgumentParser
import Axon

/// `axon dataset export`: an MNIST-format dataset as folders of PNG images, one per class.
struct DatasetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dataset", abstract: "Turn datasets into folders of images.", subcommands: [Export.self])

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write an MNIST-format dataset (Fashion-MNIST by default) as one folder of PNG images per class, for `axon retrain`.")

        @Option(help: ArgumentHelp("Directory holding the four MNIST-format files (each raw or .gz).", valueName: "dir"))
        var data: String = MNIST.defaultDirectory

        @Option(help: ArgumentHelp("The folder to write (created if needed).", valueName: "dir"))
        var out: String

        @Option(parsing: .unconditional, help: "At most this many images per class from each of the training and test files.")
        var limit: Int = 200

        @Option(help: ArgumentHelp("Class names, one per line (default: the data's own, see `axon train --help`).", valueName: "file"))
        var classes: String?

        func validate() throws {
            if limit < 1 { throw ValidationError("--limit must be >= 1, got \(limit)") }
            try checkCanCreateDirectory(out, flag: "--out")
        }

        func run() throws {
            let (train, test) = try MNIST.load(from: data)
            let names = try classes.map(ClassNames.read(from:)) ?? MNIST.classNames(in: data, testLabels: test.labels)
            let n = try ImageFolder.export(train, classNames: names, to: out, limit: limit, prefix: "train_")
                + ImageFolder.export(test, classNames: names, to: out, limit: limit, prefix: "test_")
            print("wrote \(n) PNG images of \(names.count) classes to \(out)")
        }
    }
}
