import Testing
import TidemarkIO
@testable import TidemarkSimulatedDisk

/// `isDurable(_:through:)`: what a power loss now could not take, which the checker asks about
/// an interrupted commit's record.
struct DurabilityQueryTests {
    @Test func bytesAreDurableOnlyOnceSyncedUnderADurableName() throws {
        let fs = SimulatedFileSystem(seed: 1)
        let handle = try fs.open("/log", options: .createNew)
        try handle.write([1, 2, 3, 4], at: 0)
        #expect(!fs.isDurable("/log", through: 4), "written, not synced")
        try handle.sync()
        #expect(!fs.isDurable("/log", through: 4), "synced, but the new name is not durable yet")
        try fs.syncDirectory("/")
        #expect(fs.isDurable("/log", through: 4))
        #expect(!fs.isDurable("/log", through: 5), "past the durable end")
        #expect(!fs.isDurable("/missing", through: 1))

        try handle.write([9], at: 4)
        #expect(fs.isDurable("/log", through: 4), "an unsynced append after the range leaves it durable")
        try handle.write([9], at: 2)
        #expect(!fs.isDurable("/log", through: 4), "an unsynced overwrite inside the range does not")
        try handle.sync()
        #expect(fs.isDurable("/log", through: 5))
        #expect(fs.crash(.powerLoss).writes.isEmpty)
        #expect(Disk.read(fs, "/log") == [1, 2, 9, 4, 9])
    }

    @Test func aRenamedOrPendingTruncatedFileIsNotDurableUnderItsNewState() throws {
        let fs = SimulatedFileSystem(seed: 2)
        try Disk.durableFile(fs, "/a", [1, 2, 3, 4])
        try fs.rename("/a", to: "/b")
        #expect(!fs.isDurable("/b", through: 4), "the rename is pending")
        try fs.syncDirectory("/")
        #expect(fs.isDurable("/b", through: 4))
        let handle = try fs.open("/b", options: .readWrite)
        try handle.truncate(to: 1)
        #expect(!fs.isDurable("/b", through: 2), "a pending truncate below the end")
        #expect(fs.isDurable("/b", through: 1), "the bytes the truncate keeps")
    }
}
