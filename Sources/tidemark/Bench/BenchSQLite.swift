import CSQLite
import Foundation
import TidemarkIO

/// A minimal handle on the system libsqlite3 with its own unix VFS (not Tidemark's VFS): what a
/// user of SQLite would run. One per thread; never shared.
final class BenchSQLite {
    let path: String
    private var database: OpaquePointer?

    init(path: String) throws {
        self.path = path
        let rc = sqlite3_open_v2(path, &database, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK else {
            let message = database.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(database)
            throw BenchError("cannot open SQLite database \(path): \(message)")
        }
        sqlite3_busy_timeout(database, 60_000)
    }

    deinit { sqlite3_close_v2(database) }

    /// WAL mode, `synchronous` as given ("FULL" or "NORMAL"), and the bench table.
    func configure(synchronous: String) throws {
        try execute("PRAGMA journal_mode=WAL")
        try execute("PRAGMA synchronous=\(synchronous)")
        try execute("CREATE TABLE IF NOT EXISTS records (id TEXT PRIMARY KEY, content TEXT NOT NULL, embedding BLOB NOT NULL)")
    }

    func execute(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(database, sql, nil, nil, &message)
        if rc != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? "error \(rc)"
            sqlite3_free(message)
            throw BenchError("SQLite \(path): \(sql): \(text)")
        }
    }

    func prepare(_ sql: String) throws -> BenchStatement {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(database, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw BenchError("SQLite \(path): cannot prepare \(sql): \(String(cString: sqlite3_errmsg(database)))")
        }
        return BenchStatement(statement, owner: self)
    }

    fileprivate var lastError: String { String(cString: sqlite3_errmsg(database)) }
}

/// A prepared statement; `run` steps it to the end, retrying while the database is busy.
final class BenchStatement {
    let statement: OpaquePointer
    private let owner: BenchSQLite

    init(_ statement: OpaquePointer, owner: BenchSQLite) {
        self.statement = statement
        self.owner = owner
    }

    deinit { sqlite3_finalize(statement) }

    func bind(_ text: String, at index: Int32) {
        sqlite3_bind_text(statement, index, text, -1, tm_sqlite_transient())
    }

    func bind(_ bytes: [UInt8], at index: Int32) {
        bytes.withUnsafeBytes { raw in
            _ = sqlite3_bind_blob64(statement, index, raw.baseAddress, sqlite3_uint64(raw.count), tm_sqlite_transient())
        }
    }

    /// Steps until done (a write); busy (past the busy timeout) is retried, not counted as done.
    func run() throws {
        while true {
            let rc = sqlite3_step(statement)
            if rc == SQLITE_DONE || rc == SQLITE_ROW { break }
            sqlite3_reset(statement)
            if rc & 0xFF == SQLITE_BUSY { continue }
            throw BenchError("SQLite \(owner.path): step failed (\(rc)): \(owner.lastError)")
        }
        sqlite3_reset(statement)
    }

    /// Steps once: true when a row is ready.
    func step() throws -> Bool {
        let rc = sqlite3_step(statement)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        throw BenchError("SQLite \(owner.path): step failed (\(rc)): \(owner.lastError)")
    }

    func reset() { sqlite3_reset(statement) }
}

