import ArgumentParser
import Axon
import AxonPlot

/// `axon plot HISTORY... --out curves.png`: learning curves of one run, or several overlaid.
struct Plot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw loss and accuracy against epoch from history files of `axon train --history`, as a PNG: one file's train, validation and test curves, or several runs overlaid (training loss and test accuracy, one colour per run).")

    @Argument(help: ArgumentHelp("History files (.csv or .json) written by `axon train --history`; with two or more, the runs are overlaid.", valueName: "history"))
    var histories: [String]

    @Option(parsing: .upToNextOption, help: ArgumentHelp("Legend names of the overlaid runs, one per history file, in order (separate values or a comma-separated list; default: the file names).", valueName: "name"))
    var labels: [String] = []

    @Option(help: ArgumentHelp("The PNG file to write.", valueName: "file"))
    var out: String = "curves.png"

    /// The legend names: --labels, split at commas, or the file names without their extension.
    var runLabels: [String] {
        let given = labels.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        if !given.isEmpty { return given }
        return histories.map { path in
            let name = path.split(separator: "/").last.map(String.init) ?? path
            return name.split(separator: ".").dropLast().joined(separator: ".")
        }
    }

    func validate() throws {
        guard !histories.isEmpty else { throw ValidationError("give at least one history file") }
        if !labels.isEmpty && runLabels.count != histories.count {
            throw ValidationError("--labels gives \(runLabels.count) names for \(plural(histories.count, "history file"))")
        }
        try checkCanWrite(out, flag: "--out")
    }

    func run() throws {
        var runs: [(label: String, history: History)] = []
        for (path, label) in zip(histories, runLabels) {
            let h = try History.read(from: path)
            guard !h.epochs.isEmpty else { throw ValidationError("\(path): the history holds no epochs") }
            runs.append((label, h))
        }
        if runs.count == 1 {
            try Chart.curves(runs[0].history).writePNG(to: out)
            print("wrote \(out): loss and accuracy of \(plural(runs[0].history.epochs.count, "epoch"))")
        } else {
            try Chart.overlay(runs).writePNG(to: out)
            print("wrote \(out): training loss and test accuracy of \(runs.count) runs (\(runs.map(\.label).joined(separator: ", ")))")
        }
    }
}

/// `axon visualize --model FILE [--index N | --image FILE] --out maps.png`: what the layers see.
struct Visualize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw one image (a test-set image or a PNG/PGM file), the activations of every convolution and pooling layer (one grey-scale tile per channel) and the first convolution's filters, as a PNG.")

    @Option(help: ArgumentHelp("The model file.", valueName: "file"))
    var model: String

    @Option(parsing: .unconditional, help: "Index of the test-set image (0-based; default 0).")
    var index: Int?

    @Option(help: ArgumentHelp("A PNG or PGM image of the model's input size instead of a test-set image, as for `axon predict`.", valueName: "file"))
    var image: String?

    @Option(help: ArgumentHelp("The PNG file to write.", valueName: "file"))
    var out: String = "maps.png"

    @Option(help: ArgumentHelp("Directory holding the MNIST-format files.", valueName: "dir"))
    var data: String = MNIST.defaultDirectory

    @OptionGroup var classes: ClassOptions
    @OptionGroup var machine: MachineOptions

    func validate() throws {
        if index != nil && image != nil { throw ValidationError("give --index N or --image FILE, not both") }
        if let index, index < 0 { throw ValidationError("--index must be >= 0, got \(index)") }
        try checkCanWrite(out, flag: "--out")
    }

    func run() throws {
        try machine.apply()
        if let image {
            let loaded = try ModelFile.load(from: model)
            let shape = loaded.inputShape
            guard var network = loaded.model as? Sequential, network.layers.contains(where: { $0 is Conv2D }),
                  shape.count == 3, shape[2] == 1 else {
                throw ValidationError("\(model): the model is not a Sequential of grey images with a convolution layer to visualise")
            }
            let x = try GrayImage.read(image).tensor(expectingWidth: shape[1], height: shape[0], path: image)
            try Chart.featureMaps(&network, image: x).writePNG(to: out)
            print("wrote \(out): image \(image)")
            return
        }
        let index = self.index ?? 0
        let test = try MNIST.load(from: data).test
        guard index < test.count else {
            throw ValidationError("--index \(index) is past the end of the test set (\(test.count) images, 0...\(test.count - 1))")
        }
        let loaded = try loadModel(model, expecting: test.exampleShape, dataDescription: "the test set in \(data)")
        guard var network = loaded.model as? Sequential, network.layers.contains(where: { $0 is Conv2D }) else {
            throw ValidationError("\(model): the model is not a Sequential with a convolution layer to visualise")
        }
        let x = test.rows(index..<(index + 1))
        try Chart.featureMaps(&network, image: x).writePNG(to: out)
        let count = try network.outputShape(for: loaded.inputShape).last ?? 0
        let names = try classes.names(count: count, model: loaded, path: model) {
            try MNIST.classNames(in: data, testLabels: test.labels)
        }
        let label = Int(test.labels[index])
        print("wrote \(out): test image \(index), class \(label < count ? classLabel(label, names) : String(label))")
    }
}

/// counts[true][predicted] as a text table with per-class recall.
func confusionTable(_ counts: [[Int]], classNames: [String]) -> String {
    let n = counts.count
    let w = max(5, String(counts.flatMap { $0 }.max() ?? 0).count + 1)
    // A class whose name is its number gets no name column.
    let names = (0..<n).map { i in i < classNames.count && classNames[i] != String(i) ? classNames[i] : "" }
    let nameW = (names.map(\.count).max() ?? 0) + 1
    let corner = "true\\predicted"
    var lines = [corner.padding(toLength: max(nameW + 3, corner.count + 1), withPad: " ", startingAt: 0)
                 + (0..<n).map { String($0).leftPadded(to: w) }.joined() + "  recall"]
    for i in 0..<n {
        let name = names[i].padding(toLength: max(nameW, corner.count - 2), withPad: " ", startingAt: 0)
        let total = counts[i].reduce(0, +)
        lines.append(String(i).leftPadded(to: 2) + " " + name
                     + counts[i].map { String($0).leftPadded(to: w) }.joined()
                     + "  " + (total > 0 ? percent(Double(counts[i][i]) / Double(total)) : "-").leftPadded(to: 7))
    }
    return lines.joined(separator: "\n")
}
