import Foundation
import Tidemark
import TidemarkIO
import TidemarkSimulatedDisk
import TidemarkSQLite

/// SQLite, through the Tidemark VFS on the run's file system, as a subject: one
/// `records(id TEXT PRIMARY KEY, content TEXT, embedding BLOB, metadata TEXT)` table in
/// `/sqlite/records.db`, one connection, in the scenario's `journal` mode and `synchronous`
/// setting (WAL mode with `locking_mode=EXCLUSIVE`, as the VFS has no shared memory).
///
/// Every mutating operation is one SQL transaction (`BEGIN IMMEDIATE` … `COMMIT`, or `ROLLBACK`
/// for a transaction that rolls back). Search is a full scan ranked by `Model.similarity`.
///
/// What SQLite promises, and so what the subject claims (`acknowledgementsAreDurable`): a
/// commit is durable when acknowledged, except with `synchronous=NORMAL` in WAL mode, where the
/// WAL is synced only by a checkpoint (so `sync` runs `PRAGMA wal_checkpoint`). With
/// `synchronous=OFF` SQLite promises nothing; the subject still holds it to the commit contract
/// so the verifier shows what it loses (`Scenarios/sqlite-sync-off.yaml`).
///
/// The VFS reports 4096-byte sectors and no device characteristics: in particular not
/// `SQLITE_IOCAP_POWERSAFE_OVERWRITE`, because the simulated disk may tear a sector that a
/// write only partly covered, damaging bytes outside the written range.
///
/// Every entry point runs inside `SQLiteProcessPRNG.withSeed` with a seed drawn from the run's
/// random source, so journal nonces and WAL salts replay bit for bit and do not depend on other
/// runs on other threads.
final class SQLiteSubject: Subject {
    enum JournalMode: String, CaseIterable, Sendable {
        case delete, truncate, persist, wal
    }

    enum Synchronous: String, CaseIterable, Sendable {
        case off, normal, full, extra
    }

    static let optionSpecs: [SubjectKind.OptionSpec] = [
        .choice("journal", JournalMode.allCases.map(\.rawValue), "PRAGMA journal_mode (default wal)"),
        .choice("synchronous", Synchronous.allCases.map(\.rawValue), "PRAGMA synchronous (default full)"),
    ]

    static let vfsConfiguration = SQLiteVFS.Configuration(sectorSize: 4096, deviceCharacteristics: [])

    let fileSystem: any FileSystem
    let clock: any Clock
    let random: any RandomSource
    let journal: JournalMode
    let synchronous: Synchronous
    let directory = "/sqlite"
    let databaseName = "records.db"
    var databasePath: String { FilePaths.join(directory, databaseName) }

    private var vfs: SQLiteVFS?
    private var connection: SQLiteConnection?
    /// Set by an ambiguous (I/O) failure: SQLite's pager may be in its error state, so nothing
    /// more is attempted until the database is reopened.
    private var ioFailure: String?
    /// Seeds for SQLite's process-wide PRNG, one per entry point, drawn from the run's randomness.
    private var prngSeeds: SplitMix64

    init(options values: [String: String], fileSystem: any FileSystem, clock: any Clock, random: any RandomSource) throws {
        self.fileSystem = fileSystem
        self.clock = clock
        self.random = random
        journal = JournalMode(rawValue: values["journal"] ?? "wal") ?? .wal
        synchronous = Synchronous(rawValue: values["synchronous"] ?? "full") ?? .full
        prngSeeds = SplitMix64(seed: random.next())
    }

    deinit {
        // A run that ended with the database open: drop it as a crash would, so closing it
        // writes nothing to a file system whose trace is already final.
        vfs?.fence()
        connection = nil
        vfs?.unregister()
    }

    /// In WAL mode with `synchronous=NORMAL` a commit is written to the WAL but not synced.
    var acknowledgementsAreDurable: Bool { !(journal == .wal && synchronous == .normal) }

    /// Runs one entry point holding the process-wide SQLite PRNG lock with a fresh seed.
    private func exclusive<Result: Sendable, Failure: Error>(_ body: () throws(Failure) -> Result) throws(Failure) -> Result {
        try SQLiteProcessPRNG.withSeed(prngSeeds.next(), body)
    }

    // MARK: Open and close

    func open() throws(SubjectError) -> RecoveryInfo {
        try exclusive { () throws(SubjectError) -> RecoveryInfo in try openDatabase() }
    }

