import Foundation

/// The configuration of one layer: its kind and the arguments of its
/// initialiser, enough to rebuild it without the code that created it. Stored
/// as JSON (snake_case keys, absent fields omitted) in a model file's
/// `axon.architecture` metadata, e.g.
///
///     {"kind":"Conv2D","filters":6,"kernel_size":[5,5],"strides":[1,1],"padding":"same","activation":"relu",
///      "kernel_initializer":{"kind":"glorot_uniform"},"bias_initializer":{"kind":"zeros"}}
///
/// Kinds: Dense, Conv2D, MaxPool2D, AvgPool2D, StochasticPool2D, Dropout,
/// Flatten, Reshape, LSTM, ReLU, Sigmoid, Tanh, Softmax and Sequential (with
/// `layers`, `seed` and, at the top level, `input_shape`).
public struct LayerConfig: Codable, Equatable, Sendable {
    public var kind: String
    public var units: Int?
    public var filters: Int?
    public var kernelSize: [Int]?
    public var strides: [Int]?
    public var poolSize: [Int]?
    public var padding: Padding?
    public var activation: Activation?
    public var rate: Float?
    public var shape: [Int]?
    public var returnSequences: Bool?
    public var unitForgetBias: Bool?
    public var kernelInitializer: InitializerConfig?
    public var biasInitializer: InitializerConfig?
    public var recurrentInitializer: InitializerConfig?
    public var seed: UInt64?
    public var inputShape: [Int]?
    public var layers: [LayerConfig]?

    public init(kind: String) { self.kind = kind }

    enum CodingKeys: String, CodingKey {
        case kind, units, filters, strides, padding, activation, rate, shape, seed, layers
        case kernelSize = "kernel_size", poolSize = "pool_size", returnSequences = "return_sequences"
        case unitForgetBias = "unit_forget_bias", kernelInitializer = "kernel_initializer"
        case biasInitializer = "bias_initializer", recurrentInitializer = "recurrent_initializer"
        case inputShape = "input_shape"
    }

    /// Every kind `makeLayer()` knows.
    public static let kinds = ["Dense", "Conv2D", "MaxPool2D", "AvgPool2D", "StochasticPool2D", "Dropout", "Flatten",
                               "Reshape", "LSTM", "ReLU", "Sigmoid", "Tanh", "Softmax", "Sequential"]

    /// Largest dimension or count accepted from a file: keeps every size
    /// computation far from overflow whatever the file says.
    static let maxDimension = 1 << 24

    /// The configuration of `layer`; throws for layer types Axon cannot save.
    public init(_ layer: any Layer) throws {
        switch layer {
        case let l as Dense:
            self.init(kind: "Dense")
            units = l.units; activation = l.activation
            kernelInitializer = InitializerConfig(l.kernelInitializer); biasInitializer = InitializerConfig(l.biasInitializer)
        case let l as Conv2D:
            self.init(kind: "Conv2D")
            filters = l.filters; kernelSize = [l.kernelSize.height, l.kernelSize.width]
            strides = [l.strides.height, l.strides.width]; padding = l.padding; activation = l.activation
            kernelInitializer = InitializerConfig(l.kernelInitializer); biasInitializer = InitializerConfig(l.biasInitializer)
        case let l as MaxPool2D: self.init(kind: "MaxPool2D", window: l.window)
        case let l as AvgPool2D: self.init(kind: "AvgPool2D", window: l.window)
        case let l as StochasticPool2D: self.init(kind: "StochasticPool2D", window: l.window)
        case let l as Dropout: self.init(kind: "Dropout"); rate = l.rate
        case is Flatten: self.init(kind: "Flatten")
        case let l as Reshape: self.init(kind: "Reshape"); shape = l.shape
        case let l as LSTM:
            self.init(kind: "LSTM")
            units = l.units; returnSequences = l.returnSequences; unitForgetBias = l.unitForgetBias
            kernelInitializer = InitializerConfig(l.kernelInitializer)
            recurrentInitializer = InitializerConfig(l.recurrentInitializer)
        case is ReLU: self.init(kind: "ReLU")
        case is Sigmoid: self.init(kind: "Sigmoid")
        case is Tanh: self.init(kind: "Tanh")
        case is Softmax: self.init(kind: "Softmax")
        case let l as Sequential:
            self.init(kind: "Sequential")
            seed = l.seed; inputShape = l.inputShape
            layers = try l.layers.map { try LayerConfig($0) }
        default:
            throw AxonError.invalidArgument("cannot save a layer of type \(type(of: layer)) (\(layer.summary)); "
                                            + "model files hold \(LayerConfig.kinds.joined(separator: ", "))")
        }
    }

    private init(kind: String, window: PoolWindow) {
        self.init(kind: kind)
        poolSize = [window.size.height, window.size.width]
        strides = [window.stride.height, window.stride.width]
        padding = window.padding
    }

