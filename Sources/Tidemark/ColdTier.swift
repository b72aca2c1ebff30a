import TidemarkIO
import TidemarkSQLite

/// The cold tier: migrated records in a SQLite database (`cold.sqlite` in the store directory),
/// opened through `SQLiteVFS` on the store's own `FileSystem`, so the simulator tears and drops
/// SQLite's writes like any other.
///
/// The database records the LSN it reflects (`meta.lsn`) and its row count (`meta.count`),
/// changed in the same SQLite transaction as the rows. Each row carries a CRC32C of its record
/// (seeded with the id): SQLite has no page checksums, so this is what turns a flipped bit in a
/// record into a detected error instead of a wrong answer.
///
/// Journal mode: WAL under `PRAGMA locking_mode=EXCLUSIVE` (the VFS has no shared memory), with
/// `synchronous=FULL`, so the WAL is synced at every commit: a commit that returned is durable.
/// (DELETE mode with FULL is atomic but not durable: the journal's unlink is not
/// directory-synced, so a power loss can bring back a hot journal that rolls the commit back.)
/// The VFS claims no device characteristics (no powersafe overwrite, 4096-byte sectors), so SQLite
/// assumes a torn write may damage a whole sector. Creating the database syncs the store directory
/// before anything relies on the file.
///
/// Open, write transactions and close run inside `SQLiteProcessPRNG.withSeed` with a seed drawn
/// from the store's `RandomSource`, so SQLite's journal nonces and WAL salts (and with them the
/// simulator's trace) follow the run's seed.
final class ColdTier {
    static let fileName = "cold.sqlite"

