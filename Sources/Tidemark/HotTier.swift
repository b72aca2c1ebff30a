import TidemarkIO

/// Records in memory up to a byte budget: **dirty** ones (written since the last flush to the
/// cold tier; the log holds them durably, the cold tier not yet) and **clean** ones (an exact copy
/// of a cold row, cached for reads).
///
/// Clean records are evicted for free, least recently used first, whenever the budget needs room.
/// Dirty records are never dropped here: only a flush (a checkpoint, `TieredState.flush`) makes
/// them clean, and the store flushes before the dirty bytes would pass the budget
/// (`wouldOverflow`). So the resident bytes stay within the budget, except for one commit larger
/// than the budget on its own.
///
/// A record's size is its encoded length (`RecordCoding`); `residentBytes` is the sum over the
/// records held, the figure the budget bounds. Not thread-safe: the store's lock guards it.
final class HotTier {
    final class Entry {
        let record: Record
        let bytes: Int
        /// Not yet in the cold tier.
        var isDirty: Bool
        /// Whether the cold tier has a row for this id (perhaps an older version): nil until
        /// asked (`TieredState.recordCount` resolves it), so a put costs no cold lookup.
        var inCold: Bool?
        /// Wall-clock nanoseconds of the last put or read.
        var lastAccess: Int64
        /// LRU links among clean entries, towards the most (`newer`) and least (`older`) recently used.
        var newer: Entry?
        weak var older: Entry?

        init(record: Record, isDirty: Bool, inCold: Bool?, lastAccess: Int64) {
            self.record = record
            self.bytes = HotTier.size(of: record)
            self.isDirty = isDirty
            self.inCold = inCold
            self.lastAccess = lastAccess
        }

        var id: String { record.id }
    }

    let budget: Int

    private var entries: [String: Entry] = [:]
    /// Least and most recently used clean entries (eviction starts at `oldestClean`).
    private var oldestClean: Entry?
    private var newestClean: Entry?

    private(set) var residentBytes = 0
    private(set) var dirtyBytes = 0
    private(set) var dirtyCount = 0
    /// The most resident bytes seen once an operation settled.
    private(set) var peakResidentBytes = 0
    /// Clean records dropped from memory (for the budget or for age).
    private(set) var evictions = 0

    init(budget: Int) {
        self.budget = budget
    }

    var count: Int { entries.count }
    func contains(_ id: String) -> Bool { entries[id] != nil }
    func entry(_ id: String) -> Entry? { entries[id] }

    /// Whether adding `bytes` of dirty records would take the dirty bytes past the budget: the
    /// store flushes first. (Clean records never force a flush: they are evicted.)
    func wouldOverflow(adding bytes: Int) -> Bool {
        dirtyCount > 0 && dirtyBytes + bytes > budget
    }

    // MARK: Changes

    /// Inserts or replaces `record` (as the most recently used), then evicts clean records while
    /// over budget. A replaced entry's knowledge of the cold tier carries over.
    func put(_ record: Record, dirty: Bool, inCold: Bool? = nil, now: Int64) {
        let replaced = remove(record.id)
        let entry = Entry(record: record, isDirty: dirty, inCold: inCold ?? replaced?.inCold, lastAccess: now)
        entries[record.id] = entry
        residentBytes += entry.bytes
        if dirty {
            dirtyBytes += entry.bytes
            dirtyCount += 1
        } else {
            linkClean(entry)
        }
        evict(toFit: budget)
    }

    /// Drops the record from memory; returns what was there.
    @discardableResult
    func remove(_ id: String) -> Entry? {
        guard let entry = entries.removeValue(forKey: id) else { return nil }
        residentBytes -= entry.bytes
        if entry.isDirty {
            dirtyBytes -= entry.bytes
            dirtyCount -= 1
        } else {
            unlinkClean(entry)
        }
        return entry
    }

    // MARK: Reads

