import Foundation

/// A `History` as a file: CSV (`.csv`) or JSON (`.json`), one row/object per
/// epoch with the columns of `History.columns`. A missing figure (no validation
/// set, or no test figures for that epoch) is an empty CSV field or a JSON `null`;
/// a figure that is NaN or infinite (a diverged run) is `nan`, `inf` or `-inf`
/// (in JSON, which has no such numbers, the strings "nan", "inf", "-inf"), and reads back as it was.
extension History {
    public static let columns = ["epoch", "train_loss", "train_accuracy", "validation_loss", "validation_accuracy",
                                 "test_loss", "test_accuracy", "learning_rate", "seconds"]

    public init(records: [EpochRecord]) { self.init(); epochs = records }

    public enum FileFormat: String, Sendable { case csv, json }

    /// The format named by `path`'s extension, or a clear error.
    public static func format(of path: String) throws -> FileFormat {
        let ext = path.split(separator: "/").last.flatMap { name in
            name.contains(".") ? name.split(separator: ".").last.map { $0.lowercased() } : nil
        }
        guard let ext, let f = FileFormat(rawValue: ext) else {
            throw AxonError.file(path: path, "history files end in .csv or .json")
        }
        return f
    }

    private static func text(_ x: Double?) -> String {
        guard let x else { return "" }
        return x.isNaN ? "nan" : x.isInfinite ? (x < 0 ? "-inf" : "inf") : "\(x)"
    }

    /// A figure read back: a number, or one of the words `text` writes for non-finite values.
    static func number(_ text: String) -> Double? {
        switch text.lowercased() {
        case "nan": return .nan
        case "inf", "+inf", "infinity": return .infinity
        case "-inf", "-infinity": return -.infinity
        default: return Double(text)
        }
    }

    /// A JSON field: a number, null, or a non-finite value as a string.
    private struct Field: Decodable {
        var value: Double?
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { value = nil; return }
            if let d = try? c.decode(Double.self) { value = d; return }
            let s = try c.decode(String.self)
            guard let d = History.number(s), !d.isFinite else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "\"\(s)\" is not a number")
            }
            value = d
        }
    }

    private func fields(_ r: EpochRecord) -> [String] {
        [String(r.epoch), Self.text(Double(r.trainLoss)), Self.text(r.trainAccuracy),
         Self.text(r.validationLoss.map(Double.init)), Self.text(r.validationAccuracy),
         Self.text(r.testLoss.map(Double.init)), Self.text(r.testAccuracy),
         Self.text(Double(r.learningRate)), Self.text(r.seconds)]
    }

    public func csv() -> String {
        ([Self.columns.joined(separator: ",")] + epochs.map { fields($0).joined(separator: ",") })
            .joined(separator: "\n") + "\n"
    }

    public func json() -> String {
        let rows = epochs.map { r in
            "  {" + zip(Self.columns, fields(r)).map { "\"\($0)\": \($1.isEmpty ? "null" : ["nan", "inf", "-inf"].contains($1) ? "\"\($1)\"" : $1)" }
                .joined(separator: ", ") + "}"
        }
        return "[\n" + rows.joined(separator: ",\n") + (rows.isEmpty ? "]\n" : "\n]\n")
    }

    /// Writes the history atomically (a reader never sees half a file).
    public func write(to path: String) throws {
        let body = try Self.format(of: path) == .csv ? csv() : json()
        try writeFileAtomically(Array(body.utf8), to: path)
    }

    /// Reads a file written by `write(to:)`.
    public static func read(from path: String) throws -> History {
        let format = try format(of: path)
        let bytes = try readFileBytes(path, maxLength: 64 << 20)
        let text = String(decoding: bytes, as: UTF8.self)
        var rows: [[String: Double]] = []
        switch format {
        case .csv:
            var lines = text.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.isEmpty }
            guard !lines.isEmpty else { throw AxonError.file(path: path, "is empty, expected a CSV header line") }
            let header = lines.removeFirst().split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            for (n, line) in lines.enumerated() {
                let cells = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                guard cells.count == header.count else {
                    throw AxonError.file(path: path, "line \(n + 2) has \(cells.count) fields, the header \(header.count)")
                }
                var row: [String: Double] = [:]
                for (key, cell) in zip(header, cells) {
                    let c = cell.trimmingCharacters(in: .whitespaces)
                    if c.isEmpty { continue }
                    guard let v = number(c) else { throw AxonError.file(path: path, "line \(n + 2): \(key) \"\(c)\" is not a number") }
                    row[key] = v
                }
                rows.append(row)
            }
        case .json:
            // JSONDecoder, not JSONSerialization: the latter's NSNumber path can lose the last bit of a Double.
            guard let array = try? JSONDecoder().decode([[String: Field]].self, from: Data(bytes)) else {
                throw AxonError.file(path: path, "is not a JSON array of per-epoch objects with numeric fields")
            }
            rows = array.map { $0.compactMapValues(\.value) }
        }
        var history = History()
        for (n, row) in rows.enumerated() {
            guard let e = row["epoch"], let loss = row["train_loss"], let acc = row["train_accuracy"] else {
                throw AxonError.file(path: path, "epoch row \(n + 1) lacks epoch, train_loss or train_accuracy")
            }
            guard let epoch = Int(exactly: e), (0...1_000_000_000).contains(epoch) else {
                throw AxonError.file(path: path, "epoch row \(n + 1): epoch \(e) is not a whole number in 0...1000000000")
            }
            let seconds = row["seconds"] ?? 0
            history.epochs.append(EpochRecord(
                epoch: epoch, learningRate: Float(row["learning_rate"] ?? .nan), trainLoss: Float(loss),
                trainAccuracy: acc, validationLoss: row["validation_loss"].map(Float.init),
                validationAccuracy: row["validation_accuracy"], testLoss: row["test_loss"].map(Float.init),
                testAccuracy: row["test_accuracy"], seconds: seconds, imagesPerSecond: 0))
        }
        return history
    }
}