/// A bench failure, with what went wrong and where.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension BenchRunner {
    /// Puts of `records` rows split over `threads` connections, each an autocommit
    /// `INSERT OR REPLACE` in WAL mode with `synchronous`.
    func sqlitePuts(threads: Int, synchronous: String) throws -> BenchMeasurement {
        let path = FilePaths.join(try workDirectory("sqlite-wal-\(synchronous.lowercased())-\(threads)"), "bench.sqlite")
        try BenchSQLite(path: path).configure(synchronous: synchronous)
        let perThread = max(1, settings.records / threads)
        let data = self.data
        let seconds = try runOnThreads(threads) { thread in
            let connection = try BenchSQLite(path: path)
            try connection.execute("PRAGMA synchronous=\(synchronous)")
            let insert = try connection.prepare("INSERT OR REPLACE INTO records (id, content, embedding) VALUES (?, ?, ?)")
            for index in 0..<perThread {
                let number = thread * perThread + index
                insert.bind(data.id(number), at: 1)
                insert.bind(data.content, at: 2)
                insert.bind(data.embeddingBytes(number), at: 3)
                try insert.run()
            }
        }
        let count = try BenchSQLite(path: path).count()
        guard count == perThread * threads else {
            throw BenchError("SQLite holds \(count) rows after \(perThread * threads) puts")
        }
        return BenchMeasurement(operations: count, seconds: seconds, bytes: Int64(count * recordBytes))
    }

    /// Loads an SQLite database to each size in `searchRecords`, searching it at each size and
    /// reading it at the first (see `storeSearchAndRecovery` for the store's side).
    func sqliteSearch() throws {
        let path = FilePaths.join(try workDirectory("sqlite-search"), "bench.sqlite")
        let connection = try BenchSQLite(path: path)
        try connection.configure(synchronous: "NORMAL")
        let insert = try connection.prepare("INSERT INTO records (id, content, embedding) VALUES (?, ?, ?)")
        var loaded = 0
        for (stage, size) in settings.searchRecords.enumerated() {
            try connection.execute("BEGIN")
            for number in loaded..<size {
                insert.bind(data.id(number), at: 1)
                insert.bind(data.content, at: 2)
                insert.bind(data.embeddingBytes(number), at: 3)
                try insert.run()
            }
            try connection.execute("COMMIT")
            loaded = size
            if stage == 0, wants("sqlite-get") {
                progress.begin("sqlite-get")
                let select = try connection.prepare("SELECT content, embedding FROM records WHERE id = ?")
                var found = 0
                let seconds = try measureSeconds {
                    for read in 0..<settings.reads {
                        select.bind(data.id(read * 7919 % size), at: 1)
                        if try select.step() { found += Int(sqlite3_column_bytes(select.statement, 0)) > 0 ? 1 : 0 }
                        select.reset()
                    }
                }
                guard found == settings.reads else { throw BenchError("SQLite found \(found) of \(settings.reads) reads") }
                results["sqlite-get"] = BenchMeasurement(operations: settings.reads, seconds: seconds)
            }
            let name = "sqlite-search-\(size)"
            guard wants(name) else { continue }
            progress.begin(name)
            let scan = try connection.prepare("SELECT id, embedding FROM records")
            var nearest: [String] = []
            let seconds = try measureSeconds {
                for query in 0..<settings.queries {
                    nearest = try sqliteNearest(scan, to: data.embedding(queryNumber(query)), k: 10)
                }
            }
            guard nearest.count == min(10, size) else { throw BenchError("SQLite search returned \(nearest.count) results") }
            results[name] = BenchMeasurement(operations: settings.queries, seconds: seconds)
        }
    }

    /// Brute-force cosine top-k over every row's blob, read in place.
    private func sqliteNearest(_ scan: BenchStatement, to query: [Float], k: Int) throws -> [String] {
        let queryNorm = query.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        var best: [(score: Float, row: Int64)] = []
        var row: Int64 = 0
        var ids: [Int64: String] = [:]
        defer { scan.reset() }
        while try scan.step() {
            row += 1
            guard let blob = sqlite3_column_blob(scan.statement, 1) else { continue }
            let count = Int(sqlite3_column_bytes(scan.statement, 1)) / 4
            guard count == query.count else { continue }
            var dot: Float = 0, norm: Float = 0
            for index in 0..<count {
                let value = blob.loadUnaligned(fromByteOffset: index * 4, as: Float.self)
                dot += value * query[index]
                norm += value * value
            }
            let denominator = queryNorm * norm.squareRoot()
            let score = denominator == 0 ? 0 : dot / denominator
            if best.count < k || score > best[best.count - 1].score {
                let position = best.firstIndex { score > $0.score } ?? best.count
                best.insert((score, row), at: position)
                if best.count > k { best.removeLast() }
                if let text = sqlite3_column_text(scan.statement, 0) { ids[row] = String(cString: text) }
            }
        }
        return best.compactMap { ids[$0.row] }
    }
}

extension BenchSQLite {
    func count() throws -> Int {
        let statement = try prepare("SELECT count(*) FROM records")
        guard try statement.step() else { return 0 }
        return Int(sqlite3_column_int64(statement.statement, 0))
    }
}
