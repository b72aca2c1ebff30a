import Testing
@testable import TidemarkSQLite

struct SQLiteProcessPRNGTests {
    /// The same seed gives SQLite's PRNG the same stream; another seed another stream.
    @Test func seedDecidesTheStream() {
        let first = SQLiteProcessPRNG.withSeed(42) { SQLiteProcessPRNG.bytes(32) }
        let again = SQLiteProcessPRNG.withSeed(42) { SQLiteProcessPRNG.bytes(32) }
        let other = SQLiteProcessPRNG.withSeed(43) { SQLiteProcessPRNG.bytes(32) }
        #expect(first == again)
        #expect(first != other)
        // Seeds that differ only in their high half still differ once folded.
        let high = SQLiteProcessPRNG.withSeed(42 | (1 << 40)) { SQLiteProcessPRNG.bytes(32) }
        #expect(high != first)
    }
}
