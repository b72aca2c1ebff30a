/// A campaign's exhaustive scenario: its tallied vulnerabilities, each pinned in a failure file.
extension ScenarioOutcome {
    /// Explores each vulnerability's first seed again (deterministic: the same states) to pin its
    /// crash state in a failure file; states and seeds are the tally's.
    static func pinned(
        _ tallied: [VulnerabilityTally], scenario: Scenario, file: String, settings: ExplorationSettings, failureDirectory: String
    ) throws -> [Vulnerability] {
        let seeds = Set(tallied.compactMap { $0.seeds.min() }).sorted()
        let outcomes = seeds.map { Exploration.explore(scenario, seed: $0, settings: settings) }
        let explored = try ExplorationOutcome(
            scenario: scenario, file: file, settings: settings, seeds: outcomes, elapsedSeconds: 0, failureDirectory: failureDirectory)
        return try tallied.map { entry in
            guard var vulnerability = explored.vulnerabilities.first(where: { $0.cause == entry.cause && $0.invariant == entry.invariant }) else {
                throw VerifierError("\(scenario.name) seed \(entry.seeds.min() ?? 0) explored differently the second time (no \(entry.invariant.rawValue) state with cause \"\(entry.cause)\"): the run is not deterministic, or the shards came from another build")
            }
            vulnerability.states = entry.states
            vulnerability.seeds = entry.seeds.sorted()
            return vulnerability
        }.sorted { ($0.states, $1.cause) > ($1.states, $0.cause) }
    }
}
