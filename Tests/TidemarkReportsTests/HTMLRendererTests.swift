import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import TidemarkReports

struct HTMLRendererTests {
    static func occurrences(of needle: String, in text: String) -> Int {
        text.components(separatedBy: needle).count - 1
    }

    /// Every inline `<svg …>…</svg>` fragment of the page.
    static func svgFragments(_ html: String, class name: String? = nil) -> [String] {
        var fragments: [String] = []
        var rest = html[...]
        while let start = rest.range(of: "<svg"), let end = rest[start.lowerBound...].range(of: "</svg>") {
            let fragment = String(rest[start.lowerBound..<end.upperBound])
            if name == nil || fragment.hasPrefix("<svg class=\"\(name!)\"") { fragments.append(fragment) }
            rest = rest[end.upperBound...]
        }
        return fragments
    }

    @Test func pageIsSelfContained() throws {
        let html = HTMLRenderer.render(try SampleReports.campaign())
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(!html.contains("http"), "no network URLs, not even an SVG xmlns")
        #expect(!html.lowercased().contains("<script"))
        #expect(!html.lowercased().contains("<link"))
        #expect(!html.contains("src="))
        #expect(!html.contains("url("))
        #expect(!html.contains("@import"))
        #expect(html.contains("<style>"))
    }

    @Test func oneTimelinePerFailureAndOneLaneSetPerCrash() throws {
        let report = try SampleReports.campaign()
        let html = HTMLRenderer.render(report)
        let failures = report.scenarios.flatMap(\.failures)
        #expect(Self.svgFragments(html, class: "timeline").count == failures.count)
        #expect(Self.svgFragments(html, class: "fates").count == failures.map(\.timeline.crashes.count).reduce(0, +))
        for failure in failures {
            #expect(html.contains("tidemark replay \(failure.failureFile)"))
        }
    }

    @Test func everySVGIsWellFormedXMLWithATitle() throws {
        var report = try SampleReports.campaign()
        report.scenarios[1].failures[0].timeline.events[1].label = "put <k1> & \"quoted\""
        let html = HTMLRenderer.render(report)
        let fragments = Self.svgFragments(html)
        #expect(fragments.count > 20)
        for fragment in fragments {
            let parser = XMLParser(data: Data(fragment.utf8))
            #expect(parser.parse(), "not well-formed: \(fragment.prefix(200))")
            if !fragment.contains("aria-hidden=\"true\"") {
                #expect(fragment.contains("role=\"img\"") && fragment.contains("<title"), "unlabelled picture: \(fragment.prefix(120))")
            }
        }
    }

    @Test func escapesScriptInLabelsAndMessages() throws {
        var report = try SampleReports.campaign()
        report.name = "<script>alert('name')</script>"
        report.scenarios[1].failures[0].timeline.events[1].label = "<script>alert(1)</script>"
        report.scenarios[1].failures[0].message = "</p><script>alert(2)</script>"
        report.scenarios[1].failures[0].timeline.crashes[0].writes[0].path = "<img onerror=x>"
        report.scenarios[0].faults["<b>fault</b>"] = 3
        let html = HTMLRenderer.render(report)
        #expect(!html.lowercased().contains("<script"))
        #expect(!html.contains("<img"))
        #expect(!html.contains("<b>fault"))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(html.contains("&lt;/p&gt;&lt;script&gt;alert(2)&lt;/script&gt;"))
    }

    @Test func legendExplainsEveryColour() throws {
        let html = HTMLRenderer.render(try SampleReports.campaign())
        #expect(html.contains("id=\"legend-heading\">Legend</h2>"))
        for swatch in ReportPalette.outcomes + ReportPalette.fates {
            #expect(html.contains(MarkupEscaping.escape(swatch.name) + "</li>"), "legend lacks \(swatch.name)")
            #expect(html.contains("fill=\"\(swatch.fill)\""))
        }
        for marker in ["sync", "checkpoint", "crash", "recovery", "injected fault", "event the verdict names"] {
            #expect(html.contains(">\(marker)</li>"), "legend lacks \(marker)")
        }
    }

    @Test func noFailuresSaysSoWithoutTimelinesOrLegend() throws {
        var report = try SampleReports.campaign()
        report.scenarios = [try SampleReports.cleanScenario()]
        report.expectationsMet = true
        let html = HTMLRenderer.render(report)
        #expect(html.contains("No failures: every run satisfied its invariants."))
        #expect(Self.svgFragments(html, class: "timeline").isEmpty)
        #expect(!html.contains("legend-heading"))
        #expect(html.contains("class=\"verdict pass\""))
    }

    @Test func emptyCampaignStillRenders() throws {
        let report = CampaignReport(name: "empty", createdAt: "2026-11-21T00:00:00Z", build: "dev", expectationsMet: true)
        let html = HTMLRenderer.render(report)
        #expect(html.contains("No scenarios ran."))
        #expect(html.hasSuffix("</html>\n"))
    }