    /// A new, unbuilt layer with this configuration. `path` names the layer in errors (e.g. "layers.3").
    public func makeLayer(path: String = "layer") throws -> any Layer {
        func bad(_ message: String) -> AxonError { .invalidArgument("\(path) (\(kind)): \(message)") }
        func need<T>(_ value: T?, _ field: String) throws -> T {
            guard let value else { throw bad("missing \"\(field)\"") }
            return value
        }
        func count(_ value: Int?, _ field: String) throws -> Int {
            let v = try need(value, field)
            guard v >= 1, v <= LayerConfig.maxDimension else { throw bad("\(field) \(v) is outside 1...\(LayerConfig.maxDimension)") }
            return v
        }
        func pair(_ value: [Int]?, _ field: String) throws -> (Int, Int) {
            let v = try need(value, field)
            guard v.count == 2, v.allSatisfy({ $0 >= 1 && $0 <= LayerConfig.maxDimension }) else {
                throw bad("\(field) must be two integers in 1...\(LayerConfig.maxDimension), got \(v)")
            }
            return (v[0], v[1])
        }
        func initializer(_ value: InitializerConfig?, _ field: String, default d: Initializer) throws -> Initializer {
            guard let value else { return d }
            do { return try value.initializer() } catch { throw bad("\(field): \(error)") }
        }
        switch kind {
        case "Dense":
            return Dense(try count(units, "units"), activation: try need(activation, "activation"),
                         kernelInitializer: try initializer(kernelInitializer, "kernel_initializer", default: .glorotUniform),
                         biasInitializer: try initializer(biasInitializer, "bias_initializer", default: .zeros))
        case "Conv2D":
            return Conv2D(filters: try count(filters, "filters"), kernelSize: try pair(kernelSize, "kernel_size"),
                          strides: try pair(strides, "strides"), padding: try need(padding, "padding"),
                          activation: try need(activation, "activation"),
                          kernelInitializer: try initializer(kernelInitializer, "kernel_initializer", default: .glorotUniform),
                          biasInitializer: try initializer(biasInitializer, "bias_initializer", default: .zeros))
        case "MaxPool2D":
            return MaxPool2D(poolSize: try pair(poolSize, "pool_size"), stride: try pair(strides, "strides"),
                             padding: try need(padding, "padding"))
        case "AvgPool2D":
            return AvgPool2D(poolSize: try pair(poolSize, "pool_size"), stride: try pair(strides, "strides"),
                             padding: try need(padding, "padding"))
        case "StochasticPool2D":
            return StochasticPool2D(poolSize: try pair(poolSize, "pool_size"), stride: try pair(strides, "strides"),
                                    padding: try need(padding, "padding"))
        case "Dropout":
            let r = try need(rate, "rate")
            guard r >= 0, r < 1 else { throw bad("rate \(r) is outside [0, 1)") }
            return Dropout(rate: r)
        case "Flatten": return Flatten()
        case "Reshape":
            let s = try need(shape, "shape")
            guard s.count <= 8, s.allSatisfy({ ($0 >= 1 && $0 <= LayerConfig.maxDimension) || $0 == -1 }),
                  s.filter({ $0 == -1 }).count <= 1 else {
                throw bad("shape \(s) must have at most 8 dimensions in 1...\(LayerConfig.maxDimension), at most one -1")
            }
            return Reshape(s)
        case "LSTM":
            return LSTM(units: try count(units, "units"), returnSequences: returnSequences ?? false,
                        kernelInitializer: try initializer(kernelInitializer, "kernel_initializer", default: .glorotUniform),
                        recurrentInitializer: try initializer(recurrentInitializer, "recurrent_initializer", default: .orthogonal),
                        unitForgetBias: unitForgetBias ?? true)
        case "ReLU": return ReLU()
        case "Sigmoid": return Sigmoid()
        case "Tanh": return Tanh()
        case "Softmax": return Softmax()
        case "Sequential":
            let children = try need(layers, "layers")
            return Sequential(seed: seed ?? 42, layers: try children.enumerated().map { i, c in
                try c.makeLayer(path: "\(path).layers.\(i)")
            })
        default:
            throw AxonError.invalidArgument("\(path): unknown layer kind \"\(kind)\"; known kinds: \(LayerConfig.kinds.joined(separator: ", "))")
        }
    }

    /// The shapes of the parameters a layer of this configuration gets for
    /// examples of `inputShape`, by parameter name, in the layer's order;
    /// computed without allocating them, so a file's tensors can be checked
    /// against its architecture before anything is built.
    func parameterShapes(for inputShape: [Int]) -> [(String, [Int])] {
        switch kind {
        case "Dense": return [("kernel", [inputShape.last ?? 0, units ?? 0]), ("bias", [units ?? 0])]
        case "Conv2D":
            let k = kernelSize ?? [0, 0]
            return [("kernel", [k[0], k[1], inputShape.count == 3 ? inputShape[2] : 0, filters ?? 0]),
                    ("bias", [filters ?? 0])]
        case "LSTM":
            let u = units ?? 0
            return [("kernel", [inputShape.count == 2 ? inputShape[1] : 0, 4 * u]), ("recurrent_kernel", [u, 4 * u]),
                    ("bias", [4 * u])]
        default: return []
        }
    }
}

/// An `Initializer` as JSON: {"kind": "glorot_uniform"}, {"kind": "truncated_normal", "value": 0.1} (the
/// standard deviation), {"kind": "constant", "value": 0.1}, ...
public struct InitializerConfig: Codable, Equatable, Sendable {
    public var kind: String
    public var value: Float?

    public init(_ i: Initializer) {
        switch i {
        case .glorotUniform: kind = "glorot_uniform"
        case .glorotNormal: kind = "glorot_normal"
        case .heNormal: kind = "he_normal"
        case .heUniform: kind = "he_uniform"
        case .truncatedNormal(let std): kind = "truncated_normal"; value = std
        case .constant(let c): kind = "constant"; value = c
        case .zeros: kind = "zeros"
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
