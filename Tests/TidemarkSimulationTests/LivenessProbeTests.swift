import Testing
@testable import TidemarkSimulation

/// The liveness probe after the last recovery (a put and a checkpoint) may be the first to read
/// a page that damage struck earlier: the subject detecting it is correct, not a liveness
/// failure. `tiers-misdirected-writes` seed 499 (earlier `tiers-bit-rot` seeds 128 and 448, until
/// trace changes and the move of misdirected writes out of that scenario): a `cold.sqlite` page
/// a misdirected write damaged, which SQLite first reads when the probe's checkpoint flushes.
struct LivenessProbeTests {
    @Test func corruptionThatStruckEarlierAndSurfacesAtTheProbeIsADetection() throws {
        let result = SimulationRun(scenario: try shippedScenario("tiers-misdirected-writes"), seed: 499).execute()
        #expect(result.violation == nil, "\(result.violation.map { "\($0.invariant): \($0.message)" } ?? "")")
        #expect(result.stoppedEarly?.contains("detected corruption") == true, "\(result.stoppedEarly ?? "ran to the end")")
    }
}
