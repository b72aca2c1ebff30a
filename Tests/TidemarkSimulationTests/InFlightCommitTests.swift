import Testing
@testable import TidemarkSimulation

/// An operation a crash cut short after its commit record was durable committed: the checker
/// requires it after recovery (`Subject.inFlightCommitRecord`, `SimulatedFileSystem.isDurable`).
struct InFlightCommitTests {
    static func durabilityViolations(_ scenario: Scenario, seeds: ClosedRange<UInt64>) -> (caught: Int, other: [String]) {
        violationsCaught(scenario, seeds: seeds) { $0.invariant == .durability && $0.message.contains("after its commit record was durable") }
    }

    /// `cutLogAtRecordedDurableEnd` loses nothing acknowledged (SYNCED is written after every
    /// sync, before the commit returns), only commits cut short between their log sync and
    /// SYNCED's update. Without the rule no seed catches it (checked by disabling it).
    @Test func aRecoveryThatCutsADurableInterruptedCommitIsCaught() throws {
        let canary = try shippedScenario("canary-cut-at-synced-record")
        let found = Self.durabilityViolations(canary, seeds: 1...30)
        #expect(found.caught >= 6 && found.other.isEmpty, "\(found.caught) of 30 caught; \(found.other)")

        var correct = canary
        correct.subject.options["canary"] = nil
        let clean = Self.durabilityViolations(correct, seeds: 1...30)
        #expect(clean.caught == 0 && clean.other.isEmpty, "the store without the canary: \(clean)")
    }
}
