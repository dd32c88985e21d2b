import Foundation
import SwiftProtobuf

/// ONNX model files (`.onnx`, a binary `ModelProto`), decoded with the code
/// generated from onnx.proto (Import/Generated/onnx.pb.swift, see
/// tools/protos/generate-onnx.sh) and imported by `ONNXImport`.
public enum ONNXFile {
    /// The default-domain opsets Axon imports: 13 (where Softmax, Squeeze and
    /// Unsqueeze took their present form) to the newest of onnx 1.22.
    public static let opsets = 13...25

    /// Reads the model at `path` and imports it (see `ONNXImport.Layout`).
    /// `constants` fixes inputs by name to these values, as if they were
    /// initializers: for models that take their weights as inputs (ONNX's node
    /// tests do). Errors name the file, and the node or tensor at fault.
    public static func load(_ path: String, layout: ONNXImport.Layout = .axon,
                            constants: [String: Tensor] = [:]) throws -> ONNXImport.Imported {
        let bytes = try readWholeFile(path)
        let model: Onnx_ModelProto
        do {
            model = try Onnx_ModelProto(serializedBytes: bytes)
        } catch {
            throw AxonError.file(path: path, "is not an ONNX model (a binary ModelProto protocol buffer): \(error)")
        }
        do {
            return try ONNXImport.importModel(model, layout: layout, constants: constants)
        } catch let AxonError.invalidArgument(message) {
            throw AxonError.file(path: path, message)
        } catch let error as AxonError {
            if case .file = error { throw error }
            throw AxonError.file(path: path, "the imported network does not build: \(error)")   // e.g. a window larger than its input
        }
    }

    /// One TensorProto file (the backend tests' input_0.pb, output_0.pb): its name and values.
    public static func readTensor(_ path: String) throws -> (name: String, tensor: Tensor) {
        let bytes = try readWholeFile(path)
        do {
            let t = try Onnx_TensorProto(serializedBytes: bytes)
            let c = try constant(t)
            return (t.name, c.tensor)
        } catch let AxonError.invalidArgument(message) {
            throw AxonError.file(path: path, message)
        } catch {
            throw AxonError.file(path: path, "is not an ONNX TensorProto: \(error)")
        }
    }

    /// A TensorProto's values as floats (integers converted), checked against its shape.
    static func constant(_ t: Onnx_TensorProto) throws -> TFConstant {
        let what = t.name.isEmpty ? "a tensor" : "tensor \"\(t.name)\""
        let shape = t.dims.map { Int(clamping: $0) }
        guard shape.allSatisfy({ $0 >= 0 }), let count = ModelFile.checkedProduct(shape), count <= GraphDefFile.maxConstant else {
            throw AxonError.invalidArgument("\(what): shape \(shape) is invalid or too large")
        }
        if t.dataLocation == .external {
            let file = t.externalData.first { $0.key == "location" }?.value ?? "?"
            throw AxonError.invalidArgument("\(what) keeps its data in the external file \"\(file)\", which Axon does not read; "
                + "save the model with its data inside (onnx.save_model(m, path, save_as_external_data=False))")
        }
        func raw<T: FixedWidthInteger>(_ type: T.Type) throws -> [T] {
            guard let values = ImportSupport.littleEndian(t.rawData, count: count, as: T.self) else {
                throw AxonError.invalidArgument("\(what): raw_data holds \(t.rawData.count) bytes, shape \(shape) needs \(count * MemoryLayout<T>.size)")
            }
            return values
        }
        func typed<T>(_ values: [T], _ field: String) throws -> [T] {
            guard values.count == count else {
                throw AxonError.invalidArgument("\(what): \(field) holds \(values.count) values, shape \(shape) needs \(count)")
            }
            return values
        }
        let useRaw = t.hasRawData
        let values: [Float]
        switch Onnx_TensorProto.DataType(rawValue: Int(t.dataType)) {
        case .float?: values = useRaw ? try raw(UInt32.self).map { Float(bitPattern: $0) } : try typed(t.floatData, "float_data")
        case .double?:
            values = useRaw ? try raw(UInt64.self).map { Float(Double(bitPattern: $0)) } : try typed(t.doubleData, "double_data").map { Float($0) }
        case .int32?: values = useRaw ? try raw(Int32.self).map { Float($0) } : try typed(t.int32Data, "int32_data").map { Float($0) }
        case .int64?: values = useRaw ? try raw(Int64.self).map { Float($0) } : try typed(t.int64Data, "int64_data").map { Float($0) }
        case .int8?: values = useRaw ? try raw(Int8.self).map { Float($0) } : try typed(t.int32Data, "int32_data").map { Float($0) }
        case .uint8?: values = useRaw ? try raw(UInt8.self).map { Float($0) } : try typed(t.int32Data, "int32_data").map { Float($0) }
        case .int16?: values = useRaw ? try raw(Int16.self).map { Float($0) } : try typed(t.int32Data, "int32_data").map { Float($0) }
        case .uint16?: values = useRaw ? try raw(UInt16.self).map { Float($0) } : try typed(t.int32Data, "int32_data").map { Float($0) }
        case .uint32?: values = useRaw ? try raw(UInt32.self).map { Float($0) } : try typed(t.uint64Data, "uint64_data").map { Float($0) }
        case .uint64?: values = useRaw ? try raw(UInt64.self).map { Float($0) } : try typed(t.uint64Data, "uint64_data").map { Float($0) }
        case .bool?: values = useRaw ? try raw(UInt8.self).map { Float($0) } : try typed(t.int32Data, "int32_data").map { Float($0) }
        default:
            throw AxonError.invalidArgument("\(what): data type \(t.dataType) is not supported (float, double and integers)")
        }
        return TFConstant(shape: shape, values: values)
    }

    /// One attribute, in the form the importer reads (shared with the GraphDef importer).
    static func attr(_ a: Onnx_AttributeProto) throws -> TFAttr {
        switch a.type {
        case .int: return .int(Int(clamping: a.i))
        case .float: return .float(a.f)
        case .string: return .string(String(decoding: a.s, as: UTF8.self))
        case .ints: return .ints(a.ints.map { Int(clamping: $0) })
        case .floats: return .floats(a.floats)
        case .strings: return .strings(a.strings.map { String(decoding: $0, as: UTF8.self) })
        case .tensor: return .tensor(try constant(a.t))
        default: return .other
        }
    }

    static func node(_ n: Onnx_NodeProto, index: Int) throws -> ONNXNode {
        let name = n.name.isEmpty ? "\(n.opType)_\(index)" : n.name
        var attrs: [String: TFAttr] = [:]
        for a in n.attribute {
            do { attrs[a.name] = try attr(a) } catch let AxonError.invalidArgument(m) {
                throw AxonError.invalidArgument("node \"\(name)\" (op \(n.opType)): attribute \(a.name): \(m)")
            }
        }
        return ONNXNode(name: name, op: n.opType, domain: n.domain, inputs: n.input, outputs: n.output, attrs: attrs)
    }
}

/// One ONNX node, decoded: inputs and outputs are value names ("" for an omitted optional input).
struct ONNXNode {
    var name: String
    var op: String
    var domain: String
    var inputs: [String]
    var outputs: [String]
    var attrs: [String: TFAttr]
}
