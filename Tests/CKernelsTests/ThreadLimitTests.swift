// ck_set_num_threads refuses counts above ck_max_threads (issue 21: --threads 100000).
import CKernels
import Testing

@Suite(.serialized) struct ThreadLimitTests {
    @Test func countsAboveTheLimitAreRefusedAndChangeNothing() {
        let before = ck_get_num_threads()
        defer { ck_set_num_threads(before) }
        let limit = ck_max_threads()
        #expect(limit >= 1 && limit <= 256 || limit == ck_get_num_threads(), "limit \(limit)")
        #expect(ck_set_num_threads(100_000) == Int32(CK_EINVAL.rawValue))
        #expect(ck_set_num_threads(limit + 1) == Int32(CK_EINVAL.rawValue))
        #expect(ck_get_num_threads() == before, "a refused count changed the setting")
        #expect(ck_set_num_threads(limit) == ok && ck_get_num_threads() == limit)
        #expect(ck_set_num_threads(0) == ok && ck_get_num_threads() >= 1)
    }
}
