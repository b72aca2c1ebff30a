import Testing
import TidemarkIO
import TidemarkSimulatedDisk

@testable import Tidemark

/// `tiers-bit-rot` seed 1066: bit rot in the last acknowledged frame is a possible loss; the
/// open that cut it then failed (a read EIO in the cold tier), and the retry found a clean log
/// and reported nothing. `POSSIBLE-LOSS` keeps the evidence until an open reports it.
struct PossibleLossRecordTests {
    let directory = "/store"

    func open(_ fileSystem: SimulatedFileSystem, seed: UInt64, readOnly: Bool = false) throws -> Store {
        var options = StoreOptions(syncMode: .immediate)
        options.tiers = TierOptions()
        options.readOnly = readOnly
        return try Store.open(at: directory, fileSystem: fileSystem, clock: ManualClock(), random: SeededRandom(seed: seed), options: options)
    }

    /// A store whose last frame ("b", acknowledged) has a flipped payload byte after a dirty death.
    func storeWithRottenLastFrame() throws -> SimulatedFileSystem {
        let fileSystem = SimulatedFileSystem(seed: 5)
        let store = try open(fileSystem, seed: 1)
        for id in ["a", "b"] { try store.put(record(id)) }
        _ = fileSystem.crash(.processKill)
        // `SYNCED` would prove "b" durable (a loss, not a possible one); inside its one-second
        // interval it does not, as in seed 1066.
        try? fileSystem.remove(FilePaths.join(directory, SyncedLSNRecord.fileName))
        let segment = try #require(try fileSystem.listDirectory(directory).filter { $0.hasPrefix("wal-") }.sorted().last)
        let path = FilePaths.join(directory, segment)
        try rotLastFrame(ofSegment: path, on: fileSystem)
        return fileSystem
    }

    @Test func aPossibleLossCutByAnOpenThatFailsIsReportedByTheNextOpens() throws {
        let fileSystem = try storeWithRottenLastFrame()
        fileSystem.faults.latentSectorErrors = [.init(pathContains: ColdTier.fileName, offset: 0, length: 1 << 20)]
        #expect(throws: StoreError.self) { try open(fileSystem, seed: 2) }
        fileSystem.faults.latentSectorErrors = []

        let reader = try open(fileSystem, seed: 3, readOnly: true)
        #expect(reader.recovery.reportsPossibleLoss, "the failed open's cut left the next open a clean log, and nothing said so")
        let warning = try #require(reader.recovery.truncations.compactMap(\.possibleLossWarning).first)
        #expect(warning.contains("LSN 2 onwards"))
        let verified = try Store.verify(at: directory, fileSystem: fileSystem)
        #expect(verified.warnings.contains { $0.message.contains(PossibleLossRecord.fileName) })
        try reader.close()

        let writer = try open(fileSystem, seed: 4)
        #expect(writer.recovery.reportsPossibleLoss)
        #expect(try writer.allRecords().map(\.id) == ["a"])
        #expect(!fileSystem.exists(PossibleLossRecord.path(in: directory)), "a successful open has reported it")
        try writer.close()
        let next = try open(fileSystem, seed: 5)
        #expect(!next.recovery.reportsPossibleLoss, "reported once by a successful open, then cleared")
    }
}
