import Foundation
import Testing
import TidemarkIO
import TidemarkSQLite

@testable import Tidemark

/// The cold tier's page checksums (`SQLitePageChecksum`, sealed and verified by the VFS): bit
/// rot and a page written to another page's offset are named by page and offset, at every read
/// and by `verify`; salvage copies only rows on pages that verify; a cold tier created before
/// them (no reserved bytes) keeps working, unchecked.
struct ColdPageChecksumTests {
    static let pageSize = 16384

    func options() -> StoreOptions {
        var options = StoreOptions(syncMode: .immediate)
        options.tiers = TierOptions()
        return options
    }

    /// 300 records flushed to the cold tier (several pages), closed cleanly. `records` is the
    /// first table created, so its root is page 2: every read of a record passes through it.
    func coldStore(_ directory: TemporaryDirectory) throws {
        let store = try openStore(directory, options: options())
        for index in 0..<300 {
            try store.put(record("r\(index)", [Float(index), 1, 0], content: String(repeating: "x", count: 300)))
        }
        try store.checkpoint()
        try store.close()
    }

    func coldPath(_ directory: TemporaryDirectory) -> String { directory.file(ColdTier.fileName) }

    func pageCount(_ directory: TemporaryDirectory) throws -> Int {
        Int(try PosixFileSystem().status(coldPath(directory)).size / Int64(Self.pageSize))
    }

    @Test func aFlippedByteInAColdPageIsNamedByPage() throws {
        let directory = TemporaryDirectory()
        try coldStore(directory)
        try flipBit(coldPath(directory), at: Int64(Self.pageSize) + 900)

        let verified = try Store.verify(at: directory.path, fileSystem: PosixFileSystem(), options: options())
        let problem = try #require(verified.problems.first { $0.file == ColdTier.fileName }, "\(verified)")
        #expect(problem.offset == Int64(Self.pageSize))
        #expect(problem.message.contains("page 2 at offset 16384") && problem.message.contains("1 of "), "\(problem.message)")

        let store = try openStore(directory, seed: 2, options: options())
        let error = try #require(throws: StoreError.self) { try store.get("r7") }
        #expect(error.code == .corruption)
        #expect(error.message.contains("page 2 at offset 16384") && error.offset == Int64(Self.pageSize), "\(error)")
    }

    @Test func aPageCopiedToAnotherPagesOffsetIsNamedWhereItLands() throws {
        let directory = TemporaryDirectory()
        try coldStore(directory)
        let pages = try pageCount(directory)
        try #require(pages >= 6, "\(pages) pages")
        let file = try PosixFileSystem().open(coldPath(directory), options: .readWrite)
        try file.write(try file.read(at: Int64(Self.pageSize * 4), count: Self.pageSize), at: Int64(Self.pageSize))
        try file.close()

        let verified = try Store.verify(at: directory.path, fileSystem: PosixFileSystem(), options: options())
        let problem = try #require(verified.problems.first { $0.file == ColdTier.fileName }, "\(verified)")
        #expect(problem.message.contains("page 2 at offset 16384") && problem.message.contains("it holds page 5"), "\(problem.message)")

        let store = try openStore(directory, seed: 2, options: options())
        let error = try #require(throws: StoreError.self) { try store.get("r7") }
        #expect(error.code == .corruption && error.message.contains("it holds page 5"), "\(error)")
    }

    /// The leaf page of `records` holding `id` (its bytes and the content marker both on it).
    func recordsLeaf(holding id: String, marker: String, in bytes: [UInt8]) throws -> Int {
        let (needle, content) = (Array("\u{0}\(id)".utf8).suffix(id.utf8.count), Array(marker.utf8))
        func contains(_ page: ArraySlice<UInt8>, _ what: ArraySlice<UInt8>) -> Bool {
            page.indices.dropLast(what.count).contains { page[$0..<($0 + what.count)].elementsEqual(what) }
        }
        let pages = (1..<(bytes.count / Self.pageSize)).filter { page in
            let slice = bytes[(page * Self.pageSize)..<((page + 1) * Self.pageSize)]
            return contains(slice, needle[...]) && contains(slice, content[...])
        }
        return try #require(pages.last, "no records leaf holds \(id)")
    }

    /// A misdirected write of an older version of one `records` leaf lands on the leaf of the
    /// lowest ids: without page checksums salvage's walk meets those stale rows first, and their
    /// row checksums hold, so it copies them as good. With them, the landing page fails: its
    /// own rows are listed lost, and every record salvage keeps is the current version.
    @Test func salvageServesNoStaleRowFromAMisdirectedPage() throws {
        let directory = TemporaryDirectory()
        try coldStore(directory)
        let old = try PosixFileSystem().readFile(coldPath(directory))
        let store = try openStore(directory, seed: 2, options: options())
        for index in 0..<300 {
            try store.put(record("r\(index)", [Float(index), 1, 0], content: String(repeating: "y", count: 300)))
        }
        try store.checkpoint()
        try store.close()
        let highest = try recordsLeaf(holding: "r99", marker: "xxxxxxxx", in: old)
        let lowest = try recordsLeaf(holding: "r0", marker: "yyyyyyyy", in: try PosixFileSystem().readFile(coldPath(directory)))
        try #require(highest != lowest)
        let file = try PosixFileSystem().open(coldPath(directory), options: .readWrite)
        try file.write(Array(old[(highest * Self.pageSize)..<((highest + 1) * Self.pageSize)]), at: Int64(lowest * Self.pageSize))
        try file.close()

        var salvageOptions = options()
        salvageOptions.salvage = true
        let salvaged = try openStore(directory, seed: 3, options: salvageOptions)
        #expect(!salvaged.recovery.coldRecordsLost.isEmpty, "the landing page's own rows are lost")
        for kept in try salvaged.allRecords() {
            #expect(kept.content.hasPrefix("y"), "\(kept.id): a stale row served as good (\(kept.content.prefix(8))…)")
        }
    }

    /// A cold tier from before page checksums (no reserved bytes): opens, reads, takes writes,
    /// and `verify` checks it clean without reading its pages; it stays unchecked.
    @Test func aColdTierWithoutReservedBytesStillOpensUnchecked() throws {
        let directory = TemporaryDirectory()
        try PosixFileSystem().createDirectories(directory.path)
        let old = try ColdTier(
            directory: directory.path, fileSystem: PosixFileSystem(), clock: ManualClock(), random: SeededRandom(seed: 1), pageChecksums: false)
        old.close(clean: true)
        let header = try PosixFileSystem().readFile(coldPath(directory))
        #expect(header[20] == 0, "the old format reserves no bytes")

        let store = try openStore(directory, options: options())
        for index in 0..<50 { try store.put(record("r\(index)")) }
        try store.checkpoint()
        try store.close()
        let reopened = try openStore(directory, seed: 2, options: options())
        #expect(try reopened.allRecords().count == 50)
        #expect(try reopened.get("r3") == record("r3"))
        try reopened.close()
        let verified = try Store.verify(at: directory.path, fileSystem: PosixFileSystem(), options: options())
        #expect(verified.isClean, "\(verified.problems)")
        #expect(verified.coldPagesChecked == 0)
        #expect(try PosixFileSystem().readFile(coldPath(directory))[20] == 0)
    }
}
