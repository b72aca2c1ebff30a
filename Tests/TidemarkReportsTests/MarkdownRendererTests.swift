import Testing
@testable import TidemarkReports

struct MarkdownRendererTests {
    @Test func hasTheScenarioTableAndVerdict() throws {
        let markdown = MarkdownRenderer.render(try SampleReports.campaign())
        #expect(markdown.hasPrefix("# Tidemark campaign report: 2026-11-30T13-20-07Z-campaign\n"))
        #expect(markdown.contains("**Verdict: FAIL: 1 of 4 scenarios did not meet their expectations**"))
        #expect(markdown.contains("| Scenario | Subject | Configuration | Expect | Runs | Passed | Failed | Expectation met | Knobs fired | Runs/s | FS calls/s |"))
        #expect(markdown.contains("| async-says-pass | tidemark | sync=async | pass | 2 | 0 | 2 | **NO** | — | 39.0 | 7,773 |"))
        #expect(markdown.contains("| canary-ack-before-sync | tidemark | canary=acknowledgeBeforeSync, sync=immediate | violation | 2 | 0 | 2 | yes | — | 216 | 11,103 |"))
        // The per-scenario table.
        #expect(markdown.contains("| 2 | 0 | 2 | **NO** | 39.0 | 7,773 | 399 | 2 | 7 |"))
    }

    @Test func theScenarioTableListsTheKnobsThatFired() throws {
        var report = try SampleReports.campaign()
        report.scenarios[0].knobsFired = ["tornWrite": 3, "bitRot": 1]
        report.scenarios[1].knobsFired = [:]
        let markdown = MarkdownRenderer.render(report)
        #expect(markdown.contains("| bitRot 1, tornWrite 3 |"))
        #expect(markdown.contains("| none |"))
        #expect(HTMLRenderer.render(report).contains("<td>bitRot 1, tornWrite 3</td>"))
    }

    @Test func passingCampaignSaysSo() throws {
        var report = try SampleReports.campaign()
        report.scenarios = [try SampleReports.cleanScenario()]
        report.expectationsMet = true
        let markdown = MarkdownRenderer.render(report)
        #expect(markdown.contains("**Verdict: PASS: all 1 scenario met its expectation**"))
        #expect(markdown.contains("No failures."))
    }

    @Test func everyFailureHasItsReplayCommandAndTimeline() throws {
        let report = try SampleReports.campaign()
        let markdown = MarkdownRenderer.render(report)
        for failure in report.scenarios.flatMap(\.failures) {
            #expect(markdown.contains("```sh\ntidemark replay \(failure.failureFile)\n```"))
            #expect(markdown.contains("seed \(failure.seed)"))
        }
        #expect(markdown.contains("### Failure 1: durability, seed 1 (expected violation)"))
        #expect(markdown.contains(">> #1     operation  put k2"))
        #expect(markdown.contains("  ! write /store/wal-0000000000000001.log @32 +146 B (FS 12): dropped"))
        #expect(markdown.contains("    write /store/wal-0000000000000001.log @1145 +110 B (FS 20): survived"))
        // Injected faults at their moment: an fsync error inside the operation it hit.
        #expect(markdown.contains("fault      fsyncError /store/wal-0000000000000001.log  eio; 1 pending changes marked clean"))
    }

    @Test func shortTimelinesListEveryEvent() throws {
        // The first 30 events of a real timeline: under the limit, so nothing folds.
        var timeline = try SampleReports.expectedViolationScenario().failures[0].timeline
        timeline.events.removeSubrange(30...)
        timeline.crashes = []
        let text = MarkdownRenderer.timelineText(timeline)
        for index in 0..<30 { #expect(text.contains("#\(index) "), "event \(index) missing") }
        #expect(!text.contains("more:"))
    }

    @Test func longTimelinesFoldQuietStretches() throws {
        let failure = try SampleReports.longFailure()  // 141 events
        let text = MarkdownRenderer.timelineText(failure.timeline)
        let eventLines = text.split(separator: "\n").filter { $0.hasPrefix("   #") || $0.hasPrefix(">> #") }
        #expect(eventLines.count < 70, "\(eventLines.count) event lines is not compact")
        #expect(text.contains("more: "))
        // The crash, the faults, the verdict's event and the first and last events stay visible.
        #expect(text.contains(">> #133 "))
        #expect(text.contains("#136   crash"))
        #expect(text.contains("#137   fault      writeLost /store/"))
        #expect(text.contains("#0 "))
        #expect(text.contains("#140 "))
        // Folded counts add up: shown + folded == all events.
        let folded = text.split(separator: "\n").compactMap { line -> Int? in
            guard let range = line.range(of: "… "), let end = line.range(of: " more:") else { return nil }
            return Int(line[range.upperBound..<end.lowerBound])
        }.reduce(0, +)
        #expect(eventLines.count + folded == 141)
    }

    @Test func escapesMarkdownInTextAndTables() throws {
        var report = try SampleReports.campaign()
        report.scenarios[0].name = "pipe|name *bold* <b>"
        let markdown = MarkdownRenderer.render(report)
        #expect(markdown.contains("| pipe\\|name \\*bold\\* \\<b\\> |"))
        #expect(!markdown.contains("<b>"))
    }

    @Test func outputDoesNotDependOnDictionaryOrder() throws {
        var first = try SampleReports.campaign()
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
