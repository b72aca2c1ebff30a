import CSQLite
import Foundation
import Testing
import TidemarkIO
@testable import TidemarkSQLite

/// A VFS over an `InstrumentedFileSystem` rooted in a fresh temp directory, with the virtual
/// directory `/vroot` created. The database path the VFS sees is `/vroot/app.db`, which does not
/// exist on the real disk: only a call routed through the FileSystem can reach it.
struct InstrumentedSetup {
    let realRoot: String
    let fileSystem: InstrumentedFileSystem
    let clock = ManualClock()
    let vfs: SQLiteVFS
    let databasePath = "/vroot/app.db"

    init(seed: UInt64 = 1, label: String = #function) throws {
        realRoot = try makeTemporaryDirectory(label)
        fileSystem = InstrumentedFileSystem(root: realRoot)
        try fileSystem.createDirectory("/vroot")
        vfs = try SQLiteVFS(fileSystem: fileSystem, clock: clock, random: SeededRandom(seed: seed))
    }

    /// A fresh VFS over the same (healthy) files, as after a restart.
    func reopenedVFS() throws -> SQLiteVFS {
        try SQLiteVFS(fileSystem: fileSystem, clock: clock, random: SeededRandom(seed: 99))
    }

    func tearDown() {
        vfs.unregister()
        removeDirectory(realRoot)
    }
}

struct SQLiteVFSRoutingTests {
    /// Rollback journal: the database and its journal are read, written and synced through the
    /// FileSystem, the directory is synced after the new journal's first sync and before the
    /// database is overwritten, and the journal is removed at commit.
    @Test func rollbackJournalCallsGoThroughTheFileSystem() throws {
        let setup = try InstrumentedSetup()
        defer { setup.tearDown() }
        let connection = try SQLiteConnection(path: setup.databasePath, vfs: setup.vfs)
        try connection.execute("PRAGMA journal_mode=DELETE; CREATE TABLE t(x); INSERT INTO t VALUES (1)")
        setup.fileSystem.clearEvents()
        try connection.execute("UPDATE t SET x = 2")
        let events = setup.fileSystem.events
        let journal = setup.databasePath + "-journal"
        func first(_ kind: FileSystemEvent.Kind, _ path: String, after start: Int = 0) -> Int? {
            events.indices.first { $0 >= start && events[$0] == FileSystemEvent(kind: kind, path: path) }
        }
        let journalOpen = try #require(first(.open, journal), "journal never opened: \(events)")
        let journalWrite = try #require(first(.write, journal, after: journalOpen))
        let journalSync = try #require(first(.sync, journal, after: journalWrite))
        let directorySync = try #require(first(.syncDirectory, "/vroot", after: journalSync), "no directory sync: \(events)")
        let databaseWrite = try #require(first(.write, setup.databasePath, after: journalOpen))
        #expect(directorySync < databaseWrite, "the journal's name must be durable before the database is overwritten")
        #expect(first(.sync, setup.databasePath, after: databaseWrite) != nil)
        #expect(first(.remove, journal, after: databaseWrite) != nil, "DELETE mode removes the journal at commit")
        #expect(try connection.query("SELECT x FROM t") == [[.integer(2)]])
        // Nothing escaped to the real disk under the virtual path.
        #expect(!FileManager.default.fileExists(atPath: "/vroot"))
        #expect(FileManager.default.fileExists(atPath: setup.realRoot + "/vroot/app.db"))
    }

