import Foundation

/// A JSON value, kept exact: integers stay integers (a 64-bit seed survives).
public enum JSONValue: Codable, Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int64.self) { self = .int(i) }
        else if let u = try? c.decode(UInt64.self) { self = .uint(u) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .int(let i): try c.encode(i)
        case .uint(let u): try c.encode(u)
        case .double(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }
}

/// Values a layer may put in its configuration.
public protocol JSONConvertible {
    var json: JSONValue { get }
}
extension Int: JSONConvertible { public var json: JSONValue { .int(Int64(self)) } }
extension UInt64: JSONConvertible { public var json: JSONValue { self <= UInt64(Int64.max) ? .int(Int64(self)) : .uint(self) } }
extension Bool: JSONConvertible { public var json: JSONValue { .bool(self) } }
extension String: JSONConvertible { public var json: JSONValue { .string(self) } }
// Through the shortest decimal text, so 0.2 is written "0.2" and reads back as the same Float.
extension Float: JSONConvertible { public var json: JSONValue { .double(Double("\(self)") ?? Double(self)) } }
extension Array: JSONConvertible where Element: JSONConvertible { public var json: JSONValue { .array(map(\.json)) } }
extension Padding: JSONConvertible { public var json: JSONValue { .string(rawValue) } }
extension Activation: JSONConvertible { public var json: JSONValue { .string(rawValue) } }
extension LayerConfig: JSONConvertible {
    public var json: JSONValue { .object(fields.merging(["kind": .string(kind)]) { a, _ in a }) }
}
extension Initializer: JSONConvertible {
    public var json: JSONValue {
        let c = InitializerConfig(self)
        var o: [String: JSONValue] = ["kind": .string(c.kind)]
        if let v = c.value { o["value"] = v.json }
        return .object(o)
    }
}

/// The configuration of one layer: its kind and the arguments of its
/// initialiser, enough to rebuild it without the code that created it. Stored
/// as one flat JSON object (snake_case keys, absent fields omitted) in a model
/// file's `axon.architecture` metadata, e.g.
///
///     {"kind":"Conv2D","filters":6,"kernel_size":[5,5],"strides":[1,1],"padding":"same","activation":"relu",
///      "kernel_initializer":{"kind":"glorot_uniform"},"bias_initializer":{"kind":"zeros"}}
///
/// Each layer type writes and reads its own fields (`SerializableLayer`);
/// `LayerRegistry` maps kind names to types. The typed getters below check
/// what a file says and throw a message naming the kind and the field.
public struct LayerConfig: Codable, Equatable, Sendable {
    public var kind: String
    /// Every field but "kind".
    public var fields: [String: JSONValue]

    public init(kind: String, fields: [String: JSONValue] = [:]) {
        self.kind = kind
        self.fields = fields
    }

    /// The configuration of `layer`; throws for layer types that are not registered.
    public init(_ layer: any Layer) throws {
        guard let s = layer as? any SerializableLayer else {
            throw AxonError.invalidArgument("cannot save a layer of type \(type(of: layer)) (\(layer.summary)); it does not "
                                            + "conform to SerializableLayer. Model files hold \(LayerRegistry.kinds.joined(separator: ", "))")
        }
        self.init(kind: type(of: s).kind)
        try s.encode(into: &self)
    }

