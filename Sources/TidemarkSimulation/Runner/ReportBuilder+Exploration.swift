import TidemarkReports
import TidemarkSimulatedDisk

/// Exhaustive exploration as report data: the same `ScenarioReport` a campaign writes, with its
/// vulnerabilities (each model a scenario was explored under merged into one list) and figures.
extension ReportBuilder {
    /// One scenario report per scenario in `outcomes` (several models of one scenario merge).
    public static func scenarioReports(_ outcomes: [ExplorationOutcome], reportDir: String) -> [ScenarioReport] {
        var names: [String] = []
        for outcome in outcomes where !names.contains(outcome.scenario.name) { names.append(outcome.scenario.name) }
        return names.map { name in scenarioReport(outcomes.filter { $0.scenario.name == name }, reportDir: reportDir) }
    }

    /// With several models a safe scenario must be clean under each; a canary must be caught
    /// under the weakest model explored (a stronger one may rightly hide it).
    static func expectation(_ group: [ExplorationOutcome]) -> (met: Bool, message: String) {
        if group[0].scenario.expect == .pass { return group.first { !$0.expectation.met }?.expectation ?? group[0].expectation }
        let weakest = PersistenceModel.allCases.compactMap { model in group.first { $0.settings.model == model } }.first!
        return weakest.expectation
    }

    private static func scenarioReport(_ group: [ExplorationOutcome], reportDir: String) -> ScenarioReport {
        let scenario = group[0].scenario
        let expectation = expectation(group)
        let runFailures = group.flatMap(\.runFailures)
        let vulnerabilities = vulnerabilityReports(group)
        // Each failing seed counts once, under an invariant it broke that the scenario does not
        // expect if there is one (so the totals' unexpected failures are seeds, as in `run`).
        var brokenBySeed: [UInt64: Invariant] = [:]
        let broken = runFailures.map { ($0.seed, $0.violation.invariant) }
            + group.flatMap(\.vulnerabilities).flatMap { vulnerability in vulnerability.seeds.map { ($0, vulnerability.invariant) } }
        for (seed, invariant) in broken where brokenBySeed[seed].map(scenario.allows) ?? true {
            brokenBySeed[seed] = invariant
        }
        let failingSeeds = Set(brokenBySeed.keys)
        var invariants: [String: Int] = [:]
        for invariant in brokenBySeed.values { invariants[invariant.rawValue, default: 0] += 1 }
        return ScenarioReport(
            name: scenario.name, file: group[0].file, subject: scenario.subject.kind.rawValue, configuration: scenario.subject.options,
            expect: scenario.expect, expectedInvariants: scenario.expectInvariants.map(\.rawValue),
            runs: group[0].seeds, passed: group[0].seeds - failingSeeds.count, failed: failingSeeds.count,
            expectationMet: expectation.met, expectationMessage: expectation.message,
            failures: runFailures.map { failure in
                FailureReport(seed: failure.seed, invariant: failure.violation.invariant.rawValue, message: failure.violation.message,
                              failureFile: failure.failureFile, operationIndex: failure.violation.stepIndex)
            },
            distinctViolations: runFailures.count + vulnerabilities.count,
            invariantViolations: invariants, reportDir: reportDir,
            exploration: figures(group), vulnerabilities: vulnerabilities)
    }

    /// What the outcomes covered, summed over models.
    static func figures(_ group: [ExplorationOutcome]) -> ExplorationFigures {
        var statistics = CrashExplorer.Statistics()
        for outcome in group { statistics.add(outcome.statistics) }
        let seconds = group.reduce(0) { $0 + $1.exploringSeconds }
        return ExplorationFigures(
            models: group.map(\.settings.model.rawValue), stateBudget: group[0].settings.stateBudget, points: statistics.points,
            statesEnumerated: statistics.statesEnumerated, statesChecked: statistics.statesChecked,
            violatingStates: statistics.violatingStates, boundedPoints: statistics.boundedPoints,
            truncatedPoints: statistics.truncatedPoints,
            statesPerSecondPerCore: seconds > 0 ? Double(statistics.statesChecked) / seconds : 0,
            secondsToFirstCatch: group.compactMap(\.secondsToFirstCatch).min())
    }

    /// The vulnerabilities of one scenario's outcomes, merged by cause and invariant across
    /// models (the first model's reproducer and counts), most states first.
    static func vulnerabilityReports(_ group: [ExplorationOutcome]) -> [VulnerabilityReport] {
        let models = group.map(\.settings.model.rawValue)
        var merged: [VulnerabilityReport] = []
        for outcome in group {
            let model = outcome.settings.model.rawValue
            for vulnerability in outcome.vulnerabilities {
                if let index = merged.firstIndex(where: { $0.cause == vulnerability.cause && $0.invariant == vulnerability.invariant.rawValue }) {
                    merged[index].brokenUnder.append(model)
                    merged[index].safeUnder.removeAll { $0 == model }
                    continue
                }
                merged.append(report(vulnerability, scenario: outcome.scenario, safeUnder: models.filter { $0 != model }))
            }
        }
        return merged.enumerated().sorted { ($0.element.states, $1.offset) > ($1.element.states, $0.offset) }.map(\.element)
    }

    static func report(_ vulnerability: Vulnerability, scenario: Scenario, safeUnder: [String]) -> VulnerabilityReport {
        VulnerabilityReport(
            cause: vulnerability.cause, invariant: vulnerability.invariant.rawValue, brokenUnder: [vulnerability.model.rawValue],
            safeUnder: safeUnder, states: vulnerability.states, seeds: vulnerability.seeds.sorted(),
            expected: scenario.allows(vulnerability.invariant), message: vulnerability.message,
            state: "\(vulnerability.reproducer.point.label), seed \(vulnerability.reproducerSeed): \(vulnerability.reproducer.state)",
            reproduce: vulnerability.failureFile.map { "tidemark replay \(ShellQuoting.quote($0))" } ?? "(no failure file was written)")
    }
}
