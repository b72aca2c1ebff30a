import TidemarkIO
import TidemarkReports
import TidemarkSimulatedDisk

/// One pending change (a write, a truncate, a directory operation) a crash may keep or lose.
public struct PendingChange: Sendable, Hashable, Codable {
    /// "write", "truncate", "createFile", "createDirectory", "remove", "rename".
    public var kind: String
    /// Simulated path ("/" is the recorded directory).
    public var path: String
    /// The simulated disk's call that issued it (map to a trace operation with
    /// `TraceReplay.firstCall`).
    public var callIndex: Int
    /// "write 100 bytes at 0 to /a", "rename /a.tmp -> /a".
    public var summary: String

    public init(kind: String, path: String, callIndex: Int, summary: String) {
        self.kind = kind
        self.path = path
        self.callIndex = callIndex
        self.summary = summary
    }

    /// Issue order: by call, a directory operation before the file change of the same call
    /// (an `open` with O_CREAT|O_TRUNC issues both).
    static func issueOrder(_ a: PendingChange, _ b: PendingChange) -> Bool {
        (a.callIndex, a.isDirectoryOperation ? 0 : 1) < (b.callIndex, b.isDirectoryOperation ? 0 : 1)
    }

    var isDirectoryOperation: Bool { kind != "write" && kind != "truncate" }

    /// The change without offsets, lengths or sequence numbers, as causes name it:
    /// "write to /….log", "rename /….dbtmp → /CURRENT".
    public var generic: String {
        let path = CauseFinder.generic(self.path)
        switch kind {
        case "write": return "write to \(path)"
        case "truncate": return "truncate of \(path)"
        case "createFile": return "create \(path)"
        case "createDirectory": return "mkdir \(path)"
        case "remove": return "remove \(path)"
        case "rename":
            let arrow = summary.range(of: " -> ") ?? summary.range(of: " → ")
            let destination = arrow.map { String(summary[$0.upperBound...].prefix { $0 != " " }) } ?? "?"
            return "rename \(path) → \(CauseFinder.generic(destination))"
        default: return "\(kind) \(path)"
        }
    }
}

/// Which member of ALICE's bounded family a state is: changes `0..<length` kept (in issue
/// order) except `dropping`. The cause finder asks the family's verdicts.
public struct FamilyMember: Sendable, Hashable {
    public var length: Int
    public var dropping: Int?
    public init(length: Int, dropping: Int?) {
        self.length = length
        self.dropping = dropping
    }
}

/// One state a power loss may leave: which pending changes it kept and lost, and the disk as it
/// is after the crash (nothing pending).
public struct CrashCandidate {
    public var kept: [PendingChange]
    public var lost: [PendingChange]
    public var disk: SimulatedFileSystem
    /// Every pending change at the point, in issue order, and its fate in this state.
    public var changes: [PendingChange] = []
    public var fates: [CauseFinder.Fate] = []
    /// The bounded-family members this state is (several when legality makes them equal).
    public var family: [FamilyMember] = []
}

/// The boundary between exploration and enumeration: the distinct crash states of a disk at one
/// point.
///
/// Issue 11's enumerator plugs in as one more source (and `TraceStatesInput.sources` in the CLI
/// maps each `--model` to it):
///
///     let disk = try makeDisk()
///     let set = disk.crashStates(model: model, budget: budget)
///     return set.states.map { state in
///         // kept/lost: state.changes zipped with state.fates (isKept), as PendingChange(kind:
///         // change.kind.rawValue, path: change.path, callIndex: change.key.callIndex, summary: change.summary)
///         CrashCandidate(kept: …, lost: …, disk: set.materialize(state))
///     } `disk` builds a fresh disk at that point each time it is called (a replay), so an
/// enumerator may crash as many copies as it needs. Deterministic: the same trace and point give
/// the same candidates in the same order (state ids are positions in this list).
public protocol CrashStateSource: Sendable {
    /// For reports: which enumerator and model.
    var name: String { get }
    func crashStates(_ disk: () throws -> SimulatedFileSystem) throws -> [CrashCandidate]
}

