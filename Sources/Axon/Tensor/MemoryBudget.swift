#if canImport(Glibc)
import Glibc
#endif

/// How much memory one allocation decided by user input (a file's declared
/// sizes, a batch, a network's activations) may take: checked before the
/// allocation, so a small hostile file or a typo cannot make Axon grow to
/// gigabytes or abort. Half of the machine's physical memory unless the
/// environment variable `AXON_MEMORY_BUDGET` says otherwise (bytes, or a number
/// with K, M or G, e.g. `2G`).
public enum MemoryBudget {
    nonisolated(unsafe) public static var bytes: Int = defaultBytes()

    static func defaultBytes() -> Int {
        if let text = getenv("AXON_MEMORY_BUDGET").map({ String(cString: $0) }), let n = parse(text) { return n }
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0, size > 0 else { return 4 << 30 }
        let (total, overflow) = pages.multipliedReportingOverflow(by: size)
        return overflow ? Int.max / 2 : total / 2
    }

    /// "2G", "512M", "64K" or a number of bytes; nil if malformed.
    static func parse(_ text: String) -> Int? {
        var digits = Substring(text.filter { $0 != " " })
        var scale = 1
        switch digits.last.map({ $0.uppercased() }) {
        case "K": scale = 1 << 10
        case "M": scale = 1 << 20
        case "G": scale = 1 << 30
        default: break
        }
        if scale > 1 { digits = digits.dropLast() }
        guard let n = Int(digits), n > 0 else { return nil }
        let (v, overflow) = n.multipliedReportingOverflow(by: scale)
        return overflow ? nil : v
    }

    /// Throws unless `needed` bytes fit the budget; `what` says what they are for.
    public static func check(_ needed: Int, for what: String) throws {
        guard needed <= bytes else {
            throw AxonError.invalidArgument("\(what) needs \(describe(needed)) of memory, more than the budget of \(describe(bytes)) (half the machine's memory, or AXON_MEMORY_BUDGET)")
        }
    }

    /// The product of `factors` (negatives count as 0), Int.max instead of overflowing.
    public static func product(_ factors: [Int]) -> Int {
        var p = 1
        for f in factors {
            let (r, o) = p.multipliedReportingOverflow(by: max(f, 0))
            if o { return Int.max }
            p = r
        }
        return p
    }

    /// 1536 → "1.5 KiB"; whole bytes below 1 KiB.
    public static func describe(_ n: Int) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var v = Double(n), u = 0
        while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
        if u == 0 { return "\(n) bytes" }
        let tenths = Int((v * 10).rounded())
        return "\(tenths / 10)\(tenths % 10 == 0 ? "" : ".\(tenths % 10)") \(units[u])"
    }
}

extension Network {
    /// Bytes of the activations one example of `inputShapes` (default: the
    /// network's own) takes through the network: every layer's output, float32.
    /// nil when the network does not accept those shapes (running it says why).
    public func activationBytesPerExample(inputShapes given: [[Int]]? = nil) -> Int? {
        guard let shapes = given ?? inputShapes, let rows = try? summaryRows(for: shapes) else { return nil }
        let counts = shapes.map(MemoryBudget.product) + rows.map { MemoryBudget.product($0.outputShape) }
        var total = 0
        for c in counts {
            let (t, o) = total.addingReportingOverflow(c)
            if o { return Int.max }
            total = t
        }
        return MemoryBudget.product([total, 4])
    }

    /// Throws unless a batch of `batch` examples fits the memory budget: the
    /// activations four times over for inference (each layer's output buffer,
    /// the copies made of the last ones, scores in double precision), six times
    /// for training (with the gradients of outputs and inputs).
    public func checkMemory(batch: Int, training: Bool, inputShapes: [[Int]]? = nil, path: String? = nil) throws {
        guard let perExample = activationBytesPerExample(inputShapes: inputShapes) else { return }
        let what = (path.map { "\($0): the model" } ?? "the model") + " (\(MemoryBudget.describe(perExample)) of activations per example)"
            + " \(training ? "training" : "running") on a batch of \(batch)"
        try MemoryBudget.check(MemoryBudget.product([perExample, batch, training ? 6 : 4]), for: what)
    }

    /// The largest batch up to `wanted` that fits the memory budget for inference;
    /// throws if not even one example fits.
    public func inferenceBatch(upTo wanted: Int, inputShapes: [[Int]]? = nil) throws -> Int {
        guard let perExample = activationBytesPerExample(inputShapes: inputShapes) else { return wanted }
        try checkMemory(batch: 1, training: false, inputShapes: inputShapes)
        return max(1, min(wanted, MemoryBudget.bytes / max(MemoryBudget.product([perExample, 4]), 1)))
    }
}
