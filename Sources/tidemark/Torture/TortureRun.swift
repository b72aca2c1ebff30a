import Foundation
import Tidemark
import TidemarkIO

/// The parent side of `tidemark torture`: one round is start, kill, check. Holds the model of
/// the store across rounds.
final class TortureRun {
    struct RoundResult {
        var syncMode: SyncMode
        var killAfterMilliseconds: Int
        var killDuringStartup: Bool
        var operations = TortureCounts()
        var records = 0
        var coldRecords = 0
        var failures: [String] = []
    }

    let directory: String
    let workload: TortureWorkload
    let maxKillMilliseconds: Int
    let executable: String
    /// The checker's self-test: the child acknowledges every N-th operation without doing it.
    let skipEvery: Int?
    private var model = TortureModel()
    private(set) var summary: TortureSummary
    private let start = SystemClock().monotonicNanoseconds()

    init(directory: String, seed: UInt64, maxKillMilliseconds: Int, skipEvery: Int?, executable: String) {
        self.skipEvery = skipEvery
        self.directory = directory
        workload = TortureWorkload(seed: seed)
        self.maxKillMilliseconds = maxKillMilliseconds
        self.executable = executable
        summary = TortureSummary(seed: seed)
    }

    func round(_ round: Int) throws -> RoundResult {
        let random = SeededRandom(seed: SeededRandom.derive(seed: workload.seed, label: "torture/kill/\(round)"))
        let syncMode: SyncMode = random.chance(0.5) ? .group : .immediate
        var result = RoundResult(
            syncMode: syncMode, killAfterMilliseconds: random.int(in: 1...maxKillMilliseconds), killDuringStartup: random.chance(0.15))
        let output = try runChild(
            round: round, syncMode: syncMode, killAfterMilliseconds: result.killAfterMilliseconds,
            killDuringStartup: result.killDuringStartup)
        let acknowledged = parseAcknowledgements(output, &result)

        if FileManager.default.fileExists(atPath: directory) {
            do {
                try checkStore(round: round, syncMode: syncMode, acknowledged: acknowledged, &result)
            } catch {
                // Recovery refusing the directory is a finding too, not a failure to run.
                result.failures.append("round \(round): the store after the kill: \(error)")
            }
        } else if !acknowledged.isEmpty {
            result.failures.append("round \(round): operations were acknowledged but the store directory does not exist")
        }

        summary.rounds += 1
        summary.operations.add(result.operations)
        summary.recordsChecked += TortureWorkload.writers * TortureWorkload.idsPerWriter
        summary.maxColdRecords = max(summary.maxColdRecords, result.coldRecords)
        summary.failures += result.failures
        summary.seconds = Double(SystemClock().monotonicNanoseconds() - start) / 1e9
        return result
    }

    /// `verify` (a torn tail is allowed, a problem is not), reopen, compare every id with the
    /// model, close, and `verify` again (clean, no warning either).
    private func checkStore(round: Int, syncMode: SyncMode, acknowledged: [Int: Int], _ result: inout RoundResult) throws {
        let options = TortureWorkload.storeOptions(syncMode: syncMode)
        let offline = try Store.verify(at: directory, fileSystem: PosixFileSystem(), options: options)
        result.failures += offline.problems.map { "round \(round): verify before reopening: \($0)" }
        let store = try Store.open(
            at: directory, fileSystem: PosixFileSystem(), clock: SystemClock(), random: SystemRandom(), options: options)
        for writer in 0..<TortureWorkload.writers {
            check(writer: writer, round: round, acknowledged: acknowledged[writer] ?? 0, store: store, &result)
        }
        let unknown = try store.allRecords().map(\.id).filter { model.records[$0] == nil }
        result.failures += unknown.sorted().map { "round \(round): \($0): expected absent, found \(TortureModel.describe(try? store.get($0)))" }
        let stats = try store.stats()
        result.records = stats.recordCount
        result.coldRecords = stats.tiers?.coldCount ?? 0
        try store.close()
        let after = try Store.verify(at: directory, fileSystem: PosixFileSystem(), options: options)
        result.failures += (after.problems + after.warnings).map { "round \(round): verify after closing: \($0)" }
    }

