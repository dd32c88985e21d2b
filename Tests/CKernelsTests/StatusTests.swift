import Testing
import CKernels
@Test func statusStrings() { #expect(String(cString: ck_status_string(Int32(CK_OK.rawValue))) == "ok") }
