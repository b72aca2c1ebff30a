import Foundation
import TidemarkReports

/// Deterministic sample reports for the renderer tests and for looking at the HTML page.
///
/// To write the sample report somewhere and screenshot it:
/// `TIDEMARK_SAMPLE_REPORT_DIR=/tmp/sample-report swift test --filter sampleReportRoundTrips`
/// then open /tmp/sample-report/index.html.
enum SampleReports {
    /// A campaign with a clean scenario, a failing one (short and 240-event timelines), a
    /// violation scenario that found what it expected, and a canary that found nothing.
    static func campaign() -> CampaignReport {
        CampaignReport(
            name: "2026-11-21T19-40-00-default",
            createdAt: "2026-11-21T19:40:00Z",
            build: "tidemark 0.1.0 (v0.1.0-42-g1a2b3c4)",
            jobs: 2,
            durationSeconds: 187.4,
            expectationsMet: false,
            scenarios: [cleanScenario(), failingScenario(), expectedViolationScenario(), silentCanary()])
    }

    static func cleanScenario() -> ScenarioReport {
        ScenarioReport(
            name: "store-immediate-power-loss", file: "Scenarios/store-immediate.yaml",
            subject: "tidemark-store", configuration: ["sync": "immediate", "tiers": "hot-only"],
            expect: .pass, runs: 500, passed: 500, failed: 0, expectationMet: true,
            expectationMessage: "All 500 runs satisfied every invariant.",
            faults: ["power loss": 412, "torn write": 233, "garbage sector": 61, "early writeback": 120, "reordering": 300],
            crashes: 431, recoveries: 450,
            crashPoints: ["write segment": 210, "sync segment": 97, "checkpoint rename": 41, "directory sync": 52, "during recovery": 31],
            recoveryPaths: ["clean open": 120, "torn tail truncated": 260, "checkpoint fallback": 51, "replayed log": 19],
            operations: ["put": 18_204, "delete": 2_110, "batch": 1_450, "get": 9_988, "search": 3_120, "sync": 1_200, "checkpoint": 260],
            runsPerSecond: 41.7, fsCallsPerSecond: 182_345.2, fsCalls: 2_188_142,
            reportDir: "Reports/2026-11-21T19-40-00-default/store-immediate-power-loss")
    }

    static func failingScenario() -> ScenarioReport {
        ScenarioReport(
            name: "store-group-fsync-error", file: "Scenarios/store-group-fsync.yaml",
            subject: "tidemark-store", configuration: ["sync": "group"],
            expect: .pass, runs: 300, passed: 298, failed: 2, expectationMet: false,
            expectationMessage: "2 of 300 runs broke durability or fail-stop; this configuration is expected to pass.",
            failures: [shortFailure(), longFailure(events: 240)],
            faults: ["fsync error": 88, "power loss": 240, "torn write": 90, "write error": 12],
            crashes: 252, recoveries: 260,
            crashPoints: ["write segment": 130, "group flush": 70, "during recovery": 8, "checkpoint rename": 44],
            recoveryPaths: ["clean open": 60, "torn tail truncated": 171, "corruption detected": 2, "checkpoint fallback": 27],
            operations: ["put": 9_310, "delete": 880, "get": 4_002, "sync": 600],
            invariantViolations: ["durability": 1, "fail-stop after ambiguous I/O": 1],
            runsPerSecond: 38.2, fsCallsPerSecond: 150_220.9, fsCalls: 1_179_870,
            reportDir: "Reports/2026-11-21T19-40-00-default/store-group-fsync-error")
    }

    static func expectedViolationScenario() -> ScenarioReport {
        var failure = shortFailure()
        failure.seed = 7_331
        failure.failureFile = "Reports/2026-11-21T19-40-00-default/sqlite-wal-normal/failure-7331.json"
        failure.message = "acknowledged commit #9 (insert k9) missing after power loss"
        return ScenarioReport(
            name: "sqlite-wal-normal", file: "Scenarios/sqlite-wal-normal.yaml",
            subject: "sqlite", configuration: ["journal_mode": "wal", "synchronous": "normal"],
            expect: .violation, expectedInvariants: ["durability"],
            runs: 200, passed: 163, failed: 37, expectationMet: true,
            expectationMessage: "Durability broke in 37 runs, as expected for synchronous=NORMAL.",
            failures: [failure],
            faults: ["power loss": 200, "reordering": 140],
            crashes: 200, recoveries: 200,
            crashPoints: ["wal append": 160, "checkpoint": 40],
            recoveryPaths: ["wal replayed": 163, "wal truncated": 37],
            operations: ["insert": 4_000, "update": 1_200, "commit": 2_100],
            invariantViolations: ["durability": 37],
            runsPerSecond: 95.5, fsCallsPerSecond: 88_001, fsCalls: 184_223,
            reportDir: "Reports/2026-11-21T19-40-00-default/sqlite-wal-normal")
    }

