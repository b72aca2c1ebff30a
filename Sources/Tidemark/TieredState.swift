import TidemarkIO

/// The store's records in two tiers: the cold tier (SQLite) holds the whole state as of its LSN,
/// and the hot tier holds, in memory, the records written since (dirty) plus a cache of cold
/// rows (clean); tombstones are ids deleted or expired since. The newest version wins: a hot
/// record shadows its id's cold row, a tombstone hides it.
///
/// The cold tier is the checkpoint. A **flush** (`flush`, called by the store's checkpoint)
/// commits every dirty record and tombstone to the cold tier in one SQLite transaction at a
/// durable LSN; the checkpoint file written after it holds no records, only that LSN (and the
/// dimension), so log segments before it can go. Recovery replays the log after the checkpoint
/// into the hot tier as dirty records over the cold tier, so an open costs the log written since
/// the last flush, never the number of records.
///
/// The order that keeps recovery honest:
/// 1. A flush commits only over durable log (the cold tier is never ahead of what a crash leaves).
/// 2. Dirty records stay in memory until the flush carrying them has committed (only then are
///    they clean, evictable); the checkpoint naming the flush's LSN is written after the commit.
/// 3. Log segments go only once that checkpoint is durable.
/// A crash between 1 and 2's checkpoint replays log the cold tier already has: the replayed
/// records equal their rows, harmless. A cold tier behind the checkpoint that relies on it means
/// flushed records are missing: recovery reports corruption instead of opening with them lost.
///
/// Not thread-safe: the store's lock guards it.
final class TieredState {
    let options: TierOptions
    let hot: HotTier
    let cold: ColdTier
    /// Ids deleted or expired since the last flush, with whether the cold tier has a row for
    /// them (nil until asked).
    private(set) var tombstones: [String: Bool?]
    private(set) var dimension: Int?
    /// The approximate index's header, once loaded and found fresh (`TieredState+VectorIndex`).
    var vectorIndex: VectorIndex?

    /// Last-access times of dirty records, kept across a clean close so their ages (which decide
    /// when maintenance flushes them) survive a restart: a cache, checksummed, removed when
    /// read, ignored when damaged.
    static let accessHintFileName = "hot-access.hint"

    /// The recovered state's records (the log replayed after the checkpoint) become dirty hot
    /// records, its deletions tombstones.
    init(recovered: StoreState, options: TierOptions, cold: ColdTier, accessTimes: [String: Int64], now: Int64) {
        self.options = options
        self.hot = HotTier(budget: options.hotMemoryBytes)
        self.cold = cold
        tombstones = Dictionary(uniqueKeysWithValues: (recovered.deletedIDs ?? []).map { ($0, nil) })
        // The checkpoint's dimension, unless the cold tier (older checkpoints) says more.
        dimension = recovered.dimension
        for record in recovered.records.values.sorted(by: { (accessTimes[$0.id] ?? now, $0.id) < (accessTimes[$1.id] ?? now, $1.id) }) {
            hot.put(record, dirty: true, now: accessTimes[record.id] ?? now)
        }
    }

    // MARK: Commits

    func validate(_ operations: [LogOperation]) throws {
        var view = StoreState()
        view.dimension = dimension
        try view.validate(operations)
    }

    /// Applies a logged commit. Never fails.
    func apply(_ operations: [LogOperation], now: Int64) {
        for operation in operations {
            switch operation {
            case .put(let record):
                if dimension == nil, !record.embedding.isEmpty { dimension = record.embedding.count }
                let inCold = tombstones.removeValue(forKey: record.id) ?? nil
                hot.put(record, dirty: true, inCold: inCold, now: now)
            case .delete(let id):
                let inCold = hot.remove(id)?.inCold ?? tombstones[id] ?? nil
                tombstones[id] = .some(inCold)
            }
        }
    }

    // MARK: Reads

