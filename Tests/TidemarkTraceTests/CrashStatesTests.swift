import Foundation
import Testing
import TidemarkIO
import TidemarkSimulatedDisk
@testable import TidemarkTrace

/// A trace of the classic replace-by-rename: write a.tmp, (maybe) fsync it, rename it over a,
/// fsync the directory, print "ack".
func renameTrace(syncsData: Bool) -> TraceFile {
    var operations: [TraceOperation] = [
        TraceOperation(.snapshotFile, path: "a", data: Data("old".utf8)),
        TraceOperation(.open, path: "a.tmp", handle: 1, flags: ["write", "create", "truncate"]),
        TraceOperation(.write, path: "a.tmp", handle: 1, offset: 0, data: Data("new".utf8)),
    ]
    if syncsData { operations.append(TraceOperation(.fsync, path: "a.tmp", handle: 1)) }
    operations += [
        TraceOperation(.close, handle: 1),
        TraceOperation(.rename, path: "a.tmp", destination: "a"),
        TraceOperation(.open, path: "", handle: 2, flags: ["read", "directory"]),
        TraceOperation(.fsync, path: "", handle: 2),
        TraceOperation(.output, text: "ack"),
    ]
    return TraceFile(header: TraceHeader(directory: "/d", command: ["x"], strace: "", exitStatus: 0, wallSeconds: 0), operations: operations)
}

@Suite struct CrashStatesTests {
    @Test func replayMakesTheProgramsCallsAndShowNamesThem() throws {
        let replay = try TraceReplay(renameTrace(syncsData: false))
        let steps = try replay.all()
        #expect(steps.filter { !$0.isBookkeeping }.map(\.summary) == [
            "create a.tmp", "append 3 B at 0 to a.tmp", "rename a.tmp → a (replacing it)", "fsync directory .", "> ack",
        ])
        #expect(replay.disk.volatileContents("/a") == Array("new".utf8))
        // The snapshot is durable; the write never was.
        #expect(replay.disk.durableContents("/a") == [])
    }

    @Test func prefixesAndOmitOneAreEnumeratedAndKeepWhatTheySay() throws {
        let trace = renameTrace(syncsData: false)
        let states = TraceStates(trace: trace, source: PrefixCrashStates(omitOne: true))
        let end = CrashPoint.all(in: trace).last!
        let found = try states.states(at: end)
        // After the directory sync only the data (create's truncate is folded in) is pending:
        // the write and nothing else, so: lost or kept.
        #expect(found.count == 2)
        #expect(found[0].lost.map(\.kind) == ["write"])
        #expect(found[0].image.entries.first { $0.path == "a" }?.entry == .file([]))
        #expect(found[1].lost.isEmpty)
        #expect(found[1].image.entries.first { $0.path == "a" }?.entry == .file(Array("new".utf8)))

        // Before the directory sync: create, write, rename pending (3 changes): 4 prefixes
        // and 3 omit-one states (k = 2: drop 0; k = 3: drop 0 or 1).
        let before = CrashPoint.all(in: trace).first!
        let early = try states.states(at: before)
        #expect(early.count == 4 + 3)
        for state in early {
            #expect(state.kept.count + state.lost.count == 3)
            #expect(Set(state.kept.map(\.callIndex)).isDisjoint(with: state.lost.map(\.callIndex)))
        }
        // The state that kept the rename but not the write exists: the data-loss state.
        #expect(early.contains { state in
            state.kept.contains { $0.kind == "rename" } && state.lost.contains { $0.kind == "write" }
        })
        let prefixesOnly = try TraceStates(trace: trace, source: PrefixCrashStates(omitOne: false)).states(at: before)
        #expect(prefixesOnly.count == 4)
    }

    @Test func aLostDependencyTakesItsDependentsWithIt() throws {
        // create a; rename a -> b: dropping the create must drop the rename too.
        let trace = TraceFile(header: renameTrace(syncsData: false).header, operations: [
            TraceOperation(.open, path: "a", handle: 1, flags: ["write", "create"]),
            TraceOperation(.rename, path: "a", destination: "b"),
            TraceOperation(.mkdir, path: "c"),
        ])
        let found = try TraceStates(trace: trace, source: PrefixCrashStates()).states(at: CrashPoint.all(in: trace).last!)
        let withoutCreate = try #require(found.first { state in
            state.lost.first?.kind == "createFile" && state.kept.contains { $0.kind == "createDirectory" }
        })
        #expect(withoutCreate.lost.map(\.kind) == ["createFile", "rename"])
        #expect(withoutCreate.image.entries.map(\.path) == ["c"])
    }

    @Test func imagesRoundTripThroughARealDirectory() throws {
        let disk = SimulatedFileSystem(seed: 1)
        try disk.createDirectory("/x")
        try disk.writeFileAtomically("/x/f", Array("bytes".utf8))
        let image = try DiskImage.read(disk)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tidemark-image-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try image.materialize(into: directory)
        let back = try DiskImage.read(PosixFileSystem(), root: directory)
        #expect(back == image)
        #expect(back.fingerprint == image.fingerprint)
        #expect(throws: TraceError.self) { try image.materialize(into: directory) }  // not empty
    }
}

