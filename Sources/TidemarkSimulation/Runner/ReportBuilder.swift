import TidemarkIO
import TidemarkSimulatedDisk
import TidemarkReports

/// Turns campaign outcomes into report data (the renderers live in TidemarkReports).
public enum ReportBuilder {
    public static func scenarioReport(_ outcome: ScenarioOutcome, reportDir: String) -> ScenarioReport {
        let expectation = outcome.expectation
        return ScenarioReport(
            name: outcome.scenario.name, file: outcome.file, subject: outcome.scenario.subject.kind.rawValue,
            configuration: outcome.scenario.subject.options, expect: outcome.scenario.expect,
            expectedInvariants: outcome.scenario.expectInvariants.map(\.rawValue),
            runs: outcome.runs, passed: outcome.passed, failed: outcome.failed,
            expectationMet: expectation.met, expectationMessage: expectation.message,
            failures: outcome.failures.map(failureReport), distinctViolations: outcome.distinctViolations,
            faults: outcome.tally.faults, crashes: outcome.tally.crashes, recoveries: outcome.tally.recoveries,
            crashPoints: outcome.tally.crashPoints, recoveryPaths: outcome.tally.recoveryPaths, operations: outcome.tally.operations,
            knobsFired: outcome.tally.knobsFired,
            invariantViolations: outcome.tally.invariantViolations,
            runsPerSecond: outcome.runsPerSecond, fsCallsPerSecond: outcome.fsCallsPerSecond, fsCalls: outcome.tally.fsCalls,
            reportDir: reportDir, exploration: explorationFigures(outcome),
            vulnerabilities: outcome.vulnerabilities.map { $0.map { report($0, scenario: outcome.scenario, safeUnder: []) } })
    }

    /// An exhaustive scenario's figures in a campaign: the counters its seeds added up.
    static func explorationFigures(_ outcome: ScenarioOutcome) -> ExplorationFigures? {
        guard let settings = outcome.scenario.exploration else { return nil }
        let tally = outcome.tally
        return ExplorationFigures(
            models: [settings.model.rawValue], stateBudget: settings.stateBudget,
            points: tally.crashPoints[Exploration.pointsCounter] ?? 0, statesEnumerated: nil,
            statesChecked: tally.faults[Exploration.statesCounter] ?? 0,
            violatingStates: (tally.vulnerabilities ?? []).reduce(0) { $0 + $1.states })
    }

    static func failureReport(_ failure: ScenarioOutcome.Failure) -> FailureReport {
        FailureReport(
            seed: failure.seed, invariant: failure.violation.invariant.rawValue, message: failure.violation.message,
            failureFile: failure.failureFile, traceHash: Hex.digits16(failure.traceHash),
            operationIndex: failure.violation.stepIndex, similarRuns: failure.similarRuns,
            timeline: failure.result.map { timeline($0, highlight: failure.violation.stepIndex) } ?? Timeline(events: [], crashes: []))
    }

    /// The run's timeline; the writes that did not survive the last crash before the verdict are
    /// marked as the ones that mattered.
    public static func timeline(_ result: RunResult, highlight: Int?) -> Timeline {
        let events = result.events.enumerated().map { position, event in
            TimelineEvent(
                index: position, kind: event.kind,
                label: event.label, outcome: event.outcome, fsCallStart: event.fsCallStart, fsCallEnd: event.fsCallEnd,
                highlighted: highlight != nil && event.stepIndex == highlight && ![.recovery, .fault].contains(event.kind),
                path: event.path, offset: event.offset)
        }
        let verdictEvent = result.events.lastIndex { $0.outcome == .violation } ?? result.events.count
        let lastCrashBeforeVerdict = result.crashReports.last { $0.eventIndex < verdictEvent }?.eventIndex
        let crashes = result.crashReports.map { entry in
            let mattered = entry.eventIndex == lastCrashBeforeVerdict && result.violation != nil
            return CrashFate(
                eventIndex: entry.eventIndex, kind: entry.report.kind == .powerLoss ? "power loss" : "process kill",
                atFSCall: entry.report.callIndex,
                writes: entry.report.writes.map { write in
                    WriteFate(
                        path: write.path, offset: write.offset, length: write.length, fsCall: write.callIndex,
                        fate: describe(write), mattered: mattered && write.fate != .survived)
                },
                directoryOperations: entry.report.directoryOperations.map { operation in
                    DirectoryOpFate(
                        operation: operation.kind.rawValue,
                        path: operation.destination.map { "\(operation.path) → \($0)" } ?? operation.path,
                        fsCall: operation.callIndex, survived: operation.survived)
                })
        }
        return Timeline(events: events, crashes: crashes)
    }

    static func describe(_ write: CrashReport.WriteFate) -> String {
        switch write.fate {
        case .survived: return write.misdirectedTo.map { "misdirected to \($0)" } ?? "survived"
        case .dropped: return write.unsafeAppendFill.map { "dropped (size kept, \($0.rawValue))" } ?? "dropped"
        case .torn:
            if !write.garbageSectors.isEmpty { return "garbage (\(write.garbageSectors.count) sectors)" }
            return "torn (\(write.keptSectors.count) sectors kept)"
        case .lostToFsyncError: return "lost to fsync error"
        }
    }
}