/// A small enumerator of its own, until the crash-state enumerator of issue 11 is wired in:
/// whole pending changes only (no torn or garbled writes), in issue order,
///
/// - every prefix (changes `0..<k` kept, the rest lost): a crash at each moment since the last
///   sync on a disk that keeps order; and, with `omitOne`,
/// - every prefix minus one earlier change (`0..<k` without `j`, `j < k - 1`): the disk
///   reordered one change past later ones (ALICE's "omit one").
///
/// All of these are states `weakest` allows (it allows any subset, and tearing); prefixes alone
/// are legal under ext4 `data=ordered` too. A directory operation whose node's earlier pending
/// operation was lost is lost with it (the simulated disk's rule), so a candidate may keep less
/// than asked; `kept` and `lost` say what it really kept.
///
/// It picks survivors through the simulated disk's public fault API: every pending change is a
/// fault decision at a power loss when survival probabilities are 0, and a suppressed decision
/// survives. Decision indices shift when a dependent change takes no decision, so the set to
/// suppress is found by replaying until the decisions agree with the wish (a few replays).
public struct PrefixCrashStates: CrashStateSource {
    public var omitOne: Bool
    /// At most this many candidates per point (prefixes first).
    public var budget: Int

    public init(omitOne: Bool = true, budget: Int = 2000) {
        self.omitOne = omitOne
        self.budget = budget
    }

    public var name: String { omitOne ? "prefix+omit-one" : "prefix" }

    public func crashStates(_ makeDisk: () throws -> SimulatedFileSystem) throws -> [CrashCandidate] {
        // Learn the pending changes: keep them all (every decision suppressed).
        let probe = try makeDisk()
        let upperBound = probe.pendingWriteCount() + probe.pendingDirectoryOperationCount()
        let all = crash(probe, suppressing: Set(0..<upperBound))
        let issued = all.sorted(by: PendingChange.issueOrder)
        var wishes: [FamilyMember] = []  // positions in `issued` to keep
        for k in 0...issued.count { wishes.append(FamilyMember(length: k, dropping: nil)) }
        if omitOne, issued.count >= 2 {
            for k in 2...issued.count {
                for j in 0..<(k - 1) { wishes.append(FamilyMember(length: k, dropping: j)) }
            }
        }
        var candidates: [CrashCandidate] = []
        let probeIndex = Dictionary(uniqueKeysWithValues: all.enumerated().map { (Key($0.element), $0.offset) })
        for wish in wishes.prefix(budget) {
            let wanted = Set((0..<wish.length).filter { $0 != wish.dropping }.map { Key(issued[$0]) })
            // First guess: the decision indices of the probe (exact unless a dependent change
            // of a lost one takes no decision).
            let guess = Set(wanted.compactMap { probeIndex[$0] })
            var candidate = try candidate(keeping: wanted, of: issued, guess: guess, makeDisk)
            let kept = Set(candidate.kept.map(Key.init))
            candidate.changes = issued
            candidate.fates = issued.map { kept.contains(Key($0)) ? .kept : .lost }
            candidate.family = [wish]
            candidates.append(candidate)
        }
        return candidates
    }

    struct Key: Hashable {
        var kind: String
        var callIndex: Int
        init(_ change: PendingChange) {
            kind = change.kind
            callIndex = change.callIndex
        }
    }

    func candidate(
        keeping wanted: Set<Key>, of issued: [PendingChange], guess: Set<Int>,
        _ makeDisk: () throws -> SimulatedFileSystem
    ) throws -> CrashCandidate {
        var suppress = guess
        var attempts = 0
        while true {
            let disk = try makeDisk()
            let decided = crash(disk, suppressing: suppress)
            let agreed = Set(decided.indices.filter { wanted.contains(Key(decided[$0])) })
            if agreed == suppress || attempts > decided.count {
                let kept = decided.enumerated().filter { suppress.contains($0.offset) }.map(\.element)
                let keptKeys = Set(kept.map(Key.init))
                let lost = issued.filter { !keptKeys.contains(Key($0)) }
                return CrashCandidate(kept: kept.sorted(by: PendingChange.issueOrder),
                                      lost: lost.sorted(by: PendingChange.issueOrder), disk: disk)
            }
            suppress = agreed
            attempts += 1
        }
    }