    public init(from decoder: Decoder) throws {
        var all = try decoder.singleValueContainer().decode([String: JSONValue].self)
        guard case .string(let k)? = all.removeValue(forKey: "kind") else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "a layer needs a string \"kind\""))
        }
        kind = k
        fields = all
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(json)
    }

    /// Largest dimension or count accepted from a file: keeps every size
    /// computation far from overflow whatever the file says.
    public static let maxDimension = 1 << 24

    /// A new, unbuilt layer with this configuration. `path` names the layer in errors (e.g. "layers.3").
    public func makeLayer(path: String = "layer") throws -> any Layer {
        guard let type = LayerRegistry.type(named: kind) else {
            throw AxonError.invalidArgument("\(path): unknown layer kind \"\(kind)\"; known kinds: \(LayerRegistry.kinds.joined(separator: ", "))")
        }
        do {
            return try type.init(config: self)
        } catch let AxonError.invalidArgument(message) {
            // A container's child names itself ("layers.3 (Dense): ..."): the paths join.
            if message.hasPrefix("layers.") || message.hasPrefix("nodes.") {
                throw AxonError.invalidArgument("\(path).\(message)")
            }
            throw AxonError.invalidArgument("\(path) (\(kind)): \(message)")
        }
    }

    // MARK: writing

    public subscript(key: String) -> JSONValue? {
        get { fields[key] }
        set { fields[key] = newValue }
    }

    /// Sets `key` to `value` (nothing for nil).
    public mutating func set(_ key: String, _ value: (any JSONConvertible)?) {
        fields[key] = value?.json
    }

    // MARK: reading

    private func fail(_ message: String) -> AxonError { .invalidArgument(message) }

    private func need(_ key: String) throws -> JSONValue {
        guard let v = fields[key], v != .null else { throw fail("missing \"\(key)\"") }
        return v
    }

    private static func integer(_ v: JSONValue) -> Int? {
        switch v {
        case .int(let i): return Int(exactly: i)
        case .double(let d) where d.rounded() == d && abs(d) < 1e15: return Int(d)
        default: return nil
        }
    }

    public func has(_ key: String) -> Bool { fields[key] != nil && fields[key] != .null }

    /// An integer in `range`; `defaultValue` when absent (if given).
    public func int(_ key: String, in range: ClosedRange<Int> = 0...LayerConfig.maxDimension, default defaultValue: Int? = nil) throws -> Int {
        if !has(key), let defaultValue { return defaultValue }
        guard let i = LayerConfig.integer(try need(key)) else {
            throw fail("\(key) must be an integer in \(range.lowerBound)...\(range.upperBound), got \(fields[key].map(describe) ?? "nothing")")
        }
        guard range.contains(i) else { throw fail("\(key) \(i) is outside \(range.lowerBound)...\(range.upperBound)") }
        return i
    }

    /// A count: an integer in 1...maxDimension.
    public func count(_ key: String, default defaultValue: Int? = nil) throws -> Int {
        try int(key, in: 1...LayerConfig.maxDimension, default: defaultValue)
    }

    /// A list of integers, each in `range`, of `length` entries if given.
    public func ints(_ key: String, length: Int? = nil, in range: ClosedRange<Int> = 1...LayerConfig.maxDimension,
                     default defaultValue: [Int]? = nil) throws -> [Int] {
        if !has(key), let defaultValue { return defaultValue }
        guard case .array(let a) = try need(key), length == nil || a.count == length, a.count <= 8 else {
            throw fail("\(key) must be a list of \(length.map(String.init) ?? "at most 8") integers in \(range.lowerBound)...\(range.upperBound), got \(fields[key].map(describe) ?? "")")
        }
        return try a.map { v in
            guard let i = LayerConfig.integer(v), range.contains(i) else {
                throw fail("\(key) must be a list of integers in \(range.lowerBound)...\(range.upperBound), got \(describe(.array(a)))")
            }
            return i
        }
    }

    /// Two integers in 1...maxDimension, e.g. a kernel size.
    public func pair(_ key: String, default defaultValue: (Int, Int)? = nil) throws -> (Int, Int) {
        if !has(key), let defaultValue { return defaultValue }
        let v = try ints(key, length: 2)
        return (v[0], v[1])
    }

    public func uint64(_ key: String, default defaultValue: UInt64? = nil) throws -> UInt64 {
        if !has(key), let defaultValue { return defaultValue }
        switch try need(key) {
        case .int(let i) where i >= 0: return UInt64(i)
        case .uint(let u): return u
        default: throw fail("\(key) must be a non-negative integer, got \(describe(fields[key]!))")
        }
    }

    /// A finite number in `range`.
    public func float(_ key: String, in range: ClosedRange<Float> = -Float.greatestFiniteMagnitude...Float.greatestFiniteMagnitude,
                      default defaultValue: Float? = nil) throws -> Float {
        if !has(key), let defaultValue { return defaultValue }
        let f: Float
        switch try need(key) {
        case .int(let i): f = Float(i)
        case .uint(let u): f = Float(u)
        case .double(let d): f = Float(d)
        default: throw fail("\(key) must be a number, got \(describe(fields[key]!))")
        }
        guard f.isFinite, range.contains(f) else { throw fail("\(key) \(f) is outside \(range.lowerBound)...\(range.upperBound)") }
        return f
    }

    public func bool(_ key: String, default defaultValue: Bool? = nil) throws -> Bool {
        if !has(key), let defaultValue { return defaultValue }
        guard case .bool(let b) = try need(key) else { throw fail("\(key) must be true or false, got \(describe(fields[key]!))") }
        return b
    }

    public func string(_ key: String, default defaultValue: String? = nil) throws -> String {
        if !has(key), let defaultValue { return defaultValue }
        guard case .string(let s) = try need(key) else { throw fail("\(key) must be a string, got \(describe(fields[key]!))") }
        return s
    }

    /// One of the cases of a string enum (Padding, Activation, ...).
    public func value<T: RawRepresentable & CaseIterable>(_ key: String, default defaultValue: T? = nil) throws -> T where T.RawValue == String {
        if !has(key), let defaultValue { return defaultValue }
        let s = try string(key)
        guard let v = T(rawValue: s) else {
            throw fail("\(key) \"\(s)\" is not one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return v
    }

    public func initializer(_ key: String, default defaultValue: Initializer) throws -> Initializer {
        guard has(key) else { return defaultValue }
        guard case .object(let o) = try need(key), case .string(let k)? = o["kind"] else {
            throw fail("\(key) must be an object with a \"kind\"")
        }
        var c = InitializerConfig(kind: k)
        if let v = o["value"] {
            switch v {
            case .int(let i): c.value = Float(i)
            case .double(let d): c.value = Float(d)
            default: throw fail("\(key): \"value\" must be a number")
            }
        }
        do { return try c.initializer() } catch { throw fail("\(key): \(error)") }
    }

    /// Nested layer configurations (a container's children).
    public func configs(_ key: String) throws -> [LayerConfig] {
        guard case .array(let a) = try need(key) else { throw fail("\(key) must be a list of layers") }
        return try a.map { v in
            guard case .object(var o) = v, case .string(let k)? = o.removeValue(forKey: "kind") else {
                throw fail("every entry of \(key) must be a layer object with a string \"kind\"")
            }
            return LayerConfig(kind: k, fields: o)
        }
    }

    private func describe(_ v: JSONValue) -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        let text = (try? e.encode(v)).map { String(decoding: $0, as: UTF8.self) } ?? "?"
        return text.count > 80 ? String(text.prefix(77)) + "..." : text
    }
}

