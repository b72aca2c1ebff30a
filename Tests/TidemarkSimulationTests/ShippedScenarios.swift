import Foundation

@testable import TidemarkSimulation

/// The scenario `Scenarios/<name>.yaml`, as shipped: regression tests replay its seeds.
func shippedScenario(_ name: String) throws -> Scenario {
    let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Scenarios/\(name).yaml").standardized.path
    return try ScenarioParser.load(file: file)
}

/// Runs `scenario` over `seeds`: how many violations `isCatch` accepts, and the others, described.
func violationsCaught(
    _ scenario: Scenario, seeds: ClosedRange<UInt64>, by isCatch: (Violation) -> Bool
) -> (caught: Int, other: [String]) {
    var (caught, other) = (0, [String]())
    for seed in seeds {
        guard let violation = SimulationRun(scenario: scenario, seed: seed).execute().violation else { continue }
        if isCatch(violation) { caught += 1 } else { other.append("seed \(seed): \(violation.invariant) \(violation.message)") }
    }
    return (caught, other)
}
