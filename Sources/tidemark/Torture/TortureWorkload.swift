import Foundation
import Tidemark
import TidemarkIO

/// What the torture child writes, as a pure function of (seed, round, writer, index): the parent
/// regenerates every operation the child acknowledged instead of being told its contents, so the
/// child's only output is "ack WRITER INDEX". Each writer thread owns its own ids ("wW-N"), so
/// every writer's operations apply in order and at most one per writer is in flight at the kill.
struct TortureWorkload {
    /// One operation: a single put or delete, or several changes in one batch or transaction.
    struct Operation {
        enum Kind: String { case put, delete, batch, transaction }
        var kind: Kind
        /// id → the record it ends with, nil for a delete (ids are distinct within an operation).
        var changes: [(id: String, record: Record?)]
    }

    static let writers = 2
    static let idsPerWriter = 60
    static let dimension = 4

    let seed: UInt64

    /// Store settings of the child and of the parent's reopen: small segments, frequent
    /// checkpoints, a hot budget small enough that commits flush dirty records to the cold tier,
    /// and a hot→cold age short enough that the maintenance thread flushes while the child writes.
    static func storeOptions(syncMode: SyncMode) -> StoreOptions {
        var options = StoreOptions(syncMode: syncMode, segmentSizeLimit: 64 << 10, autoCheckpointLogBytes: 128 << 10)
        options.tiers = TierOptions(hotMemoryBytes: 8 << 10, hotToColdAge: 0.05)
        return options
    }

    static func ids(ofWriter writer: Int) -> [String] { (0..<idsPerWriter).map { "w\(writer)-\($0)" } }

    func operation(round: Int, writer: Int, index: Int) -> Operation {
        let random = SeededRandom(seed: SeededRandom.derive(seed: seed, label: "torture/\(round)/\(writer)/\(index)"))
        let roll = random.int(in: 0...99)
        let kind: Operation.Kind = roll < 50 ? .put : roll < 65 ? .delete : roll < 85 ? .batch : .transaction
        let count = kind == .put || kind == .delete ? 1 : random.int(in: 2...6)
        var chosen: [Int] = []
        while chosen.count < count {
            let number = random.int(in: 0...Self.idsPerWriter - 1)
            if !chosen.contains(number) { chosen.append(number) }
        }
        let changes = chosen.map { number -> (id: String, record: Record?) in
            let id = "w\(writer)-\(number)"
            let isDelete = kind == .delete || (kind != .put && random.chance(0.3))
            guard !isDelete else { return (id, nil) }
            // Content names the operation that wrote it, so a report can say which write is there.
            let content = "r\(round).\(index).\(id) " + String(repeating: "~", count: random.int(in: 0...600))
            let embedding = (0..<Self.dimension).map { _ in Float(random.int(in: -1000...1000)) / 100 }
            return (id, Record(id: id, content: content, embedding: embedding, metadata: [
                "round": .number(Double(round)), "op": .number(Double(index)), "kind": .string(kind.rawValue),
            ]))
        }
        return Operation(kind: kind, changes: changes)
    }

    /// Performs `operation` on `store`; returns once the store acknowledged it.
    static func perform(_ operation: Operation, on store: Store) throws {
        switch operation.kind {
        case .put, .delete:
            let change = operation.changes[0]
            if let record = change.record { try store.put(record) } else { _ = try store.delete(change.id) }
        case .batch:
            try store.batch { batch in
                for change in operation.changes {
                    if let record = change.record { try batch.put(record) } else { try batch.delete(change.id) }
                }
            }
        case .transaction:
            try store.transaction { transaction in
                _ = try transaction.get(operation.changes[0].id)  // a read inside, as real transactions do
                for change in operation.changes {
                    if let record = change.record { try transaction.put(record) } else { try transaction.delete(change.id) }
                }
            }
        }
    }
}

/// What the parent believes the store holds: every record an acknowledged write left.
struct TortureModel {
    var records: [String: Record] = [:]

    mutating func apply(_ operation: TortureWorkload.Operation) {
        for change in operation.changes { records[change.id] = change.record }
    }

    /// A short description of a record for reports: the operation that wrote it and its size.
    static func describe(_ record: Record?) -> String {
        guard let record else { return "absent" }
        let origin = record.content.split(separator: " ", maxSplits: 1).first.map(String.init) ?? "?"
        return "written by \(origin) (\(record.content.utf8.count) bytes of content)"
    }
}
