import CKernels
public enum AxonVersion { public static let string = "0.1.0" }
