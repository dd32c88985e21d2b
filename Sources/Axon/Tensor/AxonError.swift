/// Every error Axon throws for bad user input: the message names the file or
/// value at fault and what was expected.
public enum AxonError: Error, CustomStringConvertible, Equatable {
    /// Two shapes that had to agree did not.
    case shapeMismatch(String, expected: [Int], got: [Int])
    /// A hyper-parameter, flag or argument is out of range.
    case invalidArgument(String)
    /// A C kernel rejected its arguments (function name, status text).
    case kernel(String, String)
    /// A file is missing, unreadable or malformed.
    case file(path: String, String)

    public var description: String {
        switch self {
        case let .shapeMismatch(what, expected, got):
            return "\(what): expected shape \(expected), got \(got)"
        case let .invalidArgument(message):
            return message
        case let .kernel(function, status):
            return "\(function) failed: \(status)"
        case let .file(path, message):
            return "\(path): \(message)"
        }
    }
}
