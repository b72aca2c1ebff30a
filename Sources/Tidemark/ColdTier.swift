import TidemarkIO
import TidemarkSQLite

/// The cold tier: every record as of the LSN it reflects (`meta.lsn`), in a SQLite database
/// (`cold.sqlite` in the store directory) opened through `SQLiteVFS` on the store's own
/// `FileSystem`, so the simulator tears and drops SQLite's writes like any other. With tiers it
/// is the store's checkpoint: `TieredState.flush` commits the hot tier's dirty records and
/// tombstones here in one transaction.
///
/// Two tables, so an exact search reads only vectors: `records` (id, the record without its
/// embedding, expiry, encoded size) for gets and exports, and `vectors` (id, the embedding as
/// little-endian 32-bit floats, expiry) for scans. Each row carries a CRC32C of its blob seeded
/// with the id, and each page a checksum keyed on its page number in 8 reserved bytes
/// (`SQLitePageChecksum`, sealed and checked by the VFS), so a flipped bit or a page written to
/// the wrong place is a detected error naming the page instead of a wrong answer. `meta` holds the LSN, the record count and their encoded
/// bytes, changed in the same transaction as the rows, so stats never count rows.
///
/// Journal mode: WAL under `PRAGMA locking_mode=EXCLUSIVE` (the VFS has no shared memory), with
/// `synchronous=FULL`, so the WAL is synced at every commit: a commit that returned is durable.
/// (DELETE mode with FULL is atomic but not durable: the journal's unlink is not
/// directory-synced, so a power loss can bring back a hot journal that rolls the commit back.)
/// The VFS claims no device characteristics (no powersafe overwrite, 4096-byte sectors), so SQLite
/// assumes a torn write may damage a whole sector. Creating the database syncs the store directory
/// before anything relies on the file. Pages are 16 KiB, so a vector row (1.5 KiB at 384
/// dimensions) sits on its leaf page instead of an overflow chain.
///
/// Open, write transactions and close run inside `SQLiteProcessPRNG.withSeed` with a seed drawn
/// from the store's `RandomSource`, so SQLite's journal nonces and WAL salts (and with them the
/// simulator's trace) follow the run's seed.
final class ColdTier {
    static let fileName = "cold.sqlite"
    static let format: Int64 = 2

    let path: String
    private let vfs: SQLiteVFS
    private let random: any RandomSource
    private(set) var connection: SQLiteConnection?
    private var statements: [String: SQLiteStatement] = [:]
    /// The LSN the cold tier reflects: it holds the store's whole state as of this LSN, except
    /// what the hot tier's dirty records and tombstones (replayed from the log after it) override.
    private(set) var lsn: UInt64 = 0
    /// Rows in `records`, and the sum of their records' encoded sizes (from `meta`).
    private(set) var count = 0
    private(set) var bytes: Int64 = 0

    static func path(in directory: String) -> String { FilePaths.join(directory, fileName) }

    /// `PRAGMA synchronous`: `full` syncs the WAL at every commit (the protocol); `off` only
    /// for the `coldSynchronousOff` canary.
    enum Synchronous: String, Sendable, Hashable {
        case full = "FULL"
        case off = "OFF"
    }

    /// Opens (creating when missing) the cold tier of the store in `directory`. `readOnly`:
    /// opens an existing one without writing anything (`openReadOnly`).
    init(
        directory: String, fileSystem: any FileSystem, clock: any Clock, random: any RandomSource,
        synchronous: Synchronous = .full, readOnly: Bool = false, rescuing: Bool = false, pageChecksums: Bool = true
    ) throws {
        path = Self.path(in: directory)
        self.random = random
        let existed = fileSystem.exists(path)
        do {
            vfs = try SQLiteVFS(
                fileSystem: fileSystem, clock: clock, random: random,
                configuration: .init(sectorSize: 4096, deviceCharacteristics: [], temporaryDirectory: directory, pageChecksums: true))
        } catch {
            throw StoreError(.io, "cannot register the cold tier's SQLite VFS: \(error)", path: path)
        }
        do {
            try SQLiteProcessPRNG.withSeed(random.next()) {
                if readOnly || rescuing {
                    try openReadOnly(fileSystem: fileSystem, rescuing: rescuing)
                } else {
                    try openAndCheck(
                        directory: directory, fileSystem: fileSystem, existed: existed, synchronous: synchronous, pageChecksums: pageChecksums)
                }
            }
        } catch {
            statements = [:]
            vfs.fence()
            try? connection?.close()
            vfs.unregister()
            throw Self.storeError(error, path: path, doing: "open the cold tier")
        }
    }

