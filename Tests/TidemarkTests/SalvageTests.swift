import Foundation
import Testing
import TidemarkIO
import TidemarkSQLite

@testable import Tidemark

/// `recover --salvage` keeps what it does not understand (quarantine), rebuilds a lost manifest,
/// keeps a damaged checkpoint's other records; and losses of synced data are reported, never
/// silent. One test per damage kind, each checking that every record intact somewhere survives.
@Suite struct SalvageTests {
    let fs = PosixFileSystem()

    func salvage(_ directory: TemporaryDirectory, _ options: StoreOptions = StoreOptions()) throws -> Store {
        var options = options
        options.salvage = true
        return try openStore(directory, options: options)
    }

    /// The quarantine folder holds `names` and a report naming each.
    func expectQuarantined(_ store: Store, _ directory: TemporaryDirectory, _ names: [String]) throws {
        let folder = try #require(store.recovery.quarantineFolder)
        #expect(Set(store.recovery.quarantinedFiles) == Set(names))
        let report = try JSONSerialization.jsonObject(with: Data(try fs.readFile(directory.file(folder + "/report.json")))) as! [[String: Any]]
        #expect(Set(report.map { $0["file"] as! String }) == Set(names))
        for name in names { #expect(fs.exists(directory.file(folder + "/" + name)), "\(name)") }
    }

    func ids(_ store: Store) throws -> [String] { try store.allRecords().map(\.id) }

    /// A store with a-e in a checkpoint and f-h in the log after it, closed cleanly.
    func checkpointedStore(_ directory: TemporaryDirectory, kept: Int = 2) throws -> StoreOptions {
        var options = StoreOptions()
        options.checkpointsKept = kept
        let store = try openStore(directory, options: options)
        for id in ["a", "b", "c", "d", "e"] { try store.put(record(id)) }
        try store.checkpoint()
        for id in ["f", "g", "h"] { try store.put(record(id)) }
        try store.close()
        return options
    }

    func checkpointName(_ directory: TemporaryDirectory) throws -> String {
        try #require(try fs.listDirectory(directory.path).filter { $0.hasPrefix("checkpoint-") }.last)
    }

    @Test func lostManifestIsRebuiltFromTheCheckpoints() throws {
        let directory = TemporaryDirectory()
        let options = try checkpointedStore(directory)
        try fs.remove(directory.file("MANIFEST"))
        let refused = try #require(throws: StoreError.self) { try openStore(directory, options: options) }
        #expect(refused.code == .corruption)
        #expect(refused.path == directory.file("MANIFEST"), "\(refused)")
        #expect(!(try Store.verify(at: directory.path, fileSystem: fs).isClean))
        let checkpoint = try checkpointName(directory)
        let store = try salvage(directory, options)
        #expect(try ids(store) == ["a", "b", "c", "d", "e", "f", "g", "h"])
        #expect(store.recovery.lost.contains { $0.file == "MANIFEST" })
        #expect(!store.recovery.removedFiles.contains(checkpoint))
        try store.close()
        #expect(try Store.verify(at: directory.path, fileSystem: fs).isClean)
    }

    @Test func garbageManifestIsQuarantinedAndRebuilt() throws {
        let directory = TemporaryDirectory()
        let options = try checkpointedStore(directory)
        try fs.writeFileAtomically(directory.file("MANIFEST"), Array("not a manifest at all".utf8))
        let store = try salvage(directory, options)
        #expect(try ids(store) == ["a", "b", "c", "d", "e", "f", "g", "h"])
        try expectQuarantined(store, directory, ["MANIFEST"])
    }

    @Test func checkpointWithOneDamagedRecordKeepsTheOthers() throws {
        let directory = TemporaryDirectory()
        let options = try checkpointedStore(directory, kept: 1)  // no older checkpoint to fall back to
        let checkpoint = try checkpointName(directory)
        // Overwrite 4 bytes inside the third record's body (header 40 bytes, then per record
        // length u32 | CRC u32 | body).
        var bytes = try fs.readFile(directory.file(checkpoint))
        var offset = CheckpointFile.headerSize
        for _ in 0..<2 { offset += 8 + Int(try ByteReader(bytes[offset...]).readU32()) }
        for index in 0..<4 { bytes[offset + 12 + index] ^= 0x5A }
        try fs.writeFileAtomically(directory.file(checkpoint), bytes)
        #expect(throws: StoreError.self) { try openStore(directory, options: options) }

        let store = try salvage(directory, options)
        #expect(try ids(store) == ["a", "b", "d", "e", "f", "g", "h"])
        let lost = try #require(store.recovery.lost.first { $0.file == checkpoint })
        #expect(lost.offset == Int64(offset), "\(lost)")
        try expectQuarantined(store, directory, [checkpoint])
        try store.close()
        #expect(try Store.verify(at: directory.path, fileSystem: fs).isClean)
    }

    /// A damaged length field no longer ends the walk: salvage resynchronises at the next entry
    /// whose checksum verifies, so only that record is lost (a length still in range misframes
    /// what follows; one past the end frames nothing).
    @Test(arguments: [3, 1 << 30])
    func checkpointRecordWithADamagedLengthLosesOnlyItself(_ lengthDelta: Int) throws {
        let directory = TemporaryDirectory()
        let options = try checkpointedStore(directory, kept: 1)
        let checkpoint = try checkpointName(directory)
        var bytes = try fs.readFile(directory.file(checkpoint))
        var offset = CheckpointFile.headerSize
        for _ in 0..<2 { offset += 8 + Int(try ByteReader(bytes[offset...]).readU32()) }
        let length = UInt32(Int(try ByteReader(bytes[offset...]).readU32()) + lengthDelta)
        withUnsafeBytes(of: length.littleEndian) { for (index, byte) in $0.enumerated() { bytes[offset + index] = byte } }
        try fs.writeFileAtomically(directory.file(checkpoint), bytes)

        let store = try salvage(directory, options)
        #expect(try ids(store) == ["a", "b", "d", "e", "f", "g", "h"])
        let lost = store.recovery.lost.filter { $0.file == checkpoint }
        #expect(lost.count == 1 && lost[0].offset == Int64(offset) && lost[0].message.contains("record 2"), "\(lost)")
        try store.close()
        #expect(try Store.verify(at: directory.path, fileSystem: fs).isClean)
    }

    /// Three segments (a-c, d-f, g-i): damage to the middle one loses at most its records.
    func threeSegments(_ directory: TemporaryDirectory) throws -> (StoreOptions, [String]) {
        var options = StoreOptions()
        options.segmentSizeLimit = 400
        let store = try openStore(directory, options: options)
        for id in ["a", "b", "c", "d", "e", "f", "g", "h", "i"] { try store.put(record(id)) }
        try store.close()
        let segments = try segmentNames(directory)
        #expect(segments.count >= 3)
        return (options, segments)
    }

    @Test func segmentWithADamagedHeaderIsQuarantined() throws {
        let directory = TemporaryDirectory()
        let (options, segments) = try threeSegments(directory)
        let middle = segments[1]
        let inMiddle = try SegmentScan.scan(fileSystem: fs, path: directory.file(middle), maxPayload: 1 << 20).result.get().frames
            .flatMap { try RecordCoding.decodeOperations($0.frame.payload) }
            .compactMap { operation -> String? in if case .put(let record) = operation { record.id } else { nil } }
        #expect(!inMiddle.isEmpty)
        try flipBit(directory.file(middle), at: 3)
        let store = try salvage(directory, options)
        let lostIDs = Set(["a", "b", "c", "d", "e", "f", "g", "h", "i"]).subtracting(try ids(store))
        #expect(!lostIDs.isEmpty && lostIDs.isSubset(of: inMiddle), "\(lostIDs) \(inMiddle)")
        #expect(store.recovery.lost.contains { $0.file == middle && $0.offset == 0 })
        try expectQuarantined(store, directory, [middle])
    }

    @Test func damagedFrameInAFinishedSegmentLosesOnlyThatFrame() throws {
        let directory = TemporaryDirectory()
        let (options, segments) = try threeSegments(directory)
        let first = segments[0]
        let scan = try SegmentScan.scan(fileSystem: fs, path: directory.file(first), maxPayload: 1 << 20).result.get()
        let victim = scan.frames[1]
        try flipBit(directory.file(first), at: Int64(victim.offset + Frame.headerSize + 2))
        let refused = try #require(throws: StoreError.self) { try openStore(directory, options: options) }
        #expect(refused.offset == Int64(victim.offset))
        let store = try salvage(directory, options)
        #expect(try ids(store) == ["a", "c", "d", "e", "f", "g", "h", "i"])
        #expect(store.recovery.lost.contains { $0.file == first && $0.offset == Int64(victim.offset) })
        try expectQuarantined(store, directory, [first])
    }

    // MARK: Losses reported, never silent

    @Test func syncedTailCutAtAFrameBoundaryIsALossNotATornTail() throws {
        let directory = TemporaryDirectory()
        let store = try openStore(directory)
        for id in ["a", "b", "c", "d", "e"] { try store.put(record(id)) }
        try store.close()
        let segment = try segmentNames(directory)[0]
        let frames = try SegmentScan.scan(fileSystem: fs, path: directory.file(segment), maxPayload: 1 << 20).result.get().frames
        let cut = Int64(frames[3].offset)  // d and e gone, at a frame boundary: no damage to see
        let file = try fs.open(directory.file(segment), options: .readWrite)
        try file.truncate(to: cut)
        try file.close()

        let report = try Store.verify(at: directory.path, fileSystem: fs)
        let problem = try #require(report.problems.first)
        #expect(problem.file == segment && problem.offset == cut, "\(report)")
        #expect(problem.message.contains("LSNs 4...5"), "\(problem)")
        let refused = try #require(throws: StoreError.self) { try openStore(directory) }
        #expect(refused.code == .corruption && refused.offset == cut)
        let salvaged = try salvage(directory)
        #expect(try ids(salvaged) == ["a", "b", "c"])
        #expect(salvaged.recovery.lost.contains { $0.file == segment && $0.offset == cut && $0.message.contains("4...5") })
    }

    @Test func emptiedLastSegmentAfterACleanCloseIsALoss() throws {
        let directory = TemporaryDirectory()
        var options = StoreOptions()
        options.segmentSizeLimit = 400
        let store = try openStore(directory, options: options)
        for id in ["a", "b", "c", "d", "e", "f"] { try store.put(record(id)) }
        try store.close()
        let last = try segmentNames(directory).last!
        let file = try fs.open(directory.file(last), options: .readWrite)
        try file.truncate(to: 0)
        try file.close()
        let report = try Store.verify(at: directory.path, fileSystem: fs)
        #expect(report.problems.contains { $0.file == last && $0.offset == 0 }, "\(report)")
        #expect(throws: StoreError.self) { try openStore(directory, options: options) }
    }

    @Test func manifestVersion1IsStillRead() throws {
        var writer = ByteWriter()
        writer.raw(Manifest.magic)
        writer.u32(1)
        writer.u32(1)
        writer.u64(7)
        writer.u32(0xABCD)
        writer.u32(CRC32C.checksum(writer.bytes))
        let manifest = try Manifest.decode(writer.bytes, path: "MANIFEST")
        #expect(manifest.checkpoints == [Manifest.Entry(lsn: 7, fileChecksum: 0xABCD)])
        #expect(manifest.durableLSN == 0)
        #expect(manifest.provenDurableLSN == 7)
    }

    // MARK: The cold tier

    /// a-d flushed to the cold tier (the checkpoint relies on it), e-f in the hot tier and log.
    func tieredStore(_ directory: TemporaryDirectory) throws -> StoreOptions {
        var options = StoreOptions()
        options.tiers = TierOptions(hotToColdAge: 0)
        let store = try openStore(directory, options: options)
        for id in ["a", "b", "c", "d"] { try store.put(record(id)) }
        #expect(try store.runMaintenance().flushed == 4)
        for id in ["e", "f"] { try store.put(record(id)) }
        try store.close()
        return options
    }

    @Test func missingColdTierIsReportedAndSalvageCarriesOn() throws {
        let directory = TemporaryDirectory()
        let options = try tieredStore(directory)
        try fs.remove(directory.file(ColdTier.fileName))
        let report = try Store.verify(at: directory.path, fileSystem: fs)
        #expect(report.problems.contains { $0.file == ColdTier.fileName }, "\(report)")
        #expect(throws: StoreError.self) { try openStore(directory, options: options) }
        let store = try salvage(directory, options)
        #expect(try ids(store) == ["e", "f"])
        #expect(store.recovery.lost.contains { $0.file == ColdTier.fileName })
        try store.close()
        let reopened = try openStore(directory, options: options)
        #expect(try ids(reopened) == ["e", "f"])
    }

    @Test func garbageColdTierIsQuarantinedAndSalvageCarriesOn() throws {
        let directory = TemporaryDirectory()
        let options = try tieredStore(directory)
        try fs.writeFileAtomically(directory.file(ColdTier.fileName), Array(repeating: 0x42, count: 8192))
        let report = try Store.verify(at: directory.path, fileSystem: fs)
        #expect(report.problems.contains { $0.file == ColdTier.fileName }, "\(report)")
        let refused = try #require(throws: StoreError.self) { try openStore(directory, options: options) }
        #expect(refused.code == .corruption, "\(refused)")
        let store = try salvage(directory, options)
        #expect(try ids(store) == ["e", "f"])
        try expectQuarantined(store, directory, [ColdTier.fileName])
        try store.close()
        #expect(try Store.verify(at: directory.path, fileSystem: fs).isClean)
    }

    /// Rows that disagree with `meta` (a count off by one, a vector without its record) are
    /// damage `verify` finds, though every row's checksum holds. The edits go through a VFS that
    /// seals page checksums, so only the rows disagree (the sqlite3 shell's pages would fail
    /// their checksums first).
    @Test func coldTierRowsThatDisagreeWithMetaAreReported() throws {
        let directory = TemporaryDirectory()
        _ = try tieredStore(directory)
        #expect(try Store.verify(at: directory.path, fileSystem: fs).isClean)
        func sqlite(_ sql: String) throws {
            let vfs = try SQLiteVFS(
                fileSystem: fs, clock: ManualClock(), random: SeededRandom(seed: 1), configuration: .init(pageChecksums: true))
            defer { vfs.unregister() }
            let connection = try SQLiteConnection(path: directory.file(ColdTier.fileName), vfs: vfs)
            try connection.execute("PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=WAL; " + sql)
            try connection.close()
        }
        func coldProblems() throws -> [String] {
            try Store.verify(at: directory.path, fileSystem: fs).problems.filter { $0.file == ColdTier.fileName }.map(\.message)
        }
        try sqlite("UPDATE meta SET value = value + 1 WHERE key = 'count'")
        let countProblems = try coldProblems()
        #expect(countProblems.contains { $0.contains("meta table says 5 records") }, "\(countProblems)")
        try sqlite("UPDATE meta SET value = value - 1 WHERE key = 'count'; INSERT INTO vectors VALUES ('zz', x'0000803f', 0, NULL)")
        let orphanProblems = try coldProblems()
        #expect(orphanProblems.contains { $0.contains("1 vectors without a record") }, "\(orphanProblems)")
    }

    @Test func coldTierADeadWriterNeverSetUpIsNotDamage() throws {
        let directory = TemporaryDirectory()
        let store = try openStore(directory)
        try store.put(record("a"))
        try store.close()
        try fs.writeFileAtomically(directory.file(ColdTier.fileName), [])  // killed right after creating it
        let report = try Store.verify(at: directory.path, fileSystem: fs)
        #expect(report.isClean && report.warnings.contains { $0.file == ColdTier.fileName }, "\(report)")
        var options = StoreOptions()
        options.tiers = TierOptions()
        options.readOnly = true
        let reader = try openStore(directory, options: options)
        #expect(try ids(reader) == ["a"])
        try reader.close()
        #expect(try fs.readFile(directory.file(ColdTier.fileName)).isEmpty)
    }
}

extension SalvageTests {
    static let coldRecords = 3000
    static func coldContent(_ index: Int) -> String { "body-of-doc-\(index)-end" }

