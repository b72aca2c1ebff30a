import Foundation
import Testing
import TidemarkReports
@testable import TidemarkSimulation

/// A failure's timeline shows each injected fault at its moment, with its file and offset, on
/// real runs of shipped canaries (fsyncgate: fsync errors; acknowledge before sync: writes lost
/// at power loss).
struct FaultTimelineTests {
    static func scenarioFile(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Scenarios/\(name).yaml").standardized.path
    }

    /// The first failing seed's run of a shipped scenario and its report timeline.
    static func firstFailure(_ name: String = "canary-retry-failed-sync") throws -> (RunResult, Timeline) {
        let scenario = try ScenarioParser.load(file: scenarioFile(name))
        let runs = (UInt64(1)...60).lazy.map { SimulationRun(scenario: scenario, seed: $0).execute() }
        let result = try #require(runs.first { $0.violation != nil }, "no seed of 1...60 failed")
        return (result, ReportBuilder.timeline(result, highlight: result.violation?.stepIndex))
    }

    @Test func fsyncErrorsAppearInsideTheOperationTheyHit() throws {
        let (result, timeline) = try Self.firstFailure()
        let injected = result.decisions.filter { !$0.suppressed }
        let faults = timeline.events.filter { $0.kind == .fault }
        // One event per injected decision, in order, with the decision's file.
        #expect(faults.map(\.label) == injected.map { "\($0.kind.rawValue) \($0.path)" })
        #expect(faults.allSatisfy { $0.path?.isEmpty == false })
        let fsyncErrors = faults.filter { $0.label.hasPrefix("fsyncError ") }
        #expect(!fsyncErrors.isEmpty, "timeline: \(timeline.events.map(\.label))")
        for fault in fsyncErrors {
            // Listed just before the operation whose file-system calls it happened in.
            let next = try #require(timeline.events[(fault.index + 1)...].first { $0.kind != .fault })
            #expect(next.fsCallStart <= fault.fsCallStart && fault.fsCallStart < next.fsCallEnd, "\(fault) then \(next)")
            #expect(next.kind != .crash)
        }
    }

    @Test func writesLostAtACrashFollowItWithTheirOffset() throws {
        let (result, timeline) = try Self.firstFailure("canary-ack-before-sync")
        let lost = timeline.events.filter { $0.kind == .fault && $0.label.hasPrefix("writeLost ") }
        #expect(!lost.isEmpty)
        for fault in lost {
            let crash = try #require(timeline.events[..<fault.index].last { $0.kind != .fault })
            #expect(crash.kind == .crash)
            let report = try #require(result.crashReports.first { $0.eventIndex == crash.index }?.report)
            // The offset is the lost write's own, as the crash report lists it.
            let offset = try #require(fault.offset)
            #expect(report.writes.contains { $0.path == fault.path && $0.offset == offset && $0.fate != .survived })
        }
        // The crash fates still point at the crash events, not at the faults listed after them.
        #expect(timeline.crashes.allSatisfy { timeline.events[$0.eventIndex].kind == .crash })
    }

    /// ENOSPC is no random decision (the capacity is configured), yet it shows too: just before
    /// the operation it rejected, with the offset where the disk ran out.
    @Test func aFullDiskShowsInsideTheRejectedOperation() throws {
        let scenario = try ScenarioParser.load(file: Self.scenarioFile("full-disk"))
        let runs = (UInt64(1)...20).lazy.map { SimulationRun(scenario: scenario, seed: $0).execute() }
        let result = try #require(runs.first { $0.events.contains { $0.outcome == .rejected } }, "no seed of 1...20 filled the disk")
        let timeline = ReportBuilder.timeline(result, highlight: nil)
        for rejected in timeline.events where rejected.outcome == .rejected {
            let fault = timeline.events[rejected.index - 1]
            #expect(fault.kind == .fault && fault.label.hasPrefix("diskFull /store/"), "\(fault) before \(rejected)")
            #expect(fault.offset != nil && fault.outcome.description.hasPrefix("enospc after "))
            #expect(rejected.fsCallStart <= fault.fsCallStart && fault.fsCallStart < rejected.fsCallEnd)
        }
    }

    @Test func faultEventsSurviveReportJSON() throws {
        let (_, timeline) = try Self.firstFailure("canary-ack-before-sync")
        let decoded = try JSONDecoder().decode(Timeline.self, from: JSONEncoder().encode(timeline))
        #expect(decoded == timeline)
    }
}
