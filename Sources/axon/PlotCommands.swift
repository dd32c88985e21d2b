import ArgumentParser
import Axon

/// `axon plot HISTORY --out curves.png`: learning curves of a run.
struct Plot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw loss and accuracy against epoch (train, validation, test) from a history file of `axon train --history`, as a PNG.")

    @Argument(help: ArgumentHelp("A history file (.csv or .json) written by `axon train --history`.", valueName: "history"))
    var history: String

    @Option(help: ArgumentHelp("The PNG file to write.", valueName: "file"))
    var out: String = "curves.png"

    func validate() throws { try checkCanWrite(out, flag: "--out") }

    func run() throws {
        let h = try History.read(from: history)
        guard !h.epochs.isEmpty else { throw ValidationError("\(history): the history holds no epochs") }
        try Chart.curves(h).writePNG(to: out)
        print("wrote \(out): loss and accuracy of \(plural(h.epochs.count, "epoch"))")
    }
}

/// `axon visualize --model FILE --image N --out maps.png`: what the layers see.
struct Visualize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw one test image, the activations of every convolution and pooling layer (one grey-scale tile per channel) and the first convolution's filters, as a PNG.")

    @Option(help: ArgumentHelp("The model file.", valueName: "file"))
    var model: String

    @Option(parsing: .unconditional, help: "Index of the test-set image (0-based).")
    var image: Int = 0

    @Option(help: ArgumentHelp("The PNG file to write.", valueName: "file"))
    var out: String = "maps.png"

    @Option(help: ArgumentHelp("Directory holding the MNIST-format files.", valueName: "dir"))
    var data: String = MNIST.defaultDirectory

    func validate() throws {
        if image < 0 { throw ValidationError("--image must be >= 0, got \(image)") }
        try checkCanWrite(out, flag: "--out")
    }

    func run() throws {
        let test = try MNIST.load(from: data).test
        guard image < test.count else {
            throw ValidationError("--image \(image) is past the end of the test set (\(test.count) images, 0...\(test.count - 1))")
        }
        let loaded = try loadModel(model, expecting: test.exampleShape, dataDescription: "the test set in \(data)")
        guard var network = loaded as? Sequential, network.layers.contains(where: { $0 is Conv2D }) else {
            throw ValidationError("\(model): the model is not a Sequential with a convolution layer to visualise")
        }
        let x = test.rows(image..<(image + 1))
        try Chart.featureMaps(&network, image: x).writePNG(to: out)
        let label = Int(test.labels[image])
        let name = label < MNIST.fashionClassNames.count ? " (\(MNIST.fashionClassNames[label]))" : ""
        print("wrote \(out): test image \(image), class \(label)\(name)")
    }
}

/// counts[true][predicted] as a text table with per-class recall.
func confusionTable(_ counts: [[Int]], classNames: [String]) -> String {
    let n = counts.count
    let w = max(5, String(counts.flatMap { $0 }.max() ?? 0).count + 1)
    let nameW = (classNames.map(\.count).max() ?? 5) + 1
    var lines = ["true\\predicted".padding(toLength: nameW + 3, withPad: " ", startingAt: 0)
                 + (0..<n).map { String($0).leftPadded(to: w) }.joined() + "  recall"]
    for i in 0..<n {
        let name = i < classNames.count ? classNames[i] : ""
        let total = counts[i].reduce(0, +)
        lines.append(String(i).leftPadded(to: 2) + " " + name.padding(toLength: nameW, withPad: " ", startingAt: 0)
                     + counts[i].map { String($0).leftPadded(to: w) }.joined()
                     + "  " + (total > 0 ? percent(Double(counts[i][i]) / Double(total)) : "-").leftPadded(to: 7))
    }
    return lines.joined(separator: "\n")
}
