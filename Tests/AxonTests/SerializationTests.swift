import Foundation
import Testing
@testable import Axon
import AxonPlot

/// A model of `kind` built for 28×28×1 and trained a few steps, so its weights
/// differ from what its seed alone would give (a loader that re-initialised
/// from the seed would then fail the comparison).
func trainedModel(_ kind: String, seed: UInt64 = 5) throws -> Sequential {
    var model = try Models.named(kind, seed: seed)
    let x = randomTensor([8, 28, 28, 1], seed: 11, range: 0...1)
    let labels: [Int32] = (0..<8).map { Int32($0 % 10) }
    let trainer = Trainer(optimizer: Adam(learningRate: 0.01))
    for _ in 0..<3 { try trainer.step(&model, images: x, labels: labels) }
    return model
}

/// Raises the AxonError thrown by `body`, or records that nothing was thrown.
func fileError(_ body: () throws -> Void) -> AxonError? {
    do { try body() } catch let e as AxonError { return e } catch { return .invalidArgument("unexpected \(error)") }
    return nil
}

/// Checks that `bytes` are rejected with an `AxonError.file` naming `path` and containing `needle`.
func expectRejected(_ bytes: [UInt8], _ needle: String, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let path = "/tmp/bad-\(what).safetensors"
    let error = fileError { _ = try ModelFile.decode(bytes, path: path) }
    guard case let .file(p, message)? = error else {
        Issue.record("\(what): expected AxonError.file, got \(String(describing: error))", sourceLocation: sourceLocation)
        return
    }
    #expect(p == path && message.contains(needle), "\(what): message \"\(message)\" should contain \"\(needle)\"",
            sourceLocation: sourceLocation)
}

/// A safetensors file made by hand: `header` serialised as JSON, then `data`.
func handmade(_ header: [String: Any], data: [UInt8]) throws -> [UInt8] {
    let json = try JSONSerialization.data(withJSONObject: header)
    return handmade(rawHeader: Array(json), data: data)
}

func headerLength(_ bytes: [UInt8]) -> Int {
    bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
}

func handmade(rawHeader: [UInt8], data: [UInt8], declaredLength: UInt64? = nil) -> [UInt8] {
    let n = declaredLength ?? UInt64(rawHeader.count)
    return (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) } + rawHeader + data
}

/// A minimal safetensors parser written from the format's description,
/// independent of Axon's: returns the metadata and the tensors (shape, values).
func independentParse(_ bytes: [UInt8]) throws -> (metadata: [String: String], tensors: [String: ([Int], [Float])]) {
    struct ParseError: Error { var what: String }
    guard bytes.count >= 8 else { throw ParseError(what: "short") }
    let n = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
    guard 8 + n <= bytes.count else { throw ParseError(what: "header past end") }
    guard let header = try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)])) as? [String: Any] else {
        throw ParseError(what: "header not an object")
    }
    let data = Array(bytes[(8 + n)...])
    var metadata: [String: String] = [:]
    var tensors: [String: ([Int], [Float])] = [:]
    for (key, value) in header {
        if key == "__metadata__" { metadata = value as? [String: String] ?? [:]; continue }
        guard let entry = value as? [String: Any], entry["dtype"] as? String == "F32",
              let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2,
              offsets[1] - offsets[0] == 4 * shape.reduce(1, *), offsets[1] <= data.count else {
            throw ParseError(what: "bad entry \(key)")
        }
        var values: [Float] = []
        for i in stride(from: offsets[0], to: offsets[1], by: 4) {
            let bits = UInt32(data[i]) | UInt32(data[i + 1]) << 8 | UInt32(data[i + 2]) << 16 | UInt32(data[i + 3]) << 24
            values.append(Float(bitPattern: bits))
        }
        tensors[key] = (shape, values)
    }
    return (metadata, tensors)
}

@Suite struct ModelFileTests {
    static let kinds = ["lenet5", "mlp", "deep-mnist", "lstm"]

    @Test(arguments: kinds)
    func saveLoadGivesIdenticalPredictions(kind: String) throws {
        let dir = try makeTempDir("save-\(kind)")
        defer { try? FileManager.default.removeItem(at: dir) }
        var model = try trainedModel(kind)
        let path = dir.appendingPathComponent("model.safetensors").path
        try model.save(to: path)
        var loaded = try Sequential.load(from: path)

        let x = randomTensor([16, 28, 28, 1], seed: 3, range: 0...1)
        let a = try model(x), b = try loaded(x)
        let worst = zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? .infinity
        #expect(a == b, "\(kind): logits differ after save/load, largest difference \(worst)")
        #expect(loaded.parameterNames == model.parameterNames)
        for ((n1, v1), (n2, v2)) in zip(model.parameters, loaded.parameters) {
            #expect(n1 == n2 && v1 == v2, "\(kind): parameter \(n1) differs")
        }
        #expect(loaded.layers.map(\.summary) == model.layers.map(\.summary))
        #expect(loaded.seed == model.seed && loaded.inputShape == [28, 28, 1])

        // The weights come from the file, not from re-running the initialiser.
        var fresh = try Models.named(kind, seed: 5)
        let c = try fresh(x)
        #expect(c != b, "\(kind): a freshly initialised model predicts the same as the loaded one; the test would not notice lost weights")
    }

    /// Re-wrapping the layers of a loaded network keeps their weights (and Dropout
    /// its random stream); only layers not built yet are initialised, and a built
    /// layer that does not take its new input is refused, by position.
    @Test func rewrappedLayersKeepTheirParameters() throws {
        let dir = try makeTempDir("rewrap")
        defer { try? FileManager.default.removeItem(at: dir) }
        var model = try trainedModel("mlp")  // Flatten, Dense, Dropout, Dense, Dropout, Dense
        let path = dir.appendingPathComponent("model.safetensors").path
        try model.save(to: path)
        var m = try Sequential.load(from: path)
        var c = Sequential(layers: m.layers)
        let x = randomTensor([6, 28, 28, 1], seed: 3, range: 0...1)
        #expect(try c(x) == model(x), "re-wrapped layers must predict what the trained model predicts")
        let kept = c.parameters.map(\.value) == model.parameters.map(\.value)
        #expect(kept, "re-wrapped layers must keep the trained parameters")
        #expect(try c.forward(x, training: true) == m.forward(x, training: true), "dropout must keep its stream")

        var head = Sequential(layers: Array(m.layers.dropLast()) + [Dense(5)])
        #expect(try head(x).shape == [6, 5])
        let body = head.parameters.dropLast(2).map(\.value) == model.parameters.dropLast(2).map(\.value)
        #expect(body, "the trained layers under a new head must keep their parameters")

        var wrong = Sequential(layers: m.layers)
        #expect { try wrong.build(inputShape: [28, 28, 3]) } throws: { "\($0)".contains("layer 1 Dense") && "\($0)".contains("2352") }
    }

