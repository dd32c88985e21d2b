import Foundation
import Testing
@testable import Axon

/// GraphDef import against TensorFlow's own outputs (fixtures written by
/// tools/graphdef/make_fixtures.py with TensorFlow 2.21).
@Suite struct GraphDefTests {
    static let fixtures = repositoryRoot.appendingPathComponent("Tests/Fixtures/graphdef")

    struct Expected: Decodable {
        struct Summary: Decodable { var first: [Float]; var mean: Double }
        struct Result: Decodable {
            var decoded: Summary
            var resized: Summary
            var softmax: [[Float]]
            var logits: [[Float]]
            var bottleneck: [[Float]]
            enum CodingKeys: String, CodingKey {
                case decoded, resized, softmax, logits = "softmax/logits", bottleneck = "pool_3/_reshape"
            }
        }
        struct Inception: Decodable { var results: [String: Result] }
        struct TF2: Decodable {
            var inputs: [[[[Float]]]]
            var outputsSoftmax: [[Float]]
            var outputsLogits: [[Float]]
            enum CodingKeys: String, CodingKey { case inputs, outputsSoftmax = "outputs_softmax", outputsLogits = "outputs_logits" }
        }
        var inception: Inception
        var tf2: TF2
        enum CodingKeys: String, CodingKey { case inception = "inception2015_small", tf2 = "frozen_tf2_small" }
    }

    static func expected() throws -> Expected {
        try JSONDecoder().decode(Expected.self, from: Data(contentsOf: fixtures.appendingPathComponent("expected.json")))
    }

    static func worst(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max() ?? .infinity }