    /// WAL: the -wal file is created, written and synced through the FileSystem, its directory
    /// synced once after its first sync, and the checkpoint at close writes the database.
    @Test func walCallsGoThroughTheFileSystem() throws {
        let setup = try InstrumentedSetup()
        defer { setup.tearDown() }
        let connection = try SQLiteConnection(path: setup.databasePath, vfs: setup.vfs)
        try connection.execute("PRAGMA locking_mode=EXCLUSIVE")
        #expect(try connection.scalarText("PRAGMA journal_mode=WAL") == "wal")
        try connection.execute("CREATE TABLE t(x); INSERT INTO t VALUES (1); INSERT INTO t VALUES (2)")
        let wal = setup.databasePath + "-wal"
        var events = setup.fileSystem.events
        let walOpen = try #require(events.firstIndex(of: FileSystemEvent(kind: .open, path: wal)))
        let walSyncs = events.indices.filter { $0 > walOpen && events[$0] == FileSystemEvent(kind: .sync, path: wal) }
        #expect(walSyncs.count >= 2, "each commit syncs the WAL")
        let directorySyncs = events.indices.filter { $0 > walOpen && events[$0] == FileSystemEvent(kind: .syncDirectory, path: "/vroot") }
        #expect(directorySyncs.count == 1, "the directory is synced once, after the new WAL's first sync")
        if let firstSync = walSyncs.first, let directorySync = directorySyncs.first { #expect(firstSync < directorySync) }

        setup.fileSystem.clearEvents()
        try connection.close()
        events = setup.fileSystem.events
        #expect(events.contains(FileSystemEvent(kind: .write, path: setup.databasePath)), "checkpoint at close")
        #expect(events.contains(FileSystemEvent(kind: .remove, path: wal)))
        let reopened = try SQLiteConnection(path: setup.databasePath, vfs: setup.vfs)
        try reopened.execute("PRAGMA locking_mode=EXCLUSIVE")
        #expect(try reopened.query("SELECT x FROM t ORDER BY x") == [[.integer(1)], [.integer(2)]])
    }

    /// Same seed, same clock, same workload: the same sequence of file-system calls, offsets
    /// and lengths included (temporary file names come from the seed too). This is what lets a
    /// simulator replay a SQLite run from its seed.
    @Test func sameSeedGivesTheSameFileSystemTrace() throws {
        func trace(_ run: Int) throws -> [String] {
            let setup = try InstrumentedSetup(seed: 21, label: "trace\(run)")
            defer { setup.tearDown() }
            let connection = try SQLiteConnection(path: setup.databasePath, vfs: setup.vfs)
            try connection.execute("PRAGMA temp_store=FILE; PRAGMA cache_size=8; PRAGMA journal_mode=PERSIST")
            try connection.execute(SQLWorkload.schema)
            for step in SQLWorkload(seed: 4, transactions: 25).steps {
                if case .statement(let sql, let parameters) = step { try connection.run(sql, parameters) }
            }
            try connection.execute("CREATE TEMP TABLE s AS SELECT * FROM items ORDER BY random()")
            try connection.close()
            return setup.fileSystem.detailedTrace
        }
        let first = try trace(1)
        #expect(first.count > 200)
        #expect(first.contains { $0.contains("tidemark-temp-") })
        #expect(first == (try trace(2)))
    }

    /// `synchronous=EXTRA` makes SQLite delete the journal with xDelete's syncDir flag; the VFS
    /// then syncs the directory so the removal is durable. With FULL it does not.
    @Test(arguments: [("EXTRA", true), ("FULL", false)])
    func deleteHonoursTheSyncDirectoryFlag(synchronous: String, expectsDirectorySync: Bool) throws {
        let setup = try InstrumentedSetup(label: "syncdir\(synchronous)")
        defer { setup.tearDown() }
        let connection = try SQLiteConnection(path: setup.databasePath, vfs: setup.vfs)
        try connection.execute("PRAGMA journal_mode=DELETE; PRAGMA synchronous=\(synchronous); CREATE TABLE t(x)")
        setup.fileSystem.clearEvents()
        try connection.execute("INSERT INTO t VALUES (1)")
        let events = setup.fileSystem.events
        let removal = try #require(events.firstIndex(of: FileSystemEvent(kind: .remove, path: setup.databasePath + "-journal")))
        let directorySyncAfterRemoval = events[(removal + 1)...].contains(FileSystemEvent(kind: .syncDirectory, path: "/vroot"))
        #expect(directorySyncAfterRemoval == expectsDirectorySync, "\(events)")
    }

    /// The io methods one by one, called the way SQLite calls them: each is exactly one
    /// FileSystem call (DATAONLY sync is `syncData`), a new journal's first sync also syncs its
    /// directory (once), sector size and device characteristics are the configured ones, and a
    /// DELETEONCLOSE file is removed at close.
    @Test func ioMethodsMapOneToOne() throws {
        let realRoot = try makeTemporaryDirectory()
        defer { removeDirectory(realRoot) }
        let fileSystem = InstrumentedFileSystem(root: realRoot)
        try fileSystem.createDirectory("/d")
        fileSystem.clearEvents()
        let configuration = SQLiteVFS.Configuration(sectorSize: 512, deviceCharacteristics: [.atomic4K, .safeAppend, .sequential])
        let vfs = try SQLiteVFS(fileSystem: fileSystem, clock: ManualClock(), random: SeededRandom(seed: 1), configuration: configuration)
        defer { vfs.unregister() }
        let file = UnsafeMutableRawPointer.allocate(byteCount: Int(vfs.vfsPointer.pointee.szOsFile), alignment: 16)
        defer { file.deallocate() }
        let sqliteFile = file.assumingMemoryBound(to: sqlite3_file.self)
        let path = "/d/x-journal"
        var outFlags: Int32 = 0
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_MAIN_JOURNAL | SQLITE_OPEN_DELETEONCLOSE
        #expect(vfs.vfsPointer.pointee.xOpen(vfs.vfsPointer, path, sqliteFile, flags, &outFlags) == SQLITE_OK)
        #expect(outFlags == flags)
        let methods = try #require(sqliteFile.pointee.pMethods).pointee
        var bytes: [UInt8] = Array(repeating: 7, count: 100)
        #expect(methods.xWrite(sqliteFile, &bytes, 100, 50) == SQLITE_OK)
        #expect(methods.xSync(sqliteFile, SQLITE_SYNC_NORMAL | SQLITE_SYNC_DATAONLY) == SQLITE_OK)
        #expect(methods.xSync(sqliteFile, SQLITE_SYNC_FULL) == SQLITE_OK)
        var size: sqlite3_int64 = 0
        #expect(methods.xFileSize(sqliteFile, &size) == SQLITE_OK && size == 150)
        #expect(methods.xTruncate(sqliteFile, 10) == SQLITE_OK)
        #expect(methods.xSectorSize(sqliteFile) == 512)
        #expect(methods.xDeviceCharacteristics(sqliteFile) == SQLITE_IOCAP_ATOMIC4K | SQLITE_IOCAP_SAFE_APPEND | SQLITE_IOCAP_SEQUENTIAL)
        #expect(methods.xClose(sqliteFile) == SQLITE_OK)
        let expected: [FileSystemEvent] = [
            .init(kind: .open, path: path), .init(kind: .write, path: path),
            .init(kind: .syncData, path: path), .init(kind: .syncDirectory, path: "/d"),
            .init(kind: .sync, path: path), .init(kind: .size, path: path), .init(kind: .truncate, path: path),
            .init(kind: .close, path: path), .init(kind: .remove, path: path),
        ]
        #expect(fileSystem.events == expected)
        #expect(!fileSystem.exists(path))
    }

    /// Temporary files (NULL names) live in the FileSystem under names from the RandomSource,
    /// next to the main database, and are removed when closed.
    @Test func temporaryFilesLiveInTheFileSystem() throws {
        let seed: UInt64 = 77
        let setup = try InstrumentedSetup(seed: seed)
        defer { setup.tearDown() }
        let connection = try SQLiteConnection(path: setup.databasePath, vfs: setup.vfs)
        try connection.execute("""
            PRAGMA temp_store=FILE; PRAGMA temp.cache_size=2;
            CREATE TEMP TABLE scratch(x);
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
            INSERT INTO scratch SELECT zeroblob(200) || i FROM n;
            """)
        let temporaryOpens = setup.fileSystem.events.filter { $0.kind == .open && $0.path.contains("tidemark-temp-") }
        let opened = try #require(temporaryOpens.first, "no temporary file was opened through the FileSystem")
        #expect(opened.path.hasPrefix("/vroot/tidemark-temp-"))
        #expect(try setup.fileSystem.listDirectory("/vroot").contains(FilePaths.name(of: opened.path)))
        // The first name drawn is the first 64-bit word of the seeded stream, in hex.
        let firstWord = String(SeededRandom(seed: seed).next(), radix: 16)
        #expect(opened.path == "/vroot/tidemark-temp-" + String(repeating: "0", count: 16 - firstWord.count) + firstWord)
        try connection.close()
        #expect(setup.fileSystem.events.contains(FileSystemEvent(kind: .remove, path: opened.path)))
        #expect(try setup.fileSystem.listDirectory("/vroot") == ["app.db"])
    }
}

struct SQLiteVFSInjectedSourcesTests {
    /// `random()` and `randomblob()` follow the VFS's RandomSource: equal seeds, equal values;
    /// the values are exactly the seeded stream's words.
    @Test func randomFollowsTheSeededSource() throws {
        func draw(seed: UInt64) throws -> [[SQLiteValue]] {
            try withPosixVFS(seed: seed, "random\(seed)") { directory, vfs in
                let connection = try SQLiteConnection(path: directory + "/r.db", vfs: vfs)
                return try connection.query("SELECT random(), random(), randomblob(12)")
            }
        }
        let first = try draw(seed: 5)
        #expect(first == (try draw(seed: 5)))
        #expect(first != (try draw(seed: 6)))
        let expected = SeededRandom(seed: 5)
        let a = Int64(bitPattern: expected.next())
        let b = Int64(bitPattern: expected.next())
        #expect(first == [[.integer(a), .integer(b), .blob(expected.bytes(12))]])
    }

