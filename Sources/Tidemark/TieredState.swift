import TidemarkIO

/// The store's records split into tiers: a hot tier in memory (spilling to files beyond its
/// budget), a cold tier in SQLite, and tombstones for ids deleted or expired since the last cold
/// commit. The newest version wins: a hot record shadows its id's cold row, a tombstone hides it.
///
/// Durability and recovery (the order that keeps them in agreement):
/// 1. Migration and tombstones reach the cold tier in one SQLite transaction that also sets the
///    cold tier's LSN; it is made only for state whose log is already durable.
/// 2. A checkpoint (of the hot tier only, flagged as relying on the cold tier) is written only
///    right after such a cold commit at its own LSN, so no tombstone is pending and the cold tier's
///    LSN is at least the checkpoint's.
/// 3. Log segments go only once a checkpoint covers them.
/// Recovery loads the checkpoint (hot records), replays the log after it on top (puts go hot,
/// deletes become tombstones), and reads the cold tier beneath. A crash between 1 and 2 replays
/// records the cold tier already has: the hot copy shadows an equal cold row, harmless. A cold
/// tier behind a checkpoint that relies on it means migrated records are missing: recovery
/// reports corruption instead of opening with them lost.
///
/// Not thread-safe: the store's lock guards it.
final class TieredState {
    let options: TierOptions
    let hot: HotTier
    let cold: ColdTier
    private(set) var tombstones: Set<String>
    private(set) var dimension: Int?

    /// Last-access times of hot records, kept across a clean close so ages survive a restart
    /// (a cache: checksummed, removed when read, ignored when damaged).
    static let accessHintFileName = "hot-access.hint"

    init(recovered: StoreState, options: TierOptions, hot: HotTier, cold: ColdTier, accessTimes: [String: Int64], now: Int64) {
        self.options = options
        self.hot = hot
        self.cold = cold
        tombstones = recovered.deletedIDs ?? []
        dimension = recovered.dimension
        for record in recovered.records.values.sorted(by: { (accessTimes[$0.id] ?? now, $0.id) < (accessTimes[$1.id] ?? now, $1.id) }) {
            hot.put(record, now: accessTimes[record.id] ?? now)
        }
    }

    // MARK: Commits

    func validate(_ operations: [LogOperation]) throws {
        var view = StoreState()
        view.dimension = dimension
        try view.validate(operations)
    }

    /// Applies a logged commit. Never fails: spill errors only leave records in memory.
    func apply(_ operations: [LogOperation], now: Int64) {
        for operation in operations {
            switch operation {
            case .put(let record):
                if dimension == nil, !record.embedding.isEmpty { dimension = record.embedding.count }
                tombstones.remove(record.id)
                hot.put(record, now: now)
            case .delete(let id):
                hot.remove(id)
                tombstones.insert(id)
            }
        }
    }

    // MARK: Reads

    /// The newest live version of `id` (a hot read marks it used).
    func live(_ id: String, now: Int64) throws -> Record? {
        let record: Record?
        if hot.contains(id) {
            record = try hot.get(id, now: now)
        } else if tombstones.contains(id) {
            record = nil
        } else {
            record = try cold.get(id)
        }
        guard let record, !record.isExpired(at: now) else { return nil }
        return record
    }

    /// Every live record once (hot first, then cold rows nothing newer shadows); recency is
    /// not changed.
    func forEachLive(now: Int64, _ body: (Record) throws -> Void) throws {
        try hot.forEach { record in
            if !record.isExpired(at: now) { try body(record) }
        }
        try cold.forEach { record in
            guard !hot.contains(record.id), !tombstones.contains(record.id), !record.isExpired(at: now) else { return }
            try body(record)
        }
    }

    /// The hot tier as a checkpoint's state (flagged: the cold tier holds the rest). Call only
    /// right after a cold commit at the checkpoint's LSN, so no tombstone is pending.
    func checkpointState() throws -> StoreState {
        precondition(tombstones.isEmpty, "a checkpoint of the hot tier needs every tombstone in the cold tier first")
        var state = StoreState()
        state.dimension = dimension
        state.requiresColdTier = true
        try hot.forEach { state.records[$0.id] = $0 }
        return state
    }

    // MARK: Migration

    /// What one cold commit will do (at most `limit` records): every expired hot record (it
    /// becomes a tombstone, so a clock that later runs behind cannot revive it), and hot records
    /// idle since `now - hotToColdAge` to move.
    struct MigrationPlan {
        var records: [Record] = []
        var expiredIDs: [String] = []
        var isEmpty: Bool { records.isEmpty && expiredIDs.isEmpty }
    }

    func planMigration(now: Int64, limit: Int) throws -> MigrationPlan {
        let cutoff = now - Int64(options.hotToColdAge * 1e9)
        var plan = MigrationPlan()
        plan.expiredIDs = Array(hot.idsExpired(at: now).prefix(limit))
        let expired = Set(plan.expiredIDs)
        for id in hot.idsIdle(since: cutoff) where !expired.contains(id) {
            guard plan.records.count + plan.expiredIDs.count < limit else { break }
            if let record = try hot.peek(id) { plan.records.append(record) }
        }
        return plan
    }

    /// Takes the plan's records out of the hot tier (expired ones become tombstones).
    func dropFromHot(_ plan: MigrationPlan) {
        for record in plan.records { hot.remove(record.id) }
        for id in plan.expiredIDs {
            hot.remove(id)
            tombstones.insert(id)
        }
    }

    /// Commits the plan plus every pending tombstone and expiry to the cold tier at `lsn`, then
    /// drops what moved from the hot tier. `alreadyDropped`: the hot tier no longer has them.
    func commitToCold(_ plan: MigrationPlan, lsn: UInt64, now: Int64, alreadyDropped: Bool = false) throws -> ColdTier.CommitResult {
        let deletions = tombstones.union(plan.expiredIDs)
        var result = try cold.commit(records: plan.records, deletions: Array(deletions), now: now, lsn: lsn)
        if !alreadyDropped { dropFromHot(plan) }
        tombstones.removeAll()
        result.expired += plan.expiredIDs.count
        return result
    }

    // MARK: Access-time hint

    static func encodeAccessHint(_ times: [String: Int64]) -> [UInt8] {
        var writer = ByteWriter()
        writer.raw(Array("TMHINT01".utf8))
        writer.u32(UInt32(times.count))
        for (id, time) in times.sorted(by: { $0.key < $1.key }) {
            writer.string(id)
            writer.i64(time)
        }
        writer.u32(CRC32C.checksum(writer.bytes))
        return writer.bytes
    }

    /// The times in a hint file, or nil when it is damaged (it is only a hint).
    static func decodeAccessHint(_ bytes: [UInt8]) -> [String: Int64]? {
        guard bytes.count >= 16, bytes.prefix(8).elementsEqual(Array("TMHINT01".utf8)) else { return nil }
        guard let stored = try? ByteReader(bytes.suffix(4)[...]).readU32(), stored == CRC32C.checksum(bytes.dropLast(4)) else { return nil }
        var reader = ByteReader(bytes[8..<(bytes.count - 4)])
        guard let count = try? reader.u32(), Int(count) <= bytes.count / 12 else { return nil }
        var times: [String: Int64] = [:]
        for _ in 0..<count {
            guard let id = try? reader.string(), let time = try? reader.i64() else { return nil }
            times[id] = time
        }
        return reader.isAtEnd ? times : nil
    }
}
