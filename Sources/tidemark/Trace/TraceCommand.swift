import ArgumentParser
import Foundation
import TidemarkIO
import TidemarkReports
import TidemarkSimulatedDisk
import TidemarkTrace

/// `tidemark trace`: record any program's file-system calls on one directory with strace, show
/// them, and explore the crash states they allow on the simulated disk.
struct TraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Record a program on a real disk (strace) and explore its crash states offline.",
        discussion: """
            tidemark trace record --dir DIR --out FILE -- COMMAND ARGS...
            tidemark trace show FILE
            tidemark trace explore FILE --check 'CHECKER {dir}'
            tidemark trace materialize FILE --state ID --out DIR
            The trace format is described in README.md, "Tracing any program".
            """,
        subcommands: [TraceRecord.self, TraceShow.self, TraceExplore.self, TraceMaterialize.self]
    )
}

/// Runs `body`; a `TraceError` (bad input) exits 2 with its message.
func withTraceErrors<T>(_ body: () throws -> T) -> T {
    do {
        return try body()
    } catch let error as TraceError {
        FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
        Foundation.exit(CLIExit.badInput.rawValue)
    } catch {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        Foundation.exit(CLIExit.badInput.rawValue)
    }
}

struct TraceRecord: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Run a command under strace and write the trace of what it did to one directory.",
        discussion: """
            DIR's contents are snapshotted into the trace first. The command's standard output is \
            recorded line by line, in order with its file-system calls, and printed when it ends. Calls \
            that cannot be modelled are listed on stderr and kept in the trace. Exit status: the \
            command's (the trace is written either way), 2 on bad usage.
            """)

    @Option(help: "The directory to record (its contents are the starting state).")
    var dir: String

    @Option(help: "Where to write the trace (JSON lines).")
    var out: String

    @Argument(parsing: .captureForPassthrough, help: "-- COMMAND ARGS...")
    var command: [String] = []

    func run() throws {
        let words = command.first == "--" ? Array(command.dropFirst()) : command
        let recording = withTraceErrors { try Recorder(directory: dir, command: words).record() }
        FileHandle.standardOutput.write(recording.output)
        withTraceErrors { try recording.trace.write(to: out) }
        let operations = recording.trace.operations
        let unmodelled = operations.filter { $0.kind == .unmodelled }
        var message = "recorded \(operations.count) operations (\(operations.filter { $0.kind == .output }.count) output lines) in \(String(format: "%.2f", recording.trace.header.wallSeconds)) s → \(out)\n"
        if !unmodelled.isEmpty {
            message += "\(unmodelled.count) calls cannot be modelled (kept in the trace; explore replays the rest):\n"
            for operation in unmodelled.prefix(20) {
                message += "  \(operation.call ?? "") \(operation.path ?? ""): \(operation.reason ?? "")\n"
            }
        }
        FileHandle.standardError.write(Data(message.utf8))
        if recording.trace.header.exitStatus != 0 {
            FileHandle.standardError.write(Data("the command exited with \(recording.trace.header.exitStatus)\n".utf8))
            Foundation.exit(recording.trace.header.exitStatus)
        }
    }
}

struct TraceShow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print a trace's logical operations, with the command's output lines interleaved.")

    @Argument(help: "A trace file from `tidemark trace record`.")
    var file: String

    @Flag(help: "Also print opens of existing files and closes.")
    var all = false

    func run() throws {
        let trace = withTraceErrors { try TraceFile.read(file) }
        var lines = ["# \(trace.header.command.joined(separator: " ")) on \(trace.header.directory) (exit \(trace.header.exitStatus))"]
        let snapshot = trace.operations.prefix { $0.kind == .snapshotFile || $0.kind == .snapshotDirectory }
        if !snapshot.isEmpty {
            lines.append("# starting state: \(snapshot.count) entries (\(snapshot.map { $0.path ?? "" }.prefix(5).joined(separator: ", "))\(snapshot.count > 5 ? ", …" : ""))")
        }
        let steps = withTraceErrors { () throws -> [TraceReplay.Step] in try TraceReplay(trace).all() }
        for step in steps where all || !step.isBookkeeping {
            lines.append(String(format: "%5d  ", step.index) + step.summary)
        }
        print(lines.joined(separator: "\n"))
    }
}

