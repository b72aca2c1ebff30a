/// The store's in-memory state: every live record and the embedding dimension. The record space
/// of a store without tiers (see `RecordSpace`), the state recovery replays into, a checkpoint's
/// contents, and a transaction's own writes.
struct StoreState: Sendable, Hashable {
    var records: [String: Record] {
        get { storage }
        // A change made here rather than through `apply` drops the vector table (rebuilt by
        // the next `prepareForSearch`); `apply` keeps it up to date instead.
        _modify {
            vectors = nil
            yield &storage
        }
        set {
            vectors = nil
            storage = newValue
        }
    }
    private var storage: [String: Record] = [:]
    /// The embeddings of `records` in one buffer, for search (not part of the state's value).
    private(set) var vectors: VectorTable?
    /// Fixed by the first non-empty embedding ever written; survives deletes.
    var dimension: Int?
    /// Ids deleted by `apply` (and not put again since), while tracking (non-nil). Recovery's
    /// state tracks them so the tiers can hide cold rows the replayed log deleted; the store's
    /// own state stops tracking once open.
    var deletedIDs: Set<String>? = []
    /// Loaded from a checkpoint of a tiered store: records not here may be in the cold tier.
    var requiresColdTier = false

    /// Checks a commit against the state (dimension agreement, also among the commit's own
    /// records) without changing anything.
    func validate(_ operations: [LogOperation]) throws {
        var dimension = self.dimension
        for operation in operations {
            switch operation {
            case .put(let record):
                try record.validate()
                guard !record.embedding.isEmpty else { continue }
                if let expected = dimension, expected != record.embedding.count {
                    throw StoreError(
                        .invalidInput,
                        "record '\(record.id)': embedding has dimension \(record.embedding.count), this store's is \(expected)")
                }
                dimension = record.embedding.count
            case .delete(let id):
                try Record.validateID(id)
            }
        }
    }

    mutating func apply(_ operations: [LogOperation]) {
        for operation in operations {
            switch operation {
            case .put(let record):
                if dimension == nil, !record.embedding.isEmpty { dimension = record.embedding.count }
                storage[record.id] = record
                vectors?.set(record)
                // Hashing the id again for an empty set would cost as much as the insert.
                if deletedIDs?.isEmpty == false { deletedIDs?.remove(record.id) }
            case .delete(let id):
                storage[id] = nil
                vectors?.remove(id)
                deletedIDs?.insert(id)
            }
        }
    }

    /// Makes room for `additional` more records at once, at least doubling, so a replay that
    /// knows a segment's operation count rehashes the dictionary once per segment at most
    /// rather than at every doubling record by record.
    mutating func reserveCapacity(forAdding additional: Int) {
        let needed = storage.count + additional
        guard needed > storage.capacity else { return }
        storage.reserveCapacity(max(needed, 2 * storage.capacity))
    }

    /// Builds the vector table if there is none (kept from then on by `apply`).
    mutating func buildVectorTable() {
        guard vectors == nil, let dimension else { return }
        vectors = VectorTable(dimension: dimension, records: storage)
    }

    static func == (a: StoreState, b: StoreState) -> Bool {
        a.storage == b.storage && a.dimension == b.dimension && a.deletedIDs == b.deletedIDs
            && a.requiresColdTier == b.requiresColdTier
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(storage)
        hasher.combine(dimension)
        hasher.combine(deletedIDs)
        hasher.combine(requiresColdTier)
    }

    /// The record, unless absent or expired at `now`.
    func live(_ id: String, now: Int64) -> Record? {
        guard let record = records[id], !record.isExpired(at: now) else { return nil }
        return record
    }

    /// Drops expired records (done when a checkpoint is taken, so they never reach it).
    mutating func dropExpired(now: Int64) {
        records = records.filter { !$0.value.isExpired(at: now) }
    }
}