    /// A tiered store with `coldRecords` records flushed to the cold tier's database (a clean
    /// close folds the WAL in) and one more in the log.
    func coldStore(_ directory: TemporaryDirectory) throws -> StoreOptions {
        var options = StoreOptions()
        options.tiers = TierOptions(hotToColdAge: 0)
        let store = try openStore(directory, options: options)
        for start in stride(from: 0, to: Self.coldRecords, by: 500) {
            try store.batch { batch in
                for index in start..<(start + 500) {
                    try batch.put(record("doc-\(index)", [Float(index), 1, 0], content: Self.coldContent(index)))
                }
            }
        }
        #expect(try store.runMaintenance().flushed == Self.coldRecords)
        try store.put(record("hot", [0, 1, 0]))
        try store.close()
        #expect(!fs.exists(directory.file(ColdTier.fileName + "-wal")))
        return options
    }

    /// Overwrites 16 KiB page `page` of the cold tier with garbage; returns the indexes of the
    /// records whose content was on it.
    func garbleColdPage(_ directory: TemporaryDirectory, page: Int) throws -> Set<Int> {
        let path = directory.file(ColdTier.fileName)
        var bytes = try fs.readFile(path)
        let range = (page * 16384)..<((page + 1) * 16384)
        let pageBytes = Data(bytes[range])
        let onPage = Set((0..<Self.coldRecords).filter { pageBytes.range(of: Data(Self.coldContent($0).utf8)) != nil })
        for offset in range { bytes[offset] = UInt8(truncatingIfNeeded: offset &* 131 &+ 17) }
        try fs.writeFileAtomically(path, bytes)
        return onPage
    }

