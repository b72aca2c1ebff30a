import Testing

@testable import Tidemark

@Suite struct StoreInventoryTests {
    @Test func namesSortIntoTheirRoles() {
        let names = [
            StoreFiles.segmentName(firstLSN: 0x20), "MANIFEST", StoreFiles.checkpointName(lsn: 7) + ".tmp",
            StoreFiles.segmentName(firstLSN: 0x3), StoreFiles.checkpointName(lsn: 7), "notes.txt",
            StoreFiles.segmentName(firstLSN: 0x100), SyncedLSNRecord.fileName,
        ]
        let inventory = StoreInventory(names: names)
        #expect(inventory.hasManifest)
        #expect(inventory.hasSyncedLSNRecord && !StoreInventory(names: ["MANIFEST"]).hasSyncedLSNRecord)
        #expect(inventory.temporaryFiles == [StoreFiles.checkpointName(lsn: 7) + ".tmp"])
        #expect(inventory.checkpointFiles == [StoreFiles.checkpointName(lsn: 7)])
        #expect(inventory.segments.map(\.firstLSN) == [0x3, 0x20, 0x100])  // numeric order, not listing order
        #expect(inventory.segments.map(\.nextFirstLSN) == [0x20, 0x100, nil])
        #expect(inventory.segments.map(\.isLast) == [false, false, true])
        #expect(inventory.checkpointFiles(notIn: [StoreFiles.checkpointName(lsn: 7)]).isEmpty)
        #expect(!StoreInventory(names: []).hasManifest)
    }

    @Test func aShortBadHeaderIsUnfinishedOnlyInTheLastSegment() {
        let inventory = StoreInventory(names: [StoreFiles.segmentName(firstLSN: 1), StoreFiles.segmentName(firstLSN: 9)])
        let bad = FormatError(message: "bad segment magic", offset: 0)
        let short: (bytes: Int, result: Result<SegmentScan, FormatError>) = (SegmentHeader.size, .failure(bad))
        let long: (bytes: Int, result: Result<SegmentScan, FormatError>) = (SegmentHeader.size + 1, .failure(bad))
        func isUnfinished(_ finding: StoreInventory.SegmentFinding) -> Bool {
            if case .unfinished = finding { return true }
            return false
        }
        let (first, last) = (inventory.segments[0], inventory.segments[1])
        #expect(isUnfinished(StoreInventory.finding(for: last, scanned: short, sectorAlignment: 0)))
        #expect(!isUnfinished(StoreInventory.finding(for: last, scanned: long, sectorAlignment: 0)))
        #expect(isUnfinished(StoreInventory.finding(for: last, scanned: long, sectorAlignment: 4096)))
        #expect(!isUnfinished(StoreInventory.finding(for: first, scanned: short, sectorAlignment: 0)))
    }
}
