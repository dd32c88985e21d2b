/// Axon's version, printed by `axon --version` and recorded in the model files it writes (`axon.version`).
public enum AxonVersion {
    public static let string = "0.4.0"
}