    static func silentCanary() -> ScenarioReport {
        ScenarioReport(
            name: "canary-no-directory-sync", file: "Scenarios/canary-no-dirsync.yaml",
            subject: "tidemark-store-canary", configuration: ["canary": "skip-directory-sync"],
            expect: .violation, expectedInvariants: ["durability", "prefix consistency"],
            runs: 100, passed: 100, failed: 0, expectationMet: false,
            expectationMessage: "No run found the violation this canary must cause; the fault mix may be too weak.",
            faults: ["power loss": 100], crashes: 100, recoveries: 100,
            crashPoints: ["write segment": 100], recoveryPaths: ["clean open": 100],
            operations: ["put": 2_000], runsPerSecond: 50, fsCallsPerSecond: 61_000, fsCalls: 122_000,
            reportDir: "Reports/2026-11-21T19-40-00-default/canary-no-directory-sync")
    }

    /// A shrunk failure: 14 events, one power loss, writes with every fate.
    static func shortFailure() -> FailureReport {
        var events: [TimelineEvent] = []
        var fsCall = 0
        func add(_ kind: TimelineEvent.Kind, _ label: String, _ outcome: EventOutcome, calls: Int, highlighted: Bool = false) {
            events.append(TimelineEvent(
                index: events.count, kind: kind, label: label, outcome: outcome,
                fsCallStart: fsCall, fsCallEnd: fsCall + calls, highlighted: highlighted))
            fsCall += calls + 1
        }
        add(.recovery, "open: clean", .ok, calls: 6)
        add(.operation, "put k1", .acknowledged, calls: 3)
        add(.operation, "put k2", .acknowledged, calls: 3)
        add(.sync, "sync", .ok, calls: 1)
        add(.operation, "delete k1", .acknowledged, calls: 3)
        add(.fault, "fsync error on log/000002.seg", .ok, calls: 0)
        add(.operation, "put k3", .ambiguous, calls: 3)
        add(.operation, "put k4", .rejected, calls: 0)
        add(.checkpoint, "checkpoint", .ok, calls: 9)
        add(.operation, "put k5", .acknowledged, calls: 3, highlighted: true)
        add(.operation, "batch [k6, k7]", .inFlight, calls: 2)
        let crashCall = fsCall
        add(.crash, "power loss", .note(""), calls: 0)
        add(.recovery, "recover: torn tail 37 B", .ok, calls: 14)
        add(.check, "check durability", .violation, calls: 4)
        let crash = CrashFate(
            eventIndex: 11, kind: "power loss", atFSCall: crashCall,
            writes: [
                WriteFate(path: "log/000002.seg", offset: 4096, length: 512, fsCall: 22, fate: "lost to fsync error", mattered: true),
                WriteFate(path: "log/000002.seg", offset: 4608, length: 512, fsCall: 26, fate: "survived"),
                WriteFate(path: "checkpoint.tmp", offset: 0, length: 8192, fsCall: 34, fate: "torn (3 of 16 sectors)"),
                WriteFate(path: "log/000002.seg", offset: 5120, length: 1024, fsCall: 40, fate: "dropped", mattered: true),
                WriteFate(path: "log/000002.seg", offset: 6144, length: 512, fsCall: 44, fate: "garbage"),
            ],
            directoryOperations: [
                DirectoryOpFate(operation: "rename", path: "checkpoint.tmp -> checkpoint", fsCall: 36, survived: true),
                DirectoryOpFate(operation: "create", path: "log/000003.seg", fsCall: 45, survived: false),
            ])
        return FailureReport(
            seed: 18_446_744_073_709_551_557, invariant: "durability",
            message: "put k5 was acknowledged at FS call 43 but is missing after recovery",
            failureFile: "Reports/2026-11-21T19-40-00-default/store-group-fsync-error/failure-18446744073709551557.json",
            traceHash: "9f3c2a7be01d44c8", operationIndex: 9,
            timeline: Timeline(events: events, crashes: [crash]))
    }

