import Testing
@testable import TidemarkReports

/// The one grouping of crash states into vulnerabilities, on a made-up point: changes
/// 0 "create /a.tmp", 1 "rename /a.tmp → /a", 2 "remove /old", 3 "write to /log"; the subject
/// breaks when the remove persists without the rename (the family's verdicts below).
struct CauseFinderTests {
    static let changes = ["create /a.tmp", "rename /a.tmp → /a", "remove /old", "write to /log"]

    /// Keeping `0..<length` except `dropping` breaks the subject when it keeps 2 without 1.
    static func finder() -> CauseFinder {
        CauseFinder(changes: changes) { length, dropping in
            let kept = Set((0..<length).filter { $0 != dropping })
            // The rename needs its create: dropping 0 loses 1 too.
            let legal = kept.contains(0) ? kept : kept.subtracting([1])
            return legal.contains(2) && !legal.contains(1)
        }
    }

    @Test func aRenameLostWithItsCreateNamesTheSamePairAsTheRenameLostAlone() {
        var finder = Self.finder()
        let alone = finder.cause(fates: [.kept, .lost, .kept, .kept], durabilityInvariant: false)
        let withCreate = finder.cause(fates: [.lost, .lost, .kept, .lost], durabilityInvariant: false)
        #expect(alone == "ordering: rename /a.tmp → /a must persist before remove /old")
        #expect(withCreate == alone)
    }

    @Test func aPairExplainsAStateBeforeAPartialWriteIsSuspected() {
        var finder = Self.finder()
        let torn = finder.cause(fates: [.kept, .lost, .kept, .partial("torn across sectors")], durabilityInvariant: false)
        #expect(torn == "ordering: rename /a.tmp → /a must persist before remove /old")
        // Without a pair the state shows, the partial write is the suspect.
        let onlyTorn = finder.cause(fates: [.kept, .kept, .kept, .partial("torn across sectors")], durabilityInvariant: false)
        #expect(onlyTorn == "atomicity: write to /log torn across sectors")
    }

    @Test func durabilityAndThePageCache() {
        var finder = Self.finder()
        #expect(finder.cause(fates: [.kept, .lost, .lost, .lost], durabilityInvariant: true) == "durability: rename /a.tmp → /a was still pending")
        #expect(finder.cause(fates: [.kept, .kept, .kept, .kept], durabilityInvariant: false) == "page cache: nothing lost already breaks it (so does a process kill)")
        // A checker's verdict (no invariant): durability when losing everything already breaks it.
        var strict = CauseFinder(changes: Self.changes) { length, _ in length < 2 }
        #expect(strict.cause(fates: [.lost, .lost, .lost, .lost], durabilityInvariant: nil) == "durability: rename /a.tmp → /a was still pending")
        #expect(strict.cause(fates: [.kept, .lost, .lost, .lost], durabilityInvariant: nil) == "durability: rename /a.tmp → /a was still pending")
    }
}