    /// xRandomness hands out the RandomSource's bytes.
    @Test func xRandomnessUsesTheRandomSource() throws {
        try withPosixVFS(seed: 3) { _, vfs in
            var buffer = [CChar](repeating: 0, count: 20)
            let count = vfs.vfsPointer.pointee.xRandomness(vfs.vfsPointer, 20, &buffer)
            #expect(count == 20)
            #expect(buffer.map { UInt8(bitPattern: $0) } == SeededRandom(seed: 3).bytes(20))
        }
    }

    /// `'now'` is the injected clock's wall time, and moves only when the clock does.
    @Test func nowFollowsTheManualClock() throws {
        let directory = try makeTemporaryDirectory()
        defer { removeDirectory(directory) }
        let clock = ManualClock()  // 2024-01-01T00:00:00Z = Julian day 2460310.5
        let vfs = try SQLiteVFS(fileSystem: PosixFileSystem(), clock: clock, random: SeededRandom(seed: 1))
        defer { vfs.unregister() }
        let connection = try SQLiteConnection(path: directory + "/t.db", vfs: vfs)
        #expect(try connection.query("SELECT julianday('now'), strftime('%s', 'now')") == [[.real(2_460_310.5), .text("1704067200")]])
        clock.advance(seconds: 1.5 * 86_400)
        #expect(try connection.query("SELECT julianday('now')") == [[.real(2_460_312.0)]])
        #expect(try connection.query("SELECT datetime('now')") == [[.text("2024-01-02 12:00:00")]])
    }

