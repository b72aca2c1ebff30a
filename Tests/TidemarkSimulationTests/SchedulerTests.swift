import Foundation
import Testing
import TidemarkIO

@testable import TidemarkSimulation

/// The deterministic scheduler: group commit's threads interleaved from the seed, the two
/// planted group-commit bugs caught with it and never with the same operations run one after
/// another, the safe store clean, and the same seed giving the same interleaving.
@Suite struct SchedulerTests {
    /// The plan with every concurrent step replaced by its members one after another (and a
    /// reopen where it closed the store): the same operations, without concurrency.
    static func serialized(_ plan: Plan) -> Plan {
        Plan(steps: plan.steps.flatMap { step -> [Step] in
            guard case .operation(.concurrent(let members, let closes), let kill, let crash) = step else { return [step] }
            var steps: [Step] = members.map { .operation($0, killAfterCalls: nil, crash: nil) }
            if closes { steps.append(.operation(.reopen, killAfterCalls: nil, crash: nil)) }
            if let kill, !steps.isEmpty { steps[steps.count - 1] = .operation(members.last ?? .reopen, killAfterCalls: kill, crash: crash) }
            return steps
        })
    }

    /// Seeds caught (the scenario's expected invariants) with the scheduler, and without it.
    static func caught(_ name: String, seeds: ClosedRange<UInt64>) throws -> (concurrent: Int, serial: Int) {
        let scenario = try shippedScenario(name)
        var concurrent = 0, serial = 0
        for seed in seeds {
            let run = SimulationRun(scenario: scenario, seed: seed)
            if let violation = run.execute().violation {
                #expect(scenario.expectInvariants.contains(violation.invariant), "seed \(seed): \(violation.message)")
                concurrent += 1
            }
            let oneByOne = SimulationRun(scenario: scenario, seed: seed, plan: serialized(run.plan), suppressedDecisions: [])
            if oneByOne.execute().violation != nil { serial += 1 }
        }
        return (concurrent, serial)
    }

    @Test(arguments: ["canary-credit-frames-appended-during-sync", "canary-follower-trusts-wakeup"])
    func aPlantedGroupCommitBugIsCaughtOnlyWhenThreadsInterleave(_ name: String) throws {
        let (concurrent, serial) = try Self.caught(name, seeds: 1...20)
        #expect(concurrent >= 4, "\(concurrent) of 20 seeds caught")
        #expect(serial == 0, "\(serial) of 20 seeds caught with the same operations one after another")
    }

    @Test func theSafeStorePassesRacingCommitsClosesAndAFullDisk() throws {
        let scenario = try shippedScenario("group-concurrency")
        var switches = 0, crashesInside = 0, closes = 0, checkpoints = 0
        for seed in UInt64(1)...25 {
            let run = SimulationRun(scenario: scenario, seed: seed)
            let result = run.execute()
            #expect(result.violation == nil, "seed \(seed): \(result.violation?.message ?? "")")
            switches += result.threadSwitches
            crashesInside += result.crashPoints["during concurrent"] ?? 0
            closes += run.plan.steps.filter { if case .operation(.concurrent(_, true), _, _) = $0 { true } else { false } }.count
            checkpoints += run.plan.steps.filter { if case .operation(.concurrent(let members, _), _, _) = $0 { members.contains(.checkpoint) } else { false } }.count
        }
        // The runs really interleave threads, crash inside concurrent steps and race closes.
        #expect(switches > 1_000 && crashesInside > 0 && closes > 0 && checkpoints > 0, "\(switches) switches, \(crashesInside) crashes inside, \(closes) closes, \(checkpoints) checkpoints")
    }

