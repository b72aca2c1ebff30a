import Foundation
import Testing
import TidemarkIO
import TidemarkSimulatedDisk
@testable import TidemarkTrace

/// LevelDB's manifest switch in miniature: write MANIFEST-2 and a temp file naming it (both
/// fsynced), rename the temp file over CURRENT, unlink MANIFEST-1, never fsync the directory.
/// A diagnostic log is appended to on the way (never synced: any fate of it is fine).
/// The checker wants CURRENT to name a file that exists.
func manifestSwitchTrace() -> TraceFile {
    let operations: [TraceOperation] = [
        TraceOperation(.snapshotFile, path: "CURRENT", data: Data("MANIFEST-1".utf8)),
        TraceOperation(.snapshotFile, path: "MANIFEST-1", data: Data("m1".utf8)),
        TraceOperation(.open, path: "MANIFEST-2", handle: 1, flags: ["write", "create", "truncate"]),
        TraceOperation(.write, path: "MANIFEST-2", handle: 1, offset: 0, data: Data("m2".utf8)),
        TraceOperation(.fsync, path: "MANIFEST-2", handle: 1),
        TraceOperation(.close, handle: 1),
        TraceOperation(.open, path: "CURRENT.tmp", handle: 2, flags: ["write", "create", "truncate"]),
        TraceOperation(.write, path: "CURRENT.tmp", handle: 2, offset: 0, data: Data("MANIFEST-2".utf8)),
        TraceOperation(.fsync, path: "CURRENT.tmp", handle: 2),
        TraceOperation(.close, handle: 2),
        TraceOperation(.open, path: "LOG", handle: 3, flags: ["write", "create", "append"]),
        TraceOperation(.write, path: "LOG", handle: 3, data: Data(repeating: 0x6C, count: 1500)),
        TraceOperation(.rename, path: "CURRENT.tmp", destination: "CURRENT"),
        TraceOperation(.unlink, path: "MANIFEST-1"),
    ]
    return TraceFile(header: TraceHeader(directory: "/d", command: ["x"], strace: "", exitStatus: 0, wallSeconds: 0), operations: operations)
}

@Suite struct GroupingTests {
    func explore(_ source: any CrashStateSource) throws -> Explorer.Result {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("tidemark-grouping-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: work) }
        var options = Explorer.Options(check: "test -f {dir}/\"$(cat {dir}/CURRENT)\"", workDirectory: work)
        options.jobs = 2
        return try Explorer(states: TraceStates(trace: manifestSwitchTrace(), source: source), options: options).run(traceName: "manifest")
    }

    /// A state that lost the temp file's create loses the rename with it; grouped by the first
    /// change lost it looked like a cause of its own ("create CURRENT.tmp"), beside the state
    /// that lost only the rename. Both keep the unlink without the rename: one cause.
    @Test func aRenameLostWithItsCreateGroupsWithTheRenameLostAlone() throws {
        let result = try explore(PrefixCrashStates(omitOne: true))
        let causes = result.vulnerabilities.map(\.cause)
        #expect(causes.contains("ordering: rename /CURRENT.tmp → /CURRENT must persist before remove /MANIFEST-…"), "\(causes)")
        #expect(!causes.contains { $0.contains("create /CURRENT.tmp") }, "\(causes)")
        #expect(causes.contains("ordering: create /MANIFEST-… must persist before rename /CURRENT.tmp → /CURRENT"), "\(causes)")
        #expect(causes.count == 2, "\(causes)")
    }

    /// The full enumerator under `weakest` finds more states (any subset, the log torn or grown
    /// without its data), and the same two causes: a pair of whole changes explains a state
    /// before a write that landed in part is suspected.
    @Test func theEnumeratorFindsTheSameCauses() throws {
        let prefix = try explore(PrefixCrashStates(omitOne: true))
        let enumerated = try explore(EnumeratedCrashStates(model: .weakest))
        #expect(enumerated.inconsistent > prefix.inconsistent)
        #expect(Set(enumerated.vulnerabilities.map(\.cause)) == Set(prefix.vulnerabilities.map(\.cause)), "\(enumerated.vulnerabilities.map(\.cause))")
    }
}
