import Testing
import Axon
@Test func reshapeKeepsScalars() throws {
    let t = try Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
    let r = try t.reshaped([3, -1])
    #expect(r.shape == [3, 2] && r.scalars == t.scalars)
    #expect(throws: AxonError.self) { try t.reshaped([4, 2]) }
}
