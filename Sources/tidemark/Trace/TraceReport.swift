import Foundation
import TidemarkReports
import TidemarkSimulation
import TidemarkTrace

/// A trace exploration as the campaign report every other verifier command writes: one
/// scenario (the trace), its figures and its vulnerabilities, each with the `trace materialize`
/// command that recreates its example state.
enum TraceReport {
    static func report(_ result: Explorer.Result, input: TraceStatesInput, check: String, jobs: Int, createdAt: String) -> CampaignReport {
        let name = URL(fileURLWithPath: input.file).lastPathComponent
        let failed = !result.vulnerabilities.isEmpty
        let message = !result.complete ? "incomplete: the time budget ran out before every state was checked"
            : failed ? "\(result.inconsistent) inconsistent crash states, \(result.vulnerabilities.count) vulnerabilities"
            : "all \(result.statesChecked) distinct crash states are consistent"
        var configuration = ["check": check, "enumerator": result.enumerator, "model": input.model]
        if !result.unmodelled.isEmpty { configuration["unmodelled"] = result.unmodelled.joined(separator: "; ") }
        let scenario = ScenarioReport(
            name: name, file: input.file, subject: "trace", configuration: configuration, expect: .pass,
            runs: 1, passed: failed ? 0 : 1, failed: failed ? 1 : 0,
            expectationMet: !failed && result.complete, expectationMessage: message, distinctViolations: result.vulnerabilities.count,
            invariantViolations: failed ? ["checker": 1] : [:],
            exploration: ExplorationFigures(
                models: [input.model], stateBudget: input.enumerator ? input.stateBudget : 0, points: result.points,
                statesEnumerated: result.statesEnumerated, statesChecked: result.statesChecked, violatingStates: result.inconsistent),
            vulnerabilities: result.vulnerabilities.map { vulnerabilityReport($0, result: result, input: input) })
        return CampaignReport(
            name: "\(createdAt.replacingOccurrences(of: ":", with: "-"))-trace-\(name)", createdAt: createdAt, build: BuildInfo.identity,
            jobs: jobs, durationSeconds: result.seconds, expectationsMet: scenario.expectationMet, scenarios: [scenario])
    }

    static func vulnerabilityReport(_ vulnerability: Explorer.Vulnerability, result: Explorer.Result, input: TraceStatesInput) -> VulnerabilityReport {
        let example = result.states.first { $0.id == vulnerability.example }
        let lost = example.map { $0.lost.isEmpty ? "nothing lost" : "lost " + $0.lost.joined(separator: "; ") } ?? ""
        return VulnerabilityReport(
            cause: vulnerability.cause, invariant: "checker", brokenUnder: [input.model], states: vulnerability.states.count, seeds: [],
            expected: false, message: vulnerability.checkerOutput.prefix(3).joined(separator: " / "),
            state: "state \(vulnerability.example) (\(example?.point ?? "")): \(lost)",
            reproduce: "tidemark trace materialize \(ShellQuoting.quote(input.file))\(input.stateFlags) --state \(vulnerability.example) --out DIR")
    }
}