/// An `Initializer` as JSON: {"kind": "glorot_uniform"}, {"kind": "truncated_normal", "value": 0.1} (the
/// standard deviation), {"kind": "constant", "value": 0.1}, ...
public struct InitializerConfig: Codable, Equatable, Sendable {
    public var kind: String
    public var value: Float?

    init(kind: String) { self.kind = kind }

    public init(_ i: Initializer) {
        switch i {
        case .glorotUniform: kind = "glorot_uniform"
        case .glorotNormal: kind = "glorot_normal"
        case .heNormal: kind = "he_normal"
        case .heUniform: kind = "he_uniform"
        case .truncatedNormal(let std): kind = "truncated_normal"; value = std
        case .constant(let c): kind = "constant"; value = c
        case .zeros: kind = "zeros"
        case .ones: kind = "ones"
        case .orthogonal: kind = "orthogonal"
        }
    }

    public func initializer() throws -> Initializer {
        switch kind {
        case "glorot_uniform": return .glorotUniform
        case "glorot_normal": return .glorotNormal
        case "he_normal": return .heNormal
        case "he_uniform": return .heUniform
        case "zeros": return .zeros
        case "ones": return .ones
        case "orthogonal": return .orthogonal
        case "truncated_normal", "constant":
            guard let value, value.isFinite else {
                throw AxonError.invalidArgument("initializer \(kind) needs a finite \"value\"")
            }
            return kind == "constant" ? .constant(value) : .truncatedNormal(std: value)
        default: throw AxonError.invalidArgument("unknown initializer \"\(kind)\"")
        }
    }
}
