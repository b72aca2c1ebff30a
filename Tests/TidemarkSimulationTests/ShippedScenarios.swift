import Foundation
import Testing

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

/// A planted bug only a checker rule sees: the shipped canary scenario's first `seeds` seeds
/// catch it at least `atLeast` times by `isCatch` (and break nothing else), and the same
/// scenario without the canary catches nothing.
func expectCaughtOnlyWithTheCanary(
    _ name: String, seeds: ClosedRange<UInt64>, atLeast: Int, by isCatch: (Violation) -> Bool,
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    let canary = try shippedScenario(name)
    let found = violationsCaught(canary, seeds: seeds, by: isCatch)
    #expect(found.caught >= atLeast && found.other.isEmpty, "\(found.caught) of \(seeds.count) caught; \(found.other)", sourceLocation: sourceLocation)
    var correct = canary
    correct.subject.options["canary"] = nil
    let clean = violationsCaught(correct, seeds: seeds, by: isCatch)
    #expect(clean.caught == 0 && clean.other.isEmpty, "the store without the canary: \(clean)", sourceLocation: sourceLocation)
}
