/// One pending change a power loss may keep, drop or tear, as the crash-state enumerator sees it:
/// a write or truncate of a file, or a directory operation.
public struct CrashChange: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        case write, truncate, createFile, createDirectory, remove, rename
    }

    /// Names a change within one file system: the call that issued it (a call issues at most
    /// one file change and one directory operation).
    public struct Key: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
        public var callIndex: Int
        public var isDirectoryOperation: Bool
        public init(callIndex: Int, isDirectoryOperation: Bool) {
            self.callIndex = callIndex
            self.isDirectoryOperation = isDirectoryOperation
        }
        public static func < (a: Key, b: Key) -> Bool {
            (a.callIndex, a.isDirectoryOperation ? 0 : 1) < (b.callIndex, b.isDirectoryOperation ? 0 : 1)
        }
        public var description: String { "\(isDirectoryOperation ? "d" : "w")\(callIndex)" }
    }

    public var key: Key
    public var kind: Kind
    public var path: String
    /// Rename target.
    public var destination: String?
    /// Write offset, or the new size of a truncate.
    public var offset: Int64
    /// Bytes written (0 for a truncate or a directory operation).
    public var length: Int
    /// Sectors the write's bytes land in (it can tear at each boundary between them).
    public var sectorCount: Int
    /// A write past the file's size at the time (an append), or a truncate that grows it.
    public var growsFile: Bool
    /// A write whose first sector holds bytes the file already has at the time: an overwrite,
    /// or an append that starts in the middle of the file's last sector. Without powersafe
    /// overwrite those bytes can come back as garbage when the write does not land.
    public var sharesSectorWithExistingBytes: Bool
    /// The inode or directory the change is about.
    var nodeID: Int

    public var isDirectoryOperation: Bool { key.isDirectoryOperation }

    /// "append 4096 B at 8192 to /store/wal-1.log (call 12)", "rename /a.tmp → /a (call 14)".
    public var summary: String {
        let what: String
        switch kind {
        case .write: what = "\(growsFile ? "append" : "overwrite") \(length) B at \(offset) to \(path)"
        case .truncate: what = "truncate \(path) to \(offset)"
        case .createFile: what = "create \(path)"
        case .createDirectory: what = "mkdir \(path)"
        case .remove: what = "remove \(path)"
        case .rename: what = "rename \(path) → \(destination ?? "?")"
        }
        return "\(what) (call \(key.callIndex))"
    }
}

/// What a crash did to one pending change.
public struct ChangeFate: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Landing: String, Sendable, Hashable, Codable {
        /// Reached the disk whole.
        case whole
        /// Did not reach the disk at all.
        case none
        /// Only its first `sectors` sectors landed.
        case firstSectors
        /// Only its last `sectors` sectors landed.
        case lastSectors
    }

    public var landing: Landing
    /// Sectors landed, for `firstSectors` and `lastSectors`.
    public var sectors: Int
    /// The sectors it did not land in (inside the file) hold garbage.
    public var garbage: Bool
    /// The file grew to the write's end anyway; what did not land reads as zeros.
    public var grewWithoutData: Bool

    public init(_ landing: Landing, sectors: Int = 0, garbage: Bool = false, grewWithoutData: Bool = false) {
        self.landing = landing
        self.sectors = sectors
        self.garbage = garbage
        self.grewWithoutData = grewWithoutData
    }

    public static let kept = ChangeFate(.whole)
    public static let dropped = ChangeFate(.none)

    public var isKept: Bool { landing == .whole }
    /// Landed in part, or left garbage or zeros behind: an atomicity failure, not only a loss.
    public var isPartial: Bool { landing == .firstSectors || landing == .lastSectors || garbage || grewWithoutData }

    public var description: String {
        var text: String
        switch landing {
        case .whole: text = "kept"
        case .none: text = "lost"
        case .firstSectors: text = "torn (first \(sectors) sectors landed)"
        case .lastSectors: text = "torn (last \(sectors) sectors landed)"
        }
        if grewWithoutData { text += ", size grew (zeros)" }
        if garbage { text += ", garbage in unlanded sectors" }
        return text
    }
}

/// Pins one crash state by the fate of each pending change, keyed by the call that issued it:
/// stored in failure files, so `replay` rebuilds exactly this state. A pending change it does not
/// name is lost.
public struct CrashStatePin: Sendable, Hashable, Codable {
    public struct Entry: Sendable, Hashable, Codable {
        public var change: CrashChange.Key
        public var fate: ChangeFate
    }
    public var model: PersistenceModel
    public var fates: [Entry]

