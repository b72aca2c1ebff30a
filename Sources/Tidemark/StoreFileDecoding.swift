import TidemarkIO
import TidemarkSQLite

/// The store's decoders of bytes a disk hands it, each on bytes alone, for the fuzz targets and
/// their corpus replay (`Sources/TidemarkFuzzing`). Each throws on bad input and must never trap;
/// none touches a file system. Paths only name the input in error messages.
package enum StoreFileDecoding {
    /// A segment file: its header, every frame, each commit's operations, and both readings of
    /// its damage (as the last segment and as a finished one). Returns the number of commits.
    @discardableResult
    package static func segment(_ bytes: [UInt8], maxPayload: Int = StoreOptions().maxFramePayloadBytes) throws -> Int {
        let scan = try SegmentScan.scan(bytes, path: "fuzz/wal.log", maxPayload: maxPayload).get()
        for frame in scan.frames { _ = try? RecordCoding.decodeOperations(frame.frame.payload) }
        _ = scan.verdict(nextFirstLSN: nil)
        _ = scan.verdict(nextFirstLSN: scan.lastLSN &+ 1)
        return scan.frames.count
    }

    /// A commit payload (what a frame's checksum covers): operations in `RecordCoding` layout,
    /// the same record coding checkpoints and cold rows use. Returns the operation count.
    @discardableResult
    package static func commitPayload(_ bytes: [UInt8]) throws -> Int {
        try RecordCoding.decodeOperations(bytes[...]).count
    }

    /// A checkpoint file, checked against the LSN its own header claims (bytes 16..<24), and
    /// read as salvage reads it (skipping damaged records, resynchronising after them).
    @discardableResult
    package static func checkpoint(_ bytes: [UInt8]) throws -> Int {
        var lsn: UInt64 = 0
        if bytes.count >= 24 { var reader = ByteReader(bytes[16..<24]); lsn = try reader.u64() }
        _ = try? CheckpointFile.decode(bytes, path: "fuzz/checkpoint.ckpt", expectedLSN: lsn, salvaging: true)
        return try CheckpointFile.decode(bytes, path: "fuzz/checkpoint.ckpt", expectedLSN: lsn).records.count
    }

    /// `SYNCED`: the newest valid slot's LSN; throws when no slot validates.
    @discardableResult
    package static func syncedRecord(_ bytes: [UInt8]) throws -> UInt64 {
        guard let newest = SyncedLSNRecord.decode(bytes).newest else {
            throw StoreError.corruption("no slot validates", path: "fuzz/" + SyncedLSNRecord.fileName, offset: 0)
        }
        return newest.lsn
    }

    /// The manifest. Returns the number of checkpoints it lists.
    @discardableResult
    package static func manifest(_ bytes: [UInt8]) throws -> Int {
        try Manifest.decode(bytes, path: "fuzz/MANIFEST").checkpoints.count
    }

    /// One cold-tier row: its id, record body (the record without its embedding, which lives in
    /// the `vectors` table) and stored checksum, as SQLite hands them back.
    @discardableResult
    package static func coldRow(id: String, body: SQLiteValue, checksum: SQLiteValue) throws -> Record {
        try ColdTier.decodeRow(id: id, body, checksum, path: "fuzz/" + ColdTier.fileName)
    }

    /// The body and checksum columns the cold tier stores for `record`.
    package static func coldRowColumns(_ record: Record) -> (body: [UInt8], checksum: UInt32) {
        let body = ColdTier.encode(record).body
        return (body, ColdTier.checksum(id: record.id, body))
    }

    /// The checksum the cold tier stores for a row with `id` and `body`.
    package static func coldRowChecksum(id: String, body: [UInt8]) -> UInt32 {
        ColdTier.checksum(id: id, body)
    }

    /// A commit payload holding `puts` and `deletes`, as the log writes it (for seed inputs).
    package static func encodeCommitPayload(puts: [Record], deletes: [String]) -> [UInt8] {
        RecordCoding.encode(puts.map { .put($0) } + deletes.map { .delete(id: $0) })
    }
}
