import CSQLite
import TidemarkIO

/// A value SQLite stores: its five storage classes.
public enum SQLiteValue: Sendable, Hashable, CustomStringConvertible {
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
    case null

    public var description: String {
        switch self {
        case .integer(let value): "\(value)"
        case .real(let value): "\(value)"
        case .text(let value): "'\(value)'"
        case .blob(let bytes): "x'" + bytes.map { String($0, radix: 16).leftPadded(to: 2) }.joined() + "'"
        case .null: "NULL"
        }
    }
}

/// One SQLite database connection (`sqlite3*`), opened through a `SQLiteVFS` or, with
/// `vfs: nil`, through SQLite's default (unix) VFS for comparison.
///
/// Not thread-safe as a Swift object: use it from one thread at a time. Every failure throws
/// `SQLiteError`. Through a Tidemark VFS, an error caused by the file system carries the
/// `FileSystemError` (`SQLiteError.fileSystemError`).
///
/// SQLite's `random()` and `randomblob(N)` draw from one process-wide PRNG, seeded once from
/// whichever VFS is the default. So that SQL-visible randomness follows the injected
/// `RandomSource`, a connection through a Tidemark VFS replaces both functions with ones that
/// draw from `vfs.random`.
public final class SQLiteConnection {
    /// `sqlite3_open_v2` flags.
    public struct OpenFlags: OptionSet, Sendable, Hashable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        public static let readOnly = OpenFlags(rawValue: SQLITE_OPEN_READONLY)
        public static let readWrite = OpenFlags(rawValue: SQLITE_OPEN_READWRITE)
        public static let create = OpenFlags(rawValue: SQLITE_OPEN_CREATE)
        /// Interpret the path as a `file:` URI.
        public static let uri = OpenFlags(rawValue: SQLITE_OPEN_URI)
        /// Read-write, creating the file when missing.
        public static let `default`: OpenFlags = [.readWrite, .create]
    }

    /// `BEGIN DEFERRED / IMMEDIATE / EXCLUSIVE`.
    public enum TransactionKind: String, Sendable {
        case deferred = "DEFERRED", immediate = "IMMEDIATE", exclusive = "EXCLUSIVE"
    }

    public let path: String
    /// The VFS the connection goes through; nil for SQLite's default VFS. Held so the VFS (and
    /// its file system) outlive the connection.
    public let vfs: SQLiteVFS?
    /// The raw `sqlite3*`, for calls this wrapper does not cover.
    public private(set) var handle: OpaquePointer?

    /// Opens `path` (`sqlite3_open_v2`) with extended result codes on.
    public init(path: String, vfs: SQLiteVFS? = nil, flags: OpenFlags = .default) throws {
        self.path = path
        self.vfs = vfs
        let mark = vfs?.errorCount ?? 0
        var database: OpaquePointer?
        let rc = sqlite3_open_v2(path, &database, flags.rawValue, vfs?.name)
        if rc != SQLITE_OK {
            let message = database.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            let extended = database.map { sqlite3_extended_errcode($0) } ?? rc
            sqlite3_close_v2(database)
            throw SQLiteError(
                code: extended, message: "cannot open \(path): \(message)",
                fileSystemError: vfs?.error(since: mark))
        }
        handle = database
        sqlite3_extended_result_codes(database, 1)
        if let vfs { try installRandomFunctions(vfs) }
    }

    deinit {
        if let handle { sqlite3_close_v2(handle) }
    }

    /// Closes the connection (`sqlite3_close_v2`). Statements still alive keep it open as a
    /// zombie until they are finalized. Idempotent.
    public func close() throws {
        guard let database = handle else { return }
        handle = nil
        let rc = sqlite3_close_v2(database)
        if rc != SQLITE_OK { throw SQLiteError(code: rc, message: "close of \(path) failed") }
    }

    /// Runs one or more `;`-separated statements, stepping each to completion and discarding
    /// rows (`sqlite3_prepare_v2` + `sqlite3_step` per statement).
    public func execute(_ sql: String) throws {
        let database = try openHandle()
        try sql.withCString { start in
            var cursor: UnsafePointer<CChar>? = start
            while let current = cursor, current.pointee != 0 {
                var statement: OpaquePointer?
                var tail: UnsafePointer<CChar>?
                let mark = vfs?.errorCount ?? 0
                let rc = sqlite3_prepare_v2(database, current, -1, &statement, &tail)
                if rc != SQLITE_OK { throw error(rc, sql: String(cString: current), since: mark) }
                cursor = tail
                guard let statement else { continue }  // only whitespace or a comment
                defer { sqlite3_finalize(statement) }
                var step: Int32
                repeat { step = sqlite3_step(statement) } while step == SQLITE_ROW
                if step != SQLITE_DONE {
                    throw error(step, sql: String(cString: sqlite3_sql(statement)), since: mark)
                }
            }
        }
    }

    /// Compiles one statement (`sqlite3_prepare_v2`).
    public func prepare(_ sql: String) throws -> SQLiteStatement {
        let database = try openHandle()
        var statement: OpaquePointer?
        let mark = vfs?.errorCount ?? 0
        let rc = sqlite3_prepare_v2(database, sql, -1, &statement, nil)
        guard rc == SQLITE_OK, let statement else {
            sqlite3_finalize(statement)
            if rc == SQLITE_OK {
                throw SQLiteError(code: SQLITE_MISUSE, message: "no statement to prepare (empty or only a comment)", sql: sql)
            }
            throw error(rc, sql: sql, since: mark)
        }
        return SQLiteStatement(connection: self, statement: statement, sql: sql)
    }

    /// Runs one statement with `parameters` bound (1-based, in order) and returns every row.
    public func query(_ sql: String, _ parameters: [SQLiteValue] = []) throws -> [[SQLiteValue]] {
        let statement = try prepare(sql)
        try statement.bind(parameters)
        var rows: [[SQLiteValue]] = []
        while try statement.step() { rows.append(statement.row()) }
        return rows
    }

    /// Runs one statement with `parameters` bound, discarding any rows.
    public func run(_ sql: String, _ parameters: [SQLiteValue] = []) throws {
        let statement = try prepare(sql)
        try statement.bind(parameters)
        while try statement.step() {}
    }

    /// Runs `body` inside `BEGIN kind ... COMMIT`. If `body` or the commit throws, the
    /// transaction is rolled back (unless SQLite already did, as it does after some I/O
    /// errors) and the error is rethrown.
    public func transaction<T>(_ kind: TransactionKind = .deferred, _ body: () throws -> T) throws -> T {
        try execute("BEGIN \(kind.rawValue)")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            if !isAutocommit { try? execute("ROLLBACK") }
            throw error
        }
    }

    /// Whether no transaction is open (`sqlite3_get_autocommit`).
    public var isAutocommit: Bool { handle.map { sqlite3_get_autocommit($0) != 0 } ?? true }
    /// Rows changed by the last INSERT/UPDATE/DELETE (`sqlite3_changes64`).
    public var changes: Int64 { handle.map { sqlite3_changes64($0) } ?? 0 }
    /// The rowid of the last successful INSERT (`sqlite3_last_insert_rowid`).
    public var lastInsertRowID: Int64 { handle.map { sqlite3_last_insert_rowid($0) } ?? 0 }

    /// `sqlite3_file_control` on the main database file: the raw result code, so callers can
    /// see `SQLITE_NOTFOUND` for opcodes the VFS does not handle.
    public func fileControl(_ operation: Int32, _ argument: UnsafeMutableRawPointer?) throws -> Int32 {
        sqlite3_file_control(try openHandle(), "main", operation, argument)
    }

    // MARK: Internals

    func openHandle() throws -> OpaquePointer {
        guard let handle else { throw SQLiteError(code: SQLITE_MISUSE, message: "connection to \(path) is closed") }
        return handle
    }

    /// A `SQLiteError` for `code`, with SQLite's message and the file-system error the VFS
    /// recorded since `mark` when the code says the failure was I/O.
    func error(_ code: Int32, sql: String?, since mark: UInt64, fallback: String? = nil) -> SQLiteError {
        let extended = handle.map { sqlite3_extended_errcode($0) } ?? code
        // sqlite3_step returns the primary code in legacy mode; prefer the handle's extended one
        // when they agree on the primary.
        let chosen = (extended & 0xFF) == (code & 0xFF) ? extended : code
        let message = fallback ?? handle.map { String(cString: sqlite3_errmsg($0)) } ?? "connection closed"
        let ioCodes: Set<Int32> = [SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN, SQLITE_CORRUPT, SQLITE_NOTADB]
        let underlying = ioCodes.contains(chosen & 0xFF) ? vfs?.error(since: mark) : nil
        return SQLiteError(code: chosen, message: message, sql: sql, fileSystemError: underlying)
    }

    /// Replaces `random()` and `randomblob(N)` with versions that draw from `vfs.random`.
    private func installRandomFunctions(_ vfs: SQLiteVFS) throws {
        let context = Unmanaged.passUnretained(vfs).toOpaque()  // the connection holds the VFS
        var rc = sqlite3_create_function_v2(handle, "random", 0, SQLITE_UTF8, context, { context, _, _ in
            let vfs = Unmanaged<SQLiteVFS>.fromOpaque(sqlite3_user_data(context)).takeUnretainedValue()
            sqlite3_result_int64(context, Int64(bitPattern: vfs.random.next()))
        }, nil, nil, nil)
        if rc == SQLITE_OK {
            rc = sqlite3_create_function_v2(handle, "randomblob", 1, SQLITE_UTF8, context, { context, _, arguments in
                let vfs = Unmanaged<SQLiteVFS>.fromOpaque(sqlite3_user_data(context)).takeUnretainedValue()
                // As the built-in: fewer than one byte asked for gives one byte.
                let requested = max(1, sqlite3_value_int64(arguments![0]))
                let limit = Int64(sqlite3_limit(sqlite3_context_db_handle(context), SQLITE_LIMIT_LENGTH, -1))
                if requested > limit {
                    sqlite3_result_error_toobig(context)
                    return
                }
                let bytes = vfs.random.bytes(Int(requested))
                bytes.withUnsafeBytes {
                    sqlite3_result_blob64(context, $0.baseAddress, sqlite3_uint64($0.count), tm_sqlite_transient())
                }
            }, nil, nil, nil)
        }
        if rc != SQLITE_OK { throw error(rc, sql: nil, since: 0, fallback: "cannot install random functions") }
    }
}

