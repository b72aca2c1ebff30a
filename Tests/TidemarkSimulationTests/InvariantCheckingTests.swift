import Testing
import Tidemark
import TidemarkIO
@testable import TidemarkSimulation

/// Every invariant, broken on purpose by one bug of `ToySubject`, must be caught; the bug-free
/// toy must pass the same campaigns (no false alarms).
struct InvariantCheckingTests {
    static func scenario(_ name: String, faults: FaultRanges, workload: WorkloadConfiguration = WorkloadConfiguration()) -> Scenario {
        Scenario(name: name, subject: SubjectConfiguration(kind: .tidemark), workload: workload, faults: faults)
    }

    static func toy(_ bugs: ToySubject.Bugs) -> SimulationRun.SubjectFactory {
        { fileSystem, clock, _ in ToySubject(fileSystem: fileSystem, clock: clock, bugs: bugs) }
    }

    /// The invariants broken over `seeds` runs of the toy with `bugs`.
    static func violations(_ scenario: Scenario, bugs: ToySubject.Bugs, seeds: ClosedRange<UInt64> = 1...25) -> [Invariant: Int] {
        var found: [Invariant: Int] = [:]
        for seed in seeds {
            let run = SimulationRun(scenario: scenario, seed: seed, subjectFactory: toy(bugs))
            if let violation = run.execute().violation { found[violation.invariant, default: 0] += 1 }
        }
        return found
    }