    @Test func sameSeedSameInterleavingAndTrace() throws {
        let scenario = try shippedScenario("group-concurrency")
        for seed in UInt64(1)...4 {
            let first = SimulationRun(scenario: scenario, seed: seed, recordTrace: true).execute()
            let second = SimulationRun(scenario: scenario, seed: seed, recordTrace: true).execute()
            #expect(first.traceHash == second.traceHash && first.threadSwitches == second.threadSwitches)
            #expect(first.trace.map(\.path) == second.trace.map(\.path))
            #expect(first.events.map(\.label) == second.events.map(\.label))
        }
        let plan = SimulationRun(scenario: scenario, seed: 1).plan
        // The interleaving comes from the seed's scheduler stream: another seed, same plan, other trace.
        let other = SimulationRun(scenario: scenario, seed: 2, plan: plan, suppressedDecisions: []).execute()
        #expect(other.traceHash != SimulationRun(scenario: scenario, seed: 1, plan: plan, suppressedDecisions: []).execute().traceHash)
    }

    @Test func aWaitNoThreadCanEndIsADeadlockNamingEachThreadAndWhereItWaits() {
        let scheduler = DeterministicScheduler(seed: 7)
        let monitor = scheduler.makeMonitor()
        let outcome = scheduler.run(
            [
                (name: "waiter", body: { monitor.lock(); monitor.wait(); monitor.unlock() }),
                (name: "locker", body: { monitor.lock(); monitor.lock() }),
            ],
            isHalted: { false })
        guard case .deadlocked(let report) = outcome else {
            Issue.record("expected a deadlock, got \(outcome)")
            return
        }
        #expect(report.contains("waiter waits on the condition at wait (TidemarkSimulationTests/SchedulerTests.swift:"))
        #expect(report.contains("locker is blocked on the lock at lock (TidemarkSimulationTests/SchedulerTests.swift:"))
    }

    @Test func exactlyOneThreadRunsAtATimeAndTheSeedPicksTheOrder() {
        func order(seed: UInt64) -> [Int] {
            let scheduler = DeterministicScheduler(seed: seed)
            let monitor = scheduler.makeMonitor()
            let log = Log()
            let bodies: [(name: String, body: @Sendable () -> Void)] = (0..<4).map { thread in
                (name: "t\(thread)", body: {
                    for _ in 0..<5 {
                        monitor.lock()
                        log.append(thread)
                        monitor.unlock()
                    }
                })
            }
            #expect(scheduler.run(bodies, isHalted: { false }) == .finished)
            #expect(log.maxInside == 1)
            return log.entries
        }
        #expect(order(seed: 1) == order(seed: 1))
        #expect(order(seed: 1) != order(seed: 2))
    }
}

/// Records entries and how many threads were ever inside `append` at once.
private final class Log: @unchecked Sendable {
    private let lock = NSLock()
    private var inside = 0
    private(set) var maxInside = 0
    private(set) var entries: [Int] = []
    func append(_ value: Int) {
        lock.withLock { inside += 1; maxInside = max(maxInside, inside) }
        usleep(200)
        lock.withLock { entries.append(value); inside -= 1 }
    }
}

@Suite struct ConcurrencyKnobParsingTests {
    static let store = "name: x\nsubject: {kind: tidemark}\n"

    @Test func theKnobParsesWithItsWeight() throws {
        let scenario = try ScenarioParser.parse(
            Self.store + "workload:\n  mix: {concurrent: 3, put: 1}\n  concurrency:\n    writers: 3..5\n    closeChance: 0.5\n    checkpointChance: 0.25\n", file: "c.yaml")
        #expect(scenario.workload.concurrency == ConcurrencyConfiguration(writers: IntRange(3, 5), closeChance: 0.5, checkpointChance: 0.25))
        #expect(scenario.workload.mix[.concurrent] == 3)
    }

