/// Renders a campaign report as a Markdown summary: verdict, a scenario table, each
/// scenario's numbers, and for each failure its replay command and a compact text timeline.
public enum MarkdownRenderer {
    /// Timelines up to this many events are listed in full; longer ones keep the events
    /// around anything notable and fold the rest into one line per gap.
    static let fullTimelineLimit = 40
    /// Events kept on each side of a notable event in a folded timeline.
    static let contextEvents = 2
    /// Shorter gaps are listed rather than folded: a fold line should save lines.
    static let minimumFold = 3

    public static func render(_ report: CampaignReport) -> String {
        var out: [String] = []
        let totals = ReportFormat.totals(report)
        out.append("# Tidemark campaign report: \(inline(report.name))")
        out.append("")
        out.append("**Verdict: \(verdict(report))**")
        out.append("")
        out.append("- Created: \(inline(report.createdAt))")
        out.append("- Build: \(code(report.build))")
        out.append(
            "- Jobs: \(report.jobs) · Duration: \(ReportFormat.duration(report.durationSeconds))"
                + " · Runs: \(ReportFormat.grouped(totals.runs))"
                + " · Unexpected failures: \(ReportFormat.grouped(totals.unexpectedFailures))"
                + " · Expected violations: \(ReportFormat.grouped(totals.expectedViolations))")
        if report.inProgress { out.append("- **In progress**: the numbers so far; timelines and failure files come when the campaign ends.") }
        out.append("")
        out += vulnerabilities(report)
        out.append("")
        out.append("## Scenarios")
        out.append("")
        if report.scenarios.isEmpty {
            out.append("No scenarios ran.")
        } else {
            out.append("| Scenario | Subject | Configuration | Expect | Runs | Passed | Failed | Expectation met | Knobs fired | Runs/s | FS calls/s |")
            out.append("|---|---|---|---|---:|---:|---:|---|---|---:|---:|")
            for scenario in report.scenarios {
                out.append(row([
                    inline(scenario.name), inline(scenario.subject),
                    inline(ReportFormat.configuration(scenario.configuration)),
                    inline(scenario.expect.rawValue),
                    ReportFormat.grouped(scenario.runs), ReportFormat.grouped(scenario.passed),
                    ReportFormat.grouped(scenario.failed), met(scenario.expectationMet),
                    inline(ReportFormat.knobs(scenario.knobsFired)),
                    ReportFormat.rate(scenario.runsPerSecond),
                    ReportFormat.rate(scenario.fsCallsPerSecond),
                ]))
            }
        }
        for scenario in report.scenarios {
            out.append("")
            out += section(scenario)
        }
        return out.joined(separator: "\n") + "\n"
    }

    static func verdict(_ report: CampaignReport) -> String {
        let count = report.scenarios.count
        let unmet = report.scenarios.filter { !$0.expectationMet }.count
        if report.expectationsMet {
            return "PASS: all \(count) scenario\(count == 1 ? "" : "s") met \(count == 1 ? "its expectation" : "their expectations")"
        }
        if unmet == 0 { return "FAIL: the campaign did not meet its expectations" }
        return "FAIL: \(unmet) of \(count) scenario\(count == 1 ? "" : "s") did not meet \(count == 1 ? "its expectation" : "their expectations")"
    }

    /// The first section: every vulnerability with its cause, invariant, models, counts and the
    /// command that recreates it; one line when there are none.
    static func vulnerabilities(_ report: CampaignReport) -> [String] {
        var out = ["## Vulnerabilities", ""]
        let all = report.vulnerabilities
        if all.isEmpty { return out + [ReportFormat.noVulnerabilities(report)] }
        let unexpected = all.filter { !$0.vulnerability.expected }.count
        out.append("\(all.count) found by exhaustive crash exploration, \(unexpected) unexpected (listed first).")
        for (number, entry) in all.enumerated() {
            let vulnerability = entry.vulnerability
            out.append("")
            out.append("### \(number + 1). \(inline(vulnerability.cause))")
            out.append("")
            out.append("- Scenario: \(inline(entry.scenario.name)) · Invariant broken: \(inline(vulnerability.invariant))"
                + (vulnerability.expected ? " (expected)" : " (**unexpected**)"))
            out.append("- Persistence models: \(inline(ReportFormat.models(vulnerability)))")
            out.append("- Crash states: \(ReportFormat.grouped(vulnerability.states)) · Seeds: \(inline(ReportFormat.seeds(vulnerability.seeds)))")
            out.append("- Verdict: \(inline(vulnerability.message))")
            out.append("- State: \(inline(vulnerability.state))")
            out.append("")
            out += fenced(vulnerability.reproduce, info: "sh")
        }
        return out
    }