    /// The newest live version of `id`. A hot read marks it used; a cold read caches the row as
    /// a clean hot record.
    func live(_ id: String, now: Int64) throws -> Record? {
        let record: Record?
        if let hotRecord = hot.get(id, now: now) {
            record = hotRecord
        } else if tombstones[id] != nil {
            record = nil
        } else if let coldRecord = try cold.get(id) {
            hot.put(coldRecord, dirty: false, inCold: true, now: now)
            record = coldRecord
        } else {
            record = nil
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
            guard !hot.contains(record.id), tombstones[record.id] == nil, !record.isExpired(at: now) else { return }
            try body(record)
        }
    }

    /// Records held (expired ones not yet removed included, as without tiers): the cold tier's
    /// count from its metadata, plus dirty records new to it, minus tombstones of its rows. Asks
    /// the cold tier (a primary-key lookup) only about ids written since the last flush whose
    /// presence there is not yet known.
    func recordCount() throws -> Int {
        var count = cold.count
        for entry in hot.dirtyEntries() {
            if entry.inCold == nil { entry.inCold = try cold.contains(entry.id) }
            if entry.inCold == false { count += 1 }
        }
        for (id, known) in tombstones {
            let inCold = try known ?? cold.contains(id)
            tombstones[id] = .some(inCold)
            if inCold { count -= 1 }
        }
        return count
    }

    /// The `k` nearest live records: the hot records, then the cold tier's vectors (only the
    /// `vectors` table is read, unless a filter needs metadata), skipping ids the hot tier or a
    /// tombstone shadows. Memory: the `k` best so far, not the records.
    func nearest(to query: [Float], k: Int, metric: SearchMetric, filter: [String: JSONValue], now: Int64) throws -> [SearchResult] {
        guard let dimension = try Search.checkQuery(query, k: k, dimension: dimension) else { return [] }
        var best = Search.Best(k: k, metric: metric, query: query)
        offerHot(to: &best, dimension: dimension, filter: filter, now: now)
        if filter.isEmpty {
            try cold.forEachVector(dimension: dimension) { id, vector, expiresAt in
                try offerCold(id, vector, expiresAt, to: &best, filter: filter, now: now)
            }
        } else {
            try cold.forEach { record in
                guard record.embedding.count == dimension, !record.isExpired(at: now), !shadowed(record.id),
                    Search.matches(record, filter)
                else { return }
                record.embedding.withUnsafeBufferPointer { best.offer(id: record.id, vector: $0) }
            }
        }
        return try results(best)
    }

    func offerHot(to best: inout Search.Best, dimension: Int, filter: [String: JSONValue], now: Int64) {
        hot.forEach { record in
            guard record.embedding.count == dimension, !record.isExpired(at: now), Search.matches(record, filter) else { return }
            record.embedding.withUnsafeBufferPointer { best.offer(id: record.id, vector: $0) }
        }
    }

    /// Offers one cold vector (from the cold tier or the index of it) unless it expired, cannot
    /// make the top `k`, is shadowed by a hot record or tombstone, or fails the filter (which
    /// then reads its record): the id becomes a `String` only past the score.
    func offerCold(
        _ idBytes: UnsafeRawBufferPointer, _ vector: UnsafeBufferPointer<Float>, _ expiresAt: Int64?, to best: inout Search.Best,
        filter: [String: JSONValue], now: Int64
    ) throws {
        guard !(expiresAt.map { $0 <= now } ?? false) else { return }
        let score = best.score(vector)
        guard best.mayKeep(score) else { return }
        let id = String(decoding: idBytes, as: UTF8.self)
        guard !shadowed(id) else { return }
        if !filter.isEmpty {
            guard let record = try cold.get(id), Search.matches(record, filter) else { return }
        }
        best.offer(id: id, score: score)
    }

    /// Whether a hot record or a tombstone hides the cold row of `id`.
    func shadowed(_ id: String) -> Bool { hot.contains(id) || tombstones[id] != nil }