@Suite struct ExplorerTests {
    func explore(_ trace: TraceFile, check: String, dedupe: Bool = true, budget: Double? = nil) throws -> Explorer.Result {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("tidemark-explorer-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        defer { try? FileManager.default.removeItem(atPath: work) }
        var options = Explorer.Options(check: check, workDirectory: work)
        options.jobs = 2
        options.dedupe = dedupe
        options.budgetSeconds = budget
        return try Explorer(states: TraceStates(trace: trace, source: PrefixCrashStates()), options: options).run(traceName: "t")
    }

    /// After "ack", a must hold "new".
    let checker = #"if grep -q ack; then [ "$(cat {dir}/a)" = new ]; fi"#

    @Test func renameWithoutFsyncIsADurabilityVulnerability() throws {
        let result = try explore(renameTrace(syncsData: false), check: checker)
        #expect(result.vulnerabilities.count == 1)
        #expect(result.vulnerabilities[0].kind == "durability")
        #expect(result.vulnerabilities[0].cause == "durability: write to /a.tmp was still pending", "\(result.vulnerabilities[0].cause)")
        #expect(result.complete)
    }

    @Test func renameAfterFsyncIsSafe() throws {
        let result = try explore(renameTrace(syncsData: true), check: checker)
        #expect(result.vulnerabilities.isEmpty)
        #expect(result.inconsistent == 0)
        #expect(result.statesChecked == result.statesDistinct)
    }

    @Test func dedupeChecksEachDistinctStateOnce() throws {
        let trace = renameTrace(syncsData: true)
        let deduped = try explore(trace, check: "true {dir}")
        let all = try explore(trace, check: "true {dir}", dedupe: false)
        #expect(deduped.statesEnumerated == all.statesEnumerated)
        #expect(deduped.statesDistinct < all.statesDistinct)
        #expect(all.statesDistinct == all.statesEnumerated)
    }

    @Test func aSpentBudgetLeavesStatesUncheckedAndSaysSo() throws {
        let result = try explore(renameTrace(syncsData: false), check: "false {dir}", budget: 0)
        #expect(!result.complete)
        #expect(result.statesChecked == 0)
        #expect(result.vulnerabilities.isEmpty)
        #expect(result.states.allSatisfy { $0.verdict == .unchecked || $0.verdict == .duplicate })
    }

    @Test func aCheckerWithoutDirIsBadInput() {
        #expect(throws: TraceError.self) { try explore(renameTrace(syncsData: true), check: "true") }
    }

    @Test func theCheckerReadsTheLinesPrintedBeforeThePoint() throws {
        // Fails exactly where "ack" was printed before the crash point: only the end point.
        let result = try explore(renameTrace(syncsData: true), check: "! grep -q ack # {dir}")
        let failing = Set(result.states.filter { $0.verdict == .inconsistent }.map(\.point))
        #expect(failing == ["at the end"])
    }
}
