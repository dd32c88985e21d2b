import Testing
@testable import Axon
@Test func version() { #expect(AxonVersion.string == "0.1.0") }
