import Foundation
import Testing
@testable import TidemarkReports

struct ReportModelTests {
    @Test func jsonRoundTripKeepsEveryField() throws {
        var report = SampleReports.campaign()
        report.scenarios[1].failures[0].seed = .max  // beyond 2^53: must survive exactly
        report.scenarios[1].failures[1].operationIndex = nil
        let decoded = try ReportWriter.decode(ReportWriter.encode(report), path: "memory")
        #expect(decoded == report)
        #expect(decoded.scenarios[1].failures[0].seed == .max)
        #expect(decoded.scenarios[1].failures[1].operationIndex == nil)
    }

    @Test func encodingIsPrettySortedAndStable() throws {
        let report = SampleReports.campaign()
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
        var report = SampleReports.campaign()
        report.scenarios[0].runsPerSecond = .infinity
        report.scenarios[0].fsCallsPerSecond = .nan
        let decoded = try ReportWriter.decode(ReportWriter.encode(report), path: "memory")
        #expect(decoded.scenarios[0].runsPerSecond == .infinity)
        #expect(decoded.scenarios[0].fsCallsPerSecond.isNaN)
    }

    @Test func expectedFailuresAreThoseAViolationScenarioAllows() {
        let failure = SampleReports.shortFailure()  // invariant "durability"
        #expect(!SampleReports.failingScenario().isExpected(failure))
        #expect(SampleReports.expectedViolationScenario().isExpected(failure))
        var other = failure
        other.invariant = "no silent corruption"
        #expect(!SampleReports.expectedViolationScenario().isExpected(other))
        var anyInvariant = SampleReports.expectedViolationScenario()
        anyInvariant.expectedInvariants = []
        #expect(anyInvariant.isExpected(other))
    }

    @Test func replayCommandQuotesUnusualPaths() {
        var failure = SampleReports.shortFailure()
        failure.failureFile = "Reports/run-1/failure-42.json"
        #expect(failure.replayCommand == "tidemark replay Reports/run-1/failure-42.json")
        failure.failureFile = "My Reports/it's.json"
        #expect(failure.replayCommand == "tidemark replay 'My Reports/it'\\''s.json'")
    }
}