/// A compiled statement (`sqlite3_stmt*`), finalized on deinit.
///
/// Parameters are bound by 1-based index, as SQLite numbers them; columns are read by 0-based
/// index, as SQLite numbers those.
public final class SQLiteStatement {
    public let connection: SQLiteConnection
    public let sql: String
    private let statement: OpaquePointer

    init(connection: SQLiteConnection, statement: OpaquePointer, sql: String) {
        self.connection = connection
        self.statement = statement
        self.sql = sql
    }

    deinit { sqlite3_finalize(statement) }

    public func bind(_ value: Int64, at index: Int32) throws {
        try check(sqlite3_bind_int64(statement, index, value), "bind int64 at \(index)")
    }

    public func bind(_ value: Double, at index: Int32) throws {
        try check(sqlite3_bind_double(statement, index, value), "bind double at \(index)")
    }

    public func bind(_ value: String, at index: Int32) throws {
        try check(sqlite3_bind_text(statement, index, value, -1, tm_sqlite_transient()), "bind text at \(index)")
    }

    public func bind(_ bytes: [UInt8], at index: Int32) throws {
        let rc = bytes.withUnsafeBytes { raw in
            // A zero-length blob is a blob, not NULL: hand SQLite a non-nil pointer.
            sqlite3_bind_blob64(statement, index, raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1), sqlite3_uint64(raw.count), tm_sqlite_transient())
        }
        try check(rc, "bind blob at \(index)")
    }

    public func bindNull(at index: Int32) throws {
        try check(sqlite3_bind_null(statement, index), "bind null at \(index)")
    }

    public func bind(_ value: SQLiteValue, at index: Int32) throws {
        switch value {
        case .integer(let value): try bind(value, at: index)
        case .real(let value): try bind(value, at: index)
        case .text(let value): try bind(value, at: index)
        case .blob(let value): try bind(value, at: index)
        case .null: try bindNull(at: index)
        }
    }

    /// Binds `values` to parameters 1...n.
    public func bind(_ values: [SQLiteValue]) throws {
        for (offset, value) in values.enumerated() { try bind(value, at: Int32(offset + 1)) }
    }

    /// Advances (`sqlite3_step`): true when a row is ready, false when the statement is done.
    @discardableResult
    public func step() throws -> Bool {
        let mark = connection.vfs?.errorCount ?? 0
        let rc = sqlite3_step(statement)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw connection.error(rc, sql: sql, since: mark)
        }
    }

    /// Rewinds for another run (`sqlite3_reset`); bindings stay.
    public func reset() throws {
        try check(sqlite3_reset(statement), "reset")
    }

    /// Sets every parameter back to NULL (`sqlite3_clear_bindings`).
    public func clearBindings() throws {
        try check(sqlite3_clear_bindings(statement), "clear bindings")
    }

    public var columnCount: Int32 { sqlite3_column_count(statement) }

    public func columnName(at index: Int32) -> String {
        sqlite3_column_name(statement, index).map { String(cString: $0) } ?? ""
    }

    public func isNull(at index: Int32) -> Bool { sqlite3_column_type(statement, index) == SQLITE_NULL }

    public func int64(at index: Int32) -> Int64 { sqlite3_column_int64(statement, index) }

    public func double(at index: Int32) -> Double { sqlite3_column_double(statement, index) }

    /// The column as text, or nil when it is NULL.
    public func string(at index: Int32) -> String? {
        guard let text = sqlite3_column_text(statement, index) else { return nil }
        let count = Int(sqlite3_column_bytes(statement, index))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }

    /// The column as bytes, or nil when it is NULL.
    public func blob(at index: Int32) -> [UInt8]? {
        if isNull(at: index) { return nil }
        let pointer = sqlite3_column_blob(statement, index)  // before _bytes, as SQLite documents
        let count = Int(sqlite3_column_bytes(statement, index))
        guard let pointer, count > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    /// Calls `body` with the column's bytes in place (valid only inside `body`; empty for NULL),
    /// so a scan reads a blob without copying it.
    public func withBlob<T>(at index: Int32, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        let pointer = sqlite3_column_blob(statement, index)  // before _bytes, as SQLite documents
        let count = Int(sqlite3_column_bytes(statement, index))
        return try body(UnsafeRawBufferPointer(start: count > 0 ? pointer : nil, count: pointer == nil ? 0 : count))
    }

    /// The column in its own storage class.
    public func value(at index: Int32) -> SQLiteValue {
        switch sqlite3_column_type(statement, index) {
        case SQLITE_INTEGER: .integer(int64(at: index))
        case SQLITE_FLOAT: .real(double(at: index))
        case SQLITE_TEXT: .text(string(at: index) ?? "")
        case SQLITE_BLOB: .blob(blob(at: index) ?? [])
        default: .null
        }
    }

    /// Every column of the current row.
    public func row() -> [SQLiteValue] { (0..<columnCount).map { value(at: $0) } }

    private func check(_ rc: Int32, _ what: String) throws {
        if rc != SQLITE_OK { throw connection.error(rc, sql: sql, since: UInt64.max, fallback: nil).adding(context: what) }
    }
}

extension SQLiteError {
    fileprivate func adding(context: String) -> SQLiteError {
        var copy = self
        copy.message = "\(context): \(message)"
        return copy
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
