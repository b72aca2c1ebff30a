import Foundation
import Testing
@testable import TidemarkSimulation

/// The liveness probe after the last recovery (a put and a checkpoint) may be the first to read
/// a page that bit rot struck earlier: the subject detecting it is correct, not a liveness
/// failure. `tiers-bit-rot` seed 448 (seed 128, found by `make run`, until open's rewrite of
/// unproven frames changed the traces): a damaged page in `cold.sqlite` that SQLite first reads
/// when the probe's checkpoint flushes.
struct LivenessProbeTests {
    @Test func corruptionThatStruckEarlierAndSurfacesAtTheProbeIsADetection() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Scenarios/tiers-bit-rot.yaml").standardized.path
        let result = SimulationRun(scenario: try ScenarioParser.load(file: file), seed: 448).execute()
        #expect(result.violation == nil, "\(result.violation.map { "\($0.invariant): \($0.message)" } ?? "")")
        #expect(result.stoppedEarly?.contains("detected corruption") == true, "\(result.stoppedEarly ?? "ran to the end")")
    }
}
