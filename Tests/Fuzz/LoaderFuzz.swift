// libFuzzer target for the model-file loader: every input must either load or
// be rejected with AxonError.file, never crash, hang or allocate more than the
// input's size warrants. Built by `make fuzz` together with Axon's sources as
// one module (so the loader's internals are compiled with coverage).

@_cdecl("LLVMFuzzerTestOneInput")
public func axonFuzzLoader(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    do {
        let loaded = try ModelFile.decode(bytes, path: "fuzz-input")
        // A file that loads must also run: one example through the model.
        var model = loaded.model
        let shape = [1] + loaded.inputShape
        if shape.reduce(1, *) <= 1 << 16 {
            _ = try? model(Tensor(zeros: shape))
        }
    } catch let error as AxonError {
        guard case .file = error else { fatalError("loader threw a non-file error: \(error)") }
    } catch {
        fatalError("loader threw an unexpected error: \(error)")
    }
    return 0
}
