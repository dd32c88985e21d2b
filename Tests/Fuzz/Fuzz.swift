// libFuzzer targets for every loader of files a user hands Axon. `make fuzz`
// compiles Axon's sources with this harness as one module (so the readers'
// internals get coverage) and runs each target in turn, chosen by
// AXON_FUZZ_TARGET:
//   model     safetensors model files (ModelFile.decode; a file that loads must run)
//   graphdef  TensorFlow GraphDef files (GraphDefFile.load; a graph that imports must run)
//   onnx      ONNX model files (ONNXFile.load; a graph that imports must run)
//   image     JPEG, PNG and PGM pictures (RGBImage.read, GrayImage.readPNG/readPGM)
//   idx       IDX image and label files, raw or gzip (IDX.readImages/readLabels)
// Every input must load or be refused with an AxonError, never crash, hang or
// allocate beyond the memory budget (libFuzzer's -rss_limit_mb / -malloc_limit_mb).

#if canImport(Glibc)
import Glibc
#endif

nonisolated(unsafe) var fuzzTarget = "model"
/// One scratch file per fuzzing process for the path-based readers (in /dev/shm: no disk I/O).
nonisolated(unsafe) var scratchPath = "/dev/shm/axon-fuzz-\(getpid())"

@_cdecl("LLVMFuzzerInitialize")
public func axonFuzzInitialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    if let t = getenv("AXON_FUZZ_TARGET") { fuzzTarget = String(cString: t) }
    guard ["model", "graphdef", "onnx", "image", "idx"].contains(fuzzTarget) else {
        fatalError("AXON_FUZZ_TARGET must be model, graphdef, onnx, image or idx; got \(fuzzTarget)")
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func axonFuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    do {
        switch fuzzTarget {
        case "model":
            let loaded = try ModelFile.decode(bytes, path: "fuzz-input")
            try runOnce(loaded.model, inputShape: loaded.inputShape)
        case "graphdef":
            try writeScratch(bytes)
            let imported = try GraphDefFile.load(scratchPath)
            if let shape = imported.graph.inputShape { try runOnce(imported.graph, inputShape: shape) }
        case "onnx":
            try writeScratch(bytes)
            let imported = try ONNXFile.load(scratchPath)
            if let shape = imported.graph.inputShape { try runOnce(imported.graph, inputShape: shape) }
        case "image":
            try writeScratch(bytes)
            try expectAxonError { _ = try RGBImage.read(scratchPath) }
            try expectAxonError { _ = try GrayImage.readPNG(scratchPath) }
            try expectAxonError { _ = try GrayImage.readPGM(scratchPath) }
        default:
            try writeScratch(bytes)
            try expectAxonError { _ = try IDX.readImages(scratchPath, limit: 10) }
            try expectAxonError { _ = try IDX.readLabels(scratchPath) }
        }
    } catch is AxonError {
    } catch {
        fatalError("\(fuzzTarget): a loader threw something other than an AxonError: \(error)")
    }
    return 0
}

/// A network that loads must also run: one example through it, when small.
func runOnce(_ network: any Network, inputShape: [Int]) throws {
    var model = network
    let shape = [1] + inputShape
    if shape.allSatisfy({ $0 > 0 }) && shape.reduce(1, *) <= 1 << 16 {
        _ = try? model(Tensor(zeros: shape))
    }
}

/// Runs `body`; an AxonError is the expected refusal, anything else is a bug.
func expectAxonError(_ body: () throws -> Void) throws {
    do { try body() } catch is AxonError {}
}

func writeScratch(_ bytes: [UInt8]) throws {
    let fd = open(scratchPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { fatalError("cannot write \(scratchPath)") }
    defer { close(fd) }
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, bytes.count - done) }
        guard n > 0 else { fatalError("cannot write \(scratchPath)") }
        done += n
    }
}
