import Testing
import TidemarkIO
@testable import TidemarkSimulation

/// Every invariant, broken on purpose by one bug of `ToySubject`, must be caught; the bug-free
/// toy must pass the same campaigns (no false alarms).
struct InvariantCheckingTests {
    static func scenario(_ name: String, faults: FaultRanges, workload: WorkloadConfiguration = WorkloadConfiguration()) -> Scenario {
        Scenario(name: name, subject: SubjectConfiguration(kind: .tidemark), workload: workload, faults: faults)
    }

    /// The invariants broken over `seeds` runs of the toy with `bugs`.
    static func violations(_ scenario: Scenario, bugs: ToySubject.Bugs, seeds: ClosedRange<UInt64> = 1...25) -> [Invariant: Int] {
        var found: [Invariant: Int] = [:]
        for seed in seeds {
            var run = SimulationRun(scenario: scenario, seed: seed)
            run.subjectFactory = { fileSystem, _, _ in ToySubject(fileSystem: fileSystem, bugs: bugs) }
            if let violation = run.execute().violation { found[violation.invariant, default: 0] += 1 }
        }
        return found
    }

    static var powerLoss: FaultRanges {
        var faults = FaultRanges()
        faults.dropUnsynced = DoubleRange(0.3, 1)
        faults.dropDirectoryOperation = DoubleRange(0, 1)
        faults.killInOperation = DoubleRange(0.5)
        faults.keepAll = .zero
        return faults
    }

    @Test func correctToyPassesUnderPowerLossTornWritesAndProcessKills() {
        var faults = Self.powerLoss
        faults.tornWrite = DoubleRange(0, 1)
        faults.garbage = DoubleRange(0, 0.5)
        faults.powerLoss = DoubleRange(0.5)
        faults.killDuringRecovery = DoubleRange(0.3)
        #expect(Self.violations(Self.scenario("toy", faults: faults), bugs: []) == [:])
    }

    @Test func correctToyPassesUnderFsyncErrorsAndFullDisk() {
        var faults = Self.powerLoss
        faults.fsyncError = DoubleRange(0.1)
        faults.capacityBytes = IntRange(2000, 6000)
        #expect(Self.violations(Self.scenario("toy", faults: faults), bugs: []) == [:])
    }

    @Test func durabilityBreaksWhenAcknowledgingWithoutSync() {
        let found = Self.violations(Self.scenario("toy", faults: Self.powerLoss), bugs: .ackWithoutSync)
        #expect(found[.durability, default: 0] > 0, "found \(found)")
    }

    @Test func syncDurabilityBreaksWhenSyncIsANoOp() {
        var workload = WorkloadConfiguration()
        workload.mix = [.put: 5, .sync: 3]
        let found = Self.violations(Self.scenario("toy", faults: Self.powerLoss, workload: workload), bugs: .fakeSync)
        #expect(found[.syncDurability, default: 0] > 0, "found \(found)")
    }

    @Test func prefixConsistencyBreaksWhenBatchesAreNotAtomic() {
        var workload = WorkloadConfiguration()
        workload.mix = [.batch: 5, .get: 1]
        var faults = Self.powerLoss
        faults.killInOperation = DoubleRange(1)
        faults.powerLoss = .zero  // a process kill keeps the half-written batch
        let found = Self.violations(Self.scenario("toy", faults: faults, workload: workload), bugs: .nonAtomicBatches)
        #expect(found[.prefixConsistency, default: 0] > 0, "found \(found)")
    }

    @Test func rejectedMeansAbsentBreaksWhenARejectedWriteLingers() {
        var faults = Self.powerLoss
        faults.capacityBytes = IntRange(1500, 3000)
        faults.killInOperation = .zero
        var workload = WorkloadConfiguration()
        workload.mix = [.put: 5, .delete: 1]
        workload.contentBytes = IntRange(50, 200)
        let found = Self.violations(Self.scenario("toy", faults: faults, workload: workload), bugs: .applyRejected)
        #expect(found[.rejectedMeansAbsent, default: 0] > 0, "found \(found)")
    }

