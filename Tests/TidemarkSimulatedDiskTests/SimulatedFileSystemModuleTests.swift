import Testing
import TidemarkIO
import TidemarkSimulatedDisk  // not @testable, and no TidemarkSimulation: the public surface alone

/// The simulated disk as an engine author would use it in their own unit tests: through
/// `any FileSystem`, with faults, kill points and crashes, and nothing from the verifier.
struct SimulatedFileSystemModuleTests {
    @Test func anEngineCanTestItsCommitPathWithThePublicAPIAlone() throws {
        let disk = SimulatedFileSystem(seed: 3)
        let fileSystem: any FileSystem = disk
        try fileSystem.createDirectory("/db")
        try fileSystem.syncDirectory("/")
        try fileSystem.writeFileAtomically("/db/state", Array("v1".utf8))
        let handle = try fileSystem.open("/db/log", options: [.read, .write, .create])
        try handle.write(Array("unsynced".utf8), at: 0)
        #expect(!fileSystem.hasHaltedProcess)

        disk.killPoint = KillPoint(operation: .sync)
        #expect(throws: FileSystemError.self) { try handle.sync() }
        #expect(fileSystem.hasHaltedProcess, "a kill point halts the process, seen through any FileSystem")
        #expect(throws: FileSystemError.self) { try fileSystem.listDirectory("/db") }

        let report = disk.crash(.powerLoss)
        #expect(!fileSystem.hasHaltedProcess)
        #expect(report.vanishedFiles == ["/db/log"], "the log's name was never synced")
        #expect(try fileSystem.readFile("/db/state") == Array("v1".utf8))
    }

    @Test func aRealDiskNeverHalts() {
        let fileSystem: any FileSystem = PosixFileSystem()
        #expect(!fileSystem.hasHaltedProcess)
    }
}

/// Crash clones, as the README shows them: stop an engine anywhere, iterate the legal crash
/// states there as independent file systems, recover and check each.
struct CrashCloneExampleTests {
    /// Replaces `/db/state` the naive way: write a temp file and rename it, without fsync.
    func naiveReplace(_ disk: SimulatedFileSystem, with bytes: [UInt8]) throws {
        let handle = try disk.open("/db/state.tmp", options: [.write, .create, .truncate])
        try handle.write(bytes, at: 0)
        try handle.close()
        try disk.rename("/db/state.tmp", to: "/db/state")
    }

    /// What each crash state leaves at `/db/state` after the replace of "old" by "new".
    func outcomes(_ model: PersistenceModel) throws -> Set<String> {
        let disk = SimulatedFileSystem(seed: 7)
        try disk.createDirectory("/db")
        try disk.syncDirectory("/")
        try disk.writeFileAtomically("/db/state", Array("old".utf8))
        try naiveReplace(disk, with: Array("new".utf8))
        let states = disk.crashStates(model: model, budget: 1000)
        var seen: Set<String> = []
        for state in states.states {
            let clone = states.materialize(state)  // an independent disk: recover on it
            seen.insert(String(decoding: try clone.readFile("/db/state"), as: UTF8.self))
        }
        return seen
    }

    @Test func theNaiveReplaceIsBrokenOnWeakestPOSIXAndSafeOnExt4Ordered() throws {
        let weakest = try outcomes(.weakest)
        #expect(weakest.contains("old") && weakest.contains("new"))
        #expect(weakest.contains("") && weakest.contains("\0\0\0"), "the rename persisted without the data: empty, or grown without it")
        #expect(try outcomes(.ext4Ordered) == ["old", "new"], "data=ordered flushes the data before the rename commits")
    }
}
