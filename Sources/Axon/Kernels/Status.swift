import CKernels

/// Turns a C kernel status into a thrown error: the one place where that happens.
@inline(__always)
func check(_ status: Int32, _ function: @autoclosure () -> String) throws {
    if status != 0 {
        throw AxonError.kernel(function(), String(cString: ck_status_string(status)))
    }
}