    /// The record, marking it used now.
    func get(_ id: String, now: Int64) -> Record? {
        guard let entry = entries[id] else { return nil }
        entry.lastAccess = now
        if !entry.isDirty {
            unlinkClean(entry)
            linkClean(entry)
        }
        return entry.record
    }

    /// Every record held, dirty and clean, in id order (so scans visit them in the same order in
    /// every process: Swift's dictionary order is seeded per process).
    func forEach(_ body: (Record) throws -> Void) rethrows {
        for id in entries.keys.sorted() { try body(entries[id]!.record) }
    }

    /// The dirty entries, in id order: what the next flush writes.
    func dirtyEntries() -> [Entry] {
        entries.values.filter(\.isDirty).sorted { $0.id < $1.id }
    }

    /// Whether some dirty record was last used at or before `cutoff`.
    func hasDirty(idleSince cutoff: Int64) -> Bool {
        entries.values.contains { $0.isDirty && $0.lastAccess <= cutoff }
    }

    /// Ids whose records have expired at `now`.
    func idsExpired(at now: Int64) -> [String] {
        entries.values.filter { $0.record.isExpired(at: now) }.map(\.id).sorted()
    }

    /// Last-access times of the dirty records (the ones whose age decides a flush).
    func dirtyAccessTimes() -> [String: Int64] {
        entries.values.filter(\.isDirty).reduce(into: [:]) { $0[$1.id] = $1.lastAccess }
    }

    // MARK: Flush and eviction

    /// After a flush committed every dirty record to the cold tier: they are clean now, merged
    /// into the LRU order by last access (one pass over the clean list).
    func markAllClean() {
        let cleaned = dirtyEntries().sorted(by: Self.lessRecent)
        for entry in cleaned {
            entry.isDirty = false
            entry.inCold = true
        }
        var clean: [Entry] = []
        var cursor = oldestClean
        while let entry = cursor {
            clean.append(entry)
            cursor = entry.newer
        }
        oldestClean = nil
        newestClean = nil
        var (i, j) = (0, 0)
        while i < clean.count || j < cleaned.count {
            if j == cleaned.count || (i < clean.count && !Self.lessRecent(cleaned[j], clean[i])) {
                linkClean(clean[i])
                i += 1
            } else {
                linkClean(cleaned[j])
                j += 1
            }
        }
        dirtyBytes = 0
        dirtyCount = 0
        evict(toFit: budget)
    }

    private static func lessRecent(_ a: Entry, _ b: Entry) -> Bool { (a.lastAccess, a.id) < (b.lastAccess, b.id) }

    /// Drops clean records last used at or before `cutoff` (they are in the cold tier).
    func evictIdle(since cutoff: Int64) -> Int {
        var evicted = 0
        while let victim = oldestClean, victim.lastAccess <= cutoff {
            drop(victim)
            evicted += 1
        }
        return evicted
    }

    /// Drops least recently used clean records until at most `limit` bytes are resident.
    private func evict(toFit limit: Int) {
        defer { peakResidentBytes = max(peakResidentBytes, residentBytes) }
        while residentBytes > limit, let victim = oldestClean { drop(victim) }
    }

    private func drop(_ entry: Entry) {
        remove(entry.id)
        evictions += 1
    }

    static func size(of record: Record) -> Int { RecordCoding.encodedSize(of: record) }

    // MARK: LRU list (clean entries only)

    private func linkClean(_ entry: Entry) {
        entry.older = newestClean
        entry.newer = nil
        newestClean?.newer = entry
        newestClean = entry
        if oldestClean == nil { oldestClean = entry }
    }

    private func unlinkClean(_ entry: Entry) {
        if let older = entry.older { older.newer = entry.newer } else { oldestClean = entry.newer }
        if let newer = entry.newer { newer.older = entry.older } else { newestClean = entry.older }
        entry.newer = nil
        entry.older = nil
    }
}
