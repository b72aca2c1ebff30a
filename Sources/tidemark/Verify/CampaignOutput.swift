import ArgumentParser
import Foundation
import TidemarkIO
import TidemarkReports
import TidemarkSimulation

/// The report options `run` and `merge` share.
struct ReportOptions: ParsableArguments {
    @Flag(help: "Print the result as JSON on stdout instead of a table.")
    var json = false

    @Option(help: "Also write a JUnit XML file here, for CI systems.")
    var junit: String?

    @Option(name: .customLong("failure-files"), help: "Distinct violations per scenario that get a failure file and a place in the report; the rest are counted.")
    var failureFiles = 10

    @Option(help: "Failures per scenario whose timeline the HTML report draws; the others are listed.")
    var timelines = 3

    func validate() throws {
        if failureFiles < 0 || timelines < 0 { throw ValidationError("--failure-files and --timelines must not be negative") }
    }

    /// Where the report goes, with these options.
    func output(in directory: String) throws -> CampaignOutput {
        if let junit { try CampaignOutput.requireWritable(FilePaths.parent(of: junit), what: "the directory of --junit") }
        try CampaignOutput.requireWritable(directory, what: "--out")
        return CampaignOutput(directory: directory, failureFilesPerScenario: failureFiles, timelinesPerScenario: timelines)
    }
}

/// What `run` and `merge` share: turning a campaign state into a report, writing it, and printing
/// the table or the JSON summary.
struct CampaignOutput {
    var directory: String
    var failureFilesPerScenario: Int
    var timelinesPerScenario: Int
    var createdAt = ISO8601DateFormatter().string(from: Date())

    var failureDirectory: String { FilePaths.join(directory, "failures") }

    /// The report of `state`. `final` re-runs each kept violation for its timeline and writes its
    /// failure file; an interim report (while the campaign runs) only lists them.
    func report(_ state: CampaignState, final: Bool) throws -> CampaignReport {
        var options = Campaign.Options(failureDirectory: failureDirectory)
        options.failureFilesPerScenario = failureFilesPerScenario
        options.timelinesPerScenario = timelinesPerScenario
        let scenarios = try state.scenarios.map { progress in
            ReportBuilder.scenarioReport(try ScenarioOutcome(progress, options: options, final: final), reportDir: directory)
        }
        let label = scenarios.count == 1 ? scenarios[0].name : "campaign"
        return CampaignReport(
            name: createdAt.replacingOccurrences(of: ":", with: "-") + "-" + label, createdAt: createdAt,
            build: BuildInfo.identity, jobs: state.jobs, durationSeconds: state.elapsedSeconds,
            expectationsMet: scenarios.allSatisfy(\.expectationMet), inProgress: !final, scenarios: scenarios)
    }

    /// Writes the final report (and `junit`, when given), prints it, and exits 1 when an
    /// expectation was not met.
    func finish(_ state: CampaignState, _ options: ReportOptions) throws {
        let junit = options.junit, json = options.json
        let report = try self.report(state, final: true)
        try ReportWriter.write(report, to: directory)
        if let junit {
            try JUnitRenderer.render(report).write(toFile: junit, atomically: true, encoding: .utf8)
        }
        if json {
            print(try jsonText(CampaignSummary(report)))
        } else {
            printTable(report)
            print("Report: \(FilePaths.join(directory, ReportWriter.htmlFileName))")
        }
        if !report.expectationsMet { throw ExitCode(CLIExit.problem.rawValue) }
    }

    private func printTable(_ report: CampaignReport) {
        let progress = ProgressLine(label: "")
        let header = ["scenario", "expect", "runs", "failed", "distinct", "crashes", "runs/s", "fs calls/s", "result"]
        var rows: [[String]] = []
        for scenario in report.scenarios {
            rows.append([
                scenario.name, scenario.expect.rawValue, "\(scenario.runs)", "\(scenario.failed)", "\(scenario.distinctViolations)",
                "\(scenario.crashes)", String(format: "%.1f", scenario.runsPerSecond), String(format: "%.0f", scenario.fsCallsPerSecond),
                scenario.expectationMet ? "met" : "NOT MET",
            ])
        }
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max()! }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == 0 || index == 1 || index == cells.count - 1
                    ? cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[index] - cell.count) + cell
            }.joined(separator: "  ")
        }
        print(line(header))
        for (row, scenario) in zip(rows, report.scenarios) {
            var text = line(row)
            if !scenario.expectationMet { text = progress.paint(text, code: "31") }
            print(text)
            if !scenario.expectationMet { print("    \(scenario.expectationMessage)") }
        }
        let runs = report.scenarios.reduce(0) { $0 + $1.runs }
        let calls = report.scenarios.reduce(0) { $0 + $1.fsCalls }
        print(String(
            format: "%d runs, %d simulated file-system calls in %.1fs: %.1f runs/s, %.0f fs calls/s (%d jobs)",
            runs, calls, report.durationSeconds, Double(runs) / max(report.durationSeconds, 1e-9),
            Double(calls) / max(report.durationSeconds, 1e-9), report.jobs))
        print(report.expectationsMet ? "All expectations met." : progress.paint("Some expectations NOT met.", code: "31"))
    }

    /// Fails (exit 2, naming the directory) unless `directory` can be created and written:
    /// checked before a campaign spends any time.
    static func requireWritable(_ directory: String, what: String) throws {
        let probe = FilePaths.join(directory, ".tidemark-write-check")
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try Data().write(to: URL(fileURLWithPath: probe))
            try FileManager.default.removeItem(atPath: probe)
        } catch {
            let reason = ((error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError)?.localizedDescription ?? error.localizedDescription
            printError("cannot write to \(what) \(directory): \(reason)")
            throw ExitCode(CLIExit.badInput.rawValue)
        }
    }
}
