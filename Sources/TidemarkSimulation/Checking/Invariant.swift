/// The invariants the checker enforces, in one place. Each case documents the rule; the code
/// that decides it is in `Model` (state invariants) and `SimulationRun` (behaviour invariants),
/// and every one has a test that breaks it on purpose.
public enum Invariant: String, Codable, Sendable, Hashable, CaseIterable, Comparable {
    /// 1. The recovered state equals the model after some prefix of the operation sequence
    /// (batches and transactions are single operations: all or nothing).
    case prefixConsistency
    /// 2a. The prefix includes every operation covered by a successful sync: one acknowledged in
    /// `immediate`/`group` mode, or one followed by a successful explicit `sync`/`checkpoint`.
    case syncDurability
    /// 2b. The prefix includes every acknowledged operation. `async` mode breaks this by design:
    /// it acknowledges before syncing, and a crash loses what the next sync would have covered.
    case durability
    /// 3. An operation that returned a clean error is never visible.
    case rejectedMeansAbsent
    /// 4. After bit rot or a misdirected write the subject reports corruption or recovers a
    /// state the model allows; it never returns a different state or different bytes.
    case noSilentCorruption
    /// 5. After a failed write or sync the subject acknowledges nothing more until reopened.
    case failStop
    /// 6. A crash during recovery, then recovery again, still satisfies 1-4.
    case idempotentRecovery
    /// 7. Recovery succeeds when no corruption was injected; afterwards the subject accepts
    /// writes and checkpoints, leaves no temp files, and a checkpoint shrinks the log.
    case liveness
    /// 8. `get` and `search` return the model's answer during the run.
    case readsMatchModel

    public var number: String {
        switch self {
        case .prefixConsistency: "1"
        case .syncDurability: "2a"
        case .durability: "2b"
        case .rejectedMeansAbsent: "3"
        case .noSilentCorruption: "4"
        case .failStop: "5"
        case .idempotentRecovery: "6"
        case .liveness: "7"
        case .readsMatchModel: "8"
        }
    }

    public var title: String {
        switch self {
        case .prefixConsistency: "prefix consistency"
        case .syncDurability: "durability of synced operations"
        case .durability: "durability of acknowledged operations"
        case .rejectedMeansAbsent: "rejected means absent"
        case .noSilentCorruption: "no silent corruption"
        case .failStop: "fail-stop after ambiguous I/O"
        case .idempotentRecovery: "idempotent recovery"
        case .liveness: "liveness and hygiene"
        case .readsMatchModel: "reads match the model"
        }
    }

    public static func < (lhs: Invariant, rhs: Invariant) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// A broken invariant: which, where in the run, and why.
public struct Violation: Codable, Sendable, Hashable, Error, CustomStringConvertible {
    public var invariant: Invariant
    public var message: String
    /// Index of the plan step the verdict names (the operation, or the crash whose recovery failed).
    public var stepIndex: Int?
    public init(_ invariant: Invariant, _ message: String, stepIndex: Int? = nil) {
        self.invariant = invariant
        self.message = message
        self.stepIndex = stepIndex
    }
    public var description: String { "invariant \(invariant.number) (\(invariant.title)): \(message)" }
}