    /// A busy wait sleeps through the injected clock (xSleep), so a lock conflict with a
    /// busy_timeout finishes at once under a ManualClock, having "slept" the timeout.
    @Test func busyWaitSleepsOnTheInjectedClock() throws {
        let setup = try InstrumentedSetup()
        defer { setup.tearDown() }
        let writer = try SQLiteConnection(path: setup.databasePath, vfs: setup.vfs)
        try writer.execute("CREATE TABLE t(x); INSERT INTO t VALUES (1)")
        let reader = try SQLiteConnection(path: setup.databasePath, vfs: setup.vfs)
        try reader.execute("PRAGMA busy_timeout=2000")
        try writer.execute("BEGIN EXCLUSIVE; INSERT INTO t VALUES (2)")
        let before = setup.clock.monotonicNanoseconds()
        let error = #expect(throws: SQLiteError.self) { try reader.query("SELECT count(*) FROM t") }
        #expect(error?.isBusy == true)
        let slept = setup.clock.monotonicNanoseconds() - before
        #expect(slept >= 1_000_000_000 && slept <= 2_000_000_000, "slept \(slept) ns")
        try writer.execute("COMMIT")
        #expect(try reader.query("SELECT count(*) FROM t") == [[.integer(2)]])
    }
}

struct SQLiteVFSLockTests {
    /// Two connections through one VFS exclude each other the way SQLite's locks promise:
    /// RESERVED lets readers in but not a second writer; EXCLUSIVE keeps readers out; all
    /// locks drop at commit.
    @Test func connectionsThroughOneVFSExcludeEachOther() throws {
        let setup = try InstrumentedSetup()
        defer { setup.tearDown() }
        let first = try SQLiteConnection(path: setup.databasePath, vfs: setup.vfs)
        let second = try SQLiteConnection(path: setup.databasePath, vfs: setup.vfs)
        try first.execute("CREATE TABLE t(x)")
        try first.execute("BEGIN IMMEDIATE; INSERT INTO t VALUES (1)")  // RESERVED
        #expect(try second.query("SELECT count(*) FROM t") == [[.integer(0)]])
        let secondWriter = #expect(throws: SQLiteError.self) { try second.execute("BEGIN IMMEDIATE") }
        #expect(secondWriter?.isBusy == true)
        #expect(try lockState(first) == SQLITE_LOCK_RESERVED)
        try first.execute("COMMIT")
        #expect(try lockState(first) == SQLITE_LOCK_NONE)
        try second.execute("BEGIN EXCLUSIVE")
        let reader = #expect(throws: SQLiteError.self) { try first.query("SELECT count(*) FROM t") }
        #expect(reader?.isBusy == true)
        try second.execute("COMMIT")
        #expect(try first.query("SELECT count(*) FROM t") == [[.integer(1)]])
    }