    /// Crashes `disk` losing every pending change except the decisions in `suppressing`; the
    /// changes that took a decision, in decision order (one lost with its node takes none).
    func crash(_ disk: SimulatedFileSystem, suppressing: Set<Int>) -> [PendingChange] {
        disk.faults = FaultConfiguration()  // every pending change is lost unless suppressed
        let before = disk.decisions.count
        disk.suppressedDecisions = Set(suppressing.map { $0 + before })
        disk.crash(.powerLoss)
        return disk.decisions.dropFirst(before).compactMap(PendingChange.init(decision:))
    }
}

extension PendingChange {
    /// The change a power-loss decision was about.
    init?(decision: FaultDecision) {
        switch decision.kind {
        case .directoryOperationLost:
            // outcome: "lost: rename /a -> /b", "lost: createFile /a"
            let text = decision.outcome.hasPrefix("lost: ") ? String(decision.outcome.dropFirst(6)) : decision.outcome
            self.init(kind: String(text.prefix { $0 != " " }), path: decision.path, callIndex: decision.callIndex, summary: text)
        case .writeLost:
            // outcome: "dropped (100 bytes at 0)", "dropped (truncate to 0)"
            let inner = decision.outcome.split(separator: "(", maxSplits: 1).last.map { String($0.dropLast()) } ?? decision.outcome
            let isTruncate = inner.hasPrefix("truncate")
            self.init(kind: isTruncate ? "truncate" : "write", path: decision.path, callIndex: decision.callIndex,
                      summary: isTruncate ? "truncate \(decision.path) \(inner.dropFirst("truncate ".count))"
                                          : "write \(inner) to \(decision.path)")
        default:
            return nil
        }
    }
}

/// The simulated disk's crash-state enumerator (`SimulatedFileSystem.crashStates`) as a source:
/// every legal state under `model`, torn and garbled writes included, or ALICE's bounded family
/// when there are more than `budget`. A partially kept write counts as lost in `kept`/`lost`
/// (its summary says how it landed).
public struct EnumeratedCrashStates: CrashStateSource {
    public var model: PersistenceModel
    public var budget: Int

    public init(model: PersistenceModel, budget: Int = 256) {
        self.model = model
        self.budget = budget
    }

    public var name: String { "enumerator (\(model.rawValue))" }

    public func crashStates(_ makeDisk: () throws -> SimulatedFileSystem) throws -> [CrashCandidate] {
        let set = try makeDisk().crashStates(model: model, budget: budget)
        let changes = set.changes.map { PendingChange(kind: $0.kind.rawValue, path: $0.path, callIndex: $0.key.callIndex, summary: $0.summary) }
        var members: [[ChangeFate]: [FamilyMember]] = [:]
        for length in 0...set.changes.count {
            for dropping in [nil] + (0..<max(0, length - 1)).map(Optional.some) {
                members[set.prefixState(length, dropping: dropping).fates, default: []].append(FamilyMember(length: length, dropping: dropping))
            }
        }
        return set.states.map { state in
            var kept: [PendingChange] = [], lost: [PendingChange] = []
            for (change, fate) in zip(state.changes, state.fates) {
                let summary = fate.isKept ? change.summary : "\(change.summary) (\(fate))"
                let pending = PendingChange(
                    kind: change.kind.rawValue, path: change.path, callIndex: change.key.callIndex, summary: summary)
                if fate.isKept { kept.append(pending) } else { lost.append(pending) }
            }
            let fates: [CauseFinder.Fate] = state.fates.map { fate in
                fate.isKept ? .kept : fate.isPartial ? .partial(CauseFinder.partialLanding(garbage: fate.garbage, grewWithoutData: fate.grewWithoutData)) : .lost
            }
            return CrashCandidate(
                kept: kept, lost: lost, disk: set.materialize(state), changes: changes, fates: fates, family: members[state.fates] ?? [])
        }
    }
}