    static var bitRot: (FaultRanges, WorkloadConfiguration) {
        var faults = FaultRanges()
        faults.bitRot = DoubleRange(1)
        faults.killInOperation = .zero
        var workload = WorkloadConfiguration()
        workload.contentBytes = IntRange(200, 400)
        return (faults, workload)
    }

    @Test func correctToyPassesUnderBitRot() {
        let (faults, workload) = Self.bitRot
        #expect(Self.violations(Self.scenario("toy", faults: faults, workload: workload), bugs: [], seeds: 1...60) == [:])
    }

    @Test func noSilentCorruptionBreaksWhenBitRotDecodesToAnotherState() {
        let (faults, workload) = Self.bitRot
        let found = Self.violations(Self.scenario("toy", faults: faults, workload: workload), bugs: .ignoreChecksum, seeds: 1...60)
        #expect(found[.noSilentCorruption, default: 0] > 0, "found \(found)")
    }

    @Test func failStopBreaksWhenAcknowledgingAfterAnIOError() {
        var faults = FaultRanges()
        faults.fsyncError = DoubleRange(0.2)
        faults.killInOperation = .zero
        let found = Self.violations(Self.scenario("toy", faults: faults), bugs: .keepGoingAfterFailure)
        #expect(found[.failStop, default: 0] > 0, "found \(found)")
    }

    @Test func idempotentRecoveryBreaksWhenRecoveryIsDestructive() {
        var faults = Self.powerLoss
        faults.killDuringRecovery = DoubleRange(1)
        faults.killInOperation = .zero
        let found = Self.violations(Self.scenario("toy", faults: faults), bugs: .destructiveRecovery)
        #expect(found[.idempotentRecovery, default: 0] > 0, "found \(found)")
    }

    @Test func livenessBreaksWhenTempFilesAreLeftBehind() {
        let found = Self.violations(Self.scenario("toy", faults: FaultRanges()), bugs: .leaveTempFile, seeds: 1...3)
        #expect(found == [.liveness: 3])
    }

    @Test func readsMatchModelBreaksOnStaleReads() {
        var workload = WorkloadConfiguration()
        workload.mix = [.put: 3, .get: 3]
        workload.keys = 3
        let found = Self.violations(Self.scenario("toy", faults: FaultRanges(), workload: workload), bugs: .staleReads, seeds: 1...5)
        #expect(found[.readsMatchModel, default: 0] > 0, "found \(found)")
    }

    @Test func sameSeedSameTraceAndVerdictDifferentSeedDifferentTrace() {
        let scenario = Self.scenario("toy", faults: Self.powerLoss)
        func run(_ seed: UInt64, _ bugs: ToySubject.Bugs) -> RunResult {
            var run = SimulationRun(scenario: scenario, seed: seed)
            run.subjectFactory = { fileSystem, _, _ in ToySubject(fileSystem: fileSystem, bugs: bugs) }
            return run.execute()
        }
        for seed: UInt64 in 1...5 {
            let first = run(seed, .ackWithoutSync), second = run(seed, .ackWithoutSync)
            #expect(first.traceHash == second.traceHash)
            #expect(first.violation == second.violation)
            #expect(first.fsCalls == second.fsCalls)
        }
        #expect(run(1, []).traceHash != run(2, []).traceHash)
    }
}

struct ModelTests {
    let a = RecordValue(id: "a", content: "1", embedding: [1, 0], metadata: [:])
    let b = RecordValue(id: "b", content: "2", embedding: [0, 1], metadata: [:])

    @Test func anyPrefixBetweenSyncedAndAttemptedIsAllowed() {
        // a is synced, b in doubt: with or without b is fine, without a is not.
        let cases: [([String: RecordValue], Invariant?)] = [([:], .syncDurability), (["a": a], nil), (["a": a, "b": b], nil)]
        for (recovered, expected) in cases {
            var model = Model()
            model.acknowledged(stepIndex: 0, operation: .put(record: a), durable: false)
            model.synced()
            model.uncertain(stepIndex: 1, operation: .put(record: b))
            let violation = model.check(recovered: recovered, acknowledgementsAreDurable: false, corruptionInjected: false, stepIndex: 2)
            #expect(violation?.invariant == expected, "recovered \(recovered.keys.sorted())")
        }
    }