    /// Read-only: no schema, no WAL checkpoint, no sync. After a clean close there is no WAL,
    /// and SQLite opens the file `immutable` (no locks, no `-wal` or `-shm` created, as a
    /// read-only mount needs); a WAL left by a writer that died is read through a read-only
    /// connection in exclusive locking mode, which keeps the WAL index in its own memory (no
    /// `-shm`), so it works on a read-only mount too (`RealDiskCLITests`).
    /// `rescuing` (salvage reading a quarantined copy): damaged metadata is not an error, the
    /// rows may still read.
    private func openReadOnly(fileSystem: any FileSystem, rescuing: Bool = false) throws {
        guard fileSystem.exists(path) else { throw StoreError.corruption("the cold tier is missing", path: path, offset: 0) }
        let hasWAL = fileSystem.exists(path + "-wal")
        let escaped = path.map { ["%": "%25", "?": "%3f", "#": "%23"][$0] ?? String($0) }.joined()
        let connection = try SQLiteConnection(
            path: hasWAL ? "file:\(escaped)?mode=ro" : "file:\(escaped)?immutable=1", vfs: vfs, flags: [.readOnly, .uri])
        self.connection = connection
        if hasWAL { try connection.execute("PRAGMA locking_mode=EXCLUSIVE") }
        if rescuing {
            try? readMeta(connection)
            return
        }
        let tables = try connection.query("SELECT count(*) FROM sqlite_master WHERE name = 'meta'")
        guard case .integer(1)? = tables.first?.first else {
            // A writer died creating it: the next writable open sets it up.
            throw StoreError(.notFound, "the cold tier was created but never set up", path: path)
        }
        try readMeta(connection)
    }

    /// `pageChecksums: false` creates a cold tier as builds before page checksums did (for the
    /// test that such a file keeps working).
    private func openAndCheck(
        directory: String, fileSystem: any FileSystem, existed: Bool, synchronous: Synchronous, pageChecksums: Bool
    ) throws {
        try rewriteWAL(fileSystem: fileSystem)
        let connection = try SQLiteConnection(path: path, vfs: vfs)
        self.connection = connection
        try connection.execute("PRAGMA locking_mode=EXCLUSIVE")
        if !existed { try connection.execute("PRAGMA page_size=16384") }  // only before the first table
        if pageChecksums { try reservePageChecksums(connection) }
        let mode = try connection.query("PRAGMA journal_mode=WAL")
        guard case .text(let name)? = mode.first?.first, name.lowercased() == "wal" else {
            throw StoreError(.io, "the cold tier would not switch to WAL mode (got \(mode))", path: path)
        }
        try connection.execute("PRAGMA synchronous=\(synchronous.rawValue)")
        try connection.transaction(.immediate) {
            try connection.execute("""
                CREATE TABLE IF NOT EXISTS records(
                    id TEXT PRIMARY KEY NOT NULL, body BLOB NOT NULL, checksum INTEGER NOT NULL, expires_at INTEGER,
                    bytes INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX IF NOT EXISTS records_by_expiry ON records(expires_at) WHERE expires_at IS NOT NULL;
                CREATE TABLE IF NOT EXISTS vectors(
                    id TEXT PRIMARY KEY NOT NULL, vector BLOB NOT NULL, checksum INTEGER NOT NULL, expires_at INTEGER
                ) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL) WITHOUT ROWID;
                INSERT OR IGNORE INTO meta(key, value) VALUES ('format', \(Self.format)), ('lsn', 0), ('count', 0), ('bytes', 0);
                """)
        }
        if !existed {
            do { try fileSystem.syncDirectory(directory) } catch let error as FileSystemError {
                throw StoreError(.io, "cannot sync the store directory after creating the cold tier", path: directory, outcome: .ambiguous, cause: error)
            }
        }
        // Copy the WAL (made durable by `rewriteWAL`) into the database file and sync it, so
        // what this process serves rests on the database file alone. (The WAL holds at most
        // what the last process wrote since SQLite's own auto-checkpoint, not the database.)
        let checkpoint = try connection.query("PRAGMA wal_checkpoint(TRUNCATE)")
        guard case .integer(0)? = checkpoint.first?.first else {
            throw StoreError(.io, "the cold tier's WAL checkpoint at open did not complete (\(checkpoint))", path: path)
        }
        // SQLite truncates the WAL without syncing the truncation; if a power loss undid it,
        // the old WAL (valid header and frames) would be replayed over the newer database
        // pages. Make the empty WAL durable before anything relies on the checkpoint.
        let walPath = path + "-wal"
        if fileSystem.exists(walPath) {
            let wal = try fileSystem.open(walPath, options: .readWrite)
            defer { try? wal.close() }
            try wal.sync()
        }
        try readMeta(connection)
    }

