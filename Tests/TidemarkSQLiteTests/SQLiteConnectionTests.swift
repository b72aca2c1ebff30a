import CSQLite
import Testing
import TidemarkIO
@testable import TidemarkSQLite

/// The wrapper, exercised through both the Tidemark VFS and SQLite's default VFS.
struct SQLiteConnectionTests {
    enum Backend: String, CaseIterable, CustomTestStringConvertible {
        case tidemark, unix
        var testDescription: String { rawValue }
    }

    private func withConnection(_ backend: Backend, _ label: String = #function, _ body: (SQLiteConnection) throws -> Void) throws {
        try withPosixVFS(label + backend.rawValue) { directory, vfs in
            let connection = try SQLiteConnection(path: directory + "/c.db", vfs: backend == .tidemark ? vfs : nil)
            try body(connection)
        }
    }

    @Test(arguments: Backend.allCases)
    func bindsAndReadsEveryStorageClass(backend: Backend) throws {
        try withConnection(backend) { connection in
            try connection.execute("CREATE TABLE v(i INTEGER, r REAL, t TEXT, b BLOB, n)")
            let insert = try connection.prepare("INSERT INTO v VALUES (?, ?, ?, ?, ?)")
            try insert.bind(Int64.min, at: 1)
            try insert.bind(-0.25, at: 2)
            try insert.bind("héllo, wörld", at: 3)
            try insert.bind([0, 1, 2, 255], at: 4)
            try insert.bindNull(at: 5)
            #expect(try insert.step() == false)
            // Reuse: reset keeps the statement, new bindings replace the old.
            try insert.reset()
            try insert.bind([.integer(7), .real(1e300), .text(""), .blob([]), .null])
            try insert.step()
            #expect(connection.changes == 1)
            #expect(connection.lastInsertRowID == 2)

            let select = try connection.prepare("SELECT i, r, t, b, n FROM v ORDER BY rowid")
            #expect(select.columnCount == 5)
            #expect((0..<5).map { select.columnName(at: $0) } == ["i", "r", "t", "b", "n"])
            #expect(try select.step())
            #expect(select.int64(at: 0) == Int64.min)
            #expect(select.double(at: 1) == -0.25)
            #expect(select.string(at: 2) == "héllo, wörld")
            #expect(select.blob(at: 3) == [0, 1, 2, 255])
            #expect(select.isNull(at: 4) && select.string(at: 4) == nil && select.blob(at: 4) == nil)
            #expect(try select.step())
            // An empty blob stays a blob, an empty string a string: neither becomes NULL.
            #expect(select.row() == [.integer(7), .real(1e300), .text(""), .blob([]), .null])
            #expect(try select.step() == false)
        }
    }

    @Test(arguments: Backend.allCases)
    func transactionCommitsOrRollsBack(backend: Backend) throws {
        struct Abort: Error {}
        try withConnection(backend) { connection in
            try connection.execute("CREATE TABLE t(x)")
            let kept = try connection.transaction(.immediate) {
                try connection.run("INSERT INTO t VALUES (?)", [.integer(1)])
                return connection.changes
            }
            #expect(kept == 1)
            #expect(throws: Abort.self) {
                try connection.transaction {
                    try connection.run("INSERT INTO t VALUES (2)")
                    throw Abort()
                }
            }
            #expect(connection.isAutocommit)
            #expect(try connection.query("SELECT x FROM t") == [[.integer(1)]])
        }
    }

    /// Errors say what failed and where: the code, SQLite's message, the statement; and no
    /// file-system error is attached to a failure that was not I/O.
    @Test(arguments: Backend.allCases)
    func errorsNameTheStatement(backend: Backend) throws {
        try withConnection(backend) { connection in
            let syntax = #expect(throws: SQLiteError.self) { try connection.prepare("SELEC 1") }
            #expect(syntax?.resultCode == SQLITE_ERROR)
            #expect(syntax?.sql == "SELEC 1")
            #expect(syntax?.message.contains("syntax error") == true)
            let empty = #expect(throws: SQLiteError.self) { try connection.prepare("  -- only a comment") }
            #expect(empty?.resultCode == SQLITE_MISUSE)

            try connection.execute("CREATE TABLE t(id INTEGER PRIMARY KEY)")
            let constraint = #expect(throws: SQLiteError.self) {
                try connection.execute("INSERT INTO t VALUES (1); INSERT INTO t VALUES (1); INSERT INTO t VALUES (3)")
            }
            #expect(constraint?.resultCode == SQLITE_CONSTRAINT)
            #expect(constraint?.extendedCode == SQLITE_CONSTRAINT | (6 << 8))  // _PRIMARYKEY
            #expect(constraint?.sql == " INSERT INTO t VALUES (1);")
            #expect(constraint?.fileSystemError == nil)
            #expect(try connection.query("SELECT id FROM t") == [[.integer(1)]], "statements before the failure ran, after it did not")

            let statement = try connection.prepare("SELECT ?")
            let range = #expect(throws: SQLiteError.self) { try statement.bind(Int64(1), at: 2) }
            #expect(range?.resultCode == SQLITE_RANGE)
            #expect(range?.message.contains("at 2") == true)
        }
    }

    @Test func readOnlyConnectionRefusesWrites() throws {
        try withPosixVFS { directory, vfs in
            let path = directory + "/ro.db"
            try SQLiteConnection(path: path, vfs: vfs).execute("CREATE TABLE t(x)")
            let readOnly = try SQLiteConnection(path: path, vfs: vfs, flags: .readOnly)
            #expect(try readOnly.query("SELECT count(*) FROM t") == [[.integer(0)]])
            let error = #expect(throws: SQLiteError.self) { try readOnly.execute("INSERT INTO t VALUES (1)") }
            #expect(error?.resultCode == SQLITE_READONLY)
        }
    }

    @Test func closedConnectionThrowsInsteadOfCrashing() throws {
        try withPosixVFS { directory, vfs in
            let connection = try SQLiteConnection(path: directory + "/closed.db", vfs: vfs)
            let statement = try connection.prepare("SELECT 1")
            try connection.close()
            try connection.close()
            let error = #expect(throws: SQLiteError.self) { try connection.execute("SELECT 1") }
            #expect(error?.resultCode == SQLITE_MISUSE)
            #expect(error?.message.contains("closed.db") == true)
            // A statement prepared before close still finalizes cleanly (zombie connection).
            #expect(try statement.step())
        }
    }
}
