import Testing
import TidemarkIO
@testable import TidemarkSQLite

/// The Tidemark VFS on a real disk must be indistinguishable from SQLite's own unix VFS.
struct SQLiteVFSFidelityTests {
    static let journalModes = ["DELETE", "TRUNCATE", "PERSIST", "WAL"]

    /// The pragmas both connections get, so the only difference between them is the VFS.
    /// WAL without shared-memory methods needs exclusive locking, set before the switch.
    static func configure(_ connection: SQLiteConnection, journalMode: String) throws {
        if journalMode == "WAL" { try connection.execute("PRAGMA locking_mode=EXCLUSIVE") }
        try connection.execute("PRAGMA page_size=1024")
        let mode = try connection.scalarText("PRAGMA journal_mode=\(journalMode)")
        #expect(mode == journalMode.lowercased(), "journal_mode \(journalMode) not accepted, got \(mode ?? "nil")")
        // A tiny page cache makes SQLite spill dirty pages mid-transaction, so journals are
        // written and read back (rollback) rather than only at commit.
        try connection.execute("PRAGMA cache_size=12")
        try connection.execute("PRAGMA synchronous=FULL")
    }

    /// Same randomized workload through both VFSes: same answers at every checkpoint, both
    /// databases pass integrity_check, and each file opens through the other VFS afterwards.
    @Test(arguments: journalModes)
    func sameResultsAsUnixVFS(journalMode: String) throws {
        try withPosixVFS(seed: 11, "fidelity\(journalMode)") { directory, vfs in
            let ourPath = directory + "/tidemark.db"
            let unixPath = directory + "/unix.db"
            let ours = try SQLiteConnection(path: ourPath, vfs: vfs)
            let unix = try SQLiteConnection(path: unixPath, vfs: nil)
            for connection in [ours, unix] {
                try Self.configure(connection, journalMode: journalMode)
                try connection.execute(SQLWorkload.schema)
            }
            let workload = SQLWorkload(seed: 0x5EED + UInt64(journalMode.utf8.count), transactions: 120)
            var checkpoints = 0
            for step in workload.steps {
                switch step {
                case .statement(let sql, let parameters):
                    try ours.run(sql, parameters)
                    try unix.run(sql, parameters)
                case .checkpoint:
                    checkpoints += 1
                    let expected = try SQLWorkload.snapshot(unix)
                    let actual = try SQLWorkload.snapshot(ours)
                    #expect(actual == expected, "checkpoint \(checkpoints) differs in \(journalMode)")
                }
            }
            #expect(checkpoints >= 10)
            let pages = try ours.query("PRAGMA page_count").first?.first
            let pageCount: Int64? = if case .integer(let count)? = pages { count } else { nil }
            #expect((pageCount ?? 0) > 300, "workload must span many pages, got \(String(describing: pageCount))")
            #expect(try ours.scalarText("PRAGMA integrity_check") == "ok")
            #expect(try unix.scalarText("PRAGMA integrity_check") == "ok")
            let final = try SQLWorkload.snapshot(unix)
            try ours.close()
            try unix.close()

            let ourBytes = try PosixFileSystem().readFile(ourPath)
            let unixBytes = try PosixFileSystem().readFile(unixPath)
            // Same SQL, same pragmas, same page decisions: the files come out byte-identical.
            #expect(ourBytes == unixBytes, "database files differ (\(ourBytes.count) vs \(unixBytes.count) bytes)")
            // Byte level: each file is a valid SQLite database for the other VFS.
            let header = Array("SQLite format 3".utf8) + [0]
            #expect(Array(try PosixFileSystem().readFile(ourPath).prefix(16)) == header)
            let ourFileThroughUnix = try SQLiteConnection(path: ourPath, vfs: nil)
            let unixFileThroughOurs = try SQLiteConnection(path: unixPath, vfs: vfs)
            try unixFileThroughOurs.execute("PRAGMA locking_mode=EXCLUSIVE")
            for connection in [ourFileThroughUnix, unixFileThroughOurs] {
                #expect(try connection.scalarText("PRAGMA integrity_check") == "ok")
                #expect(try SQLWorkload.snapshot(connection) == final)
            }
        }
    }
}
