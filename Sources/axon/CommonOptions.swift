import ArgumentParser
import Axon
#if canImport(Glibc)
import Glibc
#endif

/// The machine settings of one run (`--threads N`), one option group on every
/// command that runs kernels: train, eval, predict, classify, retrain, visualize,
/// bench and the demos. (The memory budget, the GEMM path and the cache directory
/// are environment variables, AXON_MEMORY_BUDGET, AXON_GEMM and AXON_CACHE.)
struct MachineOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Kernel threads; 0 uses every core (default: every core; at most 4 per core, 256 in all).")
    var threads: Int?

    func validate() throws {
        if let threads, !(0...maxThreadCount).contains(threads) {
            throw ValidationError("--threads must be in 0...\(maxThreadCount) (0 = every core; at most 4 threads per core, 256 in all), got \(threads)")
        }
    }

    /// Sets the kernels' thread count if --threads was given.
    func apply() throws {
        if let threads { try setThreadCount(threads) }
    }
}

/// The largest `--batch-size` any command takes: what memory allows is checked
/// against the model once it is known (`MemoryBudget`).
let maxBatchSize = 1 << 20

/// The most epochs `axon train` runs.
let maxEpochs = 1_000_000

/// Throws unless `value` is a batch size in 1...maxBatchSize.
func checkBatchSize(_ value: Int, flag: String = "--batch-size") throws {
    guard (1...maxBatchSize).contains(value) else {
        throw ValidationError("\(flag) must be a positive integer, got \(value) (at most \(maxBatchSize))")
    }
}

/// Throws unless a file can be created at `path` (a non-empty name, its directory
/// exists and is writable, and `path` is not a directory): checked before a long
/// run, not after it.
func checkCanWrite(_ path: String, flag: String) throws {
    guard !path.isEmpty else { throw ValidationError("\(flag) needs a file name, got \"\"") }
    var st = stat()
    if stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
        throw ValidationError("\(flag) \(path) is a directory; give a file name")
    }
    try checkWritableDirectory(directory(of: path), for: path, flag: flag)
}

/// Throws unless `path` names a writable directory, or one that can be created
/// (its nearest existing ancestor is a writable directory).
func checkCanCreateDirectory(_ path: String, flag: String) throws {
    guard !path.isEmpty else { throw ValidationError("\(flag) needs a directory name, got \"\"") }
    var st = stat()
    if stat(path, &st) == 0 {
        guard (st.st_mode & S_IFMT) == S_IFDIR else { throw ValidationError("\(flag) \(path) exists and is not a directory") }
        try checkWritableDirectory(path, for: path, flag: flag)
        return
    }
    var ancestor = directory(of: path)
    while stat(ancestor, &st) != 0 && ancestor != "/" && ancestor != "." { ancestor = directory(of: ancestor) }
    try checkWritableDirectory(ancestor, for: path, flag: flag)
}

private func checkWritableDirectory(_ directory: String, for path: String, flag: String) throws {
    var st = stat()
    guard stat(directory, &st) == 0 else {
        throw ValidationError("\(flag) \(path): directory \(directory) does not exist")
    }
    guard (st.st_mode & S_IFMT) == S_IFDIR else {
        throw ValidationError("\(flag) \(path): \(directory) is not a directory")
    }
    guard access(directory, W_OK) == 0 else {
        throw ValidationError("\(flag) \(path): directory \(directory) is not writable")
    }
}

/// The directory part of `path` ("." for a bare name, "/" at the root).
private func directory(of path: String) -> String {
    var p = Substring(path)
    while p.count > 1 && p.hasSuffix("/") { p = p.dropLast() }
    guard let i = p.lastIndex(of: "/") else { return "." }
    return i == p.startIndex ? "/" : String(p[..<i])
}