    private static func section(_ scenario: ScenarioReport) -> [String] {
        var out: [String] = []
        out.append("## Scenario \(inline(scenario.name))")
        out.append("")
        out.append(
            "Subject \(code(scenario.subject)) with \(code(ReportFormat.configuration(scenario.configuration)))"
                + (scenario.file.isEmpty ? "" : ", from \(code(scenario.file))") + ".")
        out.append("")
        let expected = scenario.expect == .violation && !scenario.expectedInvariants.isEmpty
            ? "violation of \(scenario.expectedInvariants.map(inline).joined(separator: ", "))"
            : inline(scenario.expect.rawValue)
        out.append("Expected: \(expected). Expectation \(scenario.expectationMet ? "met" : "**NOT met**")"
            + (scenario.expectationMessage.isEmpty ? "." : ": \(inline(scenario.expectationMessage))"))
        out.append("")
        out.append("| Runs | Passed | Failed | Expectation met | Runs/s | FS calls/s | FS calls | Crashes | Recoveries |")
        out.append("|---:|---:|---:|---|---:|---:|---:|---:|---:|")
        out.append(row([
            ReportFormat.grouped(scenario.runs), ReportFormat.grouped(scenario.passed),
            ReportFormat.grouped(scenario.failed), met(scenario.expectationMet),
            ReportFormat.rate(scenario.runsPerSecond), ReportFormat.rate(scenario.fsCallsPerSecond),
            ReportFormat.grouped(scenario.fsCalls), ReportFormat.grouped(scenario.crashes),
            ReportFormat.grouped(scenario.recoveries),
        ]))
        out.append("")
        if let figures = scenario.exploration { out += ["- Exhaustive exploration: \(inline(ReportFormat.exploration(figures)))"] }
        for (title, counts) in [
            ("Faults injected", scenario.faults), ("Crash points", scenario.crashPoints),
            ("Recovery paths", scenario.recoveryPaths), ("Operations", scenario.operations),
            ("Invariant violations", scenario.invariantViolations),
        ] {
            let items = ReportFormat.sortedCounts(counts)
                .map { "\(inline($0.name)) \(ReportFormat.grouped($0.count))" }
            out.append("- \(title): \(items.isEmpty ? "none" : items.joined(separator: ", "))")
        }
        out.append("")
        if scenario.failures.isEmpty {
            out.append(scenario.failed == 0 ? "No failures." : "\(scenario.failed) failing runs, none kept.")
            return out
        }
        out.append("\(ReportFormat.grouped(scenario.failed)) failing runs, \(scenario.distinctViolations) distinct violations (same invariant, same message but for numbers); "
            + "one failure file each for the \(scenario.failures.count) below.")
        out.append("")
        for (number, failure) in scenario.failures.enumerated() {
            out.append("### Failure \(number + 1): \(inline(failure.invariant)), seed \(failure.seed)"
                + (scenario.isExpected(failure) ? " (expected violation)" : ""))
            out.append("")
            out.append("- Message: \(inline(failure.message))")
            if failure.similarRuns > 1 { out.append("- Runs with this violation: \(ReportFormat.grouped(failure.similarRuns))") }
            if let operation = failure.operationIndex { out.append("- Operation: #\(operation)") }
            if !failure.traceHash.isEmpty { out.append("- Trace hash: \(code(failure.traceHash))") }
            out.append("- Failure file: \(code(failure.failureFile))")
            out.append("")
            out.append("Replay:")
            out.append("")
            out += fenced(failure.replayCommand, info: "sh")
            out.append("")
            if !failure.timeline.events.isEmpty {
                out.append("Timeline (\(failure.timeline.events.count) events, `>>` marks the verdict's event):")
                out.append("")
                out += fenced(timelineText(failure.timeline), info: "text")
                out.append("")
            }
        }
        return out
    }

    /// The compact text timeline: one line per shown event, one line per folded gap, then the
    /// fate of each crash's pending writes and directory operations.
    static func timelineText(_ timeline: Timeline) -> String {
        var lines: [String] = []
        let events = timeline.events
        let shown = shownEventPositions(events)
        var position = 0
        while position < events.count {
            if shown.contains(position) {
                lines.append(line(events[position]))
                position += 1
                continue
            }
            var gapEnd = position
            while gapEnd < events.count, !shown.contains(gapEnd) { gapEnd += 1 }
            lines.append("   … \(gapEnd - position) more: \(kindSummary(events[position..<gapEnd])) …")
            position = gapEnd
        }
        if events.isEmpty { lines.append("(no events recorded)") }
        for (number, crash) in timeline.crashes.enumerated() {
            lines.append("")
            lines.append("Crash \(number + 1) at event #\(crash.eventIndex) (\(oneLine(crash.kind)), FS call \(crash.atFSCall)): "
                + "\(crash.writes.count) pending write\(crash.writes.count == 1 ? "" : "s"), "
                + "\(crash.directoryOperations.count) pending directory operation\(crash.directoryOperations.count == 1 ? "" : "s")")
            for write in crash.writes {
                lines.append("  \(write.mattered ? "!" : " ") write \(oneLine(write.path)) @\(write.offset) +\(write.length) B (FS \(write.fsCall)): \(oneLine(write.fate))")
            }
            for operation in crash.directoryOperations {
                lines.append("    \(oneLine(operation.operation)) \(oneLine(operation.path)) (FS \(operation.fsCall)): \(operation.survived ? "survived" : "lost")")
            }
        }
        if timeline.crashes.contains(where: { $0.writes.contains(where: \.mattered) }) {
            lines.append("")
            lines.append("! = the checker flagged this write as relevant to the verdict")
        }
        return lines.joined(separator: "\n")
    }

