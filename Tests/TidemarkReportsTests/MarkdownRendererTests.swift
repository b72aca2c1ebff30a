import Testing
@testable import TidemarkReports

struct MarkdownRendererTests {
    @Test func hasTheScenarioTableAndVerdict() {
        let markdown = MarkdownRenderer.render(SampleReports.campaign())
        #expect(markdown.hasPrefix("# Tidemark campaign report: 2026-11-21T19-40-00-default\n"))
        #expect(markdown.contains("**Verdict: FAIL: 2 of 4 scenarios did not meet their expectations**"))
        #expect(markdown.contains("| Scenario | Subject | Configuration | Expect | Runs | Passed | Failed | Expectation met | Runs/s | FS calls/s |"))
        #expect(markdown.contains("| store-group-fsync-error | tidemark-store | sync=group | pass | 300 | 298 | 2 | **NO** | 38.2 | 150,221 |"))
        #expect(markdown.contains("| store-immediate-power-loss | tidemark-store | sync=immediate, tiers=hot-only | pass | 500 | 500 | 0 | yes | 41.7 | 182,345 |"))
        // The per-scenario table.
        #expect(markdown.contains("| 300 | 298 | 2 | **NO** | 38.2 | 150,221 | 1,179,870 | 252 | 260 |"))
    }

    @Test func passingCampaignSaysSo() {
        var report = SampleReports.campaign()
        report.scenarios = [SampleReports.cleanScenario()]
        report.expectationsMet = true
        let markdown = MarkdownRenderer.render(report)
        #expect(markdown.contains("**Verdict: PASS: all 1 scenario met its expectation**"))
        #expect(markdown.contains("No failures."))
    }

    @Test func everyFailureHasItsReplayCommandAndTimeline() {
        let report = SampleReports.campaign()
        let markdown = MarkdownRenderer.render(report)
        for failure in report.scenarios.flatMap(\.failures) {
            #expect(markdown.contains("```sh\ntidemark replay \(failure.failureFile)\n```"))
            #expect(markdown.contains("seed \(failure.seed)"))
        }
        #expect(markdown.contains("### Failure 1: durability, seed 7331 (expected violation)"))
        #expect(markdown.contains(">> #9     operation  put k5"))
        #expect(markdown.contains("! write log/000002.seg @4096 +512 B (FS 22): lost to fsync error"))
        #expect(markdown.contains("    create log/000003.seg (FS 45): lost"))
    }

    @Test func shortTimelinesListEveryEvent() {
        let text = MarkdownRenderer.timelineText(SampleReports.shortFailure().timeline)
        for index in 0..<14 { #expect(text.contains("#\(index) "), "event \(index) missing") }
        #expect(!text.contains("more:"))
    }

    @Test func longTimelinesFoldQuietStretches() {
        let failure = SampleReports.longFailure(events: 240)
        let text = MarkdownRenderer.timelineText(failure.timeline)
        let eventLines = text.split(separator: "\n").filter { $0.hasPrefix("   #") || $0.hasPrefix(">> #") }
        #expect(eventLines.count < 120, "\(eventLines.count) event lines is not compact")
        #expect(text.contains("more: "))
        // Every crash, the verdict's event and the first and last events stay visible.
        #expect(text.contains(">> #137 "))
        #expect(text.contains("#144   crash"))
        #expect(text.contains("#146   crash"))
        #expect(text.contains("#0 "))
        #expect(text.contains("#239 "))
        // Folded counts add up: shown + folded == all events.
        let folded = text.split(separator: "\n").compactMap { line -> Int? in
            guard let range = line.range(of: "… "), let end = line.range(of: " more:") else { return nil }
            return Int(line[range.upperBound..<end.lowerBound])
        }.reduce(0, +)
        #expect(eventLines.count + folded == 240)
    }

    @Test func escapesMarkdownInTextAndTables() {
        var report = SampleReports.campaign()
        report.scenarios[0].name = "pipe|name *bold* <b>"
        let markdown = MarkdownRenderer.render(report)
        #expect(markdown.contains("| pipe\\|name \\*bold\\* \\<b\\> |"))
        #expect(!markdown.contains("<b>"))
    }

    @Test func outputDoesNotDependOnDictionaryOrder() {
        var first = SampleReports.campaign()
        var second = first
        var faults: [String: Int] = [:]
        for (index, name) in ["a", "b", "c", "d", "e", "f", "g", "h"].enumerated() { faults[name] = index % 3 }
        first.scenarios[0].faults = faults
        var reversed: [String: Int] = [:]
        for name in ["h", "g", "f", "e", "d", "c", "b", "a"] { reversed[name] = faults[name] }
        second.scenarios[0].faults = reversed
        #expect(MarkdownRenderer.render(first) == MarkdownRenderer.render(second))
        #expect(HTMLRenderer.render(first) == HTMLRenderer.render(second))
        #expect(JUnitRenderer.render(first) == JUnitRenderer.render(second))
    }
}
