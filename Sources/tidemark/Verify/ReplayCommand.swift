import ArgumentParser
import Foundation
import TidemarkIO
import TidemarkReports
import TidemarkSimulation

/// `tidemark replay`: re-runs a failure file bit for bit.
struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-run a failing seed from its failure file and compare trace hash and verdict.",
        discussion: """
            Exit status: 0 when the replay reproduces the recorded verdict (a different trace hash \
            from another build is a warning), 1 when the verdict changed or the same build gives \
            another trace hash (nondeterminism), 2 on a bad file.
            """)

    @Argument(help: "A failure file written by `tidemark run` or `tidemark shrink`.")
    var failureFile: String

    @Flag(help: "Print the run's timeline: operations, crashes with the fate of each pending write, and every file-system call.")
    var trace = false

    @Flag(help: "Print {\"verdict\",\"invariant\",\"traceHash\"} as JSON.")
    var json = false

    func run() throws {
        let failure = try loadFailureFile(failureFile)
        var run = failure.run
        run.recordTrace = trace
        let result = run.execute()
        let hash = Hex.digits16(result.traceHash)
        let sameVerdict = result.violation?.invariant == failure.invariant
        let reproduced = hash == failure.traceHash && sameVerdict

        if json {
            print(try jsonText(ReplayJSON(
                verdict: result.violation == nil ? "pass" : "violation", invariant: result.violation?.invariant.rawValue,
                message: result.violation?.message, traceHash: hash, reproduced: reproduced)))
        } else {
            if trace { printTimeline(result) }
            print("scenario \(failure.scenario.name), seed \(failure.seed), \(run.plan.operationCount) operations, \(result.fsCalls) file-system calls")
            if let violation = result.violation {
                print("verdict: violation of invariant \(violation.invariant.number) (\(violation.invariant.rawValue)): \(violation.message)")
            } else {
                print("verdict: pass")
            }
            print("trace hash: \(hash) (recorded \(failure.traceHash)) — \(reproduced ? "reproduced" : "NOT reproduced")")
        }
        let builds = failure.isFromThisBuild ? "" : " (recorded by \(failure.build) \(failure.buildDigest ?? "of unknown digest"), replayed with \(BuildInfo.identity) \(BuildInfo.digest))"
        if !sameVerdict {
            let now = result.violation.map { "a violation of \($0.invariant.rawValue)" } ?? "a pass"
            printError("the verdict changed: recorded a violation of \(failure.invariant.rawValue), this replay gives \(now)\(builds)")
            throw ExitCode(CLIExit.problem.rawValue)
        }
        if hash != failure.traceHash {
            if failure.isFromThisBuild {
                printError("same build, different trace hash: the run is not deterministic")
                throw ExitCode(CLIExit.problem.rawValue)
            }
            printWarning("same verdict, different trace hash\(builds): the build changed the run's file-system calls")
        }
    }

    private func printTimeline(_ result: RunResult) {
        let timeline = ReportBuilder.timeline(result, highlight: result.violation?.stepIndex)
        var crashes = timeline.crashes.makeIterator()
        var nextCrash = crashes.next()
        for event in timeline.events {
            let marker = event.highlighted ? ">>" : "  "
            print("\(marker) #\(event.index) [fs \(event.fsCallStart)-\(event.fsCallEnd)] \(event.kind.rawValue): \(event.label) → \(event.outcome)")
            if let crash = nextCrash, crash.eventIndex == event.index {
                for write in crash.writes {
                    print("       write \(write.path) @\(write.offset) +\(write.length) (call \(write.fsCall)): \(write.fate)\(write.mattered ? "  ← mattered" : "")")
                }
                for operation in crash.directoryOperations {
                    print("       \(operation.operation) \(operation.path) (call \(operation.fsCall)): \(operation.survived ? "survived" : "lost")")
                }
                nextCrash = crashes.next()
            }
        }
        if !result.trace.isEmpty {
            print("file-system calls:")
            for call in result.trace {
                var text = "  \(call.callIndex) \(call.operation.rawValue) \(call.path)"
                if let destination = call.destination { text += " → \(destination)" }
                if let offset = call.offset { text += " @\(offset)" }
                if let length = call.length { text += " +\(length)" }
                switch call.result {
                case .ok: break
                case .error(let code): text += "  ✗ \(code)"
                case .killed: text += "  ✗ KILLED"
                }
                print(text)
            }
        }
        for decision in result.decisions {
            print("fault #\(decision.index) \(decision.kind.rawValue) at call \(decision.callIndex) \(decision.path): \(decision.outcome)\(decision.suppressed ? " (suppressed)" : "")")
        }
    }
}