    public init(model: PersistenceModel, fates: [Entry]) {
        self.model = model
        self.fates = fates
    }

    func fate(of key: CrashChange.Key) -> ChangeFate {
        fates.first { $0.change == key }?.fate ?? .dropped
    }
}

/// One state a power loss may leave: a fate for every pending change.
public struct CrashState: Sendable, Hashable {
    /// Every pending change, in issue order (shared by all states of one enumeration).
    public var changes: [CrashChange]
    /// `fates[i]` is the fate of `changes[i]`.
    public var fates: [ChangeFate]
    /// `matters[i]`: whether the fate of `changes[i]` can show in this state (false for a write
    /// to a file no name reaches here: it is lost whatever happened to it).
    public var matters: [Bool]
    public var model: PersistenceModel

    public var pin: CrashStatePin {
        CrashStatePin(model: model, fates: zip(changes, fates).map { CrashStatePin.Entry(change: $0.key, fate: $1) })
    }

    /// Which changes were lost or torn, stably worded: "lost: …; torn (…): …; kept 3 others".
    public var description: String {
        var parts: [String] = []
        var keptCount = 0
        for (index, change) in changes.enumerated() where matters[index] {
            if fates[index].isKept { keptCount += 1 } else { parts.append("\(fates[index]): \(change.summary)") }
        }
        let unreachable = matters.filter { !$0 }.count
        if unreachable > 0 { parts.append("\(unreachable) change\(unreachable == 1 ? "" : "s") to files no name reaches") }
        if parts.isEmpty { return changes.isEmpty ? "nothing was pending" : "kept all \(changes.count) pending changes" }
        parts.append(keptCount == 0 ? "nothing else pending" : "kept \(keptCount) other\(keptCount == 1 ? "" : "s")")
        return parts.joined(separator: "; ")
    }
}

/// The crash states an enumeration produced, and which family they cover.
public struct CrashStateSet: Sendable {
    public enum Family: String, Sendable, Hashable, Codable {
        /// Every legal state under the model.
        case exhaustive
        /// More legal states than the budget: ALICE's bounded family (every prefix of the pending
        /// changes in issue order, every prefix minus one change, every prefix followed by one
        /// partial change), each made legal by also losing what depended on a lost change.
        case bounded
    }
    public var family: Family
    /// Every pending change, in issue order.
    public var changes: [CrashChange]
    public var states: [CrashState]
    /// True when even the bounded family was cut at the budget.
    public var truncated: Bool
    public var model: PersistenceModel
    let snapshot: PendingSnapshot

    /// The state that keeps the first `length` changes and loses the rest, and loses
    /// `changes[dropping]` too, made legal (what depended on a lost change is lost as well): a
    /// member of the bounded family, to ask whether one ordering alone breaks the subject.
    public func prefixState(_ length: Int, dropping: Int?) -> CrashState {
        var fates = changes.indices.map { $0 < length ? ChangeFate.kept : .dropped }
        if let dropping { fates[dropping] = .dropped }
        return CrashStateEnumerator(model: model, budget: 1).state(Rules(snapshot: snapshot, model: model).repair(fates), snapshot)
    }

    /// The file system a power loss leaves in `state`: independent of the original and of every
    /// other clone, with nothing pending, no faults and no trace.
    public func materialize(_ state: CrashState) -> SimulatedFileSystem {
        snapshot.materialize { state.fates[$0] }
    }

    /// What a power loss leaves in `state`, hashed but not yet built: two states with the same
    /// `hash` build the same file system, so a caller that checks each image once builds only
    /// the new ones (`materialize(_:)` of the image).
    public func image(of state: CrashState) -> CrashImage {
        var memo = PendingSnapshot.ImageMemo()
        return snapshot.image({ state.fates[$0] }, memo: &memo)
    }

    /// The images of `states`, in order, sharing what they have in common (each namespace is
    /// built, and each unchanged file hashed, once).
    public func images(of states: [CrashState]) -> [CrashImage] {
        var memo = PendingSnapshot.ImageMemo()
        return states.map { state in snapshot.image({ state.fates[$0] }, memo: &memo) }
    }

    /// The file system `image` describes (equal to `materialize` of its state).
    public func materialize(_ image: CrashImage) -> SimulatedFileSystem {
        snapshot.fileSystem(image)
    }
}