    private func openDatabase() throws(SubjectError) -> RecoveryInfo {
        closeDatabase()
        var paths: [String] = []
        do {
            if !fileSystem.exists(directory) {
                try fileSystem.createDirectory(directory)
                try fileSystem.syncDirectory(FilePaths.parent(of: directory))
                paths.append("created")
            }
            for (suffix, label) in [("-journal", "journal found"), ("-wal", "wal found")] {
                let path = databasePath + suffix
                if fileSystem.exists(path), try fileSystem.status(path).size > 0 { paths.append(label) }
            }
            let vfs = try SQLiteVFS(fileSystem: fileSystem, clock: clock, random: random, configuration: Self.vfsConfiguration)
            self.vfs = vfs
            let connection = try SQLiteConnection(path: databasePath, vfs: vfs)
            self.connection = connection
            // WAL needs shared memory or EXCLUSIVE locking, and the VFS has no shm methods. The
            // rollback modes keep NORMAL locking: with EXCLUSIVE, SQLite would zero the journal
            // header instead of deleting the journal, and DELETE mode would not be DELETE mode.
            if journal == .wal { try connection.execute("PRAGMA locking_mode=EXCLUSIVE") }
            // The first access of the file: a hot journal is rolled back, a WAL recovered, here.
            let mode = try connection.query("PRAGMA journal_mode=\(journal.rawValue.uppercased())")
            guard mode == [[.text(journal.rawValue)]] else {
                throw SubjectError(.other, "PRAGMA journal_mode=\(journal.rawValue) answered \(mode)")
            }
            try connection.execute("PRAGMA synchronous=\(synchronous.rawValue.uppercased())")
            try connection.execute(
                "CREATE TABLE IF NOT EXISTS records(id TEXT PRIMARY KEY, content TEXT NOT NULL, embedding BLOB NOT NULL, metadata TEXT NOT NULL)")
            if let problem = try integrityProblem(connection) {
                throw SubjectError(.corruption, "\(databasePath) after recovery: \(problem)")
            }
        } catch {
            closeDatabase()
            throw classify(error)
        }
        if paths.isEmpty { paths.append("clean open") }
        return RecoveryInfo(paths: paths, detail: "journal_mode=\(journal.rawValue), synchronous=\(synchronous.rawValue)")
    }

    /// `sqlite3_close` (which in WAL mode checkpoints and removes the WAL) and unregisters the
    /// VFS. Close is not sync.
    private func closeDatabase() {
        try? connection?.close()
        connection = nil
        vfs?.unregister()
        vfs = nil
        ioFailure = nil
    }

    func close() {
        exclusive { closeDatabase() }
    }

    /// The process died: fence the VFS so dropping the connection (its rollback, its WAL
    /// checkpoint at close) reaches no file, then drop it.
    func abandon() {
        exclusive {
            vfs?.fence()
            connection = nil
            vfs?.unregister()
            vfs = nil
            ioFailure = nil
        }
    }

    // MARK: Operations

    func perform(_ operation: WorkloadOperation) -> Response {
        exclusive { performOperation(operation) }
    }

    private func performOperation(_ operation: WorkloadOperation) -> Response {
        guard let connection else { return .failStopped("\(databasePath) is not open") }
        if let ioFailure { return .failStopped("refusing after an earlier I/O error until reopened: \(ioFailure)") }
        let acknowledged = Response.acknowledged(durable: acknowledgementsAreDurable)
        do {
            switch operation {
            case .put(let record):
                try write(connection, [.put(record: record)], rollback: false)
                return acknowledged
            case .putWithTTL:
                return .rejected("the SQLite subject's table has no expiry column")
            case .delete(let id):
                try write(connection, [.delete(id: id)], rollback: false)
                return acknowledged
            case .batch(let mutations):
                try write(connection, mutations, rollback: false)
                return acknowledged
            case .transaction(let mutations, let rollback):
                try write(connection, mutations, rollback: rollback)
                return acknowledged
            case .get(let id):
                let rows = try connection.query("SELECT id, content, embedding, metadata FROM records WHERE id = ?", [.text(id)])
                return .value(try rows.first.map(Self.recordValue))
            case .search(let query, let k, let metric, let filter):
                return .searchResults(try search(connection, query: query, k: k, metric: metric, filter: filter ?? [:]))
            case .sync:
                // Only WAL with synchronous=NORMAL leaves acknowledged commits unsynced; a
                // checkpoint syncs the WAL before copying it back.
                if journal == .wal && synchronous == .normal { try checkpoint(connection) }
                return .done
            case .checkpoint:
                if journal == .wal { try checkpoint(connection) }
                return .done
            case .maintenance, .advanceClock, .reopen:
                return .done
            case .concurrent:
                return .rejected("concurrent steps are run by the simulation, one member per thread")
            }
        } catch {
            return respond(to: error, connection: connection)
        }
    }

