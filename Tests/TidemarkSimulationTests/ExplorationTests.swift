import Foundation
import Testing
import TidemarkIO
import TidemarkReports
import TidemarkSimulatedDisk
@testable import TidemarkSimulation

/// Crash exploration on the real store: it catches a canary that the run's own crashes cannot
/// (they keep every pending change), is clean on the correct store, and every vulnerability
/// replays from its failure file.
struct ExplorationTests {
    static func scenario(canary: String?, exploration: ExplorationSettings? = ExplorationSettings()) -> Scenario {
        var options = ["sync": "immediate", "segmentBytes": "1024"]
        if let canary { options["canary"] = canary }
        var workload = WorkloadConfiguration()
        workload.operationsPerCycle = IntRange(12, 16)
        workload.cycles = IntRange(1)
        workload.contentBytes = IntRange(100, 300)
        workload.mix = [.put: 50, .batch: 10, .get: 10, .sync: 5, .checkpoint: 3]
        var faults = FaultRanges()
        // The run's own power losses keep every pending change (as a process kill would), so
        // they never lose anything. Whatever is found below, exploration found.
        faults.keepAll = DoubleRange(1)
        faults.killInOperation = .zero
        var scenario = Scenario(
            name: canary ?? "store", subject: SubjectConfiguration(kind: .tidemark, options: options), workload: workload,
            faults: faults, seeds: 3, expect: canary == nil ? .pass : .violation,
            expectInvariants: canary == nil ? [] : [.durability, .prefixConsistency])
        scenario.exploration = exploration
        return scenario
    }

