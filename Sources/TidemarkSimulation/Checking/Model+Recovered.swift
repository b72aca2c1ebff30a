import TidemarkSimulatedDisk

/// The verdict on a subject after a recovery: what random runs (`SimulationRun`) and crash
/// exploration (`CrashExplorer`) both decide, in one place.
public enum RecoveredVerdict: Sendable {
    /// Every invariant holds; the model adopted the recovered state.
    case ok(records: Int)
    /// The subject rightly refused (detected injected corruption, or injected I/O errors).
    case refused(String)
    /// Recovery dropped data after injected corruption, and said so: detected, not silent.
    case lossReported(String)
    case violation(Violation)
}

extension Model {
    /// Checks what the subject read back after recovery (`readBack`) against the model: a failed
    /// read is a refusal when the disk injected that kind of fault, a liveness violation
    /// otherwise; a state is checked with `check(recovered:…)`. After a crash during recovery a
    /// violation is reported as one of idempotent recovery.
    public mutating func verdict(
        readBack: Result<State, SubjectError>, acknowledgementsAreDurable: Bool, faults: FaultConfiguration,
        stepIndex: Int, afterRecoveryCrash: Bool, reportedPossibleLoss: Bool
    ) -> RecoveredVerdict {
        let state: State
        switch readBack {
        case .success(let value):
            state = value
        case .failure(let error):
            if (error.kind == .corruption && faults.injectsCorruption) || (error.kind == .io && faults.injectsIOErrors) {
                return .refused("reading back after recovery: \(error.message)")
            }
            return .violation(Violation(.liveness, "reading back after recovery failed: \(error)", stepIndex: stepIndex))
        }
        guard var violation = check(
            recovered: state, acknowledgementsAreDurable: acknowledgementsAreDurable,
            corruptionInjected: faults.injectsCorruption, stepIndex: stepIndex)
        else { return .ok(records: state.count) }
        if reportedPossibleLoss && faults.injectsCorruption
            && [.durability, .syncDurability, .noSilentCorruption].contains(violation.invariant)
        {
            return .lossReported("recovery reported a possible loss after injected corruption: \(violation.message)")
        }
        if afterRecoveryCrash {
            violation = Violation(
                .idempotentRecovery, "after a crash during recovery, \(violation.invariant.title) broke: \(violation.message)",
                stepIndex: violation.stepIndex)
        }
        return .violation(violation)
    }
}
