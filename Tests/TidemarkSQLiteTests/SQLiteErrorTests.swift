import CSQLite
import Testing
import TidemarkSQLite

@Suite struct SQLiteErrorTests {
    @Test func resultCodesFallIntoTheirCategories() {
        #expect(SQLiteError(code: SQLITE_CORRUPT, message: "").category == .damagedDatabase)
        #expect(SQLiteError(code: SQLITE_NOTADB, message: "").category == .damagedDatabase)
        #expect(SQLiteError(code: TM_SQLITE_IOERR_DATA, message: "").category == .damagedRead)
        #expect(SQLiteError(code: SQLITE_FULL, message: "").category == .full)
        #expect(SQLiteError(code: SQLITE_IOERR, message: "").category == .io)
        #expect(SQLiteError(code: SQLITE_BUSY, message: "").category == .busy)
        #expect(SQLiteError(code: SQLITE_CONSTRAINT, message: "").category == .other)
        // Extended codes classify by their primary code.
        #expect(SQLiteError(code: SQLITE_CORRUPT | (1 << 8), message: "").category == .damagedDatabase)
    }

    @Test func corruptionCoversDamagedDatabasesAndDamagedReads() {
        #expect(SQLiteError(code: SQLITE_NOTADB, message: "").isCorruption)
        #expect(SQLiteError(code: TM_SQLITE_IOERR_DATA, message: "").isCorruption)
        #expect(!SQLiteError(code: SQLITE_IOERR, message: "").isCorruption)
        #expect(SQLiteError(code: TM_SQLITE_IOERR_DATA, message: "").isIOError)
    }
}