    /// Which event positions a compact timeline shows: all of a short timeline; otherwise
    /// the first and last events and every notable one (verdict, crash, recovery, fault,
    /// anything not plainly acknowledged/ok) with a little context either side.
    static func shownEventPositions(_ events: [TimelineEvent]) -> Set<Int> {
        if events.count <= fullTimelineLimit { return Set(events.indices) }
        var shown: Set<Int> = [0, events.count - 1]
        for (position, event) in events.enumerated() where isNotable(event) {
            let low = max(0, position - contextEvents)
            let high = min(events.count - 1, position + contextEvents)
            shown.formUnion(low...high)
        }
        var position = 0
        while position < events.count {
            guard !shown.contains(position) else { position += 1; continue }
            var gapEnd = position
            while gapEnd < events.count, !shown.contains(gapEnd) { gapEnd += 1 }
            if gapEnd - position < minimumFold { shown.formUnion(position..<gapEnd) }
            position = gapEnd
        }
        return shown
    }

    private static func isNotable(_ event: TimelineEvent) -> Bool {
        if event.highlighted { return true }
        switch event.kind {
        case .crash, .recovery, .fault, .checkpoint: return true
        case .operation, .sync, .check: return !isRoutine(event.outcome)
        }
    }

    /// Outcomes a reader skims past: acknowledged writes, answered reads, passed checks.
    private static func isRoutine(_ outcome: EventOutcome) -> Bool {
        switch outcome {
        case .acknowledged, .ok, .absent, .found, .results, .records, .note(""): true
        case .rejected, .ambiguous, .inFlight, .refusedFailStopped, .corruptionDetected, .lossReported, .violation, .untidy, .note: false
        }
    }

    private static func line(_ event: TimelineEvent) -> String {
        let marker = event.highlighted ? ">>" : "  "
        let index = "#\(event.index)".padding(toLength: 6, withPad: " ", startingAt: 0)
        let kind = event.kind.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)
        let label = oneLine(event.label)
        let labelColumn = label.count < 28 ? label.padding(toLength: 28, withPad: " ", startingAt: 0) : label + " "
        let outcome = oneLine(event.outcome.description)
        let outcomeColumn = outcome.count < 14 ? outcome.padding(toLength: 14, withPad: " ", startingAt: 0) : outcome + " "
        let text = "\(marker) \(index) \(kind) \(labelColumn) \(outcomeColumn) \(ReportFormat.fsCalls(event.fsCallStart, event.fsCallEnd))"
        return event.highlighted ? text + "  <- verdict" : text
    }

    /// "35 operation, 2 sync" style summary of a folded gap, in kind order.
    private static func kindSummary(_ events: ArraySlice<TimelineEvent>) -> String {
        TimelineEvent.Kind.allCases.compactMap { kind in
            let count = events.filter { $0.kind == kind }.count
            return count == 0 ? nil : "\(count) \(kind.rawValue)\(count == 1 ? "" : "s")"
        }.joined(separator: ", ")
    }

    // MARK: Markdown escaping

    private static func met(_ met: Bool) -> String { met ? "yes" : "**NO**" }

    private static func row(_ cells: [String]) -> String {
        "| " + cells.joined(separator: " | ") + " |"
    }

    private static func oneLine(_ text: String) -> String {
        text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).joined(separator: " ")
    }

    /// Text safe inside a paragraph or table cell: Markdown and HTML punctuation
    /// backslash-escaped (not `_`, which is harmless inside names like `journal_mode`),
    /// newlines folded.
    static func inline(_ text: String) -> String {
        var out = ""
        for character in oneLine(text) {
            if "\\`*[]<>|~".contains(character) { out.append("\\") }
            out.append(character)
        }
        return out
    }

    /// Inline code; a longer backtick fence when the text itself holds backticks.
    static func code(_ text: String) -> String {
        let text = oneLine(text)
        let fence = String(repeating: "`", count: longestBacktickRun(text) + 1)
        let pad = text.hasPrefix("`") || text.hasSuffix("`") ? " " : ""
        return fence + pad + text + pad + fence
    }

    private static func fenced(_ text: String, info: String) -> [String] {
        let fence = String(repeating: "`", count: max(3, longestBacktickRun(text) + 1))
        return [fence + info, text, fence]
    }

    private static func longestBacktickRun(_ text: String) -> Int {
        var longest = 0
        var current = 0
        for character in text {
            current = character == "`" ? current + 1 : 0
            longest = max(longest, current)
        }
        return longest
    }
}
