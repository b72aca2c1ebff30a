import TidemarkIO

/// Anything the simulator can open on a `FileSystem`, drive with operations, crash, reopen and
/// read back. The Tidemark store (each sync mode, with or without tiers, and its canaries) and
/// SQLite through the VFS are subjects.
///
/// A subject is built for one run by its `SubjectKind` with the run's file system, clock and
/// random source; it holds at most one open instance of the thing under test at a time.
public protocol Subject: AnyObject {
    /// Opens (recovering after a crash). Throws `SubjectError` when it refuses.
    func open() throws(SubjectError) -> RecoveryInfo
    /// Performs one operation on the open instance.
    func perform(_ operation: WorkloadOperation) -> Response
    /// Every record, read back through the subject's own read path.
    func readAll() throws(SubjectError) -> [String: RecordValue]
    /// Forgets the open instance without closing it: the process died.
    func abandon()
    /// Closes cleanly (for `reopen`). Close is not sync: what the reopen shows becomes the
    /// verified state all the same, so a close that fails to sync is caught at the next crash.
    func close()
    /// After a successful recovery and one checkpoint: leftovers that should not be there
    /// (temp files, a log that did not shrink...). Empty when clean.
    func hygieneProblems() -> [String]
    /// Whether an acknowledgement of a mutation promises durability (immediate/group modes),
    /// or only a later sync does (async mode).
    var acknowledgementsAreDurable: Bool { get }
    /// Where the mutation in progress (or the last one performed) wrote the record that commits
    /// it, once written; nil when it wrote none or the subject cannot say. The checker asks the
    /// simulated disk whether that record was durable when a crash cut the operation short: if
    /// so, the operation committed and must survive, acknowledged or not.
    var inFlightCommitRecord: CommitRecord? { get }
    /// After an open refused on detected corruption: what recovery could have started from that
    /// no injected corruption touched (`corruptedFiles`, read through `contents`, which injects
    /// nothing), named for the report; nil when there is none or the subject cannot say. When
    /// there is one, the refusal is a liveness failure: the subject should have fallen back to it.
    func intactRecoverySource(corruptedFiles: Set<String>, contents: (String) -> [UInt8]?) -> String?
    /// The time the open subject decides expiry by (Unix nanoseconds), when it keeps one of its
    /// own that may differ from the wall clock (`Model.adoptSubjectTime`); nil otherwise.
    var storeTime: Int64? { get }
}

extension Subject {
    public var inFlightCommitRecord: CommitRecord? { nil }
    public var storeTime: Int64? { nil }
    public func intactRecoverySource(corruptedFiles: Set<String>, contents: (String) -> [UInt8]?) -> String? { nil }
}

/// The bytes `0..<end` of `path` hold an operation's commit record (a log frame and all before it).
public struct CommitRecord: Sendable, Hashable {
    public var path: String
    public var end: Int64
    public init(path: String, end: Int64) {
        self.path = path
        self.end = end
    }
}

/// A subject whose operations can run at once on the threads of a `DeterministicScheduler`: it
/// opens what it tests with the scheduler's monitor, so every lock, unlock, wait and broadcast
/// is a point where the scheduler may switch threads. `perform` and `close` are then called
/// from those threads, one at a time.
public protocol ConcurrentSubject: Subject {
    func schedule(with scheduler: DeterministicScheduler)
}

/// What recovery reported. `paths` are short labels counted in reports ("clean open", "torn
/// tail truncated", "checkpoint fallback"...).
public struct RecoveryInfo: Sendable, Hashable {
    public var paths: [String]
    public var detail: String
    /// Recovery dropped data it could not tell from a torn write, and said so (for example a
    /// complete log frame at the tail whose checksum failed: a torn unsynced write, or bit rot
    /// of a synced one; one copy cannot tell which). After injected corruption, a loss that
    /// recovery reported this way counts as detected, not as silent.
    public var reportedPossibleLoss: Bool
    public init(paths: [String], detail: String = "", reportedPossibleLoss: Bool = false) {
        self.paths = paths
        self.detail = detail
        self.reportedPossibleLoss = reportedPossibleLoss
    }
}

/// How an operation ended, as the checker classifies it.
public enum Response: Sendable, Hashable {
    /// A mutation applied; `durable` when the subject promises it survives a crash now.
    case acknowledged(durable: Bool)
    /// A sync, checkpoint, maintenance or clock step that succeeded.
    case done
    case value(RecordValue?)
    case searchResults([SearchHit])
    /// A clean error: nothing was applied, nothing ever will be.
    case rejected(String)
    /// An I/O error: it may or may not have applied; the subject must now fail stop.
    case ambiguous(String)
    /// Refused because of an earlier failure (fail-stop).
    case failStopped(String)
    /// The subject detected damaged data.
    case corruptionDetected(String)
}

/// One search result as a subject returns it: the record and its score, as a similarity in
/// `Model.similarity`'s sense (higher is nearer; the negated distance for euclidean).
public struct SearchHit: Sendable, Hashable {
    public var record: RecordValue
    public var score: Double
    public init(record: RecordValue, score: Double) {
        self.record = record
        self.score = score
    }
}

/// Why a subject would not open or read.
public struct SubjectError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// Detected damage: checksum, magic, bounds. Fine after injected corruption.
        case corruption
        /// An I/O error from the file system.
        case io
        /// The file system halted at a kill point: the process is gone.
        case crashed
        /// Anything else: a bug or an unexpected refusal.
        case other
    }
    public var kind: Kind
    public var message: String
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
    public var description: String { "\(kind.rawValue): \(message)" }
}
