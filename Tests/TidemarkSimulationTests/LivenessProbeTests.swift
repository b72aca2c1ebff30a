import Testing
@testable import TidemarkSimulation

/// The liveness probe after the last recovery (a put and a checkpoint) may be the first to read
/// a page that damage struck earlier: the subject detecting it is correct, not a liveness
/// failure. `tiers-misdirected-writes` seed 25 (seed 499 until open stopped checkpointing after an
/// unproven replay; earlier `tiers-bit-rot` seeds 128 and 448, until trace changes and the move of
/// misdirected writes out of that scenario): a `cold.sqlite` page
/// a misdirected write damaged, which SQLite first reads when the probe's checkpoint flushes.
struct LivenessProbeTests {
    @Test func corruptionThatStruckEarlierAndSurfacesAtTheProbeIsADetection() throws {
        let result = SimulationRun(scenario: try shippedScenario("tiers-misdirected-writes"), seed: 25).execute()
        #expect(result.violation == nil, "\(result.violation.map { "\($0.invariant): \($0.message)" } ?? "")")
        #expect(result.stoppedEarly?.contains("detected corruption") == true, "\(result.stoppedEarly ?? "ran to the end")")
    }

    /// The liveness check's `verify` may be the first to see a stale `cold.sqlite` page a
    /// misdirected write left (its checksum holds; the rows disagree with the meta table):
    /// a detection of the damage that struck, not untidiness. `tiers-misdirected-writes` seed
    /// 740 (801 and 746 until commits carried their time): the write struck a page as the cold
    /// tier's open copied its WAL into the database.
    @Test func verifyFindingDamageInAStruckFileIsADetection() throws {
        let result = SimulationRun(scenario: try shippedScenario("tiers-misdirected-writes"), seed: 740).execute()
        #expect(result.violation == nil, "\(result.violation.map { "\($0.invariant): \($0.message)" } ?? "")")
        #expect(result.stoppedEarly?.contains("verify detected damage") == true, "\(result.stoppedEarly ?? "ran to the end")")
    }
}
