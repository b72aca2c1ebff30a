import ArgumentParser
import Foundation
import Tidemark
import TidemarkIO

/// `tidemark db <dir> <action> ...`: the store directory comes before the action, so the action
/// and its arguments are captured and parsed here against the action's own command type.
struct DB: ParsableCommand {
    static let actions: [any DBAction.Type] = [
        Put.self, Get.self, Delete.self, Search.self, IndexAction.self, Import.self, Export.self, Checkpoint.self, Stats.self,
        Maintain.self, Verify.self, Recover.self,
    ]

    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Work with a store in a directory.",
        discussion: """
            Actions (each has --help, e.g. `tidemark db DIR put --help`):
            \(actions.map { "  \($0.configuration.commandName!.padding(toLength: 11, withPad: " ", startingAt: 0)) \($0.configuration.abstract)" }.joined(separator: "\n"))

            Every action accepts --sync immediate|group|async (default group) and the tier options: \
            tiers are ON by default (--no-tiers keeps everything in memory and checkpoints, for a \
            store that never had a cold tier); --hot-memory-bytes (default 64 MiB) bounds the records \
            held in memory (unflushed writes flush to the SQLite cold tier, cold.sqlite, before \
            passing it); --hot-to-cold-age (default 300 s) is how long a record stays unused \
            before `maintain` flushes it to the cold tier and drops it from memory.
            get, search, export, stats and verify open the store read-only: they write nothing (so \
            they work on a read-only mount or without write permission). A writer holds an \
            exclusive lock on DIR/LOCK (which names its pid) for as long as it runs: a second writer, \
            or a reader while a writer runs, fails at once naming the holder.
            Exit codes: 0 success, 1 not found / problems found / store damaged, 2 bad usage or bad \
            input (nothing written), 3 I/O failure or disk full, 4 the store is locked by another \
            process (nothing done).
            """
    )

    @Argument(help: "The store directory (created by the first write).")
    var directory: String

    @Argument(parsing: .captureForPassthrough, help: "The action and its arguments.")
    var arguments: [String] = []

    func run() throws {
        guard let name = arguments.first else {
            throw ValidationError("missing action; one of: \(Self.actions.map { $0.configuration.commandName! }.joined(separator: ", "))")
        }
        guard let action = Self.actions.first(where: { $0.configuration.commandName == name }) else {
            throw ValidationError("unknown action '\(name)'; one of: \(Self.actions.map { $0.configuration.commandName! }.joined(separator: ", "))")
        }
        let parsed: any DBAction
        do {
            var command = try action.parseAsRoot(Array(arguments.dropFirst()))
            guard let dbAction = command as? any DBAction else {
                try command.run()  // the built-in help command
                return
            }
            parsed = dbAction
        } catch {
            Tidemark.exitReportingUsage(error, for: action)
        }
        do {
            try parsed.run(directory: directory)
        } catch let error as StoreError {
            printError(error.description + hint(for: error))
            Foundation.exit(exitCode(for: error).rawValue)
        } catch let error as InputError {
            printError(error.message)
            Foundation.exit(CLIExit.badInput.rawValue)
        }
    }

    private func hint(for error: StoreError) -> String {
        error.code == .corruption ? "\nhint: `tidemark db \(directory) verify` lists the damage; `recover --salvage` keeps what is intact" : ""
    }

    private func exitCode(for error: StoreError) -> CLIExit {
        switch error.code {
        case .invalidInput: .badInput
        case .notFound, .corruption: .problem
        case .locked: .locked
        default: .ioFailure
        }
    }
}

/// One `db` action: parsed from the arguments after the directory, then run against it.
protocol DBAction: ParsableCommand {
    func run(directory: String) throws
}

extension DBAction {
    func run() throws {
        throw ValidationError("run through `tidemark db <dir> \(Self.configuration.commandName!)`")
    }
}

/// Bad input found by the CLI itself (not the store), with where it is.
struct InputError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

/// Options every action takes.
struct StoreOptionGroup: ParsableArguments {
    @Option(help: "When commits are durable: immediate (sync each), group (shared syncs), async (sync on close).")
    var sync: SyncMode = .group

    @Flag(inversion: .prefixedNo, help: "Hot tier with a memory budget over a SQLite cold tier (default on).")
    var tiers = true

    @Option(help: "Hot tier memory budget in bytes (unflushed records flush to the cold tier before passing it).")
    var hotMemoryBytes: Int = TierOptions().hotMemoryBytes

    @Option(help: "Seconds a record stays unused before maintenance flushes it to the cold tier and drops it from memory.")
    var hotToColdAge: Double = TierOptions().hotToColdAge

    /// Opens the store; `create` says whether a missing directory becomes a new store (writes)
    /// or is reported as not found (reads). `readOnly` writes nothing (see `StoreOptions`).
    func open(_ directory: String, salvage: Bool = false, create: Bool, readOnly: Bool = false) throws -> Store {
        if !create, !PosixFileSystem().exists(directory) {
            throw StoreError(.notFound, "no store at \(directory)")
        }
        var options = StoreOptions(syncMode: sync)
        options.salvage = salvage
        options.readOnly = readOnly
        options.lockOwner = "pid \(getpid())"

        if tiers { options.tiers = TierOptions(hotMemoryBytes: hotMemoryBytes, hotToColdAge: hotToColdAge) }
        let store = try Store.open(
            at: directory, fileSystem: PosixFileSystem(), clock: SystemClock(), random: SystemRandom(), options: options)
        for warning in store.recovery.truncations.compactMap(\.possibleLossWarning) {
            FileHandle.standardError.write(Data(("warning: " + warning + "\n").utf8))
        }
        return store
    }
}

extension SyncMode: ExpressibleByArgument {}
extension SearchMetric: ExpressibleByArgument {}

func printError(_ message: String) {
    FileHandle.standardError.write(Data(("error: " + message + "\n").utf8))
}

/// Writes a line to stdout and flushes it at once (acks must reach a reader that may be killed).
func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))  // write(2): unbuffered
}

/// Opens the store, runs `body`, and closes it (syncing), also when `body` throws.
func withStore<T>(
    _ options: StoreOptionGroup, _ directory: String, salvage: Bool = false, create: Bool = false, readOnly: Bool = false,
    _ body: (Store) throws -> T
) throws -> T {
    let store = try options.open(directory, salvage: salvage, create: create, readOnly: readOnly)
    do {
        let result = try body(store)
        try store.close()
        return result
    } catch {
        try? store.close()
        throw error
    }
}