    /// The page holding record `index`'s content.
    func coldPage(holding index: Int, _ directory: TemporaryDirectory) throws -> Int {
        let bytes = Data(try fs.readFile(directory.file(ColdTier.fileName)))
        let found = try #require(bytes.range(of: Data(Self.coldContent(index).utf8)))
        return found.lowerBound / 16384
    }

    @Test func salvageCopiesTheRowsThatStillReadOutOfADamagedColdTier() throws {
        let directory = TemporaryDirectory()
        let options = try coldStore(directory)
        let onPage = try garbleColdPage(directory, page: try coldPage(holding: Self.coldRecords / 2, directory))
        #expect(!onPage.isEmpty && onPage.count < 500, "\(onPage.count) records on the page")
        let store = try salvage(directory, options)
        let expected = Set((0..<Self.coldRecords).filter { !onPage.contains($0) }.map { "doc-\($0)" } + ["hot"])
        let records = try store.allRecords()
        #expect(Set(records.map(\.id)) == expected)
        for record in records where record.id != "hot" {
            let index = Int(record.id.dropFirst(4))!
            #expect(record.content == Self.coldContent(index) && record.embedding == [Float(index), 1, 0], "\(record.id)")
        }
        let lost = Set(store.recovery.coldRecordsLost.keys)
        #expect(lost == Set(onPage.map { "doc-\($0)" }), "lost but not on the page: \(lost.subtracting(onPage.map { "doc-\($0)" }).sorted()) \(store.recovery.coldRecordsLost.filter { !onPage.contains(Int($0.key.dropFirst(4)) ?? -1) })")
        #expect(store.recovery.coldRecordsCopied.count == Self.coldRecords - onPage.count)
        #expect(store.recovery.lost.filter { $0.message.hasPrefix("record 'doc-") }.count == onPage.count)
        #expect(store.recovery.quarantinedFiles.contains(ColdTier.fileName))
        try store.close()
        #expect(try Store.verify(at: directory.path, fileSystem: fs).isClean)
        #expect(try openStore(directory, options: options).allRecords().count == expected.count)
    }

    @Test func aColdTierWithAGarbageHeaderPageIsQuarantinedWhole() throws {
        let directory = TemporaryDirectory()
        let options = try coldStore(directory)
        _ = try garbleColdPage(directory, page: 0)
        let store = try salvage(directory, options)
        #expect(try ids(store) == ["hot"])
        #expect(store.recovery.coldRecordsCopied.isEmpty)
        #expect(store.recovery.lost.contains { $0.file == ColdTier.fileName && $0.message.contains("records flushed to the cold tier and not written since are lost") })
        #expect(store.recovery.quarantinedFiles == [ColdTier.fileName])
    }
}
