import Foundation

/// A layer that can be written to a model file and read back: it names its
/// kind and writes and reads its own configuration.
///
/// Adding a layer kind to Axon is one file that conforms to this protocol and
/// one line in `LayerRegistry.builtIn`; model files, checkpoints and
/// `axon inspect` then handle it with no other change. Parameters and state
/// tensors (`updateParameters`, `updateState`) and random-stream counters
/// (`updateCounters`) are saved by name; the configuration holds only the
/// arguments of the initialiser.
public protocol SerializableLayer: Layer {
    /// The name in the file's "kind" field, e.g. "Conv2D".
    static var kind: String { get }
    /// A new, unbuilt layer from a configuration written by `encode(into:)`;
    /// throws `AxonError.invalidArgument` naming the bad field.
    init(config: LayerConfig) throws
    /// Writes the initialiser's arguments into `config` (whose kind is set).
    func encode(into config: inout LayerConfig) throws
}

/// Maps kind names to layer types.
public enum LayerRegistry {
    /// Axon's own layers. A new kind of Axon's is one line here.
    nonisolated(unsafe) static let builtIn: [any SerializableLayer.Type] = [
        Dense.self, Conv2D.self, DepthwiseConv2D.self, MaxPool2D.self, AvgPool2D.self, StochasticPool2D.self,
        GlobalAveragePool2D.self, ZeroPadding2D.self, BatchNorm.self, Dropout.self, Flatten.self, Reshape.self,
        LSTM.self, ReLU.self, ReLU6.self, Sigmoid.self, Tanh.self, Softmax.self, LogSoftmax.self, Permute.self,
        Clip.self, Concatenate.self, Add.self, Multiply.self, Divide.self,
        Sequential.self, Graph.self,
    ]

    private static let lock = NSLock()
    nonisolated(unsafe) private static var registered: [String: any SerializableLayer.Type] =
        Dictionary(builtIn.map { ($0.kind, $0) }, uniquingKeysWith: { a, _ in a })

    /// Registers a layer type of the caller's, so model files holding its kind load.
    /// Throws if another type already has that kind name.
    public static func register(_ type: any SerializableLayer.Type) throws {
        lock.lock()
        defer { lock.unlock() }
        if let existing = registered[type.kind], existing != type {
            throw AxonError.invalidArgument("layer kind \"\(type.kind)\" is already registered by \(existing)")
        }
        registered[type.kind] = type
    }

    /// The type registered for `kind`, if any.
    public static func type(named kind: String) -> (any SerializableLayer.Type)? {
        lock.lock()
        defer { lock.unlock() }
        return registered[kind]
    }

    /// Every registered kind, sorted.
    public static var kinds: [String] {
        lock.lock()
        defer { lock.unlock() }
        return registered.keys.sorted()
    }
}
