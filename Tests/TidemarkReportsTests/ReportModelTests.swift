import Foundation
import Testing
@testable import TidemarkReports

struct ReportModelTests {
    @Test func jsonRoundTripKeepsEveryField() throws {
        var report = try SampleReports.campaign()
        report.scenarios[1].failures[0].seed = .max  // beyond 2^53: must survive exactly
        report.scenarios[1].failures[1].operationIndex = nil
        let decoded = try ReportWriter.decode(ReportWriter.encode(report), path: "memory")
        #expect(decoded == report)
        #expect(decoded.scenarios[1].failures[0].seed == .max)
        #expect(decoded.scenarios[1].failures[1].operationIndex == nil)
    }

    @Test func encodingIsPrettySortedAndStable() throws {
        let report = try SampleReports.campaign()
        let first = try ReportWriter.encode(report)
        let second = try ReportWriter.encode(report)
        #expect(first == second)
        let text = String(decoding: first, as: UTF8.self)
        #expect(text.contains("\n  \"build\""))
        let keys = ["\"build\"", "\"createdAt\"", "\"durationSeconds\"", "\"expectationsMet\"", "\"jobs\"", "\"name\"", "\"scenarios\""]
        let positions = keys.map { text.range(of: $0)!.lowerBound }
        #expect(positions == positions.sorted(), "top-level keys are not sorted")
        #expect(!text.contains("\\/"), "slashes in paths should not be escaped")
    }

    @Test func nonFiniteRatesRoundTrip() throws {
        var report = try SampleReports.campaign()
        report.scenarios[0].runsPerSecond = .infinity
        report.scenarios[0].fsCallsPerSecond = .nan
        let decoded = try ReportWriter.decode(ReportWriter.encode(report), path: "memory")
        #expect(decoded.scenarios[0].runsPerSecond == .infinity)
        #expect(decoded.scenarios[0].fsCallsPerSecond.isNaN)
    }

    @Test func expectedFailuresAreThoseAViolationScenarioAllows() throws {
        let expected = try SampleReports.expectedViolationScenario()  // any invariant may break
        let failure = expected.failures[0]  // invariant "durability"
        #expect(!(try SampleReports.unexpectedFailureScenario()).isExpected(failure))
        #expect(expected.isExpected(failure))
        var other = failure
        other.invariant = "no silent corruption"
        #expect(expected.isExpected(other))
        var onlyDurability = expected
        onlyDurability.expectedInvariants = ["durability"]
        #expect(onlyDurability.isExpected(failure))
        #expect(!onlyDurability.isExpected(other))
    }

    @Test func outcomesKeepTheirReportJSONText() throws {
        let outcomes: [EventOutcome] = [
            .acknowledged, .rejected, .ambiguous, .inFlight, .ok, .absent, .found, .results(3), .refusedFailStopped,
            .corruptionDetected, .lossReported, .violation, .records(12), .untidy, .note("torn tail truncated"), .note(""),
        ]
        let texts = outcomes.map(\.description)
        #expect(texts == [
            "acknowledged", "rejected", "ambiguous", "in flight", "ok", "absent", "found", "3 results", "refused (fail-stopped)",
            "corruption detected", "loss reported by recovery", "violation", "ok (12 records)", "untidy", "torn tail truncated", "",
        ])
        let encoded = try JSONEncoder().encode(outcomes)
        #expect(String(decoding: encoded, as: UTF8.self) == "[" + texts.map { "\"\($0)\"" }.joined(separator: ",") + "]")
        #expect(try JSONDecoder().decode([EventOutcome].self, from: encoded) == outcomes)
        #expect(EventOutcome("03 results") == .note("03 results"))
        // What the runner writes for operations and checks is always a verdict, never a note.
        let events = try SampleReports.campaign().scenarios.flatMap(\.failures).flatMap(\.timeline.events)
        for event in events where [.operation, .sync, .checkpoint, .check].contains(event.kind) {
            if case .note(let text) = event.outcome { Issue.record("event \(event.index) \(event.label): unrecognised outcome \(text)") }
        }
    }

    @Test func replayCommandQuotesUnusualPaths() throws {
        var failure = try SampleReports.expectedViolationScenario().failures[0]
        failure.failureFile = "Reports/run-1/failure-42.json"
        #expect(failure.replayCommand == "tidemark replay Reports/run-1/failure-42.json")
        failure.failureFile = "My Reports/it's.json"
        #expect(failure.replayCommand == "tidemark replay 'My Reports/it'\\''s.json'")
    }
}