    @Test func colouredByOutcomeAndFate() throws {
        let report = try SampleReports.campaign()
        let html = HTMLRenderer.render(report)
        let failure = report.scenarios[1].failures[0]  // canary-ack-before-sync, seed 1
        let timeline = try #require(Self.svgFragments(html, class: "timeline").first)
        for event in failure.timeline.events where [.operation, .check].contains(event.kind) {
            let swatch = ReportPalette.outcome(event.outcome)
            #expect(timeline.contains("fill=\"\(swatch.fill)\""), "timeline lacks \(swatch.name) for \(event.outcome)")
        }
        #expect(timeline.contains("fill=\"\(ReportPalette.acknowledged.fill)\"") && timeline.contains("fill=\"\(ReportPalette.violation.fill)\""))
        #expect(timeline.contains("stroke=\"\(ReportPalette.crash)\""), "crash line")
        #expect(timeline.contains("fill=\"\(ReportPalette.fault)\""), "fault markers")
        #expect(timeline.contains("▼ verdict: put k2"))
        let fates = try #require(Self.svgFragments(html, class: "fates").first)
        let writes = failure.timeline.crashes[0].writes
        for swatch in Set(writes.map { ReportPalette.fate($0.fate).fill }) {
            #expect(fates.contains("fill=\"\(swatch)\""), "fates lack \(swatch)")
        }
        #expect(Self.occurrences(of: "stroke-width=\"2.5\"", in: fates) == writes.filter(\.mattered).count)
        #expect(writes.filter(\.mattered).count == 16, "the 16 dropped writes mattered")
    }

    @Test func longTimelinesWrapInsideTheCanvas() throws {
        let failure = try SampleReports.longFailure()
        // The real 141 events, and the same run's events repeated to a thousand.
        var thousand = failure
        thousand.timeline.events = (0..<1_000).map { position in
            var event = failure.timeline.events[position % failure.timeline.events.count]
            event.index = position
            event.highlighted = event.highlighted && position < failure.timeline.events.count
            return event
        }
        for long in [failure, thousand] {
            let count = long.timeline.events.count
            var report = try SampleReports.campaign()
            report.scenarios = [try SampleReports.unexpectedFailureScenario()]
            report.scenarios[0].failures = [long]
            let html = HTMLRenderer.render(report)
            let timeline = try #require(Self.svgFragments(html, class: "timeline").first)
            let layout = SVGTimeline.Layout(eventCount: count)
            #expect(layout.rows > 1)
            #expect(layout.cell >= SVGTimeline.minCell)
            #expect(timeline.contains("height=\"\(n(layout.height))\""))
            // Every x coordinate stays on the canvas.
            let xs = timeline.components(separatedBy: " x=\"").dropFirst().compactMap { Double($0.prefix { $0 != "\"" }) }
            #expect(xs.count > count)
            #expect(xs.allSatisfy { $0 >= 0 && $0 <= SVGTimeline.width }, "an element leaves the canvas")
            // The verdict's and the crash's annotations are drawn.
            #expect(timeline.contains("verdict: batch ×3"))
            #expect(timeline.contains("power loss at FS"))
        }
    }

    @Test func shortTimelinesGetLabelledCells() throws {
        var report = try SampleReports.campaign()
        report.scenarios = [try SampleReports.expectedViolationScenario()]
        // The first twelve events of a real timeline: wide enough cells to carry their labels.
        report.scenarios[0].failures = [report.scenarios[0].failures[0]]
        report.scenarios[0].failures[0].timeline.events.removeSubrange(12...)
        report.scenarios[0].failures[0].timeline.crashes = []
        let html = HTMLRenderer.render(report)
        let timeline = try #require(Self.svgFragments(html, class: "timeline").first)
        #expect(timeline.contains(">open</text>"))
        #expect(timeline.contains(">put k2</text>"))
    }

    /// Thousands of expected violations must not make thousands of pictures: failures kept
    /// without a timeline are one table row each, with a link to their failure file.
    @Test func failuresWithoutTimelinesAreListedNotDrawn() throws {
        var report = try SampleReports.campaign()
        var scenario = try SampleReports.expectedViolationScenario()
        let drawn = scenario.failures[0]
        var listed = scenario.failures[1]
        listed.timeline = Timeline()
        listed.similarRuns = 1_234
        listed.failureFile = scenario.reportDir + "/failures/canary-seed2.json"
        scenario.failures = [drawn] + Array(repeating: listed, count: 40)
        scenario.failed = 5_000
        scenario.distinctViolations = 45
        report.scenarios = [scenario]
        let html = HTMLRenderer.render(report)
        #expect(Self.svgFragments(html, class: "timeline").count == 1)
        #expect(Self.occurrences(of: "<a href=\"failures/canary-seed2.json\">", in: html) == 40)
        #expect(html.contains("<td class=\"num\">1,234</td>"))
        #expect(html.contains("4 more distinct violations were counted without a failure file"))
        #expect(html.contains("5,000 failing runs, 45 distinct violations"))
    }

    /// Canary findings and regressions are counted apart, so a PASS banner never stands beside
    /// a bare "failed runs" count.
    @Test func headerSplitsExpectedViolationsFromUnexpectedFailures() throws {
        let html = HTMLRenderer.render(try SampleReports.campaign())
        #expect(!html.contains("Failed runs"))
        #expect(html.contains("<dt>Unexpected failures</dt><dd>2</dd>"))
        #expect(html.contains("<dt>Expected violations</dt><dd>3</dd>"))
    }

    // Determinism across processes (Swift's per-process hash seed reorders dictionaries) is
    // tested where two processes are at hand: VerifierCLITests.reportRenderingIsTheSameInEveryProcess.
}
