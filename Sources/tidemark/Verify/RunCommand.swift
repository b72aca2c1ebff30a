import ArgumentParser
import Foundation
import Synchronization
import TidemarkIO
import TidemarkReports
import TidemarkSimulation

/// `tidemark run`: a campaign of seeds over scenarios, with reports.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run scenarios over many seeds in the simulator and write a report.",
        discussion: """
            Each seed runs a randomized workload against the scenario's subject on a simulated disk \
            that injects the scenario's faults, crashes and recovers it, and checks every invariant \
            against a model. A failing seed writes a failure file that `tidemark replay` and \
            `tidemark shrink` take. Shard K of N runs the seeds with seed % N == K-1; `tidemark \
            merge` combines the shards' --out directories into the report of the whole campaign. \
            The progress is saved under --out as the campaign runs (campaign-state.json, and an \
            interim report.json and summary.md); `--resume` continues a killed campaign. Exit \
            status: 0 when every scenario met its expectation, 1 when one did not, 2 on bad usage, \
            a bad scenario or an --out that cannot be written.
            """)

    @Argument(help: "Scenario files (YAML; see Scenarios/README.md).")
    var scenarios: [String]

    @Option(help: "Seeds per scenario (default: each scenario's own `seeds`); with --duration, per round.")
    var seeds: Int?

    @Option(name: .customLong("start-seed"), help: "First seed; seeds run from here upwards.")
    var startSeed: UInt64 = 1

    @Option(help: "Parallel jobs (default: the number of cores). Results do not depend on it.")
    var jobs: Int?

    @Option(help: "Report directory (default: Reports/<timestamp>-<name>).")
    var out: String?

    @OptionGroup var report: ReportOptions

    @Option(help: "Run only shard K of N (K/N, 1-based): the seeds with seed % N == K-1.")
    var shard: String?

    @Option(name: .customLong("shard-from-env"), help: "Run shard K of N, K from JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or SLURM_ARRAY_TASK_ID (Slurm array), both 0-based: K = index + 1.")
    var shardFromEnv: Int?

    @Option(help: "Keep drawing new seeds (round after round of every scenario) until this much time has passed, e.g. 90s, 30m, 2h, 1h30m.")
    var duration: String?

    @Flag(name: .customLong("until-failure"), help: "Stop at the first failure a scenario does not expect; draws rounds of new seeds until then (or until --duration).")
    var untilFailure = false

    @Flag(help: "Continue the campaign saved under --out (same arguments) where it stopped.")
    var resume = false

    @Option(name: .customLong("save-every"), help: "Seconds between saves of the progress and the interim report under --out.")
    var saveEvery: Double = 10

    func validate() throws {
        if let seeds, seeds < 1 { throw ValidationError("--seeds must be at least 1") }
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        if shard != nil && shardFromEnv != nil { throw ValidationError("give --shard or --shard-from-env, not both") }
        if let duration, parseDuration(duration) == nil {
            throw ValidationError("--duration \(duration): expected a time like 90s, 30m, 2h or 1h30m")
        }
        if saveEvery < 0 { throw ValidationError("--save-every must not be negative") }
    }

    func run() throws {
        let shard = try resolveShard()
        let loaded = try loadScenarios(scenarios)

        let label = loaded.count == 1 ? loaded[0].scenario.name : "campaign"
        let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "-")
        let output = try report.output(in: out ?? "Reports/\(stamp)-\(label)")

        var options = Campaign.Options(failureDirectory: output.failureDirectory)
        options.seeds = seeds
        options.startSeed = startSeed
        if let jobs { options.jobs = jobs }
        options.shard = shard
        options.openEnded = duration != nil || untilFailure
        options.stopAtUnexpectedFailure = untilFailure
        let campaign = Campaign(options: options, scenarios: loaded, resuming: try savedState(for: options, loaded, in: output.directory))

        let clock = SystemClock()
        let started = clock.monotonicNanoseconds()
        let spentBefore = campaign.snapshot().elapsedSeconds
        let elapsed: @Sendable () -> Double = { spentBefore + Double(clock.monotonicNanoseconds() - started) / 1e9 }
        let limit = duration.flatMap(parseDuration)
        let saver = ProgressSaver(output: output, interval: saveEvery, clock: clock)
        let lines = Mutex([String: ProgressLine]())
        let quiet = report.json, openEnded = options.openEnded
        campaign.run(clock: clock, shouldStop: { limit.map { elapsed() >= $0 } ?? false }) { progress in
            if !quiet {
                let label = openEnded ? "\(progress.scenario) round \(progress.round + 1)" : progress.scenario
                let line = lines.withLock { $0[label, default: ProgressLine(label: label)] }
                lines.withLock { $0[label] = line }
                let note = limit.map { " · \(formatSeconds(max(0, $0 - elapsed()))) left" } ?? ""
                line.update(done: progress.done, total: progress.total, failed: progress.failed, note: note)
            }
            saver.saveIfDue { var state = campaign.snapshot(); state.elapsedSeconds = elapsed(); return state }
        }
        var state = campaign.snapshot()
        state.elapsedSeconds = elapsed()
        state.finished = true
        try output.finish(state, report)
        try state.write(to: FilePaths.join(output.directory, CampaignState.fileName))
    }

    /// The shard from --shard or --shard-from-env; exit 2 naming the problem.
    private func resolveShard() throws -> Shard {
        func bad(_ message: String) -> ExitCode {
            printError(message)
            return ExitCode(CLIExit.badInput.rawValue)
        }
        if let shard {
            let parts = shard.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]), count >= 1, (1...count).contains(index) else {
                throw bad("--shard \(shard): expected K/N with 1 <= K <= N, e.g. 2/8")
            }
            return Shard(index: index, count: count)
        }
        guard let count = shardFromEnv else { return .whole }
        guard count >= 1 else { throw bad("--shard-from-env \(count): the shard count must be at least 1") }
        let environment = ProcessInfo.processInfo.environment
        guard let (name, value) = ["JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"].lazy
            .compactMap({ name in environment[name].flatMap { $0.isEmpty ? nil : (name, $0) } }).first
        else {
            throw bad("--shard-from-env: neither JOB_COMPLETION_INDEX (Kubernetes Indexed Job) nor SLURM_ARRAY_TASK_ID (Slurm array) is set")
        }
        guard let index = Int(value), (0..<count).contains(index) else {
            throw bad("--shard-from-env \(count): \(name)=\(value) is not a 0-based index below \(count)")
        }
        return Shard(index: index + 1, count: count)
    }

    /// The state to resume from (with --resume), after checking it is this campaign's; nil to start
    /// afresh. Refuses to overwrite a campaign in progress without --resume.
    private func savedState(for options: Campaign.Options, _ loaded: [(file: String, scenario: Scenario)], in directory: String) throws -> CampaignState? {
        let path = FilePaths.join(directory, CampaignState.fileName)
        let fresh = Campaign(options: options, scenarios: loaded).snapshot()
        let exists = FileManager.default.fileExists(atPath: path)
        if !resume {
            if exists, let saved = try? CampaignState.load(from: path), !saved.finished {
                printError("\(directory) holds a campaign that did not finish; pass --resume to continue it, or choose another --out")
                throw ExitCode(CLIExit.badInput.rawValue)
            }
            try? FileManager.default.removeItem(atPath: path)
            try fresh.write(to: path)
            return fresh
        }
        do {
            var saved = try CampaignState.load(from: path)
            if let problem = saved.mismatch(fresh) ?? (saved.shard != fresh.shard ? "different shards (\(saved.shard) vs \(fresh.shard))" : nil) {
                printError("cannot resume \(path): \(problem); resume with the same build and arguments")
                throw ExitCode(CLIExit.badInput.rawValue)
            }
            saved.jobs = options.jobs
            return saved
        } catch let error as VerifierError {
            printError("cannot resume: \(error)")
            throw ExitCode(CLIExit.badInput.rawValue)
        }
    }
}

