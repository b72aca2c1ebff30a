import TidemarkIO

/// Enumerates the states a power loss may leave a `SimulatedFileSystem` in, under a
/// `PersistenceModel` ("crash clones": each state materialises as an independent file system a
/// subject can recover on).
///
/// Per pending change the model offers fates: kept or lost; for a write spanning several sectors,
/// torn at every sector boundary (its first k or its last k sectors landed); for an append, grown
/// without its data (`weakest`, `noPowersafeOverwrite`); garbage in the unlanded sectors
/// (`noPowersafeOverwrite`). A state is a fate per change that respects the dependencies:
/// - a directory operation survives only with every earlier pending operation on the same node
///   or entry name (so a rename is never separated from the create it renames);
/// - a file's data matters only if the file is reachable once the directory operations are
///   settled: data under a name that never became durable does not survive without it, so the
///   writes of an unreachable file are always lost (one state, not one per subset);
/// - the model's own ordering rules (see `PersistenceModel`).
///
/// `exhaustive` when the legal states number at most `budget`; otherwise the `bounded` family
/// (`CrashStateSet.Family`), cut at `budget` (`truncated`).
public struct CrashStateEnumerator: Sendable {
    public var model: PersistenceModel
    /// Most states returned per call.
    public var budget: Int

    public init(model: PersistenceModel = .weakest, budget: Int = 4096) {
        self.model = model
        self.budget = max(1, budget)
    }

    /// The crash states of `fileSystem` as it is now (at a call boundary).
    public func enumerate(_ fileSystem: SimulatedFileSystem) -> CrashStateSet {
        enumerate(fileSystem.withLock { PendingSnapshot(fileSystem) })
    }

    func enumerate(_ snapshot: PendingSnapshot) -> CrashStateSet {
        let rules = Rules(snapshot: snapshot, model: model)
        if let all = rules.exhaustive(limit: budget) {
            return CrashStateSet(family: .exhaustive, changes: snapshot.changes, states: all.map { state($0, snapshot) },
                                 truncated: false, model: model, snapshot: snapshot)
        }
        let (bounded, truncated) = rules.boundedFamily(limit: budget)
        return CrashStateSet(family: .bounded, changes: snapshot.changes, states: bounded.map { state($0, snapshot) },
                             truncated: truncated, model: model, snapshot: snapshot)
    }

    func state(_ fates: [ChangeFate], _ snapshot: PendingSnapshot) -> CrashState {
        let reachable = PendingSnapshot.reachableFiles(snapshot.namespace { fates[$0].isKept })
        return CrashState(
            changes: snapshot.changes, fates: fates,
            matters: snapshot.changes.map { $0.isDirectoryOperation || reachable.contains($0.nodeID) }, model: model)
    }
}

/// The dependencies and fate options of one snapshot under one model.
struct Rules {
    let snapshot: PendingSnapshot
    let model: PersistenceModel
    var changes: [CrashChange] { snapshot.changes }
    /// For each directory operation: the earlier ones on the same node or entry name.
    let directoryDependencies: [[Int]]
    /// For each change: the earlier writes and truncates of the same file.
    let earlierFileChanges: [[Int]]
    let directoryIndices: [Int]

    init(snapshot: PendingSnapshot, model: PersistenceModel) {
        self.snapshot = snapshot
        self.model = model
        var dependencies = [[Int]](repeating: [], count: snapshot.changes.count)
        var earlier = [[Int]](repeating: [], count: snapshot.changes.count)
        var directories: [Int] = []
        var entryKeys: [Int: Set<String>] = [:]
        for (index, source) in snapshot.sources.enumerated() {
            switch source {
            case .directory(_, let directory, let name, let destinationDirectory, let destinationName, let node):
                var keys: Set<String> = ["\(directory)/\(name)"]
                if let destinationDirectory, let destinationName { keys.insert("\(destinationDirectory)/\(destinationName)") }
                entryKeys[index] = keys
                dependencies[index] = directories.filter { other in
                    snapshot.changes[other].nodeID == node.id || !entryKeys[other]!.isDisjoint(with: keys)
                }
                directories.append(index)
            case .file:
                break
            }
            earlier[index] = (0..<index).filter {
                !snapshot.changes[$0].isDirectoryOperation && snapshot.changes[$0].nodeID == snapshot.changes[index].nodeID
            }
        }
        directoryDependencies = dependencies
        earlierFileChanges = earlier
        directoryIndices = directories
    }

    /// Fates the model offers a change, kept and lost first.
    func options(_ index: Int) -> [ChangeFate] {
        let change = changes[index]
        var result: [ChangeFate] = [.kept, .dropped]
        guard change.kind == .write else { return result }
        if model.mayGrowWithoutData(change) { result.append(ChangeFate(.none, grewWithoutData: true)) }
        let garbage = model.mayLeaveGarbage(change)
        if garbage { result.append(ChangeFate(.none, garbage: true)) }
        if model.mayTear(change) {
            for landed in 1..<change.sectorCount {
                result.append(ChangeFate(.firstSectors, sectors: landed))
                result.append(ChangeFate(.lastSectors, sectors: landed))
                if garbage {
                    result.append(ChangeFate(.firstSectors, sectors: landed, garbage: true))
                    result.append(ChangeFate(.lastSectors, sectors: landed, garbage: true))
                }
            }
        }
        return result
    }

    /// Whether anything of the change reached the disk (a lost write that grew the file did).
    private func reached(_ fate: ChangeFate) -> Bool { fate.landing != .none || fate.grewWithoutData }

