import Testing
@testable import TidemarkSimulatedDisk

/// Names are ordered by their UTF-8 bytes (directory listings, crash clones, image hashes): the
/// contiguous fast path of `bytewiseLess` against the generic comparison it replaces.
struct BytewiseOrderTests {
    static let names = [
        "", "a", "b", "ab", "abc", "abd", "wal-0000000000000001.log", "wal-0000000000000010.log", "MANIFEST",
        "checkpoint-0000000000000004.ckpt", "checkpoint-0000000000000004.ckpt.tmp", "Z", "é", "e\u{301}", "ü", "😀",
        "a\u{0}", "a\u{0}b", "\u{7F}", "\u{80}", "日本", "日",
    ]

    @Test func agreesWithTheGenericByteComparison() {
        for a in Self.names {
            for b in Self.names {
                #expect(bytewiseLess(a, b) == a.utf8.lexicographicallyPrecedes(b.utf8), "\(a.debugDescription) < \(b.debugDescription)")
            }
        }
    }

    @Test func isBytewiseNotUnicodeOrder() {
        // Swift's `<` treats the two spellings of é as equal; bytes do not.
        #expect(bytewiseLess("e\u{301}", "é"))
        #expect(!bytewiseLess("é", "e\u{301}"))
        #expect(bytewiseLess("Z", "a"))
        #expect(bytewiseLess("a", "a\u{0}"))
    }
}
