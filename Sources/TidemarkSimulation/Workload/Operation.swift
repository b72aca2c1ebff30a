import TidemarkSimulatedDisk
import Tidemark

/// A record as the model and every subject see it. Metadata is a flat string map (a JSON object
/// of strings): enough to exercise filters without making equality fuzzy.
public struct RecordValue: Codable, Sendable, Hashable {
    public var id: String
    public var content: String
    public var embedding: [Float]
    public var metadata: [String: String]
    /// Wall-clock expiry in nanoseconds (a put with a TTL); nil never expires.
    public var expiresAt: Int64?
    public init(id: String, content: String, embedding: [Float], metadata: [String: String], expiresAt: Int64? = nil) {
        self.id = id
        self.content = content
        self.embedding = embedding
        self.metadata = metadata
        self.expiresAt = expiresAt
    }

    /// Whether reads at wall-clock time `now` see it (expiry is inclusive, as the store's).
    public func isLive(at now: Int64) -> Bool { expiresAt.map { now < $0 } ?? true }
}

/// One change inside a batch or transaction.
public enum Mutation: Codable, Sendable, Hashable {
    case put(record: RecordValue)
    case delete(id: String)

    public var id: String {
        switch self {
        case .put(let record): record.id
        case .delete(let id): id
        }
    }
}

/// One operation of a workload. Plain data: a failure file stores the exact list, and the
/// shrinker removes entries from it.
public enum WorkloadOperation: Codable, Sendable, Hashable {
    case put(record: RecordValue)
    /// A put that expires `ttlSeconds` after the wall-clock time it is performed at.
    case putWithTTL(record: RecordValue, ttlSeconds: Int)
    case delete(id: String)
    /// Atomic: all or nothing.
    case batch(mutations: [Mutation])
    /// Atomic; with `rollback` the body throws after its mutations and nothing may be applied.
    case transaction(mutations: [Mutation], rollback: Bool)
    case get(id: String)
    /// With `filter`, only records whose metadata holds every pair.
    case search(embedding: [Float], k: Int, metric: SearchMetric, filter: [String: String]?)
    case sync
    case checkpoint
    /// The subject's background work, run now (migration, expiry, async flush...).
    case maintenance
    /// Moves the wall clock; negative steps it back (`clockStepBack`).
    case advanceClock(seconds: Int)
    /// Clean close and open again, with no crash. Close is not sync.
    case reopen
    /// `members` (puts and deletes of distinct ids, perhaps a checkpoint) at once, each on a simulated thread of its
    /// own (`DeterministicScheduler`), with one more thread closing the store when `closes`
    /// (then the store is opened again, as after `reopen`). Only subjects that can be
    /// scheduled (`ConcurrentSubject`) run it.
    case concurrent(members: [WorkloadOperation], closes: Bool)

    public var kind: OperationKind {
        switch self {
        case .put: .put
        case .putWithTTL: .putWithTTL
        case .delete: .delete
        case .batch: .batch
        case .transaction: .transaction
        case .get: .get
        case .search: .search
        case .sync: .sync
        case .checkpoint: .checkpoint
        case .maintenance: .maintenance
        case .advanceClock: .advanceClock
        case .reopen: .reopen
        case .concurrent: .concurrent
        }
    }

    /// The changes this operation makes to the model if it is applied at wall-clock time `now`
    /// (nanoseconds; it fixes a TTL's expiry).
    public func mutations(at now: Int64) -> [Mutation] {
        switch self {
        case .put(let record): [.put(record: record)]
        case .putWithTTL(let record, let ttlSeconds):
            [.put(record: RecordValue(
                id: record.id, content: record.content, embedding: record.embedding, metadata: record.metadata,
                expiresAt: now + Int64(ttlSeconds) * 1_000_000_000))]
        case .delete(let id): [.delete(id: id)]
        case .batch(let mutations): mutations
        case .transaction(let mutations, let rollback): rollback ? [] : mutations
        case .concurrent(let members, _): members.flatMap { $0.mutations(at: now) }
        default: []
        }
    }

    public var label: String {
        switch self {
        case .put(let record): "put \(record.id)"
        case .putWithTTL(let record, let ttlSeconds): "put \(record.id) ttl \(ttlSeconds)s"
        case .delete(let id): "delete \(id)"
        case .batch(let mutations): "batch ×\(mutations.count)"
        case .transaction(let mutations, let rollback): rollback ? "txn ×\(mutations.count) rollback" : "txn ×\(mutations.count)"
        case .get(let id): "get \(id)"
        case .search(_, let k, let metric, let filter):
            "search k=\(k) \(metric.rawValue)" + (filter.map { " " + $0.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") } ?? "")
        case .sync: "sync"
        case .checkpoint: "checkpoint"
        case .maintenance: "maintenance"
        case .advanceClock(let seconds): seconds < 0 ? "clock \(seconds)s" : "clock +\(seconds)s"
        case .reopen: "reopen"
        case .concurrent(let members, let closes):
            "concurrent (" + members.map(\.label).joined(separator: " | ") + (closes ? " | close" : "") + ")"
        }
    }
}

public enum OperationKind: String, Codable, Sendable, Hashable, CaseIterable, CodingKeyRepresentable {
    case put, putWithTTL, delete, batch, transaction, get, search, sync, checkpoint, maintenance, advanceClock, reopen
    /// Several puts and deletes at once (`WorkloadConfiguration.concurrency` says how many).
    case concurrent
    /// A mix weight only: an `advanceClock` by hours to weeks, past every TTL and record age.
    case clockJump
    /// A mix weight only: an `advanceClock` by minus 1 s to 1 hour, the wall clock stepping
    /// back (NTP, a restored VM); the subject's time must not follow it (`Model.now`).
    case clockStepBack

    /// Whether the operation can change the stored state.
    public var isMutation: Bool {
        switch self {
        case .put, .putWithTTL, .delete, .batch, .transaction, .concurrent: true
        default: false
        }
    }
}

/// How a crash strikes, as a plan states it (the simulator's `CrashKind` is the same two cases).
public struct CrashSpec: Codable, Sendable, Hashable {
    public var powerLoss: Bool
    /// Also crash during the recovery that follows, after this many file-system calls into it.
    public var recoveryKillAfterCalls: Int?
    /// How that crash during recovery strikes; nil: as the first crash (plans written before
    /// the two were drawn apart).
    public var recoveryPowerLoss: Bool?
    public init(powerLoss: Bool, recoveryKillAfterCalls: Int? = nil, recoveryPowerLoss: Bool? = nil) {
        self.powerLoss = powerLoss
        self.recoveryKillAfterCalls = recoveryKillAfterCalls
        self.recoveryPowerLoss = recoveryPowerLoss
    }
}

/// One step of a run's plan.
public enum Step: Codable, Sendable, Hashable {
    /// Perform an operation; with `killAfterCalls`, crash when it has made that many file-system
    /// calls (if it makes fewer, nothing happens).
    case operation(WorkloadOperation, killAfterCalls: Int?, crash: CrashSpec?)
    /// Crash between operations, then recover.
    case crash(CrashSpec)
}

/// Everything a run does, fixed before it starts: the seed decides the plan, the plan and the
/// seed decide the run. Stored in failure files; shrunk by removing steps.
public struct Plan: Codable, Sendable, Hashable {
    public var steps: [Step]
    public init(steps: [Step]) { self.steps = steps }

    public var operationCount: Int {
        steps.reduce(0) { count, step in
            if case .operation = step { return count + 1 }
            return count
        }
    }
}