    func reachableFiles(_ fates: [ChangeFate]) -> Set<Int> {
        PendingSnapshot.reachableFiles(snapshot.namespace { fates[$0].isKept })
    }

    /// Whether `changes[index]` with `fates` breaks a rule (only earlier fates are consulted).
    func breaksRule(_ index: Int, _ fates: [ChangeFate], reachable: Set<Int>, lastMetadata: Int?) -> Bool {
        let change = changes[index]
        let fate = fates[index]
        guard reached(fate) else { return false }
        if change.isDirectoryOperation, directoryDependencies[index].contains(where: { !fates[$0].isKept }) { return true }
        guard model.isOrderedMetadata(change) else { return false }
        if let lastMetadata, !fates[lastMetadata].isKept { return true }
        // Data before metadata: the file's earlier writes reach the disk before the journal
        // commits its rename, growth or truncate (a create or remove carries no data).
        guard [.rename, .write, .truncate].contains(change.kind) else { return false }
        return earlierFileChanges[index].contains { !fates[$0].isKept && reachable.contains(changes[$0].nodeID) }
    }

    /// Whether `change` takes part in the rules: directory operations always, file changes when
    /// the file is reachable.
    private func isRelevant(_ index: Int, reachable: Set<Int>) -> Bool {
        changes[index].isDirectoryOperation || reachable.contains(changes[index].nodeID)
    }

    func isLegal(_ fates: [ChangeFate], reachable: Set<Int>) -> Bool {
        var lastMetadata: Int?
        for index in changes.indices where isRelevant(index, reachable: reachable) {
            if breaksRule(index, fates, reachable: reachable, lastMetadata: lastMetadata) { return false }
            if model.isOrderedMetadata(changes[index]) { lastMetadata = index }
        }
        return true
    }

    /// Makes `fates` legal by losing every change that depends on a lost one; the writes of
    /// unreachable files are lost (canonical form).
    func repair(_ fates: [ChangeFate]) -> [ChangeFate] {
        var fates = fates
        while true {
            let reachable = reachableFiles(fates)
            var changed = false
            var lastMetadata: Int?
            for index in changes.indices {
                if !isRelevant(index, reachable: reachable) {
                    if fates[index] != .dropped { fates[index] = .dropped }
                    continue
                }
                if breaksRule(index, fates, reachable: reachable, lastMetadata: lastMetadata) {
                    fates[index] = .dropped
                    changed = changed || changes[index].isDirectoryOperation
                }
                if model.isOrderedMetadata(changes[index]) { lastMetadata = index }
            }
            // Losing a directory operation can change which files are reachable: settle again.
            if !changed { return fates }
        }
    }

    // MARK: Exhaustive

    /// Every legal state, or nil when there are more than `limit` (or the search grows too big).
    func exhaustive(limit: Int) -> [[ChangeFate]]? {
        var states: [[ChangeFate]] = []
        var leaves = 0
        let leafLimit = limit * 16 + 1024
        var fates = [ChangeFate](repeating: .dropped, count: changes.count)
        var overflow = false

        func files(at position: Int, _ relevant: [Int], reachable: Set<Int>) {
            if overflow { return }
            guard position < relevant.count else {
                leaves += 1
                if leaves > leafLimit { overflow = true; return }
                if isLegal(fates, reachable: reachable) {
                    states.append(fates)
                    if states.count > limit { overflow = true }
                }
                return
            }
            let index = relevant[position]
            for option in options(index) {
                fates[index] = option
                files(at: position + 1, relevant, reachable: reachable)
                if overflow { return }
            }
            fates[index] = .dropped
        }

        func directories(at position: Int) {
            if overflow { return }
            guard position < directoryIndices.count else {
                let reachable = reachableFiles(fates)
                let relevant = changes.indices.filter { !changes[$0].isDirectoryOperation && reachable.contains(changes[$0].nodeID) }
                files(at: 0, relevant, reachable: reachable)
                return
            }
            let index = directoryIndices[position]
            for option in [ChangeFate.kept, .dropped] {
                fates[index] = option
                if option.isKept && directoryDependencies[index].contains(where: { !fates[$0].isKept }) { continue }
                directories(at: position + 1)
                if overflow { return }
            }
            fates[index] = .dropped
        }

        directories(at: 0)
        return overflow ? nil : states
    }

    // MARK: Bounded (ALICE)

    /// Every prefix, every prefix followed by one partial change, every prefix minus one change
    /// (in that order of priority), each repaired and deduplicated, cut at `limit`.
    func boundedFamily(limit: Int) -> (states: [[ChangeFate]], truncated: Bool) {
        let count = changes.count
        var seen: Set<[ChangeFate]> = []
        var states: [[ChangeFate]] = []
        func offer(_ fates: [ChangeFate]) -> Bool {
            let legal = repair(fates)
            if seen.insert(legal).inserted { states.append(legal) }
            return states.count < limit
        }
        func prefix(_ length: Int) -> [ChangeFate] {
            (0..<count).map { $0 < length ? .kept : .dropped }
        }
        for length in 0...count where !offer(prefix(length)) { return (states, true) }
        for index in 0..<count {
            for option in options(index) where option.isPartial {
                var fates = prefix(index)
                fates[index] = option
                if !offer(fates) { return (states, true) }
            }
        }
        for length in stride(from: 2, through: count, by: 1) {
            for missing in 0..<(length - 1) {
                var fates = prefix(length)
                fates[missing] = .dropped
                if !offer(fates) { return (states, true) }
            }
        }
        return (states, false)
    }
}
