import CSQLite
import TidemarkIO

/// Page checksums for SQLite database files, kept in each page's last 8 reserved bytes (as
/// SQLite's `ext/misc/cksumvfs.c` does) and keyed on the page number: CRC32C of the page's
/// content (all but those 8 bytes) continued over the page number (u32 LE), then the page
/// number itself (u32 LE). A flipped bit fails the CRC; a whole page written to another page's
/// offset (a misdirected write) fails it too where it lands, and the stored page number then says
/// which page it is. The stale original such a write leaves behind still verifies: a checksum
/// cannot tell an old version of a page from the current one.
///
/// Only a database whose header (offset 20) reserves exactly 8 bytes per page is checksummed,
/// so a file created without them keeps working unchecked. The VFS (`SQLiteVFS.Configuration
/// .pageChecksums`) seals every full-page write and verifies every full-page read of a main
/// database file; WAL frames are left to SQLite's own frame checksums (see the README).
public enum SQLitePageChecksum {
    /// Bytes each page reserves for the checksum (`SQLITE_FCNTL_RESERVE_BYTES` at creation).
    public static let reservedBytes = 8
    /// What a database file starts with.
    static let headerMagic: [UInt8] = Array("SQLite format 3\u{0}".utf8)

    /// Whether a read or write of `amount` bytes at `offset` is one whole page (SQLite moves
    /// main-database pages whole, at multiples of the page size: 512 to 65536, a power of two).
    static func isFullPage(amount: Int, offset: Int64) -> Bool {
        amount >= 512 && amount <= 65536 && amount & (amount - 1) == 0 && offset % Int64(amount) == 0
    }

    /// The page number (1-based) of a full page at `offset`.
    static func pageNumber(amount: Int, offset: Int64) -> UInt32 { UInt32(truncatingIfNeeded: offset / Int64(amount) + 1) }

    /// For bytes read or written at offset 0: whether the database header there reserves the
    /// checksum's 8 bytes; nil when they are not (yet) a database header.
    static func headerReservesChecksum(_ bytes: UnsafeRawBufferPointer) -> Bool? {
        guard bytes.count >= 100, bytes.prefix(16).elementsEqual(headerMagic) else { return nil }
        return Int(bytes[20]) == reservedBytes
    }

    static func checksum(_ page: UnsafeRawBufferPointer, pageNumber: UInt32) -> UInt32 {
        let content = UnsafeRawBufferPointer(rebasing: page[..<(page.count - reservedBytes)])
        return withUnsafeBytes(of: pageNumber.littleEndian) { CRC32C.checksum($0, continuing: CRC32C.checksum(content)) }
    }

    /// Writes the checksum of `page` as page `pageNumber` into its last 8 bytes.
    static func seal(_ page: UnsafeMutableRawBufferPointer, pageNumber: UInt32) {
        let sum = checksum(UnsafeRawBufferPointer(page), pageNumber: pageNumber)
        let end = page.count
        page.storeBytes(of: sum.littleEndian, toByteOffset: end - 8, as: UInt32.self)
        page.storeBytes(of: pageNumber.littleEndian, toByteOffset: end - 4, as: UInt32.self)
    }

    /// Nil when `page` verifies as page `pageNumber`; otherwise the page number whose valid
    /// checksum it carries instead (a misdirected write), or 0 when it carries none (damage).
    static func failure(_ page: UnsafeRawBufferPointer, pageNumber: UInt32) -> UInt32? {
        let end = page.count
        let stored = UInt32(littleEndian: page.loadUnaligned(fromByteOffset: end - 8, as: UInt32.self))
        if stored == checksum(page, pageNumber: pageNumber) { return nil }
        let claimed = UInt32(littleEndian: page.loadUnaligned(fromByteOffset: end - 4, as: UInt32.self))
        return claimed != pageNumber && claimed != 0 && stored == checksum(page, pageNumber: claimed) ? claimed : 0
    }

    /// Every page of the database file at `path`, read through `fileSystem` and checked (for
    /// `verify`: SQLite reads only the pages a query needs). A file whose header does not
    /// reserve the checksum is reported unchecked; a short last page is ignored (SQLite never
    /// reads past its page count either).
    public static func scan(path: String, fileSystem: any FileSystem) throws -> Scan {
        let file = try fileSystem.open(path, options: .read)
        defer { try? file.close() }
        let size = try file.size()
        var buffer: [UInt8] = []
        try file.read(at: 0, count: 100, into: &buffer)
        guard let checked = buffer.withUnsafeBytes(headerReservesChecksum), checked else { return Scan(checksummed: false) }
        let field = Int(buffer[16]) << 8 | Int(buffer[17])
        let pageSize = field == 1 ? 65536 : field  // 1 means 65536
        guard isFullPage(amount: pageSize, offset: 0) else { return Scan(checksummed: true) }  // SQLite refuses it too
        var scan = Scan(checksummed: true)
        for page in 0..<(size / Int64(pageSize)) {
            let offset = page * Int64(pageSize)
            try file.read(at: offset, count: pageSize, into: &buffer)
            let number = UInt32(truncatingIfNeeded: page + 1)
            if let holds = buffer.withUnsafeBytes({ failure($0, pageNumber: number) }) {
                scan.mismatches.append(Mismatch(path: path, pageNumber: Int(number), offset: offset, holdsPage: holds == 0 ? nil : Int(holds)))
            }
            scan.pagesChecked += 1
        }
        return scan
    }

    /// What `scan` found.
    public struct Scan: Sendable, Hashable {
        /// The header reserves the checksum; false: an unchecked (older) file, no page read.
        public var checksummed: Bool
        public var pagesChecked = 0
        public var mismatches: [Mismatch] = []
    }

    /// A page that fails its checksum: the file, the page number and its offset, and when its
    /// bytes are a valid page of another number, that number (a write meant for another place).
    public struct Mismatch: Error, Sendable, Hashable, CustomStringConvertible {
        public var path: String
        public var pageNumber: Int
        public var offset: Int64
        public var holdsPage: Int?

        public var description: String {
            let what = holdsPage.map { "it holds page \($0), written to the wrong place (a misdirected write)" }
                ?? "its content does not match (bit rot, a torn or misdirected write)"
            return "page \(pageNumber) at offset \(offset) of \(path) fails its checksum: \(what)"
        }
    }
}

extension SQLiteConnection {
    /// Asks SQLite to reserve `SQLitePageChecksum.reservedBytes` per page
    /// (`SQLITE_FCNTL_RESERVE_BYTES`): it takes effect in a database not yet written; an
    /// existing file keeps the reserve its header says. Returns whether SQLite accepted it.
    public func reservePageChecksumBytes() throws -> Bool {
        var reserve = Int32(SQLitePageChecksum.reservedBytes)
        return try fileControl(SQLITE_FCNTL_RESERVE_BYTES, &reserve) == SQLITE_OK
    }
}