    /// The kept ids as results, their records from the hot tier or the cold one.
    func results(_ best: Search.Best) throws -> [SearchResult] {
        try best.results().map { id, score in
            guard let record = try hot.entry(id)?.record ?? cold.get(id) else {
                throw StoreError.corruption("cold tier vector '\(id)' has no record row", path: cold.path, offset: 0)
            }
            return SearchResult(record: record, score: score)
        }
    }

    // MARK: Flush

    /// Whether a commit adding `bytes` to the hot tier must first flush (memory pressure).
    func needsFlush(adding bytes: Int) -> Bool { hot.wouldOverflow(adding: bytes) }

    /// Whether a flush would change anything in the cold tier beyond its LSN: a write since the
    /// last flush, or an expired record in either tier.
    func hasPendingChanges(now: Int64) throws -> Bool {
        try hot.dirtyCount > 0 || !tombstones.isEmpty || hasExpired(now: now)
    }

    /// Whether maintenance should flush: a dirty record idle for `hotToColdAge`, a pending
    /// tombstone, or an expired record in either tier.
    func wantsFlush(now: Int64) throws -> Bool {
        try hot.hasDirty(idleSince: idleCutoff(now)) || !tombstones.isEmpty || hasExpired(now: now)
    }

    private func hasExpired(now: Int64) throws -> Bool {
        try !hot.idsExpired(at: now).isEmpty || cold.hasExpired(now: now)
    }

    func idleCutoff(_ now: Int64) -> Int64 { now - Int64(options.hotToColdAge * 1e9) }

    /// What one flush writes: every dirty record (expired ones become tombstones instead, so a
    /// clock that later runs behind cannot revive them) and every tombstone.
    struct FlushPlan {
        var records: [Record] = []
        /// Tombstones of deletes.
        var deletions: [String] = []
        /// Hot records found expired (tombstones too, counted apart).
        var expiredIDs: [String] = []
        var isEmpty: Bool { records.isEmpty && deletions.isEmpty && expiredIDs.isEmpty }
    }

    func planFlush(now: Int64) -> FlushPlan {
        let expired = hot.idsExpired(at: now)
        for id in expired {
            let inCold = hot.remove(id)?.inCold ?? tombstones[id] ?? nil
            tombstones[id] = .some(inCold)
        }
        let expiredSet = Set(expired)
        return FlushPlan(
            records: hot.dirtyEntries().map(\.record), deletions: tombstones.keys.filter { !expiredSet.contains($0) }.sorted(),
            expiredIDs: expired)
    }

    /// Commits `plan` to the cold tier at `lsn` (a durable LSN: the caller made sure), then
    /// marks the flushed records clean and forgets the tombstones. Nothing in memory changes if
    /// the commit throws.
    func flush(_ plan: FlushPlan, lsn: UInt64, now: Int64) throws -> ColdTier.CommitResult {
        var result = try cold.commit(records: plan.records, deletions: plan.deletions, expiredIDs: plan.expiredIDs, now: now, lsn: lsn)
        result.expired += plan.expiredIDs.count
        hot.markAllClean()
        tombstones.removeAll()
        return result
    }

    /// The `dropHotBeforeColdDurable` canary's first half: the dirty records leave memory and the
    /// cold tier's LSN advances without them (so the checkpoint written next claims them).
    func dropDirtyBeforeCommit(lsn: UInt64, now: Int64) throws {
        for entry in hot.dirtyEntries() { hot.remove(entry.id) }
        _ = try cold.commit(records: [], deletions: [], expiredIDs: [], now: now, lsn: lsn)
    }

    /// A checkpoint's contents: no records (the cold tier holds them at the checkpoint's LSN),
    /// flagged as relying on the cold tier, with the dimension.
    func checkpointState() -> StoreState {
        var state = StoreState()
        state.dimension = dimension
        state.requiresColdTier = true
        return state
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