    @Test func aMalformedKnobIsAnErrorNamingWhatAndWhere() {
        let cases: [(String, String)] = [
            (Self.store + "workload:\n  mix: {concurrent: 3}\n", "c.yaml:4:8: the mix weighs concurrent steps, but workload has no \"concurrency\""),
            (Self.store + "workload:\n  concurrency:\n    writers: 2\n", "c.yaml:4:3: concurrency needs a positive \"concurrent\" weight"),
            (Self.store + "workload:\n  mix: {concurrent: 1}\n  concurrency:\n    writers: 1..4\n", "c.yaml:6:14: concurrency writers must be at least 2"),
            (Self.store + "workload:\n  mix: {concurrent: 1}\n  concurrency:\n    writers: 2..40\n", "c.yaml:6:14: concurrency writers must be at most 16"),
            (Self.store + "workload:\n  mix: {concurrent: 1}\n  concurrency:\n    closeChance: 2\n", "c.yaml:6:18: closeChance is a probability"),
            (Self.store + "workload:\n  mix: {concurrent: 1}\n  concurrency:\n    threads: 2\n", "c.yaml:6:5:"),
            (Self.store + "workload:\n  mix: {concurrent: 1}\n  concurrency:\n    checkpointChance: -1\n", "c.yaml:6:23: checkpointChance is a probability"),
            ("name: x\nsubject: {kind: sqlite}\nworkload:\n  mix: {concurrent: 1}\n  concurrency:\n    writers: 2\n", "c.yaml:3:1: concurrency: only the tidemark store"),
        ]
        for (yaml, message) in cases {
            #expect {
                try ScenarioParser.parse(yaml, file: "c.yaml")
            } throws: { error in
                "\(error)".hasPrefix(message)
            }
        }
    }
}

@Suite struct ConcurrentShrinkingTests {
    /// A planted group-commit bug shrinks to a plan still breaking the same invariant, with
    /// its concurrent steps cut down to the members that matter, and replays bit for bit.
    @Test func aConcurrentFailureShrinksByStepsThenMembersAndReplays() throws {
        let scenario = try shippedScenario("canary-follower-trusts-wakeup")
        let seed = try #require((UInt64(1)...20).first { SimulationRun(scenario: scenario, seed: $0).execute().violation != nil })
        let run = SimulationRun(scenario: scenario, seed: seed)
        let failure = FailureFile(scenarioFile: "canary.yaml", scenario: scenario, run: run, result: run.execute())
        let shrunk = Shrinker(failure: failure, maxRuns: 300).shrink().failure
        func members(_ plan: Plan) -> Int {
            plan.steps.reduce(0) { count, step in
                if case .operation(.concurrent(let members, _), _, _) = step { return count + members.count }
                return count
            }
        }
        #expect(shrunk.invariant == failure.invariant)
        #expect(shrunk.plan.steps.count < failure.plan.steps.count && members(shrunk.plan) < members(failure.plan))
        #expect(members(shrunk.plan) >= 2, "a follower needs a leader to wait for")
        // 1-minimal over members: dropping any one member of a concurrent step loses the failure.
        for (index, step) in shrunk.plan.steps.enumerated() {
            guard case .operation(.concurrent(let members, let closes), let kill, let crash) = step else { continue }
            for dropped in members.indices {
                var steps = shrunk.plan.steps
                var fewer = members
                fewer.remove(at: dropped)
                steps[index] = .operation(.concurrent(members: fewer, closes: closes), killAfterCalls: kill, crash: crash)
                let trial = SimulationRun(scenario: scenario, seed: seed, plan: Plan(steps: steps), suppressedDecisions: Set(shrunk.suppressedDecisions))
                #expect(trial.execute().violation?.invariant != shrunk.invariant, "step \(index) still fails without member \(dropped)")
            }
        }
        let replayed = SimulationRun(scenario: scenario, seed: seed, plan: shrunk.plan, suppressedDecisions: Set(shrunk.suppressedDecisions)).execute()
        #expect(replayed.violation?.invariant == shrunk.invariant)
        #expect(Hex.digits16(replayed.traceHash) == shrunk.traceHash)
    }
}

