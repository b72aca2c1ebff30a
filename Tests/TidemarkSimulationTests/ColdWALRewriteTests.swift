import Testing
@testable import TidemarkSimulation

/// The cold tier's open writes its WAL again before SQLite reads it (`ColdTier.rewriteWAL`).
/// In place, a power loss inside that rewrite garbled sectors that were already durable on a
/// disk without powersafe overwrite, a committed cold flush among them, and the next open found
/// the cold tier behind the checkpoint relying on it (`synced-record` seed 645, once open no
/// longer checkpointed after an unproven replay). Through a file that replaces it atomically,
/// the durable WAL is never written over.
struct ColdWALRewriteTests {
    @Test func aPowerLossInsideTheOpensWALRewriteLosesNoCommittedFlush() throws {
        let result = SimulationRun(scenario: try shippedScenario("synced-record"), seed: 645).execute()
        #expect(result.violation == nil, "\(result.violation.map { "\($0.invariant): \($0.message)" } ?? "")")
    }
}
