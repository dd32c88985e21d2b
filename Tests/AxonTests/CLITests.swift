import Foundation
import Testing

/// The built `axon` executable: SwiftPM puts it in the same products directory
/// as the test bundle (.build/<triple>/<config>/), so look beside the running
/// test binary first, then under the package's .build by #filePath.
func axonExecutable() -> URL? {
    var candidates: [URL] = []
    if let exe = Bundle.main.executableURL { candidates.append(exe.deletingLastPathComponent()) }
    candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
    for dir in candidates {
        // The test binary may sit inside an .xctest bundle directory on some platforms.
        for d in [dir, dir.deletingLastPathComponent(), dir.deletingLastPathComponent().deletingLastPathComponent()] {
            let url = d.appendingPathComponent("axon")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
    }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    for config in ["release", "debug"] {
        let url = root.appendingPathComponent(".build/\(config)/axon")
        if FileManager.default.isExecutableFile(atPath: url.path) { return url }
    }
    return nil
}

struct RunResult { var status: Int32; var stdout: String; var stderr: String }

func runAxon(_ arguments: [String]) throws -> RunResult {
    guard let exe = axonExecutable() else {
        throw CLIError("the axon executable was not found beside the test binary nor in .build/{release,debug}; build it with `swift build -c release`")
    }
    let p = Process()
    p.executableURL = exe
    p.arguments = arguments
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    // Read both pipes before waiting, so a chatty child cannot block on a full pipe.
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return RunResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                     stderr: String(decoding: e, as: UTF8.self))
}

struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

@Suite(.serialized) struct CLITests {
    /// Each bad command line must fail with exit status != 0 and exactly one
    /// line on stderr, starting "axon:" and mentioning what was wrong.
    @Test(arguments: [
        (["train", "--model", "resnet"], "resnet"),
        (["train"], "--model"),
        (["train", "--model", "lenet5", "--epochs", "-3"], "--epochs must be a positive integer, got -3"),
        (["train", "--model", "lenet5", "--epochs", "0"], "--epochs must be a positive integer, got 0"),
        (["train", "--model", "lenet5", "--epochs", "two"], "two"),
        (["train", "--model", "cnn", "--batch-size", "0"], "--batch-size"),
        (["train", "--model", "mlp", "--learning-rate", "0"], "--learning-rate must be a finite number > 0"),
        (["train", "--model", "mlp", "--learning-rate", "-0.1"], "--learning-rate must be a finite number > 0"),
        (["train", "--model", "lstm", "--optimizer", "rmsprop"], "rmsprop"),
        (["train", "--model", "lenet5", "--momentum", "1.5"], "--momentum must be in [0, 1)"),
        (["train", "--model", "mlp", "--optimizer", "adam", "--momentum", "0.5"], "--momentum applies only"),
        (["train", "--model", "lenet5", "--threads", "-1"], "--threads"),
        (["train", "--model", "lenet5", "--limit", "0"], "--limit"),
        (["train", "--model", "lenet5", "--frobnicate"], "--frobnicate"),
        (["train", "--model", "lenet5", "--data", "/nonexistent/axon-data"], "/nonexistent/axon-data: data directory does not exist"),
        (["train", "--model", "lenet5", "--data", "/etc/hostname"], "is not a directory"),
    ])
    func badFlagsFailWithOneLine(arguments: [String], expected: String) throws {
        let r = try runAxon(arguments)
        let lines = r.stderr.split(separator: "\n")
        #expect(r.status != 0, "axon \(arguments.joined(separator: " ")) exited 0; stdout: \(r.stdout)")
        #expect(lines.count == 1 && r.stderr.hasPrefix("axon: "), "stderr is not one 'axon:' line: \(r.stderr)")
        #expect(r.stderr.contains(expected), "stderr lacks \"\(expected)\": \(r.stderr)")
        #expect(!r.stderr.contains("Fatal error") && !r.stderr.contains("Stack dump"), "crashed: \(r.stderr)")
        #expect(r.status != 134 && r.status != 132 && r.status != 139, "killed by a signal-like status \(r.status)")
    }

    @Test func malformedDataFileIsNamed() throws {
        let dir = try makeTempDir("cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        try writeMNISTDir(dir, train: Synthetic(count: 3, rows: 28, cols: 28), test: Synthetic(count: 2, rows: 28, cols: 28))
        let bad = dir.appendingPathComponent("t10k-images-idx3-ubyte")
        try write(Array(Synthetic(count: 2, rows: 28, cols: 28).imageFile.dropLast(1)), to: bad)
        let r = try runAxon(["train", "--model", "mlp", "--epochs", "1", "--data", dir.path])
        #expect(r.status == 1, "status \(r.status)")
        #expect(r.stderr.hasPrefix("axon: \(bad.path): truncated"), "stderr: \(r.stderr)")
    }

    @Test func helpListsTheModels() throws {
        let r = try runAxon(["train", "--help"])
        #expect(r.status == 0)
        for word in ["--model", "lenet5", "cnn", "lstm", "mlp", "--learning-rate", "--limit", "--threads"] {
            #expect(r.stdout.contains(word), "help lacks \(word)")
        }
    }
}
