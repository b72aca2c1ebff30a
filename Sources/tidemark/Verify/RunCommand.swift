import ArgumentParser
import Foundation
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
            `tidemark shrink` take. Exit status: 0 when every scenario met its expectation, 1 when \
            one did not, 2 on bad usage or a bad scenario.
            """)

    @Argument(help: "Scenario files (YAML; see Scenarios/README.md).")
    var scenarios: [String]

    @Option(help: "Seeds per scenario (default: each scenario's own `seeds`).")
    var seeds: Int?

    @Option(name: .customLong("start-seed"), help: "First seed; seeds run from here upwards.")
    var startSeed: UInt64 = 1

    @Option(help: "Parallel jobs (default: the number of cores). Results do not depend on it.")
    var jobs: Int?

    @Option(help: "Report directory (default: Reports/<timestamp>-<name>).")
    var out: String?

    @Flag(help: "Print the result as JSON on stdout instead of a table.")
    var json = false

    @Option(help: "Also write a JUnit XML file here, for CI systems.")
    var junit: String?

    func validate() throws {
        if let seeds, seeds < 1 { throw ValidationError("--seeds must be at least 1") }
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
    }

    func run() throws {
        let loaded = try loadScenarios(scenarios)

        let createdAt = ISO8601DateFormatter().string(from: Date())
        let runName = (createdAt.replacingOccurrences(of: ":", with: "-")) + "-" + (loaded.count == 1 ? loaded[0].scenario.name : "campaign")
        let reportDirectory = out ?? "Reports/\(runName)"
        var options = Campaign.Options(failureDirectory: FilePaths.join(reportDirectory, "failures"))
        options.seeds = seeds
        options.startSeed = startSeed
        if let jobs { options.jobs = jobs }
        let campaign = Campaign(options: options)

        let clock = SystemClock()
        let started = clock.monotonicNanoseconds()
        var outcomes: [ScenarioOutcome] = []
        for (file, scenario) in loaded {
            let progress = ProgressLine(label: scenario.name)
            outcomes.append(try campaign.run(scenario, file: file) { done, total, failed in
                progress.update(done: done, total: total, failed: failed)
            })
        }
        let duration = Double(clock.monotonicNanoseconds() - started) / 1e9

        let scenarioReports = outcomes.map { ReportBuilder.scenarioReport($0, reportDir: reportDirectory) }
        let report = CampaignReport(
            name: runName, createdAt: createdAt, build: BuildInfo.identity, jobs: options.jobs,
            durationSeconds: duration, expectationsMet: scenarioReports.allSatisfy(\.expectationMet),
            scenarios: scenarioReports)
        try ReportWriter.write(report, to: reportDirectory)
        if let junit {
            try JUnitRenderer.render(report).write(toFile: junit, atomically: true, encoding: .utf8)
        }

        if json {
            print(try jsonText(CampaignSummary(report)))
        } else {
            printTable(report, outcomes: outcomes)
            print("Report: \(FilePaths.join(reportDirectory, ReportWriter.htmlFileName))")
        }
        if !report.expectationsMet { throw ExitCode(CLIExit.problem.rawValue) }
    }

    private func printTable(_ report: CampaignReport, outcomes: [ScenarioOutcome]) {
        let progress = ProgressLine(label: "")
        let header = ["scenario", "expect", "runs", "failed", "crashes", "runs/s", "fs calls/s", "result"]
        var rows: [[String]] = []
        for scenario in report.scenarios {
            rows.append([
                scenario.name, scenario.expect, "\(scenario.runs)", "\(scenario.failed)", "\(scenario.crashes)",
                String(format: "%.1f", scenario.runsPerSecond), String(format: "%.0f", scenario.fsCallsPerSecond),
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
}

