import Testing
@testable import TidemarkSimulation

/// An operation a crash cut short after its commit record was durable committed: the checker
/// requires it after recovery (`Subject.inFlightCommitRecord`, `SimulatedFileSystem.isDurable`).
struct InFlightCommitTests {
    /// `cutLogAtRecordedDurableEnd` loses nothing acknowledged (SYNCED is written after every
    /// sync, before the commit returns), only commits cut short between their log sync and
    /// SYNCED's update. Without the rule no seed catches it (checked by disabling it).
    @Test func aRecoveryThatCutsADurableInterruptedCommitIsCaught() throws {
        try expectCaughtOnlyWithTheCanary("canary-cut-at-synced-record", seeds: 1...30, atLeast: 6) {
            $0.invariant == .durability && $0.message.contains("after its commit record was durable")
        }
    }
}