    /// An unshrunk failure with `count` events, a crash in the middle, a crash during
    /// recovery, and many pending writes: for layout at scale.
    static func longFailure(events count: Int) -> FailureReport {
        var events: [TimelineEvent] = []
        var crashes: [CrashFate] = []
        var fsCall = 0
        // A fixed linear congruential sequence: varied but identical on every run.
        var state: UInt64 = 12_345
        func next(_ bound: UInt64) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % bound)
        }
        let firstCrash = count * 3 / 5
        for index in 0..<count {
            let start = fsCall
            var kind = TimelineEvent.Kind.operation
            var label = ""
            var outcome = EventOutcome.acknowledged
            if index == 0 {
                (kind, label, outcome) = (.recovery, "open: clean", .ok)
            } else if index == firstCrash {
                (kind, label, outcome) = (.crash, "power loss", .note(""))
            } else if index == firstCrash + 1 {
                (kind, label, outcome) = (.recovery, "recover: replay 3 segments", .inFlight)
            } else if index == firstCrash + 2 {
                (kind, label, outcome) = (.crash, "process kill during recovery", .note(""))
            } else if index == firstCrash + 3 {
                (kind, label, outcome) = (.recovery, "recover: torn tail 512 B", .ok)
            } else if index == firstCrash + 4 {
                (kind, label, outcome) = (.check, "check prefix consistency", .violation)
            } else if index % 17 == 0 {
                (kind, label, outcome) = (.sync, "sync", .ok)
            } else if index % 53 == 0 {
                (kind, label, outcome) = (.checkpoint, "checkpoint", .ok)
            } else if index % 61 == 0 {
                (kind, label, outcome) = (.fault, "write error on log/000004.seg", .ok)
            } else if index > firstCrash + 4 {
                (kind, label, outcome) = (.operation, "get k\(next(90))", .ok)
            } else {
                let roll = next(100)
                label = roll < 70 ? "put k\(next(90))" : roll < 85 ? "delete k\(next(90))" : "batch ×\(2 + next(6))"
                outcome = index == firstCrash - 1 ? .inFlight : roll < 92 ? .acknowledged : roll < 97 ? .rejected : .ambiguous
            }
            fsCall += kind == .crash ? 0 : 1 + next(8)
            events.append(TimelineEvent(
                index: index, kind: kind, label: label, outcome: outcome, fsCallStart: start,
                fsCallEnd: fsCall, highlighted: index == firstCrash - 7))
            if kind == .crash {
                let fates = ["survived", "survived", "dropped", "torn (1 of 8 sectors)", "garbage", "lost to fsync error"]
                var writes: [WriteFate] = []
                for number in 0..<(index == firstCrash ? 22 : 4) {
                    let path = index == firstCrash ? (number % 4 == 3 ? "cold/tier.db-wal" : "log/000004.seg") : "log/000005.seg"
                    writes.append(WriteFate(
                        path: path, offset: Int64(number * 4096), length: 512 * (1 + next(8)),
                        fsCall: start - 40 + number, fate: fates[next(UInt64(fates.count))],
                        mattered: index == firstCrash && number == 13))
                }
                crashes.append(CrashFate(
                    eventIndex: index, kind: index == firstCrash ? "power loss" : "process kill",
                    atFSCall: start, writes: writes,
                    directoryOperations: index == firstCrash
                        ? [DirectoryOpFate(operation: "create", path: "log/000005.seg", fsCall: start - 3, survived: false)]
                        : []))
            }
        }
        return FailureReport(
            seed: 42, invariant: "fail-stop after ambiguous I/O",
            message: "the store acknowledged put k\(firstCrash - 7) after a failed write without reopening",
            failureFile: "Reports/2026-11-21T19-40-00-default/store-group-fsync-error/failure-42.json",
            traceHash: "c0ffee00d15ea5e5", operationIndex: firstCrash - 7,
            timeline: Timeline(events: events, crashes: crashes))
    }
}