    /// After a failed fsync the WAL's last frames may exist only in the page cache (Linux marks
    /// them clean, and a sync writes nothing), yet SQLite reads them back as committed, chains
    /// new frames onto them and checkpoints them into the database: a crash inside that
    /// checkpoint leaves the database with some of their pages and the WAL without them
    /// (`tiers-read-only-remount` seed 82). Writing the WAL's bytes again, into a new file that
    /// replaces it atomically, makes what SQLite will read durable first. Not in place: a power
    /// loss inside an in-place rewrite may garble sectors that were already durable, committed
    /// frames included (no powersafe overwrite; `synced-record` seed 645).
    private func rewriteWAL(fileSystem: any FileSystem) throws {
        let walPath = path + "-wal"
        guard fileSystem.exists(walPath) else { return }
        do {
            let bytes = try fileSystem.readFile(walPath)
            guard !bytes.isEmpty else { return }
            try fileSystem.writeFileAtomically(walPath, bytes)
        } catch let error as FileSystemError {
            throw StoreError(.io, "cannot make the cold tier's WAL durable at open", path: walPath, outcome: .ambiguous, cause: error)
        }
    }

    /// `meta`: the format (this version's), the LSN, the record count and their bytes.
    private func readMeta(_ connection: SQLiteConnection) throws {
        let meta = Dictionary(uniqueKeysWithValues: try connection.query("SELECT key, value FROM meta").compactMap { row -> (String, Int64)? in
            guard case .text(let key) = row[0], case .integer(let value) = row[1] else { return nil }
            return (key, value)
        })
        if let format = meta["format"], format != Self.format {
            throw StoreError(
                .invalidInput, "the cold tier has format \(format); this version reads format \(Self.format) (export the store with the version that wrote it)",
                path: path)
        }
        guard let lsn = meta["lsn"], let count = meta["count"], let bytes = meta["bytes"], lsn >= 0, count >= 0, bytes >= 0 else {
            throw StoreError.corruption("cold tier meta table is damaged: \(meta)", path: path, offset: 0)
        }
        self.lsn = UInt64(lsn)
        self.count = Int(count)
        self.bytes = bytes
    }

    deinit { close(clean: false) }

    /// Closes the database. Not `clean` (a failed store, a dropped one): the VFS is fenced first
    /// so nothing SQLite does on the way down (WAL checkpoint, WAL removal) reaches the files.
    func close(clean: Bool) {
        guard let connection else { return }
        if !clean { vfs.fence() }
        statements = [:]
        SQLiteProcessPRNG.withSeed(random.next()) { try? connection.close() }
        self.connection = nil
        vfs.unregister()
    }

    // MARK: Reads