/// Loads a failure file, or exits 2 naming what is wrong with it.
func loadFailureFile(_ path: String) throws -> FailureFile {
    do {
        return try FailureFile.load(from: path)
    } catch {
        printError("\(error)")
        throw ExitCode(CLIExit.badInput.rawValue)
    }
}

struct ReplayJSON: Encodable {
    var verdict: String
    var invariant: String?
    var message: String?
    var traceHash: String
    var reproduced: Bool
}

/// `tidemark shrink`: minimizes a failure.
struct Shrink: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Shrink a failure to the smallest run that still breaks the same invariant.",
        discussion: """
            Delta debugging over the plan's steps, then over the fault decisions, replaying each \
            candidate. Writes a new failure file (default: <file>-shrunk.json). Exit status 0 on \
            success, 2 on a bad file.
            """)

    @Argument(help: "A failure file written by `tidemark run`.")
    var failureFile: String

    @Option(help: "Where to write the shrunk failure file.")
    var out: String?

    @Option(name: .customLong("max-runs"), help: "Most replays to spend.")
    var maxRuns = 600

    @Flag(help: "Print {\"before\":{\"operations\":n},\"after\":{\"operations\":m},\"file\":…} as JSON.")
    var json = false

    func run() throws {
        let failure = try loadFailureFile(failureFile)
        let destination = out ?? (failureFile.hasSuffix(".json") ? String(failureFile.dropLast(5)) : failureFile) + "-shrunk.json"
        let shrinker = Shrinker(failure: failure, maxRuns: maxRuns)
        let progress = ProgressLine(label: "shrink \(failure.scenario.name) seed \(failure.seed)")
        let outcome = shrinker.shrink { runs, _ in
            if !json { progress.update(done: runs, total: maxRuns, failed: 0) }
        }
        try outcome.failure.write(to: destination)
        if json {
            print(try jsonText(ShrinkJSON(
                before: .init(operations: outcome.operationsBefore, faults: outcome.faultsBefore),
                after: .init(operations: outcome.operationsAfter, faults: outcome.faultsAfter),
                file: destination, invariant: outcome.failure.invariant.rawValue, runs: outcome.runs)))
        } else {
            print("shrunk \(outcome.operationsBefore) → \(outcome.operationsAfter) operations, \(outcome.faultsBefore) → \(outcome.faultsAfter) injected faults in \(outcome.runs) replays")
            print("still breaks \(outcome.failure.invariant.rawValue): \(outcome.failure.message)")
            print("wrote \(destination)")
        }
    }
}

struct ShrinkJSON: Encodable {
    struct Size: Encodable {
        var operations: Int
        var faults: Int
    }
    var before: Size
    var after: Size
    var file: String
    var invariant: String
    var runs: Int
}

/// `tidemark report`: re-renders a report from its report.json.
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-render summary.md, index.html and junit.xml from a run directory's report.json.")

    @Argument(help: "A run directory written by `tidemark run` (contains report.json).")
    var runDirectory: String

    func run() throws {
        let report: CampaignReport
        do {
            report = try ReportWriter.load(from: runDirectory)
        } catch {
            printError("\(error)")
            throw ExitCode(CLIExit.badInput.rawValue)
        }
        try ReportWriter.write(report, to: runDirectory)
        print("Report: \(runDirectory)/\(ReportWriter.htmlFileName)")
    }
}