    let path: String
    private let vfs: SQLiteVFS
    private let random: any RandomSource
    private var connection: SQLiteConnection?
    /// The LSN the cold tier reflects: every migration, tombstone and expiry committed so far was
    /// decided on the state at this LSN.
    private(set) var lsn: UInt64 = 0
    private(set) var count = 0

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
        synchronous: Synchronous = .full, readOnly: Bool = false
    ) throws {
        path = Self.path(in: directory)
        self.random = random
        let existed = fileSystem.exists(path)
        do {
            vfs = try SQLiteVFS(
                fileSystem: fileSystem, clock: clock, random: random,
                configuration: .init(sectorSize: 4096, deviceCharacteristics: [], temporaryDirectory: directory))
        } catch {
            throw StoreError(.io, "cannot register the cold tier's SQLite VFS: \(error)", path: path)
        }
        do {
            try SQLiteProcessPRNG.withSeed(random.next()) {
                if readOnly {
                    try openReadOnly(fileSystem: fileSystem)
                } else {
                    try openAndCheck(directory: directory, fileSystem: fileSystem, existed: existed, synchronous: synchronous)
                }
            }
        } catch {
            vfs.fence()
            try? connection?.close()
            vfs.unregister()
            throw Self.storeError(error, path: path, doing: "open the cold tier")
        }
    }

    /// Read-only: no schema, no WAL checkpoint, no sync. After a clean close there is no WAL,
    /// and SQLite opens the file `immutable` (no locks, no `-wal` or `-shm` created, as a
    /// read-only mount needs); a WAL left by a writer that died is read through a read-only
    /// connection, which SQLite may refuse on a read-only directory.
    private func openReadOnly(fileSystem: any FileSystem) throws {
        guard fileSystem.exists(path) else { throw StoreError.corruption("the cold tier is missing", path: path, offset: 0) }
        let hasWAL = fileSystem.exists(path + "-wal")
        let escaped = path.map { ["%": "%25", "?": "%3f", "#": "%23"][$0] ?? String($0) }.joined()
        let connection = try SQLiteConnection(
            path: hasWAL ? "file:\(escaped)?mode=ro" : "file:\(escaped)?immutable=1", vfs: vfs, flags: [.readOnly, .uri])
        self.connection = connection
        if hasWAL { try connection.execute("PRAGMA locking_mode=EXCLUSIVE") }
        let tables = try connection.query("SELECT count(*) FROM sqlite_master WHERE name = 'meta'")
        guard case .integer(1)? = tables.first?.first else {
            // A writer died creating it: the next writable open sets it up.
            throw StoreError(.notFound, "the cold tier was created but never set up", path: path)
        }
        try readMeta(connection)
    }

    private func openAndCheck(directory: String, fileSystem: any FileSystem, existed: Bool, synchronous: Synchronous) throws {
        do {
            let connection = try SQLiteConnection(path: path, vfs: vfs)
            self.connection = connection
            try connection.execute("PRAGMA locking_mode=EXCLUSIVE")
            let mode = try connection.query("PRAGMA journal_mode=WAL")
            guard case .text(let name)? = mode.first?.first, name.lowercased() == "wal" else {
                throw StoreError(.io, "the cold tier would not switch to WAL mode (got \(mode))", path: path)
            }
            try connection.execute("PRAGMA synchronous=\(synchronous.rawValue)")
            try connection.transaction(.immediate) {
                try connection.execute("""
                    CREATE TABLE IF NOT EXISTS records(
                        id TEXT PRIMARY KEY NOT NULL, body BLOB NOT NULL, checksum INTEGER NOT NULL, expires_at INTEGER
                    ) WITHOUT ROWID;
                    CREATE INDEX IF NOT EXISTS records_by_expiry ON records(expires_at) WHERE expires_at IS NOT NULL;
                    CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL) WITHOUT ROWID;
                    INSERT OR IGNORE INTO meta(key, value) VALUES ('format', 1), ('lsn', 0), ('count', 0);
                    """)
            }
            if !existed {
                do { try fileSystem.syncDirectory(directory) } catch let error as FileSystemError {
                    throw StoreError(.io, "cannot sync the store directory after creating the cold tier", path: directory, outcome: .ambiguous, cause: error)
                }
            }
            // Copy the WAL into the database file and sync it before trusting anything: after a
            // failed fsync the WAL's last frames may exist only in the page cache (Linux marks
            // them clean), and SQLite would read them back as committed. Rewriting them into the
            // database file and syncing that makes what we read durable.
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
    }

    /// `meta.lsn` and `meta.count`, checked against the rows.
    private func readMeta(_ connection: SQLiteConnection) throws {
        do {
            let meta = Dictionary(uniqueKeysWithValues: try connection.query("SELECT key, value FROM meta").compactMap { row -> (String, Int64)? in
                guard case .text(let key) = row[0], case .integer(let value) = row[1] else { return nil }
                return (key, value)
            })
            guard meta["format"] == 1, let lsn = meta["lsn"], let count = meta["count"], lsn >= 0 else {
                throw StoreError.corruption("cold tier meta table is damaged: \(meta)", path: path, offset: 0)
            }
            let rows = try Self.integer(connection.query("SELECT count(*) FROM records"))
            guard rows == count else {
                throw StoreError.corruption("cold tier holds \(rows) records, its meta table says \(count)", path: path, offset: 0)
            }
            self.lsn = UInt64(lsn)
            self.count = Int(count)
        }
    }

    deinit { close(clean: false) }

    /// Closes the database. Not `clean` (a failed store, a dropped one): the VFS is fenced first
    /// so nothing SQLite does on the way down (WAL checkpoint, WAL removal) reaches the files.
    func close(clean: Bool) {
        guard let connection else { return }
        if !clean { vfs.fence() }
        SQLiteProcessPRNG.withSeed(random.next()) { try? connection.close() }
        self.connection = nil
        vfs.unregister()
    }

    // MARK: Reads

    func get(_ id: String) throws -> Record? {
        let rows = try run("read a record") {
            try openConnection().query("SELECT body, checksum FROM records WHERE id = ?", [.text(id)])
        }
        guard let row = rows.first else { return nil }
        return try decode(id: id, row[0], row[1])
    }

    /// Every record, in id order.
    func forEach(_ body: (Record) throws -> Void) throws {
        let statement = try run("scan records") { try openConnection().prepare("SELECT id, body, checksum FROM records ORDER BY id") }
        while try run("scan records", { try statement.step() }) {
            guard let id = statement.string(at: 0) else { throw StoreError.corruption("cold tier row without an id", path: path, offset: 0) }
            try body(try decode(id: id, statement.value(at: 1), statement.value(at: 2)))
        }
    }

    /// Damage SQLite's `PRAGMA quick_check` finds in the database's structure, then the first
    /// row whose checksum fails: `.corruption` naming the file. For `verify` and salvage.
    func check() throws {
        let rows = try run("check the database") { try openConnection().query("PRAGMA quick_check") }
        let findings = rows.compactMap { row -> String? in if case .text(let text)? = row.first { text } else { nil } }
        guard findings == ["ok"] else {
            throw StoreError.corruption("cold tier: SQLite quick_check: \(findings.prefix(3).joined(separator: "; "))", path: path, offset: 0)
        }
        try forEach { _ in }
    }

    /// Records and the bytes of their encoded bodies.
    func totals() throws -> (count: Int, bytes: Int64) {
        let row = try run("count records") { try openConnection().query("SELECT count(*), coalesce(sum(length(body)), 0) FROM records") }
        guard case .integer(let count)? = row.first?[0], case .integer(let bytes)? = row.first?[1] else { return (0, 0) }
        return (Int(count), bytes)
    }

    /// Whether some row has expired at `now` (uses the expiry index).
    func hasExpired(now: Int64) throws -> Bool {
        try run("look for expired records") {
            try !openConnection().query("SELECT 1 FROM records WHERE expires_at IS NOT NULL AND expires_at <= ? LIMIT 1", [.integer(now)]).isEmpty
        }
    }

    // MARK: Commit

    struct CommitResult: Hashable {
        var moved = 0
        var deleted = 0
        var expired = 0
    }

    /// In one SQLite transaction: upserts `records`, deletes `deletions`, deletes rows expired at
    /// `now`, and sets the cold tier's LSN to `lsn` and its row count. Returns once SQLite's
    /// commit (WAL append + fsync) returned.
    func commit(records: [Record], deletions: [String], now: Int64, lsn: UInt64) throws -> CommitResult {
        guard lsn >= self.lsn else {
            throw StoreError(.invalidInput, "cold tier commit at LSN \(lsn) would move its LSN back from \(self.lsn)", path: path)
        }
        let connection = try openConnection()
        var result = CommitResult()
        let newCount: Int = try run("commit a migration") {
            try SQLiteProcessPRNG.withSeed(random.next()) { try connection.transaction(.immediate) {
                let upsert = try connection.prepare("""
                    INSERT INTO records(id, body, checksum, expires_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT(id) DO UPDATE SET body = excluded.body, checksum = excluded.checksum, expires_at = excluded.expires_at
                    """)
                for record in records {
                    let body = Self.encode(record)
                    try upsert.reset()
                    try upsert.bind([
                        .text(record.id), .blob(body), .integer(Int64(Self.checksum(id: record.id, body: body))),
                        record.expiresAt.map { .integer($0) } ?? .null,
                    ])
                    while try upsert.step() {}
                    result.moved += 1
                }
                let delete = try connection.prepare("DELETE FROM records WHERE id = ?")
                for id in deletions.sorted() {
                    try delete.reset()
                    try delete.bind([.text(id)])
                    while try delete.step() {}
                    result.deleted += Int(connection.changes)
                }
                try connection.run("DELETE FROM records WHERE expires_at IS NOT NULL AND expires_at <= ?", [.integer(now)])
                result.expired = Int(connection.changes)
                let count = try Self.integer(connection.query("SELECT count(*) FROM records"))
                try connection.run("UPDATE meta SET value = ? WHERE key = 'count'", [.integer(count)])
                try connection.run("UPDATE meta SET value = ? WHERE key = 'lsn'", [.integer(Int64(lsn))])
                return Int(count)
            } }
        }
        self.lsn = lsn
        count = newCount
        return result
    }

    // MARK: Encoding

    static func encode(_ record: Record) -> [UInt8] {
        var writer = ByteWriter()
        RecordCoding.encode(record, into: &writer)
        return writer.bytes
    }

    static func checksum(id: String, body: [UInt8]) -> UInt32 {
        CRC32C.checksum(body, continuing: CRC32C.checksum(Array(id.utf8)))
    }

    private func decode(id: String, _ bodyValue: SQLiteValue, _ checksumValue: SQLiteValue) throws -> Record {
        guard case .blob(let body) = bodyValue, case .integer(let stored) = checksumValue else {
            throw StoreError.corruption("cold tier row '\(id)' has the wrong column types", path: path, offset: 0)
        }
        guard UInt32(truncatingIfNeeded: stored) == Self.checksum(id: id, body: body), stored >= 0, stored <= Int64(UInt32.max) else {
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

    private static func integer(_ rows: [[SQLiteValue]]) throws -> Int64 {
        guard case .integer(let value)? = rows.first?.first else { throw SQLiteError(code: 1, message: "expected one integer") }
        return value
    }

    private func run<T>(_ what: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch { throw Self.storeError(error, path: path, doing: what) }
    }

    /// SQLite's errors as the store's: damaged database → `.corruption`, full disk → `.noSpace`,
    /// anything else → `.io`, with the file-system error behind it.
    static func storeError(_ error: any Error, path: String, doing what: String) -> StoreError {
        if let error = error as? StoreError { return error }
        guard let error = error as? SQLiteError else { return StoreError(.io, "cold tier: cannot \(what): \(error)", path: path) }
        // A damaged read (SQLITE_IOERR_DATA) stays `.io`: the file system already reported it.
        let code: StoreError.Code
        switch error.category {
        case .damagedDatabase: code = .corruption
        case .full: code = .noSpace
        case .damagedRead, .io, .busy, .other: code = .io
        }
        return StoreError(code, "cold tier: cannot \(what): \(error.message)", path: error.fileSystemError?.path ?? path, offset: code == .corruption ? 0 : nil, cause: error.fileSystemError)
    }
}
