import Foundation
import SwiftProtobuf

/// TensorFlow GraphDef files (binary protocol buffers, `.pb`), decoded with the
/// code generated from TensorFlow's `.proto` files (Import/Generated/, see
/// tools/protos/) and imported by `GraphDefImport`.
public enum GraphDefFile {
    /// Largest number of values one constant may hold (about 1 GiB of floats).
    static let maxConstant = 1 << 28

    /// Reads the GraphDef at `path` and imports it; `outputs` names the nodes to
    /// expose (default: every node nothing reads). Errors name the file and the node.
    public static func load(_ path: String, outputs: [String]? = nil) throws -> GraphDefImport.Imported {
        let bytes = try readWholeFile(path)
        let graph: Tensorflow_GraphDef
        do {
            graph = try Tensorflow_GraphDef(serializedBytes: bytes)
        } catch {
            throw AxonError.file(path: path, "is not a TensorFlow GraphDef (a binary protocol buffer): \(error)")
        }
        guard !graph.node.isEmpty else { throw AxonError.file(path: path, "is a GraphDef without nodes") }
        do {
            return try GraphDefImport.importNodes(graph.node.map(node), outputs: outputs)
        } catch let AxonError.invalidArgument(message) {
            throw AxonError.file(path: path, message)
        }
    }

    static func node(_ n: Tensorflow_NodeDef) throws -> TFNode {
        var inputs: [String] = [], ports: [Int] = []
        for input in n.input where !input.hasPrefix("^") {
            if let colon = input.lastIndex(of: ":"), let port = Int(input[input.index(after: colon)...]) {
                inputs.append(String(input[..<colon]))
                ports.append(port)
            } else {
                inputs.append(input)
                ports.append(0)
            }
        }
        var attrs: [String: TFAttr] = [:]
        for (key, value) in n.attr {
            do { attrs[key] = try attr(value) } catch let AxonError.invalidArgument(m) {
                throw AxonError.invalidArgument("node \"\(n.name)\" (op \(n.op)): attribute \(key): \(m)")
            }
        }
        return TFNode(name: n.name, op: n.op, inputs: inputs, inputPorts: ports, attrs: attrs)
    }

    static func attr(_ a: Tensorflow_AttrValue) throws -> TFAttr {
        switch a.value {
        case .i(let v)?: return .int(Int(clamping: v))
        case .f(let v)?: return .float(v)
        case .b(let v)?: return .bool(v)
        case .s(let v)?: return .string(String(decoding: v, as: UTF8.self))
        case .type(let t)?: return .type(t.rawValue)
        case .shape(let s)?: return .shape(s.unknownRank ? nil : s.dim.map { Int(clamping: $0.size) })
        case .tensor(let t)?: return .tensor(try constant(t))
        case .list(let l)?: return l.i.isEmpty ? .other : .ints(l.i.map { Int(clamping: $0) })
        default: return .other
        }
    }

    /// A TensorProto's values as floats (integers converted), or no values for strings.
    static func constant(_ t: Tensorflow_TensorProto) throws -> TFConstant {
        let shape = t.tensorShape.dim.map { Int(clamping: $0.size) }
        guard shape.allSatisfy({ $0 >= 0 }), let count = ModelFile.checkedProduct(shape), count <= maxConstant else {
            throw AxonError.invalidArgument("tensor shape \(shape) is invalid or too large")
        }
        func fill<T>(_ values: [T], _ convert: (T) -> Float) throws -> [Float] {
            // TensorFlow repeats the last value when fewer are given than the shape holds.
            guard let last = values.last else { return [Float](repeating: 0, count: count) }
            guard values.count <= count else { throw AxonError.invalidArgument("\(values.count) values for shape \(shape)") }
            return values.map(convert) + [Float](repeating: convert(last), count: count - values.count)
        }
        func content<T: FixedWidthInteger>(_ type: T.Type) throws -> [T] {
            guard let values = ImportSupport.littleEndian(t.tensorContent, count: count, as: T.self) else {
                throw AxonError.invalidArgument("tensor_content holds \(t.tensorContent.count) bytes, shape \(shape) needs \(count * MemoryLayout<T>.size)")
            }
            return values
        }
        let values: [Float]
        switch t.dtype {
        case .dtFloat:
            values = t.tensorContent.isEmpty ? try fill(t.floatVal) { $0 }
                : try content(UInt32.self).map { Float(bitPattern: $0) }
        case .dtDouble:
            values = t.tensorContent.isEmpty ? try fill(t.doubleVal) { Float($0) }
                : try content(UInt64.self).map { Float(Double(bitPattern: $0)) }
        case .dtInt32:
            values = t.tensorContent.isEmpty ? try fill(t.intVal) { Float($0) } : try content(Int32.self).map { Float($0) }
        case .dtInt64:
            values = t.tensorContent.isEmpty ? try fill(t.int64Val) { Float($0) } : try content(Int64.self).map { Float($0) }
        case .dtString:
            return TFConstant(shape: shape, values: [])
        default:
            throw AxonError.invalidArgument("constants of type \(t.dtype) are not supported (float, double, int32, int64, string)")
        }
        return TFConstant(shape: shape, values: values)
    }
}
