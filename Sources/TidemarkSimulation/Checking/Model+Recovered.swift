import TidemarkSimulatedDisk

/// The verdict on a subject after a recovery: what random runs (`SimulationRun`) and crash
/// exploration (`CrashExplorer`) both decide, in one place.
public enum RecoveredVerdict: Sendable {
    /// Every invariant holds; the model adopted the recovered state.
    case ok(records: Int)
    /// The subject rightly refused (detected corruption, or I/O errors, that really struck).
    case refused(String)
    /// Recovery dropped the last operation after injected corruption, and said so: detected, not
    /// silent, and excused (only that one; see `Model.check`). The model adopted the state.
    case lossReported(String)
    case violation(Violation)
}

/// The damage a run's disk carries: configured (it may strike) and fired (it struck so far). A
/// refusal to go on is right only after damage of its kind really struck.
public struct DiskDamage: Sendable {
    public var corruptionConfigured: Bool
    public var corruptionFired: Bool
    public var ioErrorFired: Bool
    /// The files corruption (bit rot, misdirected writes) struck so far.
    public var corruptedFiles: Set<String>

    /// Faults that make a call fail, then or at a later sync: a refusal of kind `.io` after one
    /// of them is right.
    static let errorKinds: Set<FaultKind> = [
        .fsyncError, .writeError, .readError, .writebackError, .syncNoSpace, .writebackNoSpace, .shutdown, .readOnlyRemount,
    ]

    public init(faults: FaultConfiguration, disk: SimulatedFileSystem) {
        corruptionConfigured = faults.injectsCorruption
        let decisions = disk.decisions.filter { !$0.suppressed }
        corruptedFiles = Set(decisions.filter { [.bitRot, .misdirectedWrite].contains($0.kind) }.map(\.path))
        corruptionFired = !corruptedFiles.isEmpty
        ioErrorFired = !disk.configuredFaults.isEmpty
            || decisions.contains { Self.errorKinds.contains($0.kind) }
    }
}

extension DiskDamage {
    /// The verdict on an open that failed with `error` after a crash: a refusal when damage of its
    /// kind struck and the subject had no intact place to start from (`Subject.intactRecoverySource`);
    /// nil when the caller decides (I/O errors are retried, a crash recovers again).
    func verdictOnRefusedOpen(_ error: SubjectError, subject: any Subject, disk: SimulatedFileSystem, stepIndex: Int) -> RecoveredVerdict {
        guard error.kind == .corruption && corruptionFired else {
            return .violation(Violation(.liveness, "recovery failed: \(error)", stepIndex: stepIndex))
        }
        // A file corruption struck that is gone since (a segment a checkpoint retired) cannot
        // stand in recovery's way.
        let present = corruptedFiles.filter { disk.volatileContents($0) != nil }
        if let source = subject.intactRecoverySource(corruptedFiles: present, contents: disk.volatileContents) {
            return .violation(Violation(.liveness, "recovery refused (\(error.message)) though it could have started from \(source)", stepIndex: stepIndex))
        }
        return .refused("recovery detected corruption: \(error.message)")
    }
}

extension Model {
    /// Checks what the subject read back after recovery (`readBack`) against the model: a failed
    /// read is a refusal when damage of that kind struck, a liveness violation otherwise; a state
    /// is checked with `check(recovered:…)`. After a crash during recovery a violation is reported
    /// as one of idempotent recovery. `subjectTime`, when the subject keeps a time of its own, is
    /// checked against the window the store's rule leaves and becomes the model's (`adoptSubjectTime`).
    public mutating func verdict(
        readBack: Result<State, SubjectError>, acknowledgementsAreDurable: Bool, damage: DiskDamage,
        subjectTime: Int64? = nil, wall: Int64? = nil, stepIndex: Int, afterRecoveryCrash: Bool, reportedPossibleLoss: Bool
    ) -> RecoveredVerdict {
        let state: State
        switch readBack {
        case .success(let value):
            state = value
        case .failure(let error):
            if (error.kind == .corruption && damage.corruptionFired) || (error.kind == .io && damage.ioErrorFired) {
                return .refused("reading back after recovery: \(error.message)")
            }
            return .violation(Violation(.liveness, "reading back after recovery failed: \(error)", stepIndex: stepIndex))
        }
        // A subject without a time of its own reads the wall clock as it is now.
        if subjectTime == nil, let wall { now = max(now, wall) }
        if let subjectTime, let wall, var violation = adoptSubjectTime(
            subjectTime, wall: wall, acknowledgementsAreDurable: acknowledgementsAreDurable,
            corruptionInjected: damage.corruptionConfigured, stepIndex: stepIndex)
        {
            if afterRecoveryCrash {
                violation = Violation(
                    .idempotentRecovery, "after a crash during recovery, \(violation.invariant.title) broke: \(violation.message)",
                    stepIndex: violation.stepIndex)
            }
            return .violation(violation)
        }
        if var violation = check(
            recovered: state, acknowledgementsAreDurable: acknowledgementsAreDurable,
            corruptionInjected: damage.corruptionConfigured, possibleLossReported: reportedPossibleLoss, stepIndex: stepIndex)
        {
            if afterRecoveryCrash {
                violation = Violation(
                    .idempotentRecovery, "after a crash during recovery, \(violation.invariant.title) broke: \(violation.message)",
                    stepIndex: violation.stepIndex)
            }
            return .violation(violation)
        }
        if let excusedLoss { return .lossReported("recovery reported a possible loss of \(excusedLoss), excused") }
        return .ok(records: state.count)
    }
}