    /// One transaction: `BEGIN IMMEDIATE`, the mutations, then `COMMIT` (or `ROLLBACK`). After
    /// an error, rolls back unless SQLite already did.
    private func write(_ connection: SQLiteConnection, _ mutations: [Mutation], rollback: Bool) throws {
        try connection.execute("BEGIN IMMEDIATE")
        do {
            for mutation in mutations {
                switch mutation {
                case .put(let record):
                    try connection.run(
                        "INSERT OR REPLACE INTO records(id, content, embedding, metadata) VALUES (?, ?, ?, ?)",
                        [.text(record.id), .text(record.content), .blob(Self.encode(record.embedding)), .text(try Self.encode(record.metadata))])
                case .delete(let id):
                    try connection.run("DELETE FROM records WHERE id = ?", [.text(id)])
                }
            }
            try connection.execute(rollback ? "ROLLBACK" : "COMMIT")
        } catch {
            // If this ROLLBACK fails, its error (I/O) is the one that decides the outcome.
            if !connection.isAutocommit { try connection.execute("ROLLBACK") }
            throw error
        }
    }

    /// `PRAGMA wal_checkpoint(TRUNCATE)`: copies the WAL into the database, syncs both, and
    /// truncates the WAL to zero bytes.
    private func checkpoint(_ connection: SQLiteConnection) throws {
        let rows = try connection.query("PRAGMA wal_checkpoint(TRUNCATE)")
        guard let row = rows.first, row.first == .integer(0) else {
            throw SubjectError(.other, "PRAGMA wal_checkpoint(TRUNCATE) did not complete: \(rows)")
        }
    }

    /// A full scan of the records whose metadata holds `filter`, ranked by the model's
    /// similarity, ties broken by id.
    private func search(
        _ connection: SQLiteConnection, query: [Float], k: Int, metric: SearchMetric, filter: [String: String]
    ) throws -> [SearchHit] {
        let hits = try connection.query("SELECT id, content, embedding, metadata FROM records").compactMap { row -> SearchHit? in
            let record = try Self.recordValue(row)
            guard filter.allSatisfy({ record.metadata[$0.key] == $0.value }) else { return nil }
            return SearchHit(record: record, score: Model.similarity(query, record.embedding, metric: metric))
        }
        let ranked = hits.sorted { $0.score != $1.score ? $0.score > $1.score : $0.record.id < $1.record.id }
        return Array(ranked.prefix(max(0, k)))
    }

    /// SQLITE_FULL: SQLite rolled the transaction back, a clean rejection. Corruption is
    /// reported as such. Anything else (I/O errors, a failed rollback) may or may not have
    /// applied, and SQLite needs a reopen to get past it.
    private func respond(to error: any Error, connection: SQLiteConnection) -> Response {
        if let error = error as? SQLiteError {
            if error.isFull && connection.isAutocommit { return .rejected(error.description) }
            if error.isCorruption { return .corruptionDetected(error.description) }
        }
        if let error = error as? SubjectError, error.kind == .corruption { return .corruptionDetected(error.message) }
        ioFailure = "\(error)"
        return .ambiguous("\(error)")
    }

    // MARK: Reading back

    func readAll() throws(SubjectError) -> [String: RecordValue] {
        try exclusive { () throws(SubjectError) -> [String: RecordValue] in
            guard let connection else { throw SubjectError(.other, "\(databasePath) is not open") }
            do {
                var state: [String: RecordValue] = [:]
                for row in try connection.query("SELECT id, content, embedding, metadata FROM records") {
                    let record = try Self.recordValue(row)
                    state[record.id] = record
                }
                return state
            } catch {
                throw classify(error)
            }
        }
    }

