import Foundation
import TidemarkIO

/// A scenario's runs, aggregated, with its distinct violations: one failure file per distinct
/// violation (runs that broke the same invariant with the same message shape form one), up to
/// `failureFilesPerScenario`, unexpected ones first; the rest are counted.
public struct ScenarioOutcome: Sendable {
    public var scenario: Scenario
    public var file: String
    /// The sums over every run, and every failing seed.
    public var tally: CampaignTally
    /// One per kept distinct violation: its first seed.
    public var failures: [Failure]
    /// Distinct violations among all failing runs (kept or not).
    public var distinctViolations: Int
    /// Exhaustive scenarios, final report: the vulnerabilities, each with its failure file.
    public var vulnerabilities: [Vulnerability]?

    public struct Failure: Sendable {
        public var seed: UInt64
        public var violation: Violation
        public var traceHash: UInt64
        /// Empty while the campaign is still running (files are written at the end).
        public var failureFile: String
        /// Failing runs with this violation's shape, this one included.
        public var similarRuns: Int
        /// The run, with its timeline; nil beyond `timelinesPerScenario`, and in interim reports.
        public var result: RunResult?
    }

    /// `final`: re-run each kept violation's first seed (deterministic: the same run again) for
    /// its timeline and failure file. Interim reports skip that and list the violations only.
    public init(_ progress: ScenarioProgress, options: Campaign.Options, final: Bool) throws {
        let tally = progress.tally, scenario = progress.scenario
        self.scenario = scenario
        self.tally = tally
        file = progress.file

        var groups: [String: [FailingRun]] = [:]
        for run in tally.failingRuns.sorted(by: { $0.seed < $1.seed }) { groups[run.shape, default: []].append(run) }
        distinctViolations = groups.count
        // Unexpected violations first, so the cap never hides a regression behind canary findings.
        func rank(_ group: [FailingRun]) -> (Int, UInt64) { (scenario.allows(group[0].violation.invariant) ? 1 : 0, group[0].seed) }
        let kept = groups.values.sorted { rank($0) < rank($1) }.prefix(max(0, options.failureFilesPerScenario))
        var failures: [Failure] = []
        for group in kept {
            let first = group[0]
            var failure = Failure(
                seed: first.seed, violation: first.violation, traceHash: UInt64(first.traceHash, radix: 16) ?? 0,
                failureFile: "", similarRuns: group.count, result: nil)
            if final {
                let run = SimulationRun(scenario: scenario, seed: first.seed)
                let result = scenario.execute(seed: first.seed)
                guard Hex.digits16(result.traceHash) == first.traceHash, result.violation == first.violation else {
                    throw VerifierError("\(scenario.name) seed \(first.seed) ran differently the second time (trace hash \(Hex.digits16(result.traceHash)), recorded \(first.traceHash)): the run is not deterministic, or the shards came from another build")
                }
                failure.failureFile = FilePaths.join(options.failureDirectory, "\(scenario.name)-seed\(first.seed).json")
                try FileManager.default.createDirectory(atPath: options.failureDirectory, withIntermediateDirectories: true)
                try FailureFile(scenarioFile: file, scenario: scenario, run: run, result: result).write(to: failure.failureFile)
                if failures.count < options.timelinesPerScenario { failure.result = result }
            }
            failures.append(failure)
        }
        self.failures = failures
        if final, let settings = scenario.exploration, let tallied = tally.vulnerabilities {
            vulnerabilities = try Self.pinned(tallied, scenario: scenario, file: file, settings: settings, failureDirectory: options.failureDirectory)
        }
    }

    public var runs: Int { tally.runs }
    public var failed: Int { tally.failingRuns.count }
    public var passed: Int { runs - failed }

    /// Whether the scenario met its `expect`, and why, in one sentence.
    /// Runs that broke one of the invariants the scenario expects to break.
    public var caught: Int {
        scenario.expectInvariants.reduce(0) { $0 + tally.invariantViolations[$1.rawValue, default: 0] }
    }

    /// Whether the scenario met its `expect` (and its bound on refusals), and why, in one sentence.
    public var expectation: (met: Bool, message: String) {
        if let bound = scenario.refusalsAtMost, Double(tally.stoppedEarly) > bound * Double(runs) {
            return (false, "\(tally.stoppedEarly) of \(runs) runs ended in a refusal, more than the \(Int(bound * 100))% the scenario allows")
        }
        switch scenario.expect {
        case .pass:
            if failed == 0 { return (true, "all \(runs) runs kept every invariant") }
            let kinds = tally.invariantViolations.keys.sorted().joined(separator: ", ")
            return (false, "\(failed) of \(runs) runs broke an invariant (\(kinds))")
        case .violation:
            let unexpected = tally.invariantViolations.keys.filter { !scenario.allows(Invariant(rawValue: $0)!) }.sorted()
            if !unexpected.isEmpty {
                return (false, "violations of \(unexpected.joined(separator: ", ")), which this scenario does not expect")
            }
            let allowed = scenario.expectInvariants.map(\.rawValue).sorted().joined(separator: ", ")
            if caught == 0 { return (false, "expected a violation of \(allowed), but all \(runs) runs passed") }
            let kinds = tally.invariantViolations.keys.sorted().joined(separator: ", ")
            return (true, "caught as expected: \(caught) of \(runs) runs broke \(kinds)")
        }
    }

    public var runsPerSecond: Double { tally.elapsedSeconds > 0 ? Double(runs) / tally.elapsedSeconds : 0 }
    public var fsCallsPerSecond: Double { tally.elapsedSeconds > 0 ? Double(tally.fsCalls) / tally.elapsedSeconds : 0 }
}