    func get(_ id: String) throws -> Record? {
        try run("read a record") {
            try withPrepared("SELECT r.body, r.checksum, v.vector, v.checksum FROM records r LEFT JOIN vectors v ON v.id = r.id WHERE r.id = ?", [.text(id)]) {
                try $0.step() ? try decode(id: id, $0) : nil
            }
        }
    }

    /// Whether a row for `id` exists (one primary-key lookup).
    func contains(_ id: String) throws -> Bool {
        try run("look up a record") {
            try withPrepared("SELECT 1 FROM records WHERE id = ?", [.text(id)]) { try $0.step() }
        }
    }

    /// Every record, in id order.
    func forEach(_ body: (Record) throws -> Void) throws {
        let statement = try run("scan records") {
            try openConnection().prepare("SELECT r.id, r.body, r.checksum, v.vector, v.checksum FROM records r LEFT JOIN vectors v ON v.id = r.id ORDER BY r.id")
        }
        while try run("scan records", { try statement.step() }) {
            guard let id = statement.string(at: 0) else { throw StoreError.corruption("cold tier row without an id", path: path, offset: 0) }
            try body(try decode(id: id, statement, from: 1))
        }
    }

    /// Every vector of `dimension` floats, in table order (id order), checked against its row
    /// checksum: `body(id, vector, expiresAt)`, the id's UTF-8 bytes and the vector valid only
    /// during the call. Reads only the `vectors` table and allocates nothing per row, so a scan
    /// can make a `String` of the id only for the rows it keeps.
    func forEachVector(
        dimension: Int, _ body: (UnsafeRawBufferPointer, UnsafeBufferPointer<Float>, Int64?) throws -> Void
    ) throws {
        let statement = try run("scan vectors") { try openConnection().prepare("SELECT id, vector, checksum, expires_at FROM vectors") }
        let vector = UnsafeMutableBufferPointer<Float>.allocate(capacity: dimension)
        defer { vector.deallocate() }
        while try run("scan vectors", { try statement.step() }) {
            let stored = statement.int64(at: 2)
            let expiresAt = statement.isNull(at: 3) ? nil : statement.int64(at: 3)
            try statement.withBlob(at: 1) { blob in
                try statement.withBlob(at: 0) { id in
                    let crc = CRC32C.checksum(blob, continuing: CRC32C.checksum(id))
                    guard UInt32(truncatingIfNeeded: stored) == crc, stored >= 0, stored <= Int64(UInt32.max) else {
                        throw StoreError.corruption("cold tier vector '\(String(decoding: id, as: UTF8.self))': checksum mismatch", path: path, offset: 0)
                    }
                    guard blob.count == dimension * 4 else {
                        throw StoreError.corruption(
                            "cold tier vector '\(String(decoding: id, as: UTF8.self))' has \(blob.count) bytes, expected \(dimension * 4)",
                            path: path, offset: 0)
                    }
                    // SQLite's blob pointer need not be aligned for Float: one copy into aligned memory.
                    UnsafeMutableRawBufferPointer(vector).copyMemory(from: blob)
                    try body(id, UnsafeBufferPointer(vector), expiresAt)
                }
            }
        }
    }

    /// Reserves 8 bytes per page for `SQLitePageChecksum` in a database not yet written (once
    /// pages exist, the header's own reserve wins: an older cold tier stays unchecked).
    private func reservePageChecksums(_ connection: SQLiteConnection) throws {
        guard try connection.reservePageChecksumBytes() else {
            throw StoreError(.io, "SQLite would not reserve page checksum bytes in the cold tier", path: path)
        }
    }