/// A trace and the persistence model its crash states are enumerated under (explore and
/// materialize must agree on both for state ids to mean the same state).
struct TraceStatesInput: ParsableArguments {
    @Argument(help: "A trace file from `tidemark trace record`.")
    var file: String

    @Option(help: "Persistence model: weakest (prefixes and omit-one states) or ext4-ordered (prefixes only); with --enumerator, also no-powersafe-overwrite.")
    var model = "weakest"

    @Flag(help: "Use the simulated disk's crash-state enumerator (every legal state under the model, torn and garbled writes included, ALICE's bounded family beyond --state-budget) instead of the whole-change prefix family.")
    var enumerator = false

    @Option(help: "With --enumerator: at most this many states per persistence point before falling back to the bounded family.")
    var stateBudget = 256

    func validate() throws {
        if enumerator {
            guard PersistenceModel(rawValue: model) != nil else {
                throw ValidationError("--model \(model): the enumerator knows \(PersistenceModel.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard stateBudget >= 1 else { throw ValidationError("--state-budget must be at least 1, got \(stateBudget)") }
        } else if Self.sources[model] == nil {
            throw ValidationError("--model \(model): the prefix family knows \(Self.sources.keys.sorted().joined(separator: ", ")); use --enumerator for every model")
        }
    }

    /// The whole-change prefix family per model (the default: cheap, one checker run per state).
    static let sources: [String: any CrashStateSource] = [
        "weakest": PrefixCrashStates(omitOne: true),
        "ext4-ordered": PrefixCrashStates(omitOne: false),
    ]

    /// The flags that pick the same states again (state ids are positions in this source's list).
    var stateFlags: String {
        var flags = model == "weakest" ? "" : " --model \(model)"
        if enumerator { flags += " --enumerator" + (stateBudget == 256 ? "" : " --state-budget \(stateBudget)") }
        return flags
    }

    var source: any CrashStateSource {
        if enumerator { return EnumeratedCrashStates(model: PersistenceModel(rawValue: model)!, budget: stateBudget) }
        return Self.sources[model]!
    }
}

struct TraceExplore: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explore",
        abstract: "Replay a trace on the simulated disk and check every crash state it allows.",
        discussion: """
            At each persistence point (before every fsync, fdatasync and sync, and at the end) the \
            crash states are enumerated, identical ones checked once, each materialised into a \
            fresh directory, and CHECK run with {dir} replaced by it and the lines the command had \
            printed before the point on its standard input (exit 0 = consistent). Exit status: 0 \
            when no state is inconsistent, 1 when one is (a vulnerability), 2 on bad input.
            """)

    @OptionGroup var input: TraceStatesInput

    @Option(help: "The checker: a shell command with {dir}; exit 0 means the state is consistent.")
    var check: String

    @Option(help: "Checker processes at once.")
    var jobs = 1

    @Option(help: "Stop starting checkers after this many seconds (the result says it is incomplete).")
    var budget: Double?

    @Flag(name: .customLong("no-dedupe"), help: "Check every state, even one identical to a state already checked.")
    var noDedupe = false

    @Option(help: "Where states are materialised while checked (default: a new temporary directory).")
    var work: String?

    @Flag(help: "Print the report (report.json's model) as JSON.")
    var json = false

    @Option(help: "Write the report here: report.json, summary.md, index.html, junit.xml, vulnerabilities first.")
    var out: String?

    func validate() throws {
        if jobs < 1 { throw ValidationError("--jobs must be at least 1") }
    }

