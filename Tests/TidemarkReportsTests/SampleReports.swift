import Foundation
import TidemarkReports

/// The report of a real campaign, for the renderer tests and for looking at the HTML page: every
/// label, outcome and fate in it is one the pipeline emits.
///
/// `Fixtures/campaign.json` is the report.json of this run, from the repository root:
///
///     swift build --product tidemark
///     .build/debug/tidemark run Scenarios/smoke.yaml Scenarios/canary-ack-before-sync.yaml \
///         Scenarios/canary-retry-failed-sync.yaml Tests/TidemarkReportsTests/Fixtures/async-says-pass.yaml \
///         --seeds 2 --jobs 1 --out Reports/fixture
///     cp Reports/fixture/report.json Tests/TidemarkReportsTests/Fixtures/campaign.json
///
/// Regenerate it when the report model changes. To look at the page:
/// `TIDEMARK_SAMPLE_REPORT_DIR=/tmp/sample-report swift test --filter sampleReportRoundTrips`.
enum SampleReports {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/campaign.json").path

    /// Four scenarios: smoke (clean), canary-ack-before-sync (expected durability violations),
    /// canary-retry-failed-sync (expected liveness violation after injected fsync errors) and
    /// async-says-pass (unexpected durability violations with long timelines: expectation not met).
    static func campaign() throws -> CampaignReport {
        try ReportWriter.decode(Data(contentsOf: URL(fileURLWithPath: fixture)), path: fixture)
    }

    static func scenario(_ name: String) throws -> ScenarioReport {
        guard let scenario = try campaign().scenarios.first(where: { $0.name == name }) else {
            throw FixtureError(message: "\(fixture) has no scenario \(name)")
        }
        return scenario
    }

    static func cleanScenario() throws -> ScenarioReport { try scenario("smoke") }
    static func expectedViolationScenario() throws -> ScenarioReport { try scenario("canary-ack-before-sync") }
    static func faultScenario() throws -> ScenarioReport { try scenario("canary-retry-failed-sync") }
    static func unexpectedFailureScenario() throws -> ScenarioReport { try scenario("async-says-pass") }

    /// The fixture's longest timeline (141 events, three rows on the canvas).
    static func longFailure() throws -> FailureReport {
        guard let longest = try campaign().scenarios.flatMap(\.failures).max(by: { $0.timeline.events.count < $1.timeline.events.count }) else {
            throw FixtureError(message: "\(fixture) has no failures")
        }
        return longest
    }

    struct FixtureError: Error { var message: String }
}
