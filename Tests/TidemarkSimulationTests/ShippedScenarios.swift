import Foundation

@testable import TidemarkSimulation

/// The scenario `Scenarios/<name>.yaml`, as shipped: regression tests replay its seeds.
func shippedScenario(_ name: String) throws -> Scenario {
    let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Scenarios/\(name).yaml").standardized.path
    return try ScenarioParser.load(file: file)
}
