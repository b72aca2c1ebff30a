import ArgumentParser
import Foundation

/// The `tidemark` command line. Subcommands: `db` (work with a store on disk), the verifier's
/// `run`/`replay`/`shrink`/`report`, and `bench` (performance beside SQLite).
@main
struct Tidemark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tidemark",
        abstract: "A durable memory store for AI/RAG, and a crash-consistency verifier for storage engines.",
        subcommands: [
            DB.self, Run.self, Explore.self, Merge.self, Replay.self, Shrink.self, Report.self, Bench.self, TraceCommand.self,
            Torture.self, TortureChild.self,
        ]
    )

    /// Like ArgumentParser's `main`, but bad usage exits with 2 (ArgumentParser's default is 64),
    /// the code every `tidemark` command uses for bad usage and bad input.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exitReportingUsage(error, for: self)
        }
    }

    static func exitReportingUsage(_ error: any Error, for command: any ParsableCommand.Type) -> Never {
        let code = command.exitCode(for: error)
        if code == .validationFailure {
            FileHandle.standardError.write(Data((command.fullMessage(for: error) + "\n").utf8))
            Foundation.exit(CLIExit.badInput.rawValue)
        }
        command.exit(withError: error)
    }
}

/// Exit codes shared by every command.
enum CLIExit: Int32 {
    case success = 0
    /// Not found, or verification found problems, or the store is damaged.
    case problem = 1
    /// Bad usage or bad input; nothing was written.
    case badInput = 2
    /// The disk failed (I/O error, disk full).
    case ioFailure = 3
    /// Another process holds the store's LOCK; nothing was done.
    case locked = 4
}