    private func lockState(_ connection: SQLiteConnection) throws -> Int32 {
        var level: Int32 = -1
        #expect(try connection.fileControl(SQLITE_FCNTL_LOCKSTATE, &level) == SQLITE_OK)
        return level
    }
}

struct SQLiteVFSErrorTests {
    /// A full disk surfaces as SQLITE_FULL with the `.noSpace` attached, whether the journal
    /// or the database write fails, and the database is intact (integrity_check ok, the
    /// committed rows and nothing else) after reopening on a healthy file system.
    @Test(arguments: ["-journal", "app.db", nil] as [String?])
    func noSpaceIsSQLiteFullAndTheDatabaseSurvives(failingSuffix: String?) throws {
        let setup = try InstrumentedSetup(label: "nospace\(failingSuffix ?? "all")")
        defer { setup.tearDown() }
        let connection = try SQLiteConnection(path: setup.databasePath, vfs: setup.vfs)
        try connection.execute("PRAGMA cache_size=5; CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB)")
        try connection.transaction {
            for id in 0..<40 { try connection.run("INSERT INTO t VALUES (?, randomblob(900))", [.integer(Int64(id))]) }
        }
        let committed = try connection.query("SELECT id, body FROM t ORDER BY id")

        setup.fileSystem.faults.withLock { $0 = .init(failWrites: .noSpace, pathFilter: failingSuffix) }
        let error = #expect(throws: SQLiteError.self) {
            try connection.transaction {
                try connection.run("UPDATE t SET body = randomblob(1000)")
                for id in 40..<200 { try connection.run("INSERT INTO t VALUES (?, randomblob(900))", [.integer(Int64(id))]) }
            }
        }
        #expect(error?.resultCode == SQLITE_FULL, "\(String(describing: error))")
        #expect(error?.fileSystemError?.code == .noSpace)
        try? connection.close()

        setup.fileSystem.faults.withLock { $0 = .init() }
        let healthy = try setup.reopenedVFS()
        defer { healthy.unregister() }
        let reopened = try SQLiteConnection(path: setup.databasePath, vfs: healthy)
        #expect(try reopened.scalarText("PRAGMA integrity_check") == "ok")
        #expect(try reopened.query("SELECT id, body FROM t ORDER BY id") == committed)
    }