    @Test func catchesTheMissingDirectorySyncThatRandomProcessKillsMiss() throws {
        let scenario = Self.scenario(canary: "skipDirectorySyncOnNewSegment")
        #expect(SimulationRun(scenario: scenario, seed: 1).execute().violation == nil, "the run alone passes")
        let outcome = Exploration.explore(scenario, seed: 1, settings: ExplorationSettings())
        #expect(outcome.run.violation == nil)
        let causes = outcome.findings.map(\.finding.cause)
        #expect(causes.contains("durability: create /store/wal-….log was still pending"), "\(causes)")
        #expect(outcome.statistics.statesChecked <= outcome.statistics.statesEnumerated)

        // The reproducer pins the exact state: replay gives the same invariant and trace hash.
        let finding = try #require(outcome.findings.first { $0.finding.violation.invariant == .durability }?.finding)
        var failure = FailureFile(scenarioFile: "test", scenario: scenario, run: SimulationRun(scenario: scenario, seed: 1), result: outcome.run)
        failure.pin(finding)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("explore-\(UInt64.random(in: 0...UInt64.max)).json").path
        try failure.write(to: path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let replayed = try FailureFile.load(from: path).run.execute()
        #expect(replayed.violation?.invariant == .durability)
        #expect(replayed.traceHash == finding.traceHash)
    }

    @Test func theCorrectStoreIsCleanOnEveryCrashStateOfAFewSeeds() {
        let scenario = Self.scenario(canary: nil)
        for seed: UInt64 in 1...3 {
            let outcome = Exploration.explore(scenario, seed: seed, settings: ExplorationSettings())
            #expect(outcome.run.violation == nil)
            #expect(outcome.findings.map(\.finding.cause) == [], "seed \(seed)")
            #expect(outcome.statistics.points > 0 && outcome.statistics.statesChecked > outcome.statistics.points)
        }
    }

    @Test func ext4OrderedStillCatchesTheCanaryButNeverTearsAppends() {
        // The canary never syncs the directory; ext4 data=ordered journals the create in order
        // with the data, so the segment's name persists whenever a later metadata change does,
        // but a prefix that stops before it still loses acknowledged commits.
        let scenario = Self.scenario(canary: "skipDirectorySyncOnNewSegment")
        let outcome = Exploration.explore(scenario, seed: 1, settings: ExplorationSettings(model: .ext4Ordered))
        #expect(outcome.findings.contains { $0.finding.violation.invariant == .durability })
        #expect(!outcome.findings.contains { $0.finding.cause.hasPrefix("atomicity") }, "ext4 never grows or tears an append")
    }

    @Test func anExhaustiveScenarioInACampaignWritesAPinnedFailureFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("explore-campaign-\(UInt64.random(in: 0...UInt64.max))").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var options = Campaign.Options(failureDirectory: directory)
        options.seeds = 1
        options.jobs = 1
        let campaign = Campaign(options: options, scenarios: [("test", Self.scenario(canary: "skipDirectorySyncOnNewSegment"))])
        campaign.run(clock: SystemClock())
        let outcome = try #require(try campaign.outcomes().first)
        #expect(outcome.expectation.met)
        let failure = try FailureFile.load(from: try #require(outcome.failures.first).failureFile)
        #expect(failure.crash != nil)
        #expect(failure.run.execute().violation?.invariant == failure.invariant)
        // Every vulnerability the seeds showed is tallied and pinned in a failure file that
        // replays, and the report lists them.
        let vulnerabilities = try #require(outcome.vulnerabilities)
        #expect(!vulnerabilities.isEmpty)
        for vulnerability in vulnerabilities {
            let pinned = try FailureFile.load(from: try #require(vulnerability.failureFile))
            #expect(pinned.crash == vulnerability.reproducer)
            #expect(pinned.run.execute().violation?.invariant == vulnerability.invariant, "\(vulnerability.cause)")
        }
        let report = ReportBuilder.scenarioReport(outcome, reportDir: directory)
        #expect(report.vulnerabilities?.map(\.cause) == vulnerabilities.map(\.cause))
        let scenario = Self.scenario(canary: "skipDirectorySyncOnNewSegment")
        for (listed, vulnerability) in zip(report.vulnerabilities ?? [], vulnerabilities) {
            #expect(listed.reproduce == "tidemark replay \(vulnerability.failureFile!)")
            #expect(listed.expected == scenario.allows(vulnerability.invariant))
        }
        #expect(report.exploration?.statesChecked ?? 0 > 0)
    }

    /// A pinned failure shrinks: each candidate plan finds the pinned state again by step and
    /// call offset, and the shrunk file replays to the same invariant and trace hash.
    @Test func shrinkingAPinnedFailureKeepsItsCrashState() throws {
        let scenario = Self.scenario(canary: "skipDirectorySyncOnNewSegment")
        let outcome = Exploration.explore(scenario, seed: 1, settings: ExplorationSettings())
        // The finding pinned latest in the run: the most steps before it to remove.
        let finding = try #require(outcome.findings.map(\.finding).max { $0.crash.point.fsCall < $1.crash.point.fsCall })
        var failure = FailureFile(scenarioFile: "test", scenario: scenario, run: SimulationRun(scenario: scenario, seed: 1), result: outcome.run)
        failure.pin(finding)
        let shrunk = Shrinker(failure: failure).shrink()
        #expect(shrunk.operationsAfter < shrunk.operationsBefore)
        let pinned = try #require(shrunk.failure.crash)
        #expect(pinned.point.stepIndex < finding.crash.point.stepIndex, "steps before the pinned point were removed")
        let replayed = shrunk.failure.run.execute()
        #expect(replayed.violation?.invariant == finding.violation.invariant)
        #expect(Hex.digits16(replayed.traceHash) == shrunk.failure.traceHash)
    }

    @Test func processKillsOnlyExploreThePageCacheAlone() {
        var scenario = Self.scenario(canary: "skipDirectorySyncOnNewSegment")
        scenario.faults.powerLoss = .zero
        let outcome = Exploration.explore(scenario, seed: 1, settings: ExplorationSettings())
        #expect(outcome.statistics.statesChecked == outcome.statistics.points, "one state per point: the page cache")
        #expect(outcome.findings.isEmpty, "a process kill keeps the unsynced directory entry")
    }

    @Test func sequenceNumbersDoNotSplitACause() {
        #expect(CauseFinder.generic("/store/wal-000000000000000c.log") == "/store/wal-….log")
        #expect(CauseFinder.generic("/store/checkpoint-0000000000000012.ckpt.tmp") == "/store/checkpoint-….ckpt.tmp")
        #expect(CauseFinder.generic("/db/cafe/MANIFEST") == "/db/cafe/MANIFEST")
    }
}
