import CSQLite
import TidemarkIO

/// A failed SQLite call: its result codes, SQLite's message, the SQL involved, and the
/// `FileSystemError` behind it when the failure came from the Tidemark VFS's file system.
public struct SQLiteError: Error, Sendable, CustomStringConvertible {
    /// The primary result code (`SQLITE_FULL`, `SQLITE_IOERR`, `SQLITE_BUSY` ...).
    public var resultCode: Int32
    /// The extended result code (`SQLITE_IOERR_FSYNC` ...); equals `resultCode` when SQLite
    /// has nothing more specific.
    public var extendedCode: Int32
    /// `sqlite3_errmsg` at the time of failure, or a description of what was attempted.
    public var message: String
    /// The statement being prepared or run, when there was one.
    public var sql: String?
    /// What the file system threw inside the VFS during the failed call, if anything. Set only
    /// for I/O-class codes (IOERR, FULL, CANTOPEN, CORRUPT, NOTADB), from the VFS's error count
    /// before and after the call: with several connections using one VFS at the same moment it
    /// may name another connection's error.
    public var fileSystemError: FileSystemError?

    public init(code: Int32, message: String, sql: String? = nil, fileSystemError: FileSystemError? = nil) {
        self.resultCode = code & 0xFF
        self.extendedCode = code
        self.message = message
        self.sql = sql
        self.fileSystemError = fileSystemError
    }

    /// What a failure says about the database, for callers mapping it to their own errors.
    public enum Category: Sendable, Hashable {
        /// `SQLITE_CORRUPT` or `SQLITE_NOTADB`: SQLite found damaged pages or header.
        case damagedDatabase
        /// `SQLITE_IOERR_DATA`: the VFS read bytes the file system reported as corrupted.
        case damagedRead
        /// `SQLITE_FULL`: the file system had no room (a `.noSpace` from the VFS).
        case full
        /// Any other `SQLITE_IOERR`.
        case io
        /// `SQLITE_BUSY`: another connection holds a conflicting lock.
        case busy
        case other
    }

    public var category: Category {
        if resultCode == SQLITE_CORRUPT || resultCode == SQLITE_NOTADB { return .damagedDatabase }
        if extendedCode == TM_SQLITE_IOERR_DATA { return .damagedRead }
        switch resultCode {
        case SQLITE_FULL: return .full
        case SQLITE_IOERR: return .io
        case SQLITE_BUSY: return .busy
        default: return .other
        }
    }

    /// `SQLITE_FULL`: the file system had no room (a `.noSpace` from the VFS).
    public var isFull: Bool { category == .full }
    /// `SQLITE_IOERR` and its extended forms.
    public var isIOError: Bool { resultCode == SQLITE_IOERR }
    /// A damaged database or a damaged read (`.damagedDatabase`, `.damagedRead`).
    public var isCorruption: Bool { category == .damagedDatabase || category == .damagedRead }
    /// `SQLITE_BUSY`: another connection holds a conflicting lock.
    public var isBusy: Bool { category == .busy }

    /// SQLite's English name for the extended code (`sqlite3_errstr`).
    public var codeDescription: String { String(cString: sqlite3_errstr(extendedCode)) }

    public var description: String {
        var text = "SQLite error \(extendedCode) (\(codeDescription)): \(message)"
        if let sql { text += " [sql: \(sql)]" }
        if let fileSystemError { text += " [file system: \(fileSystemError)]" }
        return text
    }
}