    @Test func losingAnAcknowledgedDurableOperationIsDurability() {
        var model = Model()
        model.acknowledged(stepIndex: 0, operation: .put(record: a), durable: true)
        let violation = model.check(recovered: [:], acknowledgementsAreDurable: true, corruptionInjected: false, stepIndex: 1)
        #expect(violation?.invariant == .durability)
        #expect(violation?.stepIndex == 0)
    }

    @Test func asyncLossIsDurabilityButSyncedLossIsSyncDurability() {
        var model = Model()
        model.acknowledged(stepIndex: 0, operation: .put(record: a), durable: false)
        #expect(model.check(recovered: [:], acknowledgementsAreDurable: false, corruptionInjected: false, stepIndex: 1)?.invariant == .durability)
        var synced = Model()
        synced.acknowledged(stepIndex: 0, operation: .put(record: a), durable: false)
        synced.synced()
        #expect(synced.check(recovered: [:], acknowledgementsAreDurable: false, corruptionInjected: false, stepIndex: 1)?.invariant == .syncDurability)
    }

    @Test func aStateNoPrefixExplainsIsPrefixConsistencyOrSilentCorruption() {
        var model = Model()
        model.acknowledged(stepIndex: 0, operation: .batch(mutations: [.put(record: a), .put(record: b)]), durable: true)
        #expect(model.check(recovered: ["a": a], acknowledgementsAreDurable: true, corruptionInjected: false, stepIndex: 1)?.invariant == .prefixConsistency)
        var damaged = Model()
        damaged.acknowledged(stepIndex: 0, operation: .put(record: a), durable: true)
        var wrong = a
        wrong.content = "x"
        #expect(damaged.check(recovered: ["a": wrong], acknowledgementsAreDurable: true, corruptionInjected: true, stepIndex: 1)?.invariant == .noSilentCorruption)
    }

    @Test func aVisibleRejectedOperationIsNamed() {
        var model = Model()
        model.acknowledged(stepIndex: 0, operation: .put(record: a), durable: true)
        model.rejected(stepIndex: 1, operation: .put(record: b))
        let violation = model.check(recovered: ["a": a, "b": b], acknowledgementsAreDurable: true, corruptionInjected: false, stepIndex: 2)
        #expect(violation?.invariant == .rejectedMeansAbsent)
        #expect(violation?.stepIndex == 1)
    }

    @Test func rolledBackTransactionsChangeNothing() {
        var model = Model()
        model.acknowledged(stepIndex: 0, operation: .transaction(mutations: [.put(record: a)], rollback: true), durable: true)
        #expect(model.current.isEmpty)
        #expect(model.check(recovered: [:], acknowledgementsAreDurable: true, corruptionInjected: false, stepIndex: 1) == nil)
    }

    @Test func searchAnswersAreCheckedByScoreNotTieBreak() {
        var model = Model()
        model.acknowledged(stepIndex: 0, operation: .put(record: a), durable: true)
        model.acknowledged(stepIndex: 1, operation: .put(record: b), durable: true)
        #expect(model.checkSearch(query: [1, 0], k: 1, metric: .cosine, answer: ["a"]) == nil)
        #expect(model.checkSearch(query: [1, 0], k: 1, metric: .cosine, answer: ["b"]) != nil)
        #expect(model.checkSearch(query: [1, 1], k: 1, metric: .dot, answer: ["b"]) == nil)  // a tie: either id
        #expect(model.checkSearch(query: [1, 0], k: 2, metric: .euclidean, answer: ["a"]) != nil)  // too few
        #expect(model.checkSearch(query: [1, 0], k: 2, metric: .euclidean, answer: ["b", "a"]) != nil)  // out of order
    }
}