    /// Every page of the database file against its checksum (`SQLitePageChecksum.scan`; an
    /// older file without them is not read), then damage SQLite's `PRAGMA quick_check` finds in
    /// the database's structure, then the first row whose checksum fails, then `meta`'s count
    /// and bytes against the rows and vectors without a record: `.corruption` naming the file
    /// (a failing page by number and offset). For `verify` and salvage. `pagesChecked`: the
    /// pages read whole (0: an unchecked file).
    func check(pagesChecked: inout Int) throws {
        let connection = try openConnection()
        try checkPages(counting: &pagesChecked)
        let rows = try run("check the database") { try connection.query("PRAGMA quick_check") }
        let findings = rows.compactMap { row -> String? in if case .text(let text)? = row.first { text } else { nil } }
        guard findings == ["ok"] else {
            throw StoreError.corruption("cold tier: SQLite quick_check: \(findings.prefix(3).joined(separator: "; "))", path: path, offset: 0)
        }
        try forEach { _ in }
        let totals = try run("count records") { try connection.query("SELECT count(*), coalesce(sum(bytes), 0) FROM records") }
        guard case .integer(let rowCount)? = totals.first?[0], case .integer(let rowBytes)? = totals.first?[1], rowCount == count, rowBytes == bytes else {
            throw StoreError.corruption(
                "cold tier rows (count, bytes) are \(totals.first ?? []), its meta table says \(count) records of \(bytes) bytes", path: path, offset: 0)
        }
        let orphans = try run("look for vectors without a record") {
            try connection.query("SELECT count(*) FROM vectors v WHERE NOT EXISTS (SELECT 1 FROM records r WHERE r.id = v.id)")
        }
        guard case .integer(0)? = orphans.first?.first else {
            throw StoreError.corruption("cold tier holds \(orphans.first?.first.map { "\($0)" } ?? "?") vectors without a record", path: path, offset: 0)
        }
    }

    func check() throws {
        var pages = 0
        try check(pagesChecked: &pages)
    }

    /// Reads every page of `cold.sqlite` and checks its checksum; every failing page is named.
    private func checkPages(counting pagesChecked: inout Int) throws {
        let scan: SQLitePageChecksum.Scan
        do {
            scan = try SQLitePageChecksum.scan(path: path, fileSystem: vfs.fileSystem)
        } catch let error as FileSystemError {
            throw StoreError(.io, "cold tier: cannot read its pages to check them: \(error.message)", path: path, cause: error)
        }
        pagesChecked = scan.pagesChecked
        guard let first = scan.mismatches.first else { return }
        let named = scan.mismatches.prefix(8).map(\.description).joined(separator: "; ")
        let more = scan.mismatches.count > 8 ? " (and \(scan.mismatches.count - 8) more)" : ""
        throw StoreError.corruption(
            "cold tier: \(scan.mismatches.count) of \(scan.pagesChecked) pages fail their checksums: \(named)\(more)", path: path, offset: first.offset)
    }

    /// Whether some row has expired at `now` (uses the expiry index).
    func hasExpired(now: Int64) throws -> Bool {
        try run("look for expired records") {
            try !openConnection().query("SELECT 1 FROM records WHERE expires_at IS NOT NULL AND expires_at <= ? LIMIT 1", [.integer(now)]).isEmpty
        }
    }

    // MARK: Commit

    struct CommitResult: Hashable {
        /// Records written (new or replacing a row).
        var written = 0
        var deleted = 0
        var expired = 0
    }