/// Saves the campaign state and an interim report under --out at most every `interval` seconds,
/// from whichever worker finishes a run when one is due (the others carry on).
final class ProgressSaver: Sendable {
    private let output: CampaignOutput
    private let interval: Int64
    private let clock: SystemClock
    private let lastSave: Mutex<Int64>

    init(output: CampaignOutput, interval: Double, clock: SystemClock) {
        self.output = output
        self.interval = Int64(interval * 1e9)
        self.clock = clock
        lastSave = Mutex(clock.monotonicNanoseconds())
    }

    func saveIfDue(_ snapshot: () -> CampaignState) {
        _ = lastSave.withLockIfAvailable { last in
            let now = clock.monotonicNanoseconds()
            guard now - last >= interval else { return }
            last = now
            let state = snapshot()
            do {
                try state.write(to: FilePaths.join(output.directory, CampaignState.fileName))
                try ReportWriter.write(try output.report(state, final: false), to: output.directory)
            } catch {
                printError("cannot save the campaign's progress: \(error)")
            }
        }
    }
}

/// "90s", "30m", "2h", "1h30m", "45" (seconds) → seconds.
func parseDuration(_ text: String) -> Double? {
    if let seconds = Double(text) { return seconds >= 0 ? seconds : nil }
    var total = 0.0, number = "", sawUnit = false
    for character in text {
        if character.isNumber || character == "." {
            number.append(character)
            continue
        }
        guard let value = Double(number) else { return nil }
        switch character {
        case "h": total += value * 3600
        case "m": total += value * 60
        case "s": total += value
        case "d": total += value * 86400
        default: return nil
        }
        number = ""
        sawUnit = true
    }
    return sawUnit && number.isEmpty ? total : nil
}