    /// A planted bug the knob exists for: with `knob` set on `faults`, the bug-free toy passes
    /// and `bug` is caught in at least 5 of 25 seeds; without it, in none.
    static func expectCaughtOnlyWithTheKnob(
        _ bug: ToySubject.Bugs, faults: FaultRanges, workload: WorkloadConfiguration = WorkloadConfiguration(),
        knob: (inout FaultRanges) -> Void, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let without = violations(scenario("toy", faults: faults, workload: workload), bugs: bug).values.reduce(0, +)
        var with = faults
        knob(&with)
        let scenario = scenario("toy", faults: with, workload: workload)
        #expect(violations(scenario, bugs: []) == [:], sourceLocation: sourceLocation)
        let found = violations(scenario, bugs: bug)
        let caught = found.values.reduce(0, +)
        #expect(without == 0 && caught >= 5, "\(caught) of 25 seeds (\(found)), \(without) without the knob", sourceLocation: sourceLocation)
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

    @Test func theLossExcuseIsBoundedWhenRecoverySalvagesEverything() {
        let (faults, workload) = Self.bitRot
        let scenario = Self.scenario("toy", faults: faults, workload: workload)
        #expect(Self.violations(scenario, bugs: [], seeds: 1...40) == [:])
        let found = Self.violations(scenario, bugs: .salvageEverything, seeds: 1...40)
        #expect(found[.noSilentCorruption, default: 0] + found[.durability, default: 0] > 0, "found \(found)")
    }

    static var searching: WorkloadConfiguration {
        var workload = WorkloadConfiguration()
        workload.mix = [.put: 5, .search: 5]
        workload.keys = 6
        return workload
    }

    @Test func searchChecksCatchStaleRecordsIgnoredFiltersAndWrongScores() {
        let scenario = Self.scenario("toy", faults: FaultRanges(), workload: Self.searching)
        #expect(Self.violations(scenario, bugs: [], seeds: 1...5) == [:])
        for bug: ToySubject.Bugs in [.staleSearchRecords, .ignoreSearchFilter, .skewedSearchScores] {
            let found = Self.violations(scenario, bugs: bug, seeds: 1...5)
            #expect(found[.readsMatchModel, default: 0] > 0, "bug \(bug.rawValue) found \(found)")
        }
    }

    @Test func expiryIsCheckedWithTTLPutsAndClockJumps() {
        var workload = WorkloadConfiguration()
        workload.mix = [.putWithTTL: 5, .get: 5, .search: 2, .advanceClock: 2, .clockJump: 1]
        workload.keys = 6
        let scenario = Self.scenario("toy", faults: Self.powerLoss, workload: workload)
        #expect(Self.violations(scenario, bugs: [], seeds: 1...10) == [:])
        let found = Self.violations(scenario, bugs: .ignoreTTL, seeds: 1...10)
        #expect(found[.readsMatchModel, default: 0] + found[.prefixConsistency, default: 0] > 0, "found \(found)")
    }

    @Test func maintenanceIsCreditedAsASync() {
        var workload = WorkloadConfiguration()
        workload.mix = [.put: 5, .maintenance: 3]
        let found = Self.violations(Self.scenario("toy", faults: Self.powerLoss, workload: workload), bugs: .fakeSync)
        #expect(found[.syncDurability, default: 0] > 0, "found \(found)")
    }

    @Test func theCrashAfterTheLastRecoveryFindsUnsyncedRecoveryWrites() {
        var workload = WorkloadConfiguration()
        workload.cycles = IntRange(1)
        var faults = Self.powerLoss
        faults.killInOperation = .zero
        let scenario = Self.scenario("toy", faults: faults, workload: workload)
        #expect(Self.violations(scenario, bugs: [], seeds: 1...5) == [:])
        // The verified state vanishes.
        let found = Self.violations(scenario, bugs: .unsyncedRecoveryRewrite, seeds: 1...5)
        #expect(found[.durability, default: 0] == 5, "found \(found)")
    }

    @Test func aRefusalNeedsDamageThatFired() {
        var faults = Self.powerLoss
        faults.bitRot = DoubleRange(1e-9)  // configured, practically never fires
        var workload = WorkloadConfiguration()
        workload.mix = [.put: 5, .reopen: 2]
        let scenario = Self.scenario("toy", faults: faults, workload: workload)
        #expect(Self.violations(scenario, bugs: [], seeds: 1...5) == [:])
        let found = Self.violations(scenario, bugs: .refuseSpuriously, seeds: 1...5)
        #expect(found[.liveness, default: 0] > 0, "found \(found)")
    }

    /// Process kills only, a state of several pages: overwriting in place and syncing is safe
    /// while a killed write is never performed, and caught once a kill lands inside it.
    @Test func aKilledWriteMayLeaveSomeOfItsPages() {
        var faults = FaultRanges()
        faults.powerLoss = .zero
        faults.killInOperation = DoubleRange(1)
        var workload = WorkloadConfiguration()
        workload.mix = [.put: 1]
        workload.operationsPerCycle = IntRange(6, 12)
        workload.cycles = IntRange(3, 5)
        workload.contentBytes = IntRange(800, 1500)
        let atomic = Self.scenario("toy", faults: faults, workload: workload)
        #expect(Self.violations(atomic, bugs: .overwriteInPlace) == [:])
        faults.killMidWrite = DoubleRange(1)
        let midWrite = Self.scenario("toy", faults: faults, workload: workload)
        #expect(Self.violations(midWrite, bugs: []) == [:])
        let found = Self.violations(midWrite, bugs: .overwriteInPlace)
        #expect(found.values.reduce(0, +) >= 5, "at least 20% of 25 seeds; found \(found)")
    }

    /// Process kills only, fsync EIO: a toy that trusts a retried fsync serves its state from
    /// the page cache, right until the cache forgets the pages the failure marked clean (the run's
    /// final power loss catches some seeds without eviction; eviction catches it in the plan).
    @Test func aRetriedFsyncIsCaughtOnceThePageCacheForgets() {
        var faults = FaultRanges()
        faults.powerLoss = .zero
        faults.fsyncError = DoubleRange(0.2)
        var workload = WorkloadConfiguration()
        workload.mix = [.put: 4, .get: 2, .reopen: 1]
        let cached = Self.scenario("toy", faults: faults, workload: workload)
        let withoutEviction = Self.violations(cached, bugs: .retryFailedSync).values.reduce(0, +)
        faults.evictCleanPages = DoubleRange(0.5)
        let evicting = Self.scenario("toy", faults: faults, workload: workload)
        #expect(Self.violations(evicting, bugs: []) == [:])
        let found = Self.violations(evicting, bugs: .retryFailedSync)
        let caught = found.values.reduce(0, +)
        #expect(caught >= 5 && caught >= 2 * withoutEviction, "\(caught) of 25 seeds (\(found)), \(withoutEviction) without eviction")
    }

    /// errseq: a writeback error is reported to the descriptors open when it struck. A toy that
    /// syncs through a fresh descriptor is safe while errors come only from fsync itself, and
    /// caught once background writeback fails.
    @Test func aFreshDescriptorMissesABackgroundWritebackError() {
        Self.expectCaughtOnlyWithTheKnob(.syncThroughFreshDescriptor, faults: Self.powerLoss) {
            $0.writebackError = DoubleRange(0.05, 0.2)
        }
    }

    /// ENOSPC from fsync (delayed allocation) drops the pages like EIO: a toy that retries it
    /// as a transient full disk is caught only once fsync can fail that way.
    @Test func aRetriedNoSpaceFsyncIsCaught() {
        Self.expectCaughtOnlyWithTheKnob(.retrySyncAfterNoSpace, faults: Self.powerLoss) { $0.syncNoSpace = DoubleRange(0.05, 0.2) }
    }

    /// errseq for a failing fsync: the next fsync draws afresh and may fail again. A toy that
    /// rewrites after a failure and ignores the second fsync's error (an error is "reported once
    /// per file") is safe under the per-file rule and caught under errseq.
    @Test func aSecondFsyncErrorIsCaughtUnderErrseq() {
        var faults = Self.powerLoss
        faults.fsyncError = DoubleRange(0.2, 0.5)
        #expect(Self.violations(Self.scenario("toy", faults: faults), bugs: []) == [:])
        Self.expectCaughtOnlyWithTheKnob(.trustSyncAfterRewrite, faults: faults) { $0.fsyncErrorReporting = .errseq }
    }

    /// A file system remounted read-only after an error refuses every change with EROFS until
    /// the next crash: a toy that takes EROFS for success is caught only with the knob.
    @Test func acknowledgingOnAReadOnlyRemountIsCaught() {
        var faults = Self.powerLoss
        faults.writebackError = DoubleRange(0.05, 0.2)
        Self.expectCaughtOnlyWithTheKnob(.acknowledgeOnReadOnly, faults: faults) { $0.readOnlyRemount = DoubleRange(0.5, 1) }
    }

    /// The toy survives a file system that shuts down after an error (every call fails with EIO
    /// until the reboot), reopens included.
    @Test func correctToyPassesWhenTheFileSystemShutsDown() {
        var faults = Self.powerLoss
        faults.fsyncError = DoubleRange(0.05, 0.2)
        faults.writebackError = DoubleRange(0, 0.1)
        faults.shutdown = DoubleRange(0.5, 1)
        var workload = WorkloadConfiguration()
        workload.mix = [.put: 4, .get: 2, .reopen: 2]
        #expect(Self.violations(Self.scenario("toy", faults: faults, workload: workload), bugs: []) == [:])
    }

    /// Delayed allocation failing in background writeback reports ENOSPC at the next sync: a
    /// toy that retries the sync as for a transient full disk is caught only with the knob.
    @Test func aRetriedSyncAfterBackgroundNoSpaceIsCaught() {
        Self.expectCaughtOnlyWithTheKnob(.retrySyncAfterNoSpace, faults: Self.powerLoss) {
            $0.writebackNoSpace = DoubleRange(0.05, 0.2)
        }
    }

    /// Space is freed when an unlink is durable: a toy that deletes its state and writes the new
    /// one in its place, trusting a no-larger state to fit, is caught only with the knob.
    @Test func trustingSpaceAnUnlinkFreedIsCaughtWhenSpaceIsHeld() {
        var faults = Self.powerLoss
        faults.killInOperation = .zero
        faults.capacityBytes = IntRange(1500, 4000)
        var workload = WorkloadConfiguration()
        workload.mix = [.put: 3, .delete: 2, .get: 1]
        workload.contentBytes = IntRange(50, 100)
        Self.expectCaughtOnlyWithTheKnob(.deleteThenRewrite, faults: faults, workload: workload) {
            $0.holdSpaceUntilUnlinkDurable = true
        }
    }

    @Test func killPointsLandOnCallsTheOperationMakes() {
        var faults = Self.powerLoss
        faults.killInOperation = DoubleRange(1)
        faults.killDuringRecovery = DoubleRange(1)
        faults.powerLoss = DoubleRange(0.5)
        let scenario = Self.scenario("toy", faults: faults)
        var fired = 0, victims = 0, mixed = 0
        for seed: UInt64 in 1...20 {
            let run = SimulationRun(scenario: scenario, seed: seed, subjectFactory: Self.toy([]))
            let profile = run.callProfile()
            for (index, step) in run.plan.steps.enumerated() {
                // Reads make no call on the toy: there is nothing to kill.
                if case .operation(_, let kill?, let crash) = step, let calls = profile[index], !calls.isEmpty {
                    victims += 1
                    if kill < calls.count { fired += 1 }
                    if let crash, crash.recoveryPowerLoss != nil, crash.recoveryPowerLoss != crash.powerLoss { mixed += 1 }
                }
            }
        }
        // The toy's put makes a handful of calls: every kill drawn from them fires.
        #expect(victims > 10 && fired == victims, "\(fired) of \(victims)")
        #expect(mixed > 0)
    }

    @Test func knobsFiredNameWhatTookEffectInThePlan() {
        var faults = FaultRanges()
        faults.powerLoss = .zero  // process kills only; the verifier's final power loss is not a knob
        faults.killInOperation = DoubleRange(1)
        func knobs(_ faults: FaultRanges) -> Set<String> {
            (UInt64(1)...5).reduce(into: Set<String>()) { knobs, seed in
                knobs.formUnion(SimulationRun(scenario: Self.scenario("toy", faults: faults), seed: seed, subjectFactory: Self.toy([])).execute().knobsFired)
            }
        }
        #expect(knobs(faults) == ["killInOperation"])
        faults.fsyncError = DoubleRange(0.3)
        #expect(knobs(faults).contains("fsyncError"))
    }

    @Test func sameSeedSameTraceAndVerdictDifferentSeedDifferentTrace() {
        let scenario = Self.scenario("toy", faults: Self.powerLoss)
        func run(_ seed: UInt64, _ bugs: ToySubject.Bugs) -> RunResult {
            SimulationRun(scenario: scenario, seed: seed, subjectFactory: Self.toy(bugs)).execute()
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

    @Test func losingVerifiedStateIsDurability() {
        var model = Model()
        model.acknowledged(stepIndex: 0, operation: .put(record: a), durable: true)
        #expect(model.check(recovered: ["a": a], acknowledgementsAreDurable: true, corruptionInjected: false, stepIndex: 1) == nil)
        model.acknowledged(stepIndex: 2, operation: .put(record: b), durable: true)
        #expect(model.check(recovered: ["b": b], acknowledgementsAreDurable: true, corruptionInjected: false, stepIndex: 3)?.invariant == .durability)
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
        func hits(_ query: [Float], _ metric: SearchMetric, _ records: [RecordValue]) -> [SearchHit] {
            records.map { SearchHit(record: $0, score: Model.similarity(query, $0.embedding, metric: metric)) }
        }
        func check(_ query: [Float], _ k: Int, _ metric: SearchMetric, _ records: [RecordValue]) -> String? {
            model.checkSearch(query: query, k: k, metric: metric, filter: nil, answer: hits(query, metric, records))
        }
        #expect(check([1, 0], 1, .cosine, [a]) == nil)
        #expect(check([1, 0], 1, .cosine, [b]) != nil)
        #expect(check([1, 1], 1, .dot, [b]) == nil)  // a tie: either id
        #expect(check([1, 0], 2, .euclidean, [a]) != nil)  // too few
        #expect(check([1, 0], 2, .euclidean, [b, a]) != nil)  // out of order
    }

    @Test func searchHitsAreCheckedForContentScoreAndFilter() {
        var model = Model()
        let tagged = RecordValue(id: "a", content: "1", embedding: [1, 0], metadata: ["group": "g1"])
        model.acknowledged(stepIndex: 0, operation: .put(record: tagged), durable: true)
        model.acknowledged(stepIndex: 1, operation: .put(record: b), durable: true)
        let right = SearchHit(record: tagged, score: 1)
        #expect(model.checkSearch(query: [1, 0], k: 1, metric: .cosine, filter: ["group": "g1"], answer: [right]) == nil)
        var stale = tagged
        stale.content = "0"
        #expect(model.checkSearch(query: [1, 0], k: 1, metric: .cosine, filter: nil, answer: [SearchHit(record: stale, score: 1)]) != nil)
        #expect(model.checkSearch(query: [1, 0], k: 1, metric: .cosine, filter: nil, answer: [SearchHit(record: tagged, score: 0.9)]) != nil)
        // The filter admits only a; b is out even as the second hit.
        let bHit = SearchHit(record: b, score: 0)
        #expect(model.checkSearch(query: [1, 0], k: 2, metric: .cosine, filter: ["group": "g1"], answer: [right, bHit]) != nil)
    }

    @Test func aReportedPossibleLossExcusesOnlyTheLastFrame() {
        var model = Model()
        model.acknowledged(stepIndex: 0, operation: .put(record: a), durable: true)
        model.acknowledged(stepIndex: 1, operation: .put(record: b), durable: true)
        var lastLost = model
        #expect(lastLost.check(recovered: ["a": a], acknowledgementsAreDurable: true, corruptionInjected: true, possibleLossReported: true, stepIndex: 2) == nil)
        #expect(lastLost.excusedLoss != nil)
        var bothLost = model
        #expect(bothLost.check(recovered: [:], acknowledgementsAreDurable: true, corruptionInjected: true, possibleLossReported: true, stepIndex: 2)?.invariant == .durability)
        var unreported = model
        #expect(unreported.check(recovered: ["a": a], acknowledgementsAreDurable: true, corruptionInjected: true, stepIndex: 2)?.invariant == .durability)
        // After a check adopted both, losing b (the last frame) is still excusable; losing a too is not.
        var adopted = model
        #expect(adopted.check(recovered: ["a": a, "b": b], acknowledgementsAreDurable: true, corruptionInjected: true, stepIndex: 2) == nil)
        var later = adopted
        #expect(later.check(recovered: ["a": a], acknowledgementsAreDurable: true, corruptionInjected: true, possibleLossReported: true, stepIndex: 3) == nil)
        #expect(adopted.check(recovered: [:], acknowledgementsAreDurable: true, corruptionInjected: true, possibleLossReported: true, stepIndex: 3) != nil)
    }

    /// The last frame is the last operation that changed the state: a rolled-back transaction
    /// or a delete of an absent id after it wrote no frame (bit-rot seeds 61 and 693).
    @Test func aPossibleLossExcusesTheLastFrameBeforeOperationsThatWroteNone() {
        var model = Model()
        model.acknowledged(stepIndex: 0, operation: .put(record: a), durable: true)
        model.acknowledged(stepIndex: 1, operation: .put(record: b), durable: true)
        model.acknowledged(stepIndex: 2, operation: .transaction(mutations: [.delete(id: "a")], rollback: true), durable: true)
        model.acknowledged(stepIndex: 3, operation: .delete(id: "absent"), durable: true)
        var lastLost = model
        #expect(lastLost.check(recovered: ["a": a], acknowledgementsAreDurable: true, corruptionInjected: true, possibleLossReported: true, stepIndex: 4) == nil)
        #expect(lastLost.excusedLoss?.hasPrefix("put b") == true)
        var bothLost = model
        #expect(bothLost.check(recovered: [:], acknowledgementsAreDurable: true, corruptionInjected: true, possibleLossReported: true, stepIndex: 4)?.invariant == .durability)
    }

    @Test func expiredRecordsAreAbsentFromTheModel() {
        var model = Model()
        model.now = 1_000_000_000
        model.acknowledged(stepIndex: 0, operation: .putWithTTL(record: a, ttlSeconds: 5), durable: true)
        #expect(model.expected("a")?.expiresAt == 6_000_000_000)
        model.now = 6_000_000_000
        #expect(model.expected("a") == nil)
        #expect(model.check(recovered: [:], acknowledgementsAreDurable: true, corruptionInjected: false, stepIndex: 1) == nil)
    }
}