    /// In one SQLite transaction: upserts `records`, deletes the rows of `deletions` and
    /// `expiredIDs` (the caller counts the latter as expired) and rows expired at `now` (counted
    /// in `expired`), and sets the LSN to `lsn` and the count and bytes. Returns once SQLite's
    /// commit (WAL append + fsync) returned.
    func commit(records: [Record], deletions: [String], expiredIDs: [String], now: Int64, lsn: UInt64) throws -> CommitResult {
        guard lsn >= self.lsn else {
            throw StoreError(.invalidInput, "cold tier commit at LSN \(lsn) would move its LSN back from \(self.lsn)", path: path)
        }
        let connection = try openConnection()
        var result = CommitResult()
        var (count, bytes) = (Int64(self.count), self.bytes)
        try run("commit a flush") {
            try SQLiteProcessPRNG.withSeed(random.next()) { try connection.transaction(.immediate) {
                func existingSize(_ id: String) throws -> Int64? {
                    try withPrepared("SELECT bytes FROM records WHERE id = ?", [.text(id)]) { try $0.step() ? $0.int64(at: 0) : nil }
                }
                let upsertRecord = try prepared("INSERT OR REPLACE INTO records(id, body, checksum, expires_at, bytes) VALUES (?, ?, ?, ?, ?)")
                let upsertVector = try prepared("INSERT OR REPLACE INTO vectors(id, vector, checksum, expires_at) VALUES (?, ?, ?, ?)")
                let deleteRecord = try prepared("DELETE FROM records WHERE id = ?")
                let deleteVector = try prepared("DELETE FROM vectors WHERE id = ?")
                func step(_ statement: SQLiteStatement, _ values: [SQLiteValue]) throws {
                    try statement.bind(values)
                    while try statement.step() {}
                    try statement.reset()
                }
                for record in records {
                    let (body, vector) = Self.encode(record)
                    let size = Int64(HotTier.size(of: record))
                    let expiry: SQLiteValue = record.expiresAt.map { .integer($0) } ?? .null
                    if let old = try existingSize(record.id) {
                        bytes += size - old
                    } else {
                        count += 1
                        bytes += size
                    }
                    try step(upsertRecord, [
                        .text(record.id), .blob(body), .integer(Int64(Self.checksum(id: record.id, body))), expiry, .integer(size),
                    ])
                    if vector.isEmpty {
                        try step(deleteVector, [.text(record.id)])
                    } else {
                        try step(upsertVector, [.text(record.id), .blob(vector), .integer(Int64(Self.checksum(id: record.id, vector))), expiry])
                    }
                    result.written += 1
                }
                for (id, isDelete) in deletions.sorted().map({ ($0, true) }) + expiredIDs.sorted().map({ ($0, false) }) {
                    guard let old = try existingSize(id) else { continue }
                    try step(deleteRecord, [.text(id)])
                    try step(deleteVector, [.text(id)])
                    count -= 1
                    bytes -= old
                    if isDelete { result.deleted += 1 }
                }
                let expired = try connection.query(
                    "SELECT count(*), coalesce(sum(bytes), 0) FROM records WHERE expires_at IS NOT NULL AND expires_at <= ?", [.integer(now)])
                if case .integer(let expiredCount)? = expired.first?[0], expiredCount > 0, case .integer(let expiredBytes)? = expired.first?[1] {
                    try connection.run("DELETE FROM records WHERE expires_at IS NOT NULL AND expires_at <= ?", [.integer(now)])
                    try connection.run("DELETE FROM vectors WHERE expires_at IS NOT NULL AND expires_at <= ?", [.integer(now)])
                    count -= expiredCount
                    bytes -= expiredBytes
                    result.expired = Int(expiredCount)
                }
                try connection.run("UPDATE meta SET value = ? WHERE key = 'count'", [.integer(count)])
                try connection.run("UPDATE meta SET value = ? WHERE key = 'bytes'", [.integer(bytes)])
                try connection.run("UPDATE meta SET value = ? WHERE key = 'lsn'", [.integer(Int64(lsn))])
            } }
        }
        self.lsn = lsn
        self.count = Int(count)
        self.bytes = bytes
        return result
    }

    // MARK: Encoding

