import TidemarkIO
import TidemarkSQLite

/// Salvage of a damaged cold tier: its files are moved to quarantine (never deleted), then every
/// record that still reads is copied out of the quarantined copy into the new cold tier.
extension ColdTier {
    /// What one rescue read: the records copied, the ids that would not read, and how many rows
    /// `meta` counted beyond both (their ids sit on pages nothing could read).
    struct Rescue: Sendable, Hashable {
        var copiedIDs: [String] = []
        var lostIDs: [String: String] = [:]
        var unaccounted = 0
    }

    /// Reads the quarantined cold tier in `quarantineFolder` read-only and commits each record
    /// that reads whole (body and vector checksums hold; with a `dimension`, a vector of it) into
    /// `target`, in batches, at LSN `lsn`. One damaged page must not stop it: ids come from
    /// walks of both tables from both ends (each stops at the first error), and each id is then
    /// looked up alone, so only the rows on damaged pages are lost. Nil when SQLite cannot read
    /// the copy at all.
    static func rescue(
        from quarantineFolder: String, into target: ColdTier, dimension: Int?, lsn: UInt64, fileSystem: any FileSystem,
        clock: any Clock, random: any RandomSource, now: Int64
    ) throws -> Rescue? {
        guard let source = try? ColdTier(directory: quarantineFolder, fileSystem: fileSystem, clock: clock, random: random, rescuing: true),
            let connection = source.connection
        else { return nil }
        defer { source.close(clean: false) }
        var vectorIDs = Set<String>()
        for sql in ["SELECT id FROM vectors ORDER BY id", "SELECT id FROM vectors ORDER BY id DESC"] {
            walk(connection, sql) { vectorIDs.insert($0.string(at: 0) ?? "") }
        }
        var rescue = Rescue()
        var (seen, batch) = (Set<String>(), [Record]())
        func take(_ id: String, _ read: () throws -> (SQLiteValue, SQLiteValue)) throws {
            guard seen.insert(id).inserted else { return }
            do {
                let (body, checksum) = try read()
                batch.append(try source.withVector(try decodeRow(id: id, body, checksum, path: source.path), connection,
                                                   dimension: dimension, hasVector: vectorIDs.contains(id)))
                rescue.copiedIDs.append(id)
            } catch {
                rescue.lostIDs[id] = (error as? StoreError)?.message ?? "\(error)"
            }
            if batch.count >= 4096 { try commitBatch() }
        }
        func commitBatch() throws {
            guard !batch.isEmpty else { return }
            _ = try target.commit(records: batch, deletions: [], expiredIDs: [], now: now, lsn: lsn)
            batch.removeAll(keepingCapacity: true)
        }
        // Rows as the walks read them (an index b-tree keeps some rows in interior pages, which a
        // lookup reaches only through a leaf beside them), then ids only a vector walk saw.
        for sql in ["SELECT id, body, checksum FROM records ORDER BY id", "SELECT id, body, checksum FROM records ORDER BY id DESC"] {
            try walk(connection, sql) { row in try take(row.string(at: 0) ?? "") { (row.value(at: 1), row.value(at: 2)) } }
        }
        for id in vectorIDs.sorted() {
            try take(id) {
                let rows = try connection.query("SELECT body, checksum FROM records WHERE id = ?", [.text(id)])
                guard let row = rows.first, row.count == 2 else { throw StoreError.corruption("its record row is gone", path: source.path, offset: 0) }
                return (row[0], row[1])
            }
        }
        try commitBatch()
        rescue.unaccounted = max(0, source.count - rescue.copiedIDs.count - rescue.lostIDs.count)
        rescue.copiedIDs.sort()
        return rescue
    }

    /// Steps `sql` until its end or its first error (damage: the walk stops there), handing
    /// `body` each row; only `body`'s errors are thrown.
    private static func walk(_ connection: SQLiteConnection, _ sql: String, _ body: (SQLiteStatement) throws -> Void) rethrows {
        guard let statement = try? connection.prepare(sql) else { return }
        while (try? statement.step()) == true { try body(statement) }
    }

    /// `record` (its row read and checked) with its vector, looked up and checked as a read
    /// checks it. `hasVector`: a walk saw its vector row, so a lookup that finds none met damage
    /// (a record without an embedding has no vector row).
    private func withVector(_ record: Record, _ connection: SQLiteConnection, dimension: Int?, hasVector: Bool) throws -> Record {
        var record = record
        let id = record.id
        let vectors = try connection.query("SELECT vector, checksum FROM vectors WHERE id = ?", [.text(id)])
        if let vector = vectors.first, vector.count == 2 {
            guard case .blob(let blob) = vector[0], case .integer(let stored) = vector[1], blob.count % 4 == 0,
                UInt32(truncatingIfNeeded: stored) == Self.checksum(id: id, blob), stored >= 0, stored <= Int64(UInt32.max)
            else { throw StoreError.corruption("vector checksum mismatch", path: path, offset: 0) }
            record.embedding = stride(from: 0, to: blob.count, by: 4).map { offset in
                Float(bitPattern: UInt32(blob[offset]) | UInt32(blob[offset + 1]) << 8 | UInt32(blob[offset + 2]) << 16 | UInt32(blob[offset + 3]) << 24)
            }
        } else if hasVector {
            throw StoreError.corruption("its vector row is gone", path: path, offset: 0)
        }
        if let dimension, !record.embedding.isEmpty, record.embedding.count != dimension {
            throw StoreError.corruption("its vector has \(record.embedding.count) dimensions, the store \(dimension)", path: path, offset: 0)
        }
        return record
    }
}