    /// An `.io` from fsync is SQLITE_IOERR_FSYNC with the FileSystemError attached; a failed
    /// directory sync is SQLITE_IOERR_DIR_FSYNC. Either way the transaction does not commit.
    /// ENOSPC from fsync (delayed allocation) is the same I/O error, never SQLITE_FULL: the
    /// pages may be gone, as SQLite's unix VFS assumes for any failed fsync.
    @Test(arguments: [
        ("-journal", FileSystemError.Code.io, TM_SQLITE_IOERR_FSYNC),
        ("vroot", .io, TM_SQLITE_IOERR_DIR_FSYNC),
        ("-journal", .noSpace, TM_SQLITE_IOERR_FSYNC),
    ])
    func syncFailureIsAnIOErrorWithTheCause(failingSuffix: String, code: FileSystemError.Code, expectedCode: Int32) throws {
        let setup = try InstrumentedSetup(label: "syncfail\(expectedCode)\(code)")
        defer { setup.tearDown() }
        let connection = try SQLiteConnection(path: setup.databasePath, vfs: setup.vfs)
        try connection.execute("CREATE TABLE t(x); INSERT INTO t VALUES (1)")
        setup.fileSystem.faults.withLock { $0 = .init(failSyncs: code, pathFilter: failingSuffix) }
        let error = #expect(throws: SQLiteError.self) {
            try connection.transaction { try connection.run("INSERT INTO t VALUES (2)") }
        }
        #expect(error?.isIOError == true)
        #expect(error?.extendedCode == expectedCode, "\(String(describing: error))")
        #expect(error?.fileSystemError?.code == code)
        #expect(error?.fileSystemError?.path?.hasSuffix(failingSuffix) == true)
        #expect(setup.vfs.lastError?.code == code)
        setup.fileSystem.faults.withLock { $0 = .init() }
        #expect(try connection.query("SELECT x FROM t") == [[.integer(1)]])
    }

    /// Opcodes the VFS does not implement answer SQLITE_NOTFOUND; the ones it does work.
    @Test func fileControl() throws {
        try withPosixVFS { directory, vfs in
            let connection = try SQLiteConnection(path: directory + "/f.db", vfs: vfs)
            try connection.execute("CREATE TABLE t(x)")
            #expect(try connection.fileControl(9_999, nil) == SQLITE_NOTFOUND)
            var name: UnsafeMutablePointer<CChar>?
            #expect(try connection.fileControl(SQLITE_FCNTL_VFSNAME, &name) == SQLITE_OK)
            #expect(name.map { String(cString: $0) } == vfs.name)
            sqlite3_free(name)
            var moved: Int32 = -1
            #expect(try connection.fileControl(SQLITE_FCNTL_HAS_MOVED, &moved) == SQLITE_OK)
            #expect(moved == 0)
        }
    }

    /// xDelete of a missing file is SQLITE_IOERR_DELETE_NOENT, recorded as `.notFound`, and
    /// xGetLastError describes it.
    @Test func deleteOfMissingFileIsNoEnt() throws {
        try withPosixVFS { directory, vfs in
            let rc = vfs.vfsPointer.pointee.xDelete(vfs.vfsPointer, directory + "/missing", 0)
            #expect(rc == TM_SQLITE_IOERR_DELETE_NOENT)
            #expect(vfs.lastError?.code == .notFound)
            var message = [CChar](repeating: 0, count: 200)
            _ = vfs.vfsPointer.pointee.xGetLastError(vfs.vfsPointer, 200, &message)
            let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            #expect(text.contains("missing") && text.contains("notFound"), "\(text)")
        }
    }

    /// A read past the end returns SQLITE_IOERR_SHORT_READ with the missing tail zeroed.
    @Test func shortReadIsZeroFilled() throws {
        try withPosixVFS { directory, vfs in
            let path = directory + "/short.bin"
            try PosixFileSystem().writeFileAtomically(path, Array(1...10))
            let file = UnsafeMutableRawPointer.allocate(byteCount: Int(vfs.vfsPointer.pointee.szOsFile), alignment: 16)
            defer { file.deallocate() }
            let sqliteFile = file.assumingMemoryBound(to: sqlite3_file.self)
            var outFlags: Int32 = 0
            let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_MAIN_DB
            #expect(vfs.vfsPointer.pointee.xOpen(vfs.vfsPointer, path, sqliteFile, flags, &outFlags) == SQLITE_OK)
            let methods = try #require(sqliteFile.pointee.pMethods)
            var buffer = [UInt8](repeating: 0xAA, count: 16)
            #expect(methods.pointee.xRead(sqliteFile, &buffer, 16, 4) == TM_SQLITE_IOERR_SHORT_READ)
            #expect(buffer == Array(5...10) + [UInt8](repeating: 0, count: 10))
            #expect(methods.pointee.xClose(sqliteFile) == SQLITE_OK)
        }
    }

    /// Opening a directory as a database is SQLITE_CANTOPEN with the cause attached.
    @Test func openFailureCarriesTheCause() throws {
        try withPosixVFS { directory, vfs in
            let error = #expect(throws: SQLiteError.self) { try SQLiteConnection(path: directory + "/nope/x.db", vfs: vfs) }
            #expect(error?.resultCode == SQLITE_CANTOPEN)
            #expect(error?.fileSystemError?.code == .notFound)
        }
    }
}

