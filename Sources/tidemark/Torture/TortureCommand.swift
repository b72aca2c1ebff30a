import ArgumentParser
import Foundation
import Tidemark
import TidemarkIO

/// `tidemark torture DIR --rounds N`: kill -9 on a real disk, RocksDB's db_crashtest.py in
/// miniature. Each round starts `tidemark torture-child` (writers, the maintenance thread, tiers
/// migrating), SIGKILLs it at a seeded random moment, checks the directory offline, reopens the
/// store and compares every record with the model of acknowledged writes, then verifies again.
/// The directory and the model carry over from round to round.
struct Torture: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Kill a writing store with SIGKILL again and again; check no acknowledged write is lost.",
        discussion: """
            Each round a child process (this binary) writes a seeded random mix of puts, deletes, \
            batches and transactions from \(TortureWorkload.writers) threads with the maintenance thread \
            running and tiers on (small hot budget, 50 ms hot-to-cold age), printing an acknowledgement \
            per durable operation; it is SIGKILLed after a seeded random delay, counted from the moment \
            the store is open or, in 15% of rounds, from the start of the process (so some kills strike \
            during recovery). Then: `verify` of the directory must find no problem, the reopened \
            store must hold exactly what the acknowledged writes left (an operation in flight at the \
            kill may be there whole or not at all), no acknowledged delete may come back, and \
            `verify` must be clean after closing. \
            Exit 0 when every round passes, 1 on any loss (each named: id, expected, found), 2 on bad \
            usage, 3 when the child could not run.
            """)

    @Argument(help: "Store directory (created when missing; an existing torture store is continued only within one run, so pass an empty or new directory).")
    var directory: String

    @Option(help: "Rounds (kills).")
    var rounds = 20

    @Option(help: "Seed of the workload and the kill moments (default: random, printed).")
    var seed: UInt64?

    @Option(name: .customLong("max-kill-ms"), help: "Longest delay before the kill, in milliseconds, counted from the child's \"ready\" (the store is open) or, in 15% of rounds, from its start.")
    var maxKillMilliseconds = 800

    @Option(name: .customLong("skip-every"), help: .hidden)
    var skipEvery: Int?

    @Flag(help: "Print the summary as JSON on stdout.")
    var json = false

    func validate() throws {
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1") }
        guard maxKillMilliseconds >= 10 else { throw ValidationError("--max-kill-ms must be at least 10") }
        let contents = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        guard contents.isEmpty else {
            throw ValidationError("\(directory) is not empty: torture needs a new directory (its model of the store starts empty)")
        }
    }

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        let seed = seed ?? SystemRandom().next() >> 1
        let run = TortureRun(
            directory: directory, seed: seed, maxKillMilliseconds: maxKillMilliseconds, skipEvery: skipEvery,
            executable: Bundle.main.executablePath ?? CommandLine.arguments[0])
        FileHandle.standardError.write(Data("torture: \(rounds) rounds, seed \(seed), directory \(directory)\n".utf8))
        for round in 0..<rounds {
            let result: TortureRun.RoundResult
            do {
                result = try run.round(round)
            } catch {
                FileHandle.standardError.write(Data("error: round \(round): \(error)\n".utf8))
                Foundation.exit(CLIExit.ioFailure.rawValue)
            }
            let verdict = result.failures.isEmpty ? "ok" : "\(result.failures.count) FAILURES"
            FileHandle.standardError.write(Data((
                "round \(round + 1)/\(rounds): \(result.syncMode.rawValue), killed \(result.killAfterMilliseconds) ms after \(result.killDuringStartup ? "start" : "ready"), "
                    + "\(result.operations.acknowledged) acknowledged, \(result.operations.maybeInFlight) maybe in flight "
                    + "(\(result.operations.inFlightApplied) applied), "
                    + "\(result.records) records (\(result.coldRecords) cold): \(verdict)\n").utf8))
            for failure in result.failures { FileHandle.standardError.write(Data("  \(failure)\n".utf8)) }
            if !result.failures.isEmpty { break }
        }
        let summary = run.summary
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(summary), as: UTF8.self))
        } else {
            print(summary.text)
        }
        if !summary.failures.isEmpty { Foundation.exit(CLIExit.problem.rawValue) }
    }
}

/// What became of the child's operations.
struct TortureCounts: Encodable {
    var acknowledged = 0
    /// The operation after each writer's last acknowledged one: it may have started.
    var maybeInFlight = 0
    /// Of those, how many the reopened store held (all of it; never a part).
    var inFlightApplied = 0

    mutating func add(_ other: TortureCounts) {
        acknowledged += other.acknowledged
        maybeInFlight += other.maybeInFlight
        inFlightApplied += other.inFlightApplied
    }
}

/// The totals `tidemark torture` prints (and `--json` encodes).
struct TortureSummary: Encodable {
    var seed: UInt64
    var rounds = 0
    var operations = TortureCounts()
    var recordsChecked = 0
    /// The most records seen in the cold tier after a round: evidence that migration ran.
    var maxColdRecords = 0
    var seconds = 0.0
    var failures: [String] = [] {
        didSet { verdict = failures.isEmpty ? "pass" : "fail" }
    }
    var verdict = "pass"

    var text: String {
        """
        torture \(verdict): \(rounds) rounds (seed \(seed)), \(operations.acknowledged) acknowledged operations, \
        \(operations.maybeInFlight) maybe in flight at a kill (\(operations.inFlightApplied) applied), \(recordsChecked) record checks, \
        up to \(maxColdRecords) records in the cold tier, \(failures.count) failures, \(String(format: "%.1f", seconds)) s
        """ + failures.map { "\n  " + $0 }.joined()
    }
}