    /// TensorFlow computes the source position i·(in/out) in float: on a 5000-long
    /// row or column resized to 2999, Axon's resize equals TensorFlow's bit for bit
    /// (in double, 2983 of the 2999 values differed, by up to 0.07).
    @Test(arguments: ["legacy", "half_pixel_centers"])
    func resizeEqualsTensorFlowBitForBit(_ mode: String) throws {
        struct Fixture: Decodable { var `in`: Int; var out: Int; var cases: [String: [String: [Float]]] }
        let f = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: Self.fixtures.appendingPathComponent("resize.json")))
        let values = (0..<f.in).map { Float((37 * $0) % 256) }
        for (name, shape, (oh, ow)) in [("row", [1, 1, f.in, 1], (1, f.out)), ("column", [1, f.in, 1, 1], (f.out, 1))] {
            var y = Tensor.empty
            try Kernels.resizeBilinear(try Tensor(shape: shape, scalars: values), height: oh, width: ow,
                                       halfPixelCenters: mode != "legacy", y: &y)
            let want = try #require(f.cases[mode]?[name])
            let differing = zip(y.scalars, want).filter { $0 != $1 }.count
            #expect(differing == 0, "\(mode) \(name): \(differing) of \(want.count) values differ from TensorFlow's")
        }
    }

    @Test func course2015GraphMatchesTensorFlow() throws {
        let e = try Self.expected()
        var imported = try GraphDefFile.load(Self.fixtures.appendingPathComponent("inception2015_small.pb").path,
                                              outputs: ["softmax", "softmax/logits", "pool_3/_reshape"])
        let p = try #require(imported.preprocessing)
        #expect(p.inputShape == [39, 39, 3] && p.halfPixelCenters == false && p.mean == [128, 128, 128])
        #expect(!imported.graph.nodes.contains { $0.name.hasSuffix("CheckNumerics") || $0.name.hasSuffix("control_dependency") },
                "CheckNumerics and Identity dropped")
        var photos = [("small.jpg", Self.fixtures.appendingPathComponent("small.jpg").path)]
        if let dog = darknetPhoto("dog") { photos.append(("dog.jpg", dog)) }
        for (name, path) in photos {
            let want = try #require(e.inception.results[name])
            let image = try RGBImage.read(path)
            #expect(image.pixels.prefix(10).map(Float.init) == want.decoded.first, "\(name): JPEG decoded as TensorFlow decodes it")
            let resized = try p.resized(image)
            #expect(Self.worst(Array(resized.prefix(10)), want.resized.first) < 1e-3, "\(name): resize")
            let x = try p.batch([image])
            let y = try imported.graph.forward([x], outputs: ["softmax", "softmax/logits", "pool_3/_reshape"])
            #expect(Self.worst(y[0].scalars, want.softmax[0]) < 1e-4, "\(name) softmax: \(Self.worst(y[0].scalars, want.softmax[0]))")
            #expect(Self.worst(y[1].scalars, want.logits[0]) < 1e-3, "\(name) logits: \(Self.worst(y[1].scalars, want.logits[0]))")
            #expect(Self.worst(y[2].scalars, want.bottleneck[0]) < 1e-3, "\(name) bottleneck")
            var folded = try imported.graph.foldedForInference()
            #expect(Self.worst(try folded.forward([x], outputs: ["softmax"])[0].scalars, want.softmax[0]) < 1e-4)
        }
    }

    @Test func frozenTensorFlow2GraphMatchesTensorFlow() throws {
        let e = try Self.expected()
        var imported = try GraphDefFile.load(Self.fixtures.appendingPathComponent("frozen_tf2_small.pb").path)
        #expect(imported.preprocessing == nil && imported.inputName == "input")
        let x = try Tensor(shape: [2, 24, 24, 3], scalars: e.tf2.inputs.flatMap { $0.flatMap { $0.flatMap { $0 } } })
        let y = try imported.graph.forward(x, training: false)
        #expect(Self.worst(y.scalars, e.tf2.outputsSoftmax.flatMap { $0 }) < 1e-4, "\(Self.worst(y.scalars, e.tf2.outputsSoftmax.flatMap { $0 }))")
        let logits = try imported.graph.forward([x], outputs: ["tf2_small_1/dense_1/BiasAdd"])[0]
        #expect(Self.worst(logits.scalars, e.tf2.outputsLogits.flatMap { $0 }) < 1e-3)
        // Both batch-normalization forms became BatchNorm layers, which fold away.
        #expect(imported.graph.nodes.filter { $0.layer is BatchNorm }.count >= 2)
        var folded = try imported.graph.foldedForInference()
        #expect(!folded.nodes.contains { $0.layer is BatchNorm })
        #expect(Self.worst(try folded(x).scalars, y.scalars) < 1e-5)
        // An imported graph saves and loads as an Axon model file.
        let dir = try makeTempDir("graphdef")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("tf2.safetensors").path
        try imported.graph.save(to: path)
        var loaded = try Graph.load(from: path)
        #expect(try loaded.forward(x, training: false) == y)
    }

    @Test func badGraphsGiveOneClearError() throws {
        let dir = try makeTempDir("bad-graphdef")
        defer { try? FileManager.default.removeItem(at: dir) }
        func message(_ bytes: [UInt8]) -> String {
            let path = dir.appendingPathComponent("g.pb").path
            _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
            do { _ = try GraphDefFile.load(path); return "" } catch { return "\(error)" }
        }
        let good = Array(try Data(contentsOf: Self.fixtures.appendingPathComponent("frozen_tf2_small.pb")))
        #expect(message(Array(good.prefix(good.count / 2))).contains("g.pb"))
        #expect(message([0xFF, 0xFF, 0xFF]).contains("is not a TensorFlow GraphDef"))
        #expect(message([]).contains("without nodes"))
        // make fuzz found it: a BiasAdd whose bias did not match the Dense before it
        // trapped while being folded into it; now the graph is refused with its shapes.
        let mutated = Array(try Data(contentsOf: Self.fixtures.appendingPathComponent("fuzz-bias-length.pb")))
        let refusal = message(mutated)
        #expect(refusal.contains("g.pb") && refusal.contains("dense_1") && refusal.contains("expected shape"), "\(refusal)")
        // And one whose Pad makes a single example's activations 1.3 TB: refused at load
        // against the memory budget, not allocated when run.
        let padded = message(Array(try Data(contentsOf: Self.fixtures.appendingPathComponent("fuzz-huge-pad.pb"))))
        #expect(padded.contains("g.pb") && padded.contains("more than the budget"), "\(padded)")
        // And one with an Identity that has no input.
        let bare = message(Array(try Data(contentsOf: Self.fixtures.appendingPathComponent("fuzz-no-input.pb"))))
        #expect(bare.contains("g.pb") && bare.contains("has no input"), "\(bare)")
        // And one whose Reshape shape is not a whole number.
        let shapeless = message(Array(try Data(contentsOf: Self.fixtures.appendingPathComponent("fuzz-reshape-nan.pb"))))
        #expect(shapeless.contains("g.pb") && shapeless.contains("not an integer"), "\(shapeless)")
        // And one whose depthwise window is 2^31 wide.
        let wide = message(Array(try Data(contentsOf: Self.fixtures.appendingPathComponent("fuzz-huge-window.pb"))))
        #expect(wide.contains("g.pb") && wide.contains("out of range"), "\(wide)")
        // An unsupported op names the node, its op and what Axon imports.
        let nodes = [TFNode(name: "x", op: "Placeholder", inputs: [], inputPorts: [], attrs: ["shape": .shape([-1, 4])]),
                     TFNode(name: "odd", op: "Erf", inputs: ["x"], inputPorts: [0], attrs: [:])]
        do { _ = try GraphDefImport.importNodes(nodes); Issue.record("Erf was accepted") } catch {
            #expect("\(error)".contains("node \"odd\" (op Erf): not supported; Axon imports Add, AddV2"), "\(error)")
        }
    }

    @Test func classifyTakesTheCourseDirectoryAndPrintsAsClassifyImagePy() throws {
        let dir = try makeTempDir("inception-dir")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(at: Self.fixtures.appendingPathComponent("inception2015_small.pb"),
                                         to: dir.appendingPathComponent(InceptionLabels.graphFile))
        // Output index k is synset n0000000k, "name k, alias k" (entry 1 first: the order of the file does not matter).
        var map = "# a comment\n", synsets = ""
        for k in [1, 0, 2, 3, 4, 5, 6, 7, 8, 9] {
            map += "entry {\n  target_class: \(k)\n  target_class_string: \"n0000000\(k)\"\n}\n"
            synsets += "n0000000\(k)\tname \(k), alias \(k)\n"
        }
        try map.write(to: dir.appendingPathComponent(InceptionLabels.labelMapFile), atomically: true, encoding: .utf8)
        try synsets.write(to: dir.appendingPathComponent(InceptionLabels.synsetFile), atomically: true, encoding: .utf8)
        let photo = Self.fixtures.appendingPathComponent("small.jpg").path
        let r = try runAxon(["classify", "--model", dir.path, "--top", "2", photo])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 3 && lines[1] == "name 9, alias 9 (score = 0.22477)" && lines[2] == "name 2, alias 2 (score = 0.18078)",
                "\(r.stdout)")
        let j = try runAxon(["classify", "--model", dir.appendingPathComponent(InceptionLabels.graphFile).path, "--json", "--top", "1", photo])
        #expect(j.stdout.hasPrefix("{\"image\":\"\(photo)\",\"top\":[{\"index\":9,\"label\":null,\"score\":0.2247"), "\(j.stdout)")
        // A frozen TensorFlow 2 graph takes an image tensor: the photo is resized to its 24×24 input and scaled.
        let frozen = Self.fixtures.appendingPathComponent("frozen_tf2_small.pb").path
        let tf2 = try runAxon(["classify", "--model", frozen, "--json", "--top", "10", photo])
        #expect(tf2.status == 0, "\(tf2.stderr)")
        let top = try #require(try JSONSerialization.jsonObject(with: Data(tf2.stdout.utf8)) as? [String: Any])["top"] as? [[String: Any]]
        #expect(top?.count == 10 && abs((top ?? []).compactMap { $0["score"] as? Double }.reduce(0, +) - 1) < 1e-5, "\(tf2.stdout)")
        let scaled = try runAxon(["classify", "--model", frozen, "--input-scale", "0,255", "--json", "--top", "10", photo])
        #expect(scaled.status == 0 && scaled.stdout != tf2.stdout, "\(scaled.stderr)")
        let badScale = try runAxon(["classify", "--model", frozen, "--input-scale", "1,0", photo])
        #expect(badScale.status != 0 && badScale.stderr.contains("--input-scale must be MEAN,STD"), "\(badScale.stderr)")
        try "entry {\n  target_class: 3\n  target_class_string: \"n99\"\n}\n".write(
            to: dir.appendingPathComponent(InceptionLabels.labelMapFile), atomically: true, encoding: .utf8)
        let bad = try runAxon(["classify", "--model", dir.path, photo])
        #expect(bad.status != 0 && bad.stderr.contains("has no names for synset n99"), "\(bad.stderr)")
    }
}