    func run() throws {
        let file = input.file
        let trace = withTraceErrors { try TraceFile.read(file) }
        let work = self.work ?? FileManager.default.temporaryDirectory.appendingPathComponent("tidemark-explore-\(getpid())").path
        var options = Explorer.Options(check: check, workDirectory: work)
        options.jobs = jobs
        options.budgetSeconds = budget
        options.dedupe = !noDedupe
        let progress = ProgressLine(label: "explore \(URL(fileURLWithPath: file).lastPathComponent)")
        options.progress = { done, total, failed in progress.update(done: done, total: total, failed: failed) }
        let explorer = Explorer(states: TraceStates(trace: trace, source: input.source), options: options)
        let result = withTraceErrors { try explorer.run(traceName: file) }
        if self.work == nil { try? FileManager.default.removeItem(atPath: work) }
        let report = TraceReport.report(result, input: input, check: check, jobs: jobs, createdAt: ISO8601DateFormatter().string(from: Date()))
        if let out { try ReportWriter.write(report, to: out) }
        if json {
            print(String(decoding: try ReportWriter.encode(report), as: UTF8.self), terminator: "")
        } else {
            print(Self.text(result, model: input.model, file: file, stateFlags: input.stateFlags))
            if let out { print("Report: \(FilePaths.join(out, ReportWriter.htmlFileName))") }
        }
        if !result.vulnerabilities.isEmpty { throw ExitCode(CLIExit.problem.rawValue) }
    }

    static func text(_ result: Explorer.Result, model: String, file: String, stateFlags: String = "") -> String {
        var lines = [
            "\(file): \(result.points) crash points, \(result.statesEnumerated) states (\(result.enumerator), model \(model)), \(result.statesDistinct) distinct, \(result.statesChecked) checked in \(String(format: "%.2f", result.seconds)) s (enumeration \(String(format: "%.2f", result.enumerationSeconds)) s)",
        ]
        if !result.complete { lines.append("INCOMPLETE: the time budget ran out before every state was checked") }
        if !result.unmodelled.isEmpty {
            lines.append("not modelled (replayed without them):")
            lines += result.unmodelled.prefix(10).map { "  \($0)" }
        }
        if result.vulnerabilities.isEmpty {
            lines.append("no inconsistent state")
        } else {
            lines.append("\(result.inconsistent) inconsistent states, \(result.vulnerabilities.count) vulnerabilit\(result.vulnerabilities.count == 1 ? "y" : "ies"):")
            for (number, vulnerability) in result.vulnerabilities.enumerated() {
                lines.append("  \(number + 1). \(vulnerability.cause)")
                lines.append("     \(vulnerability.states.count) states, e.g. \(vulnerability.example) (tidemark trace materialize \(file)\(stateFlags) --state \(vulnerability.example) --out DIR)")
                for line in vulnerability.checkerOutput.prefix(3) { lines.append("     checker: \(line)") }
            }
        }
        return lines.joined(separator: "\n")
    }
}

struct TraceMaterialize: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "materialize",
        abstract: "Write one crash state (an id explore printed) into a new directory.",
        discussion: "The lines the command had printed before the crash point go to stdout, as the checker got them.")

    @OptionGroup var input: TraceStatesInput

    @Option(help: "The state id, <operation>.<n>, as explore prints it.")
    var state: String

    @Option(help: "A new or empty directory to write the state into.")
    var out: String

    func run() throws {
        let trace = withTraceErrors { try TraceFile.read(input.file) }
        let chosen = withTraceErrors { try TraceStates(trace: trace, source: input.source).state(state) }
        withTraceErrors { try chosen.image.materialize(into: out) }
        var message = "state \(state) (\(chosen.point.label)): \(chosen.image.summary) → \(out)\n"
        message += chosen.lost.isEmpty ? "nothing lost\n" : "lost: " + chosen.lost.map(\.summary).joined(separator: "; ") + "\n"
        FileHandle.standardError.write(Data(message.utf8))
        for line in chosen.point.outputLines { print(line) }
    }
}