    /// The record without its embedding (`records.body`), and the embedding as little-endian
    /// 32-bit floats (`vectors.vector`; empty when the record has none).
    static func encode(_ record: Record) -> (body: [UInt8], vector: [UInt8]) {
        var rest = record
        rest.embedding = []
        var writer = ByteWriter()
        RecordCoding.encode(rest, into: &writer)
        #if _endian(little)
        let vector = record.embedding.withUnsafeBytes { Array($0) }
        #else
        let vector = record.embedding.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } }
        #endif
        return (writer.bytes, vector)
    }

    static func checksum(id: String, _ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum(id: id, $0) }
    }

    static func checksum(id: String, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        CRC32C.checksum(bytes, continuing: CRC32C.checksum(Array(id.utf8)))
    }

    /// The record in columns `first...first+3` (body, checksum, vector, vector checksum).
    private func decode(id: String, _ statement: SQLiteStatement, from first: Int32 = 0) throws -> Record {
        var record = try decodeBody(id: id, statement.value(at: first), statement.value(at: first + 1))
        if !statement.isNull(at: first + 2) {
            let stored = statement.int64(at: first + 3)
            record.embedding = try statement.withBlob(at: first + 2) { blob in
                guard UInt32(truncatingIfNeeded: stored) == Self.checksum(id: id, blob), stored >= 0, stored <= Int64(UInt32.max),
                    blob.count % 4 == 0
                else { throw StoreError.corruption("cold tier vector '\(id)': checksum mismatch", path: path, offset: 0) }
                return (0..<(blob.count / 4)).map { Float(bitPattern: UInt32(littleEndian: blob.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
            }
        }
        return record
    }

    private func decodeBody(id: String, _ bodyValue: SQLiteValue, _ checksumValue: SQLiteValue) throws -> Record {
        try Self.decodeRow(id: id, bodyValue, checksumValue, path: path)
    }

    /// Decodes one row's body (`id`, `body`, `checksum` columns) of the cold tier database at
    /// `path`; the embedding lives in the `vectors` table.
    static func decodeRow(id: String, _ bodyValue: SQLiteValue, _ checksumValue: SQLiteValue, path: String) throws -> Record {
        guard case .blob(let body) = bodyValue, case .integer(let stored) = checksumValue else {
            throw StoreError.corruption("cold tier row '\(id)' has the wrong column types", path: path, offset: 0)
        }
        guard UInt32(truncatingIfNeeded: stored) == Self.checksum(id: id, body), stored >= 0, stored <= Int64(UInt32.max) else {
            throw StoreError.corruption("cold tier record '\(id)': checksum mismatch", path: path, offset: 0)
        }
        var reader = ByteReader(body[...])
        do {
            let record = try RecordCoding.decode(from: &reader)
            guard reader.isAtEnd, record.id == id else { throw FormatError(message: "body does not match its row", offset: reader.offset) }
            return record
        } catch let error as FormatError {
            throw StoreError.corruption("cold tier record '\(id)': \(error.message)", path: path, offset: Int64(error.offset))
        }
    }

    // MARK: Errors

    private func openConnection() throws -> SQLiteConnection {
        guard let connection else { throw StoreError(.closed, "the cold tier is closed", path: path) }
        return connection
    }

    /// Runs `body` on the cached statement for `sql` with `values` bound, resetting it after
    /// (so no read stays open between calls).
    private func withPrepared<T>(_ sql: String, _ values: [SQLiteValue], _ body: (SQLiteStatement) throws -> T) throws -> T {
        let statement = try prepared(sql)
        try statement.bind(values)
        defer { try? statement.reset() }
        return try body(statement)
    }

    /// A statement prepared once per connection.
    private func prepared(_ sql: String) throws -> SQLiteStatement {
        if let statement = statements[sql] { return statement }
        let statement = try openConnection().prepare(sql)
        statements[sql] = statement
        return statement
    }

    private func run<T>(_ what: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch { throw Self.storeError(error, path: path, doing: what) }
    }

    /// SQLite's errors as the store's: damaged database → `.corruption`, full disk → `.noSpace`,
    /// anything else → `.io`, with the file-system error behind it.
    static func storeError(_ error: any Error, path: String, doing what: String) -> StoreError {
        if let error = error as? StoreError { return error }
        guard let error = error as? SQLiteError else { return StoreError(.io, "cold tier: cannot \(what): \(error)", path: path) }
        if let mismatch = error.fileSystemError?.cause as? SQLitePageChecksum.Mismatch {
            // The message says it all; the file-system error behind it only repeats it.
            return StoreError(.corruption, "cold tier: cannot \(what): \(mismatch)", path: mismatch.path, offset: mismatch.offset)
        }
        // Any other damaged read (SQLITE_IOERR_DATA) stays `.io`: the file system reported it.
        let code: StoreError.Code
        switch error.category {
        case .damagedDatabase: code = .corruption
        case .full: code = .noSpace
        case .damagedRead, .io, .busy, .other: code = .io
        }
        return StoreError(code, "cold tier: cannot \(what): \(error.message)", path: error.fileSystemError?.path ?? path, offset: code == .corruption ? 0 : nil, cause: error.fileSystemError)
    }
}