    /// After recovery and a checkpoint: `PRAGMA integrity_check` says "ok", and the directory
    /// holds only the database and the journal file the mode keeps (the WAL, truncated to zero
    /// by the checkpoint; a persisted or truncated rollback journal).
    func hygieneProblems() -> [String] {
        exclusive { () -> [String] in
            guard let connection else { return ["\(databasePath) is not open"] }
            var problems: [String] = []
            do {
                if let problem = try integrityProblem(connection) { problems.append(problem) }
            } catch {
                problems.append("PRAGMA integrity_check failed: \(error)")
            }
            let allowed: Set<String> =
                switch journal {
                case .wal: [databaseName, databaseName + "-wal"]
                case .truncate, .persist: [databaseName, databaseName + "-journal"]
                case .delete: [databaseName]
                }
            do {
                for name in try fileSystem.listDirectory(directory).sorted() where !allowed.contains(name) {
                    problems.append("stray file \(FilePaths.join(directory, name)) left behind")
                }
                let wal = databasePath + "-wal"
                if journal == .wal, fileSystem.exists(wal), try fileSystem.status(wal).size > 0 {
                    problems.append("\(wal) is \(try fileSystem.status(wal).size) bytes after wal_checkpoint(TRUNCATE)")
                }
                let rollbackJournal = databasePath + "-journal"
                if journal == .truncate, fileSystem.exists(rollbackJournal), try fileSystem.status(rollbackJournal).size > 0 {
                    problems.append("\(rollbackJournal) is not empty after a commit in truncate mode")
                }
            } catch {
                problems.append("listing \(directory) failed: \(error)")
            }
            return problems
        }
    }

    /// `PRAGMA integrity_check`'s complaint, or nil when it says "ok".
    private func integrityProblem(_ connection: SQLiteConnection) throws -> String? {
        let rows = try connection.query("PRAGMA integrity_check")
        if rows == [[.text("ok")]] { return nil }
        let lines = rows.compactMap { row -> String? in if case .text(let text)? = row.first { text } else { nil } }
        return "PRAGMA integrity_check: \(lines.prefix(3).joined(separator: "; "))"
    }

    private func classify(_ error: any Error) -> SubjectError {
        if fileSystem.hasHaltedProcess {
            return SubjectError(.crashed, "\(error)")
        }
        if let error = error as? SubjectError { return error }
        if let error = error as? SQLiteError {
            if error.isCorruption { return SubjectError(.corruption, error.description) }
            if error.isIOError || error.isFull || error.fileSystemError != nil || error.description.contains("CANTOPEN") {
                return SubjectError(.io, error.description)
            }
            return SubjectError(.other, error.description)
        }
        if error is FileSystemError { return SubjectError(.io, "\(error)") }
        return SubjectError(.other, "\(error)")
    }

    // MARK: Encoding

    /// Little-endian IEEE 754 singles, 4 bytes each.
    static func encode(_ embedding: [Float]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(embedding.count * 4)
        for value in embedding {
            let bits = value.bitPattern
            for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: bits >> UInt32(shift))) }
        }
        return bytes
    }

    static func decodeEmbedding(_ bytes: [UInt8], id: String) throws(SubjectError) -> [Float] {
        guard bytes.count % 4 == 0 else {
            throw SubjectError(.corruption, "record \(id): embedding blob of \(bytes.count) bytes is not a whole number of floats")
        }
        return stride(from: 0, to: bytes.count, by: 4).map { start in
            Float(bitPattern: (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[start + $1]) << UInt32(8 * $1) })
        }
    }

    /// A JSON object with sorted keys.
    static func encode(_ metadata: [String: String]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(metadata), as: UTF8.self)
    }

    static func recordValue(_ row: [SQLiteValue]) throws(SubjectError) -> RecordValue {
        guard row.count == 4, case .text(let id) = row[0], case .text(let content) = row[1],
            case .blob(let embedding) = row[2], case .text(let metadata) = row[3]
        else {
            throw SubjectError(.corruption, "a records row has unexpected column types: \(row)")
        }
        guard let decoded = try? JSONDecoder().decode([String: String].self, from: Data(metadata.utf8)) else {
            throw SubjectError(.corruption, "record \(id): metadata is not a JSON object of strings: \(metadata.prefix(40))")
        }
        return RecordValue(id: id, content: content, embedding: try decodeEmbedding(embedding, id: id), metadata: decoded)
    }
}