    @Test func independentParserReadsAxonFiles() throws {
        let dir = try makeTempDir("parse")
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try trainedModel("lenet5")
        let path = dir.appendingPathComponent("m.safetensors").path
        try model.save(to: path, metadata: ["note": "quote \" and backslash \\ and\nnewline"])
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let n = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect((8 + n) % 8 == 0, "data section starts at \(8 + n), not 8-byte aligned")
        let parsed = try independentParse(bytes)
        let params = model.parameters
        #expect(Set(parsed.tensors.keys) == Set(params.map(\.name)), "names \(parsed.tensors.keys.sorted())")
        for (name, value) in params {
            let t = parsed.tensors[name]
            #expect(t?.0 == value.shape && t?.1 == value.scalars, "tensor \(name) read back differently")
        }
        #expect(Set(params.map(\.name)) == ["layers.0.kernel", "layers.0.bias", "layers.2.kernel", "layers.2.bias",
                                           "layers.5.kernel", "layers.5.bias", "layers.6.kernel", "layers.6.bias",
                                           "layers.7.kernel", "layers.7.bias"])
        #expect(parsed.tensors["layers.0.kernel"]?.0 == [5, 5, 1, 6])
        #expect(parsed.metadata["axon.format_version"] == "1")
        #expect(parsed.metadata["axon.parameter_count"] == "61706")
        #expect(parsed.metadata["note"] == "quote \" and backslash \\ and\nnewline")
        let arch = try JSONSerialization.jsonObject(with: Data((parsed.metadata["axon.architecture"] ?? "").utf8)) as? [String: Any]
        #expect(arch?["kind"] as? String == "Sequential" && arch?["input_shape"] as? [Int] == [28, 28, 1])
        let kinds = (arch?["layers"] as? [[String: Any]])?.compactMap { $0["kind"] as? String }
        #expect(kinds == ["Conv2D", "MaxPool2D", "Conv2D", "MaxPool2D", "Flatten", "Dense", "Dense", "Dense"])
    }

    @Test func pythonSafetensorsReadsAxonFiles() throws {
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = ["python3", "-c", "import safetensors, numpy"]
        probe.standardError = FileHandle.nullDevice
        do { try probe.run(); probe.waitUntilExit() } catch {}
        guard probe.terminationStatus == 0 else {
            print("SKIPPED pythonSafetensorsReadsAxonFiles: python3 with safetensors and numpy unavailable (pip install safetensors numpy)")
            return
        }
        let dir = try makeTempDir("python")
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try trainedModel("lstm")
        let path = dir.appendingPathComponent("lstm.safetensors").path
        try model.save(to: path)
        let script = """
            import sys, json
            from safetensors import safe_open
            with safe_open(sys.argv[1], framework="np") as f:
                meta = f.metadata()
                out = {"meta": meta, "tensors": {}}
                for k in f.keys():
                    t = f.get_tensor(k)
                    out["tensors"][k] = {"dtype": str(t.dtype), "shape": list(t.shape),
                                         "sum": float(t.astype("float64").sum()), "first": float(t.flat[0])}
            print(json.dumps(out))
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script, path]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "python failed: \(String(decoding: e, as: UTF8.self))")
        let json = try JSONSerialization.jsonObject(with: o) as? [String: Any]
        let tensors = json?["tensors"] as? [String: [String: Any]] ?? [:]
        #expect(tensors.count == model.parameters.count, "python saw \(tensors.keys.sorted())")
        for (name, value) in model.parameters {
            let t = tensors[name]
            let sum = value.scalars.reduce(0.0) { $0 + Double($1) }
            #expect(t?["dtype"] as? String == "float32" && t?["shape"] as? [Int] == value.shape, "\(name): python saw \(String(describing: t))")
            #expect((t?["sum"] as? Double).map { abs($0 - sum) <= 1e-9 * max(1, abs(sum)) } == true,
                    "\(name): python sum \(String(describing: t?["sum"])) vs \(sum)")
            #expect((t?["first"] as? Double).map { Float($0) == value.scalars[0] } == true, "\(name): first element")
        }
        #expect((json?["meta"] as? [String: String])?["axon.format_version"] == "1")
    }

    @Test func failedSaveLeavesThePreviousFileAndNoTemporary() throws {
        let dir = try makeTempDir("atomic")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("model.safetensors").path
        let old = try trainedModel("mlp", seed: 1)
        try old.save(to: path)
        let oldBytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let newModel = try trainedModel("mlp", seed: 2)
        let newBytes = try ModelFile.encode(newModel)
        for n in [0, 1, 7, 100, newBytes.count / 2, newBytes.count - 1] {
            let error = fileError { try writeFileAtomically(newBytes, to: path, failAfterBytes: n) }
            #expect(error != nil, "a write failing after \(n) bytes did not throw")
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == oldBytes, "previous file changed after failing at \(n) bytes")
            let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            #expect(files == ["model.safetensors"], "after failing at \(n) bytes the directory holds \(files)")
        }
        #expect(try Sequential.load(from: path).parameters.map(\.value) == old.parameters.map(\.value))
        // And a write that completes replaces the file.
        try writeFileAtomically(newBytes, to: path, failAfterBytes: newBytes.count)
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == newBytes)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["model.safetensors"])
    }

    @Test func saveErrorsAreClear() throws {
        let unbuilt = Models.lenet5()
        let e1 = fileError { try unbuilt.save(to: "/tmp/never.safetensors") }
        #expect(e1.map { "\($0)".contains("not built") } == true, "\(String(describing: e1))")
        let model = try trainedModel("mlp")
        let e2 = fileError { try model.save(to: "/nonexistent-dir/m.safetensors") }
        #expect(e2.map { "\($0)".contains("/nonexistent-dir") } == true, "\(String(describing: e2))")
        struct Custom: Layer {
            var isBuilt: Bool { true }
            var summary: String { "Custom()" }
            mutating func build(inputShape: [Int], generator: inout SeededGenerator) throws {}
            func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }
            mutating func forward(_ x: Tensor, training: Bool) throws -> Tensor { x }
            mutating func backward(_ dy: Tensor) throws -> Tensor { dy }
        }
        var custom = Sequential { Flatten(); Custom(); Dense(3) }
        try custom.build(inputShape: [4, 4, 1])
        let e3 = fileError { try custom.save(to: "/tmp/custom.safetensors") }
        #expect(e3.map { "\($0)".contains("Custom") } == true, "\(String(describing: e3))")
    }

    /// A model whose weights hold NaN or infinity is refused on load (naming the tensor) and on save.
    @Test func nonFiniteWeightsAreRefused() throws {
        var model = Sequential(seed: 1) { Flatten(); Dense(3); Dense(2) }
        try model.build(inputShape: [2, 2, 1])
        let good = try ModelFile.encode(model)
        for bad in [Float.nan, .infinity, -.infinity] {
            var contents = try SafeTensors.decode(good, path: "m")
            let i = try #require(contents.tensors.firstIndex { $0.name == "layers.2.kernel" })
            contents.tensors[i].value[flat: 3] = bad
            let bytes = try SafeTensors.encode(contents.tensors, metadata: contents.metadata)
            expectRejected(bytes, "tensor \"layers.2.kernel\" holds NaN or infinite values", "weight \(bad)")
            var broken = model
            try broken.setParameter("layers.2.kernel", to: contents.tensors[i].value)
            #expect { try ModelFile.encode(broken) } throws: { "\($0)".contains("layers.2.kernel") }
        }
    }

    @Test func everyLayerKindRoundTrips() throws {
        var model = Sequential(seed: 9) {
            Conv2D(filters: 3, kernelSize: (3, 2), strides: (2, 1), padding: .same, activation: .tanh,
                   kernelInitializer: .heNormal, biasInitializer: .constant(0.25))
            AvgPool2D(poolSize: (2, 1), stride: (1, 1), padding: .valid)
            StochasticPool2D(poolSize: 2, stride: 1, padding: .same)
            MaxPool2D(poolSize: 2)
            ReLU()
            Reshape([-1, 3])
            LSTM(units: 4, returnSequences: true, kernelInitializer: .glorotNormal, recurrentInitializer: .orthogonal,
                 unitForgetBias: false)
            Sequential(seed: 3) { Flatten(); Dense(5, activation: .sigmoid, kernelInitializer: .heUniform); Dropout(0.3) }
            Tanh(); Sigmoid()
            Dense(4, kernelInitializer: .truncatedNormal(std: 0.2), biasInitializer: .zeros)
            Softmax()
        }
        try model.build(inputShape: [8, 6, 2])
        let config = try LayerConfig(model)
        let bytes = try ModelFile.encode(model)
        var loaded = try ModelFile.decode(bytes, path: "mem").model
        #expect(try LayerConfig(loaded) == config)
        #expect(loaded.parameterNames.contains("layers.7.layers.1.kernel"), "\(loaded.parameterNames)")
        #expect(loaded.parameters.map(\.value) == model.parameters.map(\.value))
        // The LSTM's split of few rows over threads depends on the thread count, which
        // suites running in parallel may change between the two calls: the weights are
        // compared bit for bit above, the outputs within float rounding.
        let x = randomTensor([3, 8, 6, 2], seed: 4)
        let (a, b) = (try model(x), try loaded(x))
        #expect(a.shape == b.shape && zip(a.scalars, b.scalars).allSatisfy { abs($0 - $1) <= 1e-6 })
    }
}

@Suite struct ModelFileRejectionTests {
    static let good: [UInt8] = try! ModelFile.encode(trainedModel("lenet5"))

    @Test func truncationAtEveryTenthIsRejected() throws {
        let bytes = Self.good
        for k in 0..<10 {
            let cut = Array(bytes[0..<(bytes.count * k / 10)])
            let error = fileError { _ = try ModelFile.decode(cut, path: "/m/cut\(k)") }
            guard case let .file(path, message)? = error else {
                Issue.record("truncated to \(k)/10 (\(cut.count) bytes): expected a file error, got \(String(describing: error))")
                continue
            }
            #expect(path == "/m/cut\(k)" && !message.isEmpty)
        }
        // The last byte missing, too.
        expectRejected(Array(bytes.dropLast()), "lie outside the \(bytes.count - 1 - 8 - headerLength(bytes)) data bytes", "cut1")
        #expect(try ModelFile.decode(bytes, path: "whole").model.parameterCount == 61706)
    }

    @Test func headerLengthChecks() throws {
        let bytes = Self.good
        var beyond = bytes
        let n = UInt64(bytes.count)
        for i in 0..<8 { beyond[i] = UInt8(truncatingIfNeeded: n >> (8 * UInt64(i))) }
        expectRejected(beyond, "runs past the end of the file", "beyond")
        var huge = bytes
        for i in 0..<8 { huge[i] = 0xFF }
        expectRejected(huge, "exceeds the limit", "huge")
        expectRejected([1, 2, 3], "too short", "short")
        expectRejected(handmade(rawHeader: Array("{not json".utf8), data: []), "not well-formed JSON", "notjson")
        expectRejected(handmade(rawHeader: Array("[1, 2]".utf8), data: []), "does not start with '{'", "array")
        expectRejected(handmade(rawHeader: Array("{\"a\": 3}".utf8), data: []), "bad header entry", "entry")
    }

    @Test func tensorEntryChecks() throws {
        let data = [UInt8](repeating: 0, count: 12)
        func entry(_ dtype: String, _ shape: [Int], _ b: Int, _ e: Int) -> [String: Any] {
            ["dtype": dtype, "shape": shape, "data_offsets": [b, e]]
        }
        expectRejected(try handmade(["a": entry("F32", [2], 0, 8), "b": entry("F32", [2], 4, 12)], data: data),
                       "overlap", "overlap")
        expectRejected(try handmade(["a": entry("F16", [6], 0, 12)], data: data), "dtype F16", "dtype")
        expectRejected(try handmade(["a": entry("F32", [4], 0, 12)], data: data), "needs 16 bytes", "shape-bytes")
        expectRejected(try handmade(["a": entry("F32", [1], 0, 4), "b": entry("F32", [1], 8, 12)], data: data),
                       "belong to no tensor", "gap")
        expectRejected(try handmade(["a": entry("F32", [4], 0, 16)], data: data), "outside", "past-data")
        expectRejected(try handmade(["a": entry("F32", [3], 8, 4)], data: data), "outside", "reversed")
        expectRejected(try handmade(["a": entry("F32", [-3], 0, 12)], data: data), "negative", "negative")
        expectRejected(try handmade(["a": entry("F32", [1 << 40, 1 << 40], 0, 12)], data: data), "more elements", "overflow")
        expectRejected(try handmade(["a": ["dtype": "F32", "shape": [3]]], data: data), "data_offsets", "no-offsets")
        // Well-formed safetensors, but not an Axon model.
        expectRejected(try handmade(["a": entry("F32", [3], 0, 12)], data: data), "no axon.format_version", "foreign")
    }

    /// Re-encodes the good file with its tensors or metadata changed.
    func modified(tensors change: (inout [(name: String, value: Tensor)]) -> Void = { _ in },
                  metadata changeMeta: (inout [String: String]) -> Void = { _ in }) throws -> [UInt8] {
        var contents = try SafeTensors.decode(Self.good, path: "good")
        change(&contents.tensors)
        changeMeta(&contents.metadata)
        return try SafeTensors.encode(contents.tensors, metadata: contents.metadata)
    }

    @Test func architectureAndTensorsMustAgree() throws {
        expectRejected(try modified(tensors: { $0.removeAll { $0.name == "layers.5.kernel" } }),
                       "tensor \"layers.5.kernel\" (shape [400, 120]) required by the architecture is missing", "missing")
        expectRejected(try modified(tensors: { $0.append(("layers.1.kernel", Tensor(zeros: [2]))) }),
                       "\"layers.1.kernel\" is not a parameter", "extra")
        expectRejected(try modified(tensors: { t in
            let i = t.firstIndex { $0.name == "layers.7.bias" }!
            t[i].value = Tensor(zeros: [11])
        }), "has shape [11]; the architecture needs [10]", "wrong-shape")
        func arch(_ edit: @escaping (String) -> String) throws -> [UInt8] {
            try modified(metadata: { $0["axon.architecture"] = edit($0["axon.architecture"]!) })
        }
        expectRejected(try arch { $0.replacingOccurrences(of: "\"Flatten\"", with: "\"Flatten3D\"") },
                       "unknown layer kind \"Flatten3D\"", "unknown-kind")
        expectRejected(try arch { $0.replacingOccurrences(of: "\"units\":120", with: "\"units\":121") },
                       "has shape [400, 120]; the architecture needs [400, 121]", "units")
        expectRejected(try arch { $0.replacingOccurrences(of: "\"units\":120", with: "\"units\":1073741824") },
                       "units 1073741824 is outside", "huge-units")
        expectRejected(try arch { $0.replacingOccurrences(of: "\"input_shape\":[28,28,1]", with: "\"input_shape\":[28,28,3]") },
                       "has shape [5, 5, 1, 6]; the architecture needs [5, 5, 3, 6]", "channels")
        expectRejected(try arch { $0.replacingOccurrences(of: "\"input_shape\":[28,28,1]", with: "\"input_shape\":[2,2,1]") },
                       "does not accept its input_shape", "small-input")
        expectRejected(try arch { $0.replacingOccurrences(of: "\"input_shape\":[28,28,1]", with: "\"input_shape\":[16777216,16777216,16777216]") },
                       "input_shape", "huge-input")
        expectRejected(try arch { String($0.dropLast()) }, "not well-formed JSON", "arch-json")
        expectRejected(try arch { $0.replacingOccurrences(of: "\"kind\":\"Sequential\"", with: "\"kind\":\"Dense\"") },
                       "expected a network (Sequential or Graph)", "top-kind")
        expectRejected(try modified(metadata: { $0["axon.format_version"] = "99" }), "format version \"99\"", "version")
        expectRejected(try modified(metadata: { $0["axon.architecture"] = nil }), "no axon.architecture", "no-arch")
    }

    @Test func missingAndOddPaths() throws {
        let e1 = fileError { _ = try Sequential.load(from: "/nonexistent/model.safetensors") }
        #expect(e1 == .file(path: "/nonexistent/model.safetensors", "does not exist"), "\(String(describing: e1))")
        let e2 = fileError { _ = try Sequential.load(from: "/tmp") }
        #expect(e2 == .file(path: "/tmp", "is a directory, expected a file"), "\(String(describing: e2))")
    }

    /// Random byte flips, insertions and cuts: every result must be a clean
    /// load or an AxonError.file, never a crash.
    @Test func randomCorruptionNeverCrashes() throws {
        var g = SeededGenerator(seed: 99)
        let good = try ModelFileRejectionTests.smallGood()
        var outcomes = (loaded: 0, rejected: 0)
        let headerEnd = 8 + good[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        for _ in 0..<3000 {
            var b = good
            for _ in 0..<(1 + Int(g.next() % 4)) {
                // Mostly in the header, where the structure is.
                let i = Int(g.next() % UInt64(g.next() % 4 == 0 ? b.count : headerEnd))
                switch g.next() % 3 {
                case 0: b[i] = UInt8(truncatingIfNeeded: g.next())
                case 1: b[i] = [UInt8]("{}[]\",:0123456789-e.".utf8)[Int(g.next() % 20)]
                default: b.remove(at: i)
                }
            }
            do { _ = try ModelFile.decode(b, path: "fuzz"); outcomes.loaded += 1 }
            catch let e as AxonError { if case .file = e { outcomes.rejected += 1 } else { Issue.record("non-file error \(e)") } }
        }
        #expect(outcomes.rejected > 2000, "\(outcomes)")
    }

    static func smallGood() throws -> [UInt8] {
        var m = Sequential(seed: 1) { Conv2D(filters: 2, kernelSize: 3); MaxPool2D(); Flatten(); Dense(3) }
        try m.build(inputShape: [6, 6, 1])
        return try ModelFile.encode(m)
    }
}

@Suite(.serialized) struct ModelCLITests {
    @Test func trainSaveInspectEvalPredict() throws {
        let dir = try makeTempDir("cli-model")
        defer { try? FileManager.default.removeItem(at: dir) }
        try CLITrainingTests().writeBandsDataset(dir, train: 300, test: 100)
        let file = dir.appendingPathComponent("mlp.safetensors").path
        let t = try runAxon(["train", "--model", "mlp", "--epochs", "2", "--data", dir.path, "--threads", "1",
                             "--seed", "3", "--save", file])
        #expect(t.status == 0 && t.stdout.contains("saved the model to \(file)"), "stdout \(t.stdout) stderr \(t.stderr)")
        let trained = finalAccuracy(t.stdout)

        let i = try runAxon(["inspect", file])
        #expect(i.status == 0, "stderr \(i.stderr)")
        for needle in ["Dense(500, relu)", "(None, 500)", "(None, 784)", "392,500", "Total parameters: 545,810",
                       "axon.training.model: mlp", "axon.format_version: 1", "axon.architecture: {"] {
            #expect(i.stdout.contains(needle), "inspect output lacks \"\(needle)\":\n\(i.stdout)")
        }

        let e = try runAxon(["eval", "--model", file, "--data", dir.path, "--threads", "1"])
        #expect(e.status == 0, "stderr \(e.stderr)")
        #expect(finalAccuracy(e.stdout) == trained && trained != nil,
                "eval says \(e.stdout), training ended with \(String(describing: trained))%")

        let p = try runAxon(["predict", "--model", file, "--index", "3", "--data", dir.path])
        #expect(p.status == 0 && p.stdout.contains("predicted class") && p.stdout.contains("true class"),
                "stdout \(p.stdout) stderr \(p.stderr)")
        // The same image as a PGM file gives the same probabilities.
        let images = try [UInt8](Data(contentsOf: dir.appendingPathComponent("t10k-images-idx3-ubyte")))
        let pgm = Array("P5\n28 28\n255\n".utf8) + images[(16 + 3 * 784)..<(16 + 4 * 784)]
        let pgmURL = dir.appendingPathComponent("three.pgm")
        try write(pgm, to: pgmURL)
        let q = try runAxon(["predict", "--model", file, "--image", pgmURL.path])
        #expect(q.status == 0, "stderr \(q.stderr)")
        func table(_ s: String) -> [Substring] { s.split(separator: "\n").filter { $0.hasPrefix("  ") } }
        #expect(table(q.stdout) == table(p.stdout) && table(p.stdout).count == 10, "--image:\n\(q.stdout)\n--index:\n\(p.stdout)")
        // ... and so does a PNG of it, written through libpng.
        var canvas = Canvas(width: 28, height: 28)
        for (i, v) in images[(16 + 3 * 784)..<(16 + 4 * 784)].enumerated() { canvas.set(i % 28, i / 28, RGB(v, v, v)) }
        let pngURL = dir.appendingPathComponent("three.png")
        try canvas.writePNG(to: pngURL.path)
        let r = try runAxon(["predict", "--model", file, "--image", pngURL.path])
        #expect(r.status == 0 && table(r.stdout) == table(p.stdout), "--image png:\n\(r.stdout)\n\(r.stderr)")

        // A damaged file: one line on stderr naming it.
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
        bytes.removeLast(10)
        let bad = dir.appendingPathComponent("bad.safetensors").path
        try write(bytes, to: URL(fileURLWithPath: bad))
        for args in [["inspect", bad], ["eval", "--model", bad, "--data", dir.path], ["predict", "--model", bad, "--index", "0", "--data", dir.path]] {
            let r = try runAxon(args)
            let lines = r.stderr.split(separator: "\n")
            #expect(r.status != 0 && lines.count == 1 && r.stderr.hasPrefix("axon: \(bad): not a valid safetensors file"),
                    "\(args): status \(r.status), stderr \(r.stderr)")
        }
        let n = try runAxon(["train", "--model", "mlp", "--save", dir.appendingPathComponent("no/such/dir/m.safetensors").path])
        #expect(n.status != 0 && n.stderr.contains("does not exist"), "stderr \(n.stderr)")
    }

    /// Class names come with the data and travel in the model file: a model trained on
    /// MNIST-format data that is not Fashion-MNIST shows digits, never Fashion-MNIST's
    /// names; `--classes FILE` names them (saved in the file, or overriding it later).
    @Test func classNamesComeFromTheDataAndTheModelFile() throws {
        let dir = try makeTempDir("cli-classes")
        defer { try? FileManager.default.removeItem(at: dir) }
        try CLITrainingTests().writeBandsDataset(dir, train: 300, test: 100)
        let digits = dir.appendingPathComponent("digits.safetensors").path
        let t = try runAxon(["train", "--model", "mlp", "--epochs", "2", "--data", dir.path, "--seed", "3", "--save", digits])
        #expect(t.status == 0, "stderr \(t.stderr)")
        let fashion = MNIST.fashionClassNames
        for args in [["predict", "--model", digits, "--index", "3", "--data", dir.path],
                     ["eval", "--model", digits, "--data", dir.path, "--confusion", dir.appendingPathComponent("c.png").path]] {
            let r = try runAxon(args)
            #expect(r.status == 0 && !fashion.contains { r.stdout.contains($0) }, "\(args[0]) shows Fashion-MNIST names:\n\(r.stdout)\n\(r.stderr)")
        }
        let i = try runAxon(["inspect", digits])
        #expect(i.stdout.contains(#"axon.class_names: ["0","1","2","3","4","5","6","7","8","9"]"#), "inspect:\n\(i.stdout)")

        // Names from a file: kept in the model file, shown by predict even for an image file.
        let names = (0..<10).map { "band \($0)" }
        let classes = dir.appendingPathComponent("bands.txt")
        try write(Array((names.joined(separator: "\n") + "\n").utf8), to: classes)
        let named = dir.appendingPathComponent("named.safetensors").path
        let u = try runAxon(["train", "--model", "mlp", "--epochs", "2", "--data", dir.path, "--seed", "3", "--save", named,
                             "--classes", classes.path])
        #expect(u.status == 0, "stderr \(u.stderr)")
        let images = try [UInt8](Data(contentsOf: dir.appendingPathComponent("t10k-images-idx3-ubyte")))
        let pgm = dir.appendingPathComponent("three.pgm")
        try write(Array("P5\n28 28\n255\n".utf8) + images[(16 + 3 * 784)..<(16 + 4 * 784)], to: pgm)
        let p = try runAxon(["predict", "--model", named, "--image", pgm.path])
        let predicted = p.stdout.split(separator: "\n").first { $0.hasPrefix("predicted class") } ?? ""
        #expect(p.status == 0 && predicted.contains("(band "), "stdout \(p.stdout) stderr \(p.stderr)")
        // --classes at prediction time wins; a file with the wrong number of names is refused, naming it.
        let other = dir.appendingPathComponent("other.txt")
        try write(Array(names.map { $0.uppercased() }.joined(separator: "\n").utf8), to: other)
        let q = try runAxon(["predict", "--model", named, "--image", pgm.path, "--classes", other.path])
        #expect(q.status == 0 && q.stdout.contains("(BAND "), "stdout \(q.stdout) stderr \(q.stderr)")
        let short = dir.appendingPathComponent("short.txt")
        try write(Array("a\nb\nc\n".utf8), to: short)
        let r = try runAxon(["predict", "--model", named, "--image", pgm.path, "--classes", short.path])
        #expect(r.status != 0 && r.stderr.hasPrefix("axon: ") && r.stderr.contains(short.path) && r.stderr.contains("3 class names")
                && r.stderr.contains("10"), "stderr \(r.stderr)")
    }

    /// Model, history and checkpoint files get the permissions of any new file
    /// (0644 under umask 022), not the 0600 of a temporary file.
    @Test func writtenFilesGetTheModeOfANewFile() throws {
        let dir = try makeTempDir("cli-mode")
        defer { try? FileManager.default.removeItem(at: dir) }
        try CLITrainingTests().writeBandsDataset(dir, train: 60, test: 20)
        let exe = try #require(axonExecutable())
        let (model, csv, checkpoints) = (dir.appendingPathComponent("m.safetensors").path, dir.appendingPathComponent("h.csv").path,
                                         dir.appendingPathComponent("runs").path)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "umask 022 && exec \"$0\" \"$@\" > /dev/null", exe.path, "train", "--model", "mlp", "--epochs", "1",
                       "--data", dir.path, "--save", model, "--history", csv, "--checkpoint-dir", checkpoints]
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        func mode(_ path: String) -> Int? { (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int }
        for path in [model, csv, checkpoints + "/" + CheckpointDirectory.fileName(epoch: 1)] {
            #expect(mode(path) == 0o644, "\(path): mode \(mode(path).map { String($0, radix: 8) } ?? "missing"), expected 644")
        }
        // In the library too, whatever this process's umask: the mode of a file made with open(2).
        let reference = dir.appendingPathComponent("reference").path
        close(open(reference, O_CREAT | O_WRONLY | O_EXCL, 0o666))
        let m = try Sequential.load(from: model)
        let saved = dir.appendingPathComponent("again.safetensors").path
        try m.save(to: saved)
        try History(records: []).write(to: dir.appendingPathComponent("h.json").path)
        for path in [saved, dir.appendingPathComponent("h.json").path] {
            #expect(mode(path) == mode(reference) && mode(path) != nil, "\(path): mode \(String(describing: mode(path))) vs \(String(describing: mode(reference)))")
        }
        // A file that is replaced keeps its permissions, as when it is overwritten in place.
        chmod(saved, 0o640)
        try m.save(to: saved)
        #expect(mode(saved) == 0o640, "re-saved file: mode \(String(describing: mode(saved)))")
    }

    /// `axon eval` of a model ending in Softmax reports the mean cross-entropy of its probabilities.
    @Test func evalOfASoftmaxModelReportsItsCrossEntropy() throws {
        let dir = try makeTempDir("cli-softmax")
        defer { try? FileManager.default.removeItem(at: dir) }
        try CLITrainingTests().writeBandsDataset(dir, train: 20, test: 100)
        var model = Sequential(seed: 4) { Flatten(); Dense(10); Softmax() }
        try model.build(inputShape: [28, 28, 1])
        try model.setParameter("layers.1.kernel", to: randomTensor([784, 10], seed: 6, range: -0.3...0.3))
        let file = dir.appendingPathComponent("softmax.safetensors").path
        try model.save(to: file)
        let test = try MNIST.load(from: dir.path).test
        let p = try model(test.batch(0..<test.count).images)
        var expected = 0.0
        for (r, label) in test.labels.enumerated() { expected -= log(Double(p[flat: r * 10 + Int(label)])) / Double(test.count) }
        let e = try runAxon(["eval", "--model", file, "--data", dir.path])
        let line = e.stdout.split(separator: "\n").first { $0.hasPrefix("test accuracy") } ?? ""
        let loss = line.components(separatedBy: "loss ").last.flatMap { Double($0) }
        #expect(e.status == 0 && loss != nil && abs(loss! - expected) < 1e-3 * max(1, expected),
                "eval says \"\(line)\"; the mean cross-entropy is \(expected); stderr \(e.stderr)")
    }
}

@Suite struct CheckpointTests {
    static func data() throws -> Dataset {
        var g = SeededGenerator(seed: 21)
        let n = 96
        let labels = (0..<n).map { _ in Int32(g.next() % 10) }
        return try Dataset(images: randomTensor([n, 8, 8, 1], seed: 22, range: 0...1), labels: labels)
    }

    static func model() -> Sequential {
        Sequential(seed: 8) {
            Conv2D(filters: 4, kernelSize: 3, activation: .relu)
            StochasticPool2D(poolSize: 2)
            Flatten()
            Dense(16, activation: .relu)
            Dropout(0.3)
            Dense(10)
        }
    }

    static func optimizers() -> [any Optimizer] {
        [Adam(learningRate: 0.01), Momentum(learningRate: 0.05, momentum: 0.9, nesterov: true), GradientDescent(learningRate: 0.1)]
    }

    @Test(arguments: 0..<3)
    func resumedRunEqualsUninterruptedBitForBit(which: Int) throws {
        let data = try Self.data()
        let dir = try makeTempDir("ckpt")
        defer { try? FileManager.default.removeItem(at: dir) }
        var straight = Self.model()
        let a = Trainer(optimizer: Self.optimizers()[which], schedule: .exponentialDecay(rate: 0.5))
        try a.fit(&straight, on: data, epochs: 4, batchSize: 10, seed: 3)

        var first = Self.model()
        let b = Trainer(optimizer: Self.optimizers()[which], schedule: .exponentialDecay(rate: 0.5))
        try b.fit(&first, on: data, epochs: 2, batchSize: 10, seed: 3)
        try CheckpointDirectory.save(Checkpoint(model: first, optimizer: b.optimizer, epoch: 2, configuration: ["k": "v"]),
                                     in: dir.path)
        let restored = try CheckpointDirectory.latest(in: dir.path)
        #expect(restored.epoch == 2 && restored.configuration == ["k": "v"])
        var second = restored.model
        let c = Trainer(optimizer: Self.optimizers()[which], schedule: .exponentialDecay(rate: 0.5))
        try restored.restore(into: &c.optimizer)
        try c.fit(&second, on: data, epochs: 4, batchSize: 10, seed: 3, startEpoch: 3)

        let worst = zip(straight.parameters, second.parameters).map { p, q in
            zip(p.value.scalars, q.value.scalars).map { abs($0 - $1) }.max() ?? 0
        }.max() ?? .infinity
        #expect(straight.parameters.map(\.value) == second.parameters.map(\.value),
                "\(a.optimizer.summary): resumed weights differ from the uninterrupted run by up to \(worst)")
        #expect(c.optimizer.step == a.optimizer.step)

        // Control: without the optimizer state or the layer counters the result differs,
        // so the comparison above would catch a checkpoint that lost them.
        if which != 2 {
            var noSlots = restored.model
            let d = Trainer(optimizer: Self.optimizers()[which], schedule: .exponentialDecay(rate: 0.5))
            try d.fit(&noSlots, on: data, epochs: 4, batchSize: 10, seed: 3, startEpoch: 3)
            #expect(noSlots.parameters.map(\.value) != straight.parameters.map(\.value))
        }
        var noCounters = restored.model
        try noCounters.setCounters(["layers.1.counter": 0, "layers.4.counter": 0])
        let e = Trainer(optimizer: Self.optimizers()[which], schedule: .exponentialDecay(rate: 0.5))
        try restored.restore(into: &e.optimizer)
        try e.fit(&noCounters, on: data, epochs: 4, batchSize: 10, seed: 3, startEpoch: 3)
        #expect(noCounters.parameters.map(\.value) != straight.parameters.map(\.value))
    }

    @Test func keepsTheLastFiveAndRejectsBadCheckpoints() throws {
        let dir = try makeTempDir("ckpt-keep")
        defer { try? FileManager.default.removeItem(at: dir) }
        var m = Self.model()
        let t = Trainer(optimizer: Adam(learningRate: 0.01))
        try t.fit(&m, on: Self.data(), epochs: 7, batchSize: 32, seed: 1, callbacks: [Checkpointing(directory: dir.path)])
        #expect(try CheckpointDirectory.epochs(in: dir.path) == [3, 4, 5, 6, 7])
        #expect(try CheckpointDirectory.latest(in: dir.path).epoch == 7)
        let path = dir.appendingPathComponent(CheckpointDirectory.fileName(epoch: 7)).path
        // A checkpoint is also a loadable model.
        #expect(try Sequential.load(from: path).parameters.map(\.value) == m.parameters.map(\.value))
        // Restoring Adam state into another optimizer is refused.
        var other: any Optimizer = Momentum(learningRate: 0.1)
        #expect(throws: AxonError.self) { try CheckpointDirectory.latest(in: dir.path).restore(into: &other) }
        // A slot whose shape does not match its parameter.
        var contents = try SafeTensors.read(path)
        let i = contents.tensors.firstIndex { $0.name == "optimizer.layers.3.kernel/m" }!
        contents.tensors[i].value = Tensor(zeros: [3])
        try SafeTensors.write(contents.tensors, metadata: contents.metadata, to: path)
        let e = fileError { _ = try Checkpoint.load(from: path) }
        #expect(e.map { "\($0)".contains("optimizer slot \"layers.3.kernel/m\" has shape [3]") } == true, "\(String(describing: e))")
        // A model file is not a checkpoint.
        let modelPath = dir.appendingPathComponent("model.safetensors").path
        try m.save(to: modelPath)
        let e2 = fileError { _ = try Checkpoint.load(from: modelPath) }
        #expect(e2.map { "\($0)".contains("no axon.checkpoint") } == true, "\(String(describing: e2))")
    }

    /// Checkpoints of an early-stopping run keep its state; resumed from any of
    /// them the run stops at the same epoch with the same kept weights. A
    /// checkpoint whose early-stopping weights do not fit the model is refused.
    @Test func earlyStoppingStateResumesExactly() throws {
        let dir = try makeTempDir("ckpt-early")
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = try Self.data()
        let (train, held) = (data.slice(0..<72), data.slice(72..<96))
        func fit(_ m: inout Sequential, _ stopping: EarlyStopping, from epoch: Int, optimizer: (any Optimizer)? = nil,
                 checkpoints: String? = nil) throws {
            let t = Trainer(optimizer: optimizer ?? Adam(learningRate: 0.05))
            let ck = checkpoints.map { Checkpointing(directory: $0, keep: 20, earlyStopping: stopping) }
            try t.fit(&m, on: train, epochs: 12, batchSize: 8, validation: held, seed: 3, startEpoch: epoch,
                      callbacks: [stopping] + (ck.map { [$0] } ?? []))
        }
        var straight = Self.model()
        let s = EarlyStopping(patience: 2)
        try fit(&straight, s, from: 1, checkpoints: dir.path)
        let epochs = try CheckpointDirectory.epochs(in: dir.path)
        #expect(epochs.count >= 3)
        for e in epochs.dropLast() {
            let c = try Checkpoint.load(from: dir.appendingPathComponent(CheckpointDirectory.fileName(epoch: e)).path)
            let saved = try #require(c.earlyStopping)
            var resumed = try #require(c.model as? Sequential)
            let again = EarlyStopping(resuming: saved)
            var optimizer: any Optimizer = Adam(learningRate: 0.05)
            try c.restore(into: &optimizer)
            try fit(&resumed, again, from: e + 1, optimizer: optimizer)
            #expect(again.stop == s.stop && again.bestEpoch == s.bestEpoch, "resumed after epoch \(e)")
            #expect(resumed.parameters.map(\.value) == straight.parameters.map(\.value), "resumed after epoch \(e)")
        }
        // Early-stopping weights of the wrong shape, and without their state.
        let path = dir.appendingPathComponent(CheckpointDirectory.fileName(epoch: epochs[1])).path
        var contents = try SafeTensors.read(path)
        let i = contents.tensors.firstIndex { $0.name == "early_stopping.layers.0.kernel" }!
        contents.tensors[i].value = Tensor(zeros: [2])
        try SafeTensors.write(contents.tensors, metadata: contents.metadata, to: path)
        let e = fileError { _ = try Checkpoint.load(from: path) }
        #expect(e.map { "\($0)".contains("early-stopping weight \"layers.0.kernel\" has shape [2]") } == true, "\(String(describing: e))")
        contents.tensors[i].value = Tensor(zeros: [3, 3, 1, 4])
        let json = contents.metadata[Checkpoint.metadataKey]!
        let state = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
        contents.metadata[Checkpoint.metadataKey] = String(decoding: try JSONSerialization.data(
            withJSONObject: state.filter { $0.key != "early_stopping" }), as: UTF8.self)
        try SafeTensors.write(contents.tensors, metadata: contents.metadata, to: path)
        let e2 = fileError { _ = try Checkpoint.load(from: path) }
        #expect(e2.map { "\($0)".contains("early-stopping weights but no early_stopping state") } == true, "\(String(describing: e2))")
    }

    @Test func cliResumeEqualsUninterruptedRun() throws {
        let dir = try makeTempDir("cli-resume")
        defer { try? FileManager.default.removeItem(at: dir) }
        try CLITrainingTests().writeBandsDataset(dir, train: 300, test: 50)
        let common = ["--data", dir.path, "--threads", "1", "--seed", "5", "--batch-size", "32"]
        let full = dir.appendingPathComponent("full.safetensors").path
        let resumed = dir.appendingPathComponent("resumed.safetensors").path
        let ck = dir.appendingPathComponent("ck").path
        let r1 = try runAxon(["train", "--model", "mlp", "--epochs", "3", "--save", full] + common)
        #expect(r1.status == 0, "\(r1.stderr)")
        let r2 = try runAxon(["train", "--model", "mlp", "--epochs", "1", "--checkpoint-dir", ck] + common)
        #expect(r2.status == 0, "\(r2.stderr)")
        let r3 = try runAxon(["train", "--resume", ck, "--epochs", "3", "--threads", "1", "--save", resumed])
        #expect(r3.status == 0 && r3.stdout.contains("resuming from \(ck) after epoch 1"), "\(r3.stdout) \(r3.stderr)")
        let a = try SafeTensors.read(full), b = try SafeTensors.read(resumed)
        #expect(a.tensors.count == 6 && a.tensors.map(\.value) == b.tensors.map(\.value), "resumed CLI run differs")
        #expect(try CheckpointDirectory.epochs(in: ck) == [1, 2, 3])
        let r4 = try runAxon(["train", "--resume", ck, "--model", "mlp"])
        #expect(r4.status != 0 && r4.stderr.contains("cannot be combined with --resume"), "\(r4.stderr)")
    }
}

@Suite struct ForeignFileTests {
    /// Tests/Fuzz/corpus/model holds small model files written by Python's safetensors
    /// (Tests/Fuzz/make_seeds.py): Axon must load what another writer produced.
    @Test func filesWrittenByPythonLoad() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let corpus = root.appendingPathComponent("Tests/Fuzz/corpus/model")
        var cnn = try Sequential.load(from: corpus.appendingPathComponent("cnn.safetensors").path)
        #expect(cnn.layers.map(\.summary) == ["Conv2D(2, 3x3/1x1, same, relu)", "MaxPool2D(2x2/2x2, valid)", "Flatten()",
                                              "Dropout(0.5)", "Dense(3, linear)", "Softmax()"])
        let y = try cnn(randomTensor([2, 6, 6, 1], seed: 1))
        #expect(y.shape == [2, 3] && abs(y.scalars[0] + y.scalars[1] + y.scalars[2] - 1) < 1e-5, "\(y)")
        let lstm = try Sequential.load(from: corpus.appendingPathComponent("lstm.safetensors").path)
        #expect(lstm.parameterNames == ["layers.1.kernel", "layers.1.recurrent_kernel", "layers.1.bias",
                                        "layers.2.layers.0.kernel", "layers.2.layers.0.bias"])
        let pools = try Sequential.load(from: corpus.appendingPathComponent("pools.safetensors").path)
        let poolsOut = try pools.outputShape(for: [5, 5, 2])
        #expect(pools.parameterCount == 0 && poolsOut == [8], "\(poolsOut)")
    }
}