    /// Applies the writer's acknowledged operations to the model, decides its in-flight one by
    /// what the store holds (all of it or none of it), then compares every id of the writer.
    private func check(writer: Int, round: Int, acknowledged: Int, store: Store, _ result: inout RoundResult) {
        for index in 0..<acknowledged { model.apply(workload.operation(round: round, writer: writer, index: index)) }
        result.operations.acknowledged += acknowledged
        func found(_ id: String) -> Record? {
            do { return try store.get(id) } catch {
                result.failures.append("round \(round): \(id): reading it failed: \(error)")
                return nil
            }
        }
        // The child runs each writer's operations in order, so only the next one can be in flight.
        let inFlight = workload.operation(round: round, writer: writer, index: acknowledged)
        var after = model
        after.apply(inFlight)
        let actual = inFlight.changes.map { found($0.id) }
        let ids = inFlight.changes.map(\.id)
        let isAfter = zip(ids, actual).allSatisfy { after.records[$0] == $1 }
        let isBefore = zip(ids, actual).allSatisfy { model.records[$0] == $1 }
        result.operations.maybeInFlight += 1
        if isAfter && !isBefore {
            model = after
            result.operations.inFlightApplied += 1
        } else if !isAfter && !isBefore {
            result.failures.append(
                "round \(round): \(inFlight.kind.rawValue) \(writer)/\(acknowledged) in flight at the kill was applied in part: "
                    + zip(ids, actual).map { "\($0): \(TortureModel.describe($1))" }.joined(separator: "; "))
        }
        for id in TortureWorkload.ids(ofWriter: writer) {
            let expected = model.records[id]
            let actual = found(id)
            guard actual != expected else { continue }
            result.failures.append("round \(round): \(id): expected \(TortureModel.describe(expected)), found \(TortureModel.describe(actual))"
                + (expected != nil && actual != nil && expected?.content == actual?.content ? " (same content, other fields differ)" : ""))
        }
    }

    /// Starts the child, kills it after `killAfterMilliseconds`, and returns its stdout.
    /// With `killDuringStartup` the delay counts from the start of the process (so the kill may
    /// strike while the store opens and recovers), else from its "ready" line.
    private func runChild(round: Int, syncMode: SyncMode, killAfterMilliseconds: Int, killDuringStartup: Bool) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [
            "torture-child", directory, "--seed", "\(workload.seed)", "--round", "\(round)", "--sync", syncMode.rawValue,
        ] + (skipEvery.map { ["--skip-every", "\($0)"] } ?? [])
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let outputReader = PipeReader(output.fileHandleForReading, marker: "ready")
        let errorReader = PipeReader(errors.fileHandleForReading)
        if !killDuringStartup {
            // Recovery of a big store, or a loaded machine, must not eat the writing window.
            outputReader.waitForMarker(seconds: 120)
        }
        usleep(UInt32(killAfterMilliseconds) * 1000)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let text = String(decoding: outputReader.finish(), as: UTF8.self)
        let stderr = String(decoding: errorReader.finish(), as: UTF8.self)
        if process.terminationReason != .uncaughtSignal {
            // It exited by itself before the kill: only a store error does that.
            return text + "error child exited with status \(process.terminationStatus) before the kill: \(stderr)\n"
        }
        return text
    }

    /// Per writer, how many operations were acknowledged (they must be acknowledged in order).
    private func parseAcknowledgements(_ output: String, _ result: inout RoundResult) -> [Int: Int] {
        var counts: [Int: Int] = [:]
        // The last piece may be a line cut off by the kill: only whole lines count.
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        for line in lines {
            let fields = line.split(separator: " ")
            if fields.count == 3, fields[0] == "ack", let writer = Int(fields[1]), let index = Int(fields[2]),
                (0..<TortureWorkload.writers).contains(writer)
            {
                guard index == counts[writer, default: 0] else {
                    result.failures.append("child acknowledged \(writer)/\(index) out of order")
                    continue
                }
                counts[writer] = index + 1
            } else if line != "ready" {
                result.failures.append("child: \(line)")
            }
        }
        return counts
    }
}

/// Reads a pipe to its end on a thread of its own (so the child never blocks on a full pipe),
/// noting when a whole line `marker` has arrived.
final class PipeReader: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)
    private let markerSeen = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle, marker: String? = nil) {
        let markerLine = marker.map { Data(($0 + "\n").utf8) }
        Thread { [self] in
            var signalled = false
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                lock.withLock { data.append(chunk) }
                if !signalled, let markerLine, lock.withLock({ data.range(of: markerLine) != nil }) {
                    signalled = true
                    markerSeen.signal()
                }
            }
            if !signalled { markerSeen.signal() }  // the end came first: stop waiting
            done.signal()
        }.start()
    }

    /// Waits until the marker line arrived or the pipe ended, at most `seconds`.
    func waitForMarker(seconds: Double) {
        _ = markerSeen.wait(timeout: .now() + seconds)
    }

    func finish() -> Data {
        done.wait()
        return lock.withLock { data }
    }
}