struct SQLiteVFSRegistrationTests {
    /// Each VFS has its own name, is findable while registered, keeps itself (and so its file
    /// system) alive until unregistered, and is released afterwards once no connection uses it.
    @Test func registrationKeepsTheVFSAliveUntilUnregistered() throws {
        let directory = try makeTemporaryDirectory()
        defer { removeDirectory(directory) }
        weak var weakVFS: SQLiteVFS?
        var connection: SQLiteConnection?
        var name = ""
        do {
            let vfs = try SQLiteVFS(fileSystem: PosixFileSystem(), clock: ManualClock(), random: SeededRandom(seed: 1))
            let other = try SQLiteVFS(fileSystem: PosixFileSystem(), clock: ManualClock(), random: SeededRandom(seed: 1))
            defer { other.unregister() }
            #expect(vfs.name != other.name)
            name = vfs.name
            weakVFS = vfs
            #expect(sqlite3_vfs_find(name) != nil)
        }
        #expect(weakVFS != nil, "registered: SQLite's reference keeps it alive")
        connection = try SQLiteConnection(path: directory + "/a.db", vfs: weakVFS)
        try connection?.execute("CREATE TABLE t(x); INSERT INTO t VALUES (1)")
        weakVFS?.unregister()
        #expect(sqlite3_vfs_find(name) == nil)
        #expect(throws: SQLiteError.self) { try SQLiteConnection(path: directory + "/b.db", vfs: weakVFS) }
        #expect(weakVFS != nil, "an open connection keeps it alive")
        #expect(try connection?.query("SELECT x FROM t") == [[.integer(1)]])
        connection = nil
        #expect(weakVFS == nil, "released once unregistered and unused")
    }
}

struct SQLiteVFSFenceTests {
    /// After `fence()` no call reaches the FileSystem: the pending commit fails with the
    /// `.closed` cause, dropping the connection writes nothing (no rollback, no checkpoint, no
    /// WAL removal), and a new VFS recovers the committed state from the files as left.
    @Test(arguments: ["WAL", "DELETE"])
    func fencedVFSLeavesTheFilesAsACrashWould(journalMode: String) throws {
        let setup = try InstrumentedSetup(label: "fence\(journalMode)")
        defer { setup.tearDown() }
        var connection: SQLiteConnection? = try SQLiteConnection(path: setup.databasePath, vfs: setup.vfs)
        try connection?.execute("PRAGMA locking_mode=EXCLUSIVE; PRAGMA cache_size=5")
        #expect(try connection?.scalarText("PRAGMA journal_mode=\(journalMode)") == journalMode.lowercased())
        try connection?.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB)")
        try connection?.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60) INSERT INTO t SELECT i, zeroblob(500) FROM n")
        let committed = try connection?.query("SELECT id, length(body) FROM t ORDER BY id")
        try connection?.execute("BEGIN; UPDATE t SET body = zeroblob(700) WHERE id > 10")

        setup.vfs.fence()
        setup.fileSystem.clearEvents()
        let error = #expect(throws: SQLiteError.self) { try connection?.execute("COMMIT") }
        #expect(error?.isIOError == true)
        #expect(error?.fileSystemError?.code == .closed)
        try? connection?.close()
        connection = nil
        #expect(setup.fileSystem.events.isEmpty, "fenced VFS touched the file system: \(setup.fileSystem.events)")
        let leftover = "app.db-" + (journalMode == "WAL" ? "wal" : "journal")
        #expect(try setup.fileSystem.listDirectory("/vroot").contains(leftover), "recovery must have work to do")

        let recovered = try setup.reopenedVFS()
        defer { recovered.unregister() }
        let reopened = try SQLiteConnection(path: setup.databasePath, vfs: recovered)
        try reopened.execute("PRAGMA locking_mode=EXCLUSIVE")
        #expect(try reopened.scalarText("PRAGMA integrity_check") == "ok")
        #expect(try reopened.query("SELECT id, length(body) FROM t ORDER BY id") == committed)
    }
}
