/// The `--json` shape of `tidemark run`: the campaign without timelines, with the vulnerability
/// lists of exhaustive scenarios.
public struct CampaignSummary: Codable, Sendable {
    public struct Failure: Codable, Sendable {
        public var seed: UInt64
        public var invariant: String
        public var message: String
        public var failureFile: String
        public var traceHash: String
    }
    public struct Scenario: Codable, Sendable {
        public var name: String
        public var subject: String
        public var expect: Expectation
        public var runs: Int
        public var passed: Int
        public var failed: Int
        public var expectationMet: Bool
        public var failures: [Failure]
        public var faults: [String: Int]
        public var crashes: Int
        public var recoveries: Int
        public var runsPerSecond: Double
        public var fsCallsPerSecond: Double
        public var reportDir: String
        /// Exhaustive scenarios: the vulnerability list (absent in random mode).
        public var vulnerabilities: [VulnerabilityReport]?
    }
    public var expectationsMet: Bool
    public var scenarios: [Scenario]

    public init(_ report: CampaignReport) {
        expectationsMet = report.expectationsMet
        scenarios = report.scenarios.map { scenario in
            Scenario(
                name: scenario.name, subject: scenario.subject, expect: scenario.expect, runs: scenario.runs,
                passed: scenario.passed, failed: scenario.failed, expectationMet: scenario.expectationMet,
                failures: scenario.failures.map {
                    Failure(seed: $0.seed, invariant: $0.invariant, message: $0.message, failureFile: $0.failureFile, traceHash: $0.traceHash)
                },
                faults: scenario.faults, crashes: scenario.crashes, recoveries: scenario.recoveries,
                runsPerSecond: scenario.runsPerSecond.isFinite ? scenario.runsPerSecond : 0,
                fsCallsPerSecond: scenario.fsCallsPerSecond.isFinite ? scenario.fsCallsPerSecond : 0,
                reportDir: scenario.reportDir, vulnerabilities: scenario.vulnerabilities)
        }
    }
}