extension ConcurrentShrinkingTests {
    /// A concurrent step kept whole by ddmin over the steps loses the members the failure
    /// does not need.
    @Test func membersAFailureDoesNotNeedAreDropped() throws {
        let members: [WorkloadOperation] = (0..<5).map { .delete(id: "k\($0)") }
        let steps: [Step] = [.operation(.concurrent(members: members, closes: true), killAfterCalls: 3, crash: nil), .crash(CrashSpec(powerLoss: true))]
        let scenario = try shippedScenario("group-concurrency")
        let run = SimulationRun(scenario: scenario, seed: 1)
        let shrinker = Shrinker(failure: FailureFile(scenarioFile: "x.yaml", scenario: scenario, run: run, result: run.execute()))
        let shrunk = shrinker.droppingConcurrentMembers(steps) { candidate in
            guard case .operation(.concurrent(let kept, true), 3, nil) = candidate[0] else { return false }
            return kept.contains(.delete(id: "k1")) && kept.contains(.delete(id: "k3"))
        }
        #expect(shrunk == [.operation(.concurrent(members: [.delete(id: "k1"), .delete(id: "k3")], closes: true), killAfterCalls: 3, crash: nil), steps[1]])
    }
}

/// Store races the scheduler found.
@Suite struct StoreRaceRegressionTests {
    /// `group-concurrency-writeback-errors` seed 194: a background writeback error drops two
    /// frames' pages; a follower's append hits ENOSPC and its cut's fdatasync takes the error
    /// (errseq: once per descriptor) and stops the store, while the leader's fdatasync of the
    /// same descriptor, unlocked, then succeeds. The leader credited its target, recorded it in
    /// `SYNCED` and acknowledged a commit whose pages were gone: after a power loss recovery
    /// refused (the log ends below `SYNCED`). Now a leader whose store stopped during its
    /// sync does not trust it.
    @Test func aLeaderDoesNotTrustASyncDuringWhichTheENOSPCCutsSyncFailed() throws {
        let scenario = try shippedScenario("group-concurrency-writeback-errors")
        let result = SimulationRun(scenario: scenario, seed: 194).execute()
        #expect(result.violation == nil, "\(result.violation?.message ?? "")")
        #expect(result.knobsFired.isSuperset(of: ["writebackError", "capacityBytes"]))
    }
}

@Suite struct ConcurrentModelTests {
    static func put(_ id: String) -> WorkloadOperation {
        .put(record: RecordValue(id: id, content: id, embedding: [1], metadata: [:]))
    }

    static func state(_ ids: String...) -> Model.State {
        Dictionary(uniqueKeysWithValues: ids.map { ($0, RecordValue(id: $0, content: $0, embedding: [1], metadata: [:])) })
    }

    /// Uncertain members of a concurrent step may show in any combination, after every
    /// acknowledged one; an acknowledged member missing is a violation.
    @Test func uncertainMembersShowInAnyCombinationAcknowledgedOnesMust() {
        var model = Model()
        model.acknowledged(stepIndex: 0, operation: Self.put("a"), durable: true)
        model.uncertainConcurrent(stepIndex: 0, operation: Self.put("b"))
        model.uncertainConcurrent(stepIndex: 0, operation: Self.put("c"))
        for recovered in [Self.state("a"), Self.state("a", "b"), Self.state("a", "c"), Self.state("a", "b", "c")] {
            var copy = model
            #expect(copy.check(recovered: recovered, acknowledgementsAreDurable: true, corruptionInjected: false, stepIndex: 1) == nil, "\(recovered.keys.sorted())")
        }
        var copy = model
        #expect(copy.check(recovered: Self.state("c"), acknowledgementsAreDurable: true, corruptionInjected: false, stepIndex: 1) != nil)
        // Without the tail, "a, c" would be no prefix of [a, b, c].
        var sequential = Model()
        for id in ["a", "b", "c"] { sequential.acknowledged(stepIndex: 0, operation: Self.put(id), durable: false) }
        #expect(sequential.check(recovered: Self.state("a", "c"), acknowledgementsAreDurable: false, corruptionInjected: false, stepIndex: 1)?.invariant == .prefixConsistency)
    }
}
