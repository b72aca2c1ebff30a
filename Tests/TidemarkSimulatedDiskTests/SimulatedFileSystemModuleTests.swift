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
