/// The embeddings of a state's records side by side in one buffer, for search: a scan then
/// streams through memory instead of following one allocation per record (at 100 K × 384 the
/// scattered scan took about 4× as long). A record whose embedding does not have the table's
/// dimension has no slot. Slot order carries no meaning: search ranks by score, then id.
struct VectorTable: Sendable {
    let dimension: Int
    /// Slot-major: slot `s` holds `values[s * dimension ..< (s + 1) * dimension]`.
    private(set) var values: [Float] = []
    /// The record in each slot; nil for a free slot.
    private(set) var ids: [String?] = []
    private(set) var expiresAt: [Int64?] = []
    /// Each slot's embedding dotted with itself (`Search.Kernels.dot`), for cosine.
    private(set) var squaredNorms: [Double] = []
    private var slots: [String: Int] = [:]
    private var freeSlots: [Int] = []

    init(dimension: Int, records: [String: Record] = [:]) {
        self.dimension = dimension
        values.reserveCapacity(records.count * dimension)
        for record in records.values { set(record) }
    }

    var slotCount: Int { ids.count }

    /// Puts `record`'s embedding in its slot (a new one if it had none), or frees its slot
    /// when its embedding does not have the table's dimension.
    mutating func set(_ record: Record) {
        guard record.embedding.count == dimension else { return remove(record.id) }
        let squaredNorm = record.embedding.withUnsafeBufferPointer { Search.Kernels.dot($0, $0) }
        let slot: Int
        if let existing = slots[record.id] {
            slot = existing
        } else if let reused = freeSlots.popLast() {
            slot = reused
            slots[record.id] = slot
        } else {
            slots[record.id] = ids.count
            ids.append(record.id)
            expiresAt.append(record.expiresAt)
            squaredNorms.append(squaredNorm)
            values.append(contentsOf: record.embedding)
            return
        }
        ids[slot] = record.id
        expiresAt[slot] = record.expiresAt
        squaredNorms[slot] = squaredNorm
        values.withUnsafeMutableBufferPointer { values in
            record.embedding.withUnsafeBufferPointer { embedding in
                _ = UnsafeMutableBufferPointer(rebasing: values[slot * dimension..<(slot + 1) * dimension])
                    .initialize(fromContentsOf: embedding)
            }
        }
    }

    mutating func remove(_ id: String) {
        guard let slot = slots.removeValue(forKey: id) else { return }
        ids[slot] = nil
        expiresAt[slot] = nil
        freeSlots.append(slot)
    }
}
