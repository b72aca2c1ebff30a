import ArgumentParser
import Foundation
import TidemarkIO
import TidemarkReports
import TidemarkSimulatedDisk
import TidemarkSimulation

/// `tidemark explore`: every crash state at every persistence point, grouped into vulnerabilities.
struct Explore: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check every crash state at every persistence point of a seed's run, and list the vulnerabilities.",
        discussion: """
            Runs each seed's plan as `tidemark run` would and, before every sync, directory sync, \
            rename and remove (inside operations and recovery) and after every operation, enumerates \
            the states a power loss may leave under the persistence model (every legal subset of the \
            pending changes, torn writes at every sector boundary; beyond --budget states ALICE's \
            bounded family), recovers a fresh subject on each distinct disk image and checks the \
            same invariants. Violating states are grouped by cause (the ordering or atomicity the \
            subject relied on); each vulnerability gets a failure file that `tidemark replay` takes. \
            The report (report.json, summary.md, index.html, junit.xml in --out) lists the \
            vulnerabilities first. \
            Exit status: 0 when every scenario met its expectation, 1 when one did not, 2 on bad \
            usage or a bad scenario.
            """)

    @Argument(help: "Scenario files (YAML; see Scenarios/README.md).")
    var scenarios: [String]

    @Option(help: "Explore this one seed.")
    var seed: UInt64?

    @Option(help: "Seeds per scenario, from --start-seed (default: each scenario's own `seeds`).")
    var seeds: Int?

    @Option(name: .customLong("start-seed"), help: "First seed with --seeds.")
    var startSeed: UInt64 = 1

    @Option(help: "Persistence model: \(PersistenceModel.allCases.map(\.rawValue).joined(separator: ", ")), or all (each vulnerability then says under which models it shows) (default: the scenario's, else weakest).")
    var model: String?

    @Option(help: "Most crash states per persistence point before the bounded family (default: the scenario's stateBudget, else \(ExplorationSettings.defaultStateBudget)).")
    var budget: Int?

    @Option(help: "Parallel jobs (default: the number of cores). Results do not depend on it.")
    var jobs: Int?

    @Option(help: "Output directory for the report (report.json, summary.md, index.html, junit.xml) and failure files (default: Reports/<timestamp>-explore-<name>).")
    var out: String?

    @Flag(help: "Print the report (report.json's model) as JSON on stdout instead of tables.")
    var json = false

    func validate() throws {
        if seed != nil && seeds != nil { throw ValidationError("give --seed or --seeds, not both") }
        if let seeds, seeds < 1 { throw ValidationError("--seeds must be at least 1") }
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        if let budget, budget < 1 { throw ValidationError("--budget must be at least 1") }
        if let model, model != "all", PersistenceModel(rawValue: model) == nil {
            throw ValidationError("--model must be one of \(PersistenceModel.allCases.map(\.rawValue).joined(separator: ", ")) or all, got \"\(model)\"")
        }
    }

    func run() throws {
        let loaded = try loadScenarios(scenarios)
        let createdAt = ISO8601DateFormatter().string(from: Date())
        let name = loaded.count == 1 ? loaded[0].scenario.name : "campaign"
        let directory = out ?? "Reports/\(createdAt.replacingOccurrences(of: ":", with: "-"))-explore-\(name)"

        var outcomes: [ExplorationOutcome] = []
        for (file, scenario) in loaded {
            let base = scenario.exploration ?? ExplorationSettings()
            let models = model == "all" ? PersistenceModel.allCases : [model.flatMap(PersistenceModel.init(rawValue:)) ?? base.model]
            for persistence in models {
                var settings = base
                settings.model = persistence
                if let budget { settings.stateBudget = budget }
                let seedList = seed.map { [$0] } ?? (0..<(seeds ?? scenario.seeds)).map { startSeed &+ UInt64($0) }
                let failures = models.count == 1 ? FilePaths.join(directory, "failures") : FilePaths.join(directory, "failures/\(persistence.rawValue)")
                let options = Exploration.Options(
                    seeds: seedList, jobs: jobs ?? ProcessInfo.processInfo.activeProcessorCount, settings: settings,
                    failureDirectory: failures)
                let progress = ProgressLine(label: "explore \(scenario.name) (\(persistence.rawValue))")
                outcomes.append(try Exploration(options: options).run(scenario, file: file) { done, total, failed in
                    progress.update(done: done, total: total, failed: failed)
                })
            }
        }
        let scenarioReports = ReportBuilder.scenarioReports(outcomes, reportDir: directory)
        let report = CampaignReport(
            name: "\(createdAt.replacingOccurrences(of: ":", with: "-"))-explore-\(name)", createdAt: createdAt, build: BuildInfo.identity,
            jobs: jobs ?? ProcessInfo.processInfo.activeProcessorCount, durationSeconds: outcomes.reduce(0) { $0 + $1.elapsedSeconds },
            expectationsMet: scenarioReports.allSatisfy(\.expectationMet), scenarios: scenarioReports)
        try ReportWriter.write(report, to: directory)
        if json {
            print(String(decoding: try ReportWriter.encode(report), as: UTF8.self), terminator: "")
        } else {
            printTables(outcomes, report: report)
            print("Report: \(FilePaths.join(directory, ReportWriter.htmlFileName))")
        }
        if !report.expectationsMet { throw ExitCode(CLIExit.problem.rawValue) }
    }

    private func printTables(_ outcomes: [ExplorationOutcome], report: CampaignReport) {
        let progress = ProgressLine(label: "")
        let header = ["scenario", "model", "seeds", "points", "states", "distinct", "recovered", "states/s/core", "vulns", "result"]
        let rows = outcomes.map { outcome in
            [
                outcome.scenario.name, outcome.settings.model.rawValue, "\(outcome.seeds)", "\(outcome.statistics.points)",
                "\(outcome.statistics.statesEnumerated)", "\(outcome.statistics.statesChecked)", "\(outcome.statistics.recoveries)",
                String(format: "%.0f", outcome.statesPerSecond), "\(outcome.vulnerabilities.count)",
                outcome.expectation.met ? "met" : "NOT MET",
            ]
        }
        printTable(header: header, rows: rows, leftColumns: [0, 1, header.count - 1])
        for outcome in outcomes {
            if !outcome.expectation.met { print(progress.paint("    \(outcome.expectation.message)", code: "31")) }
            if outcome.statistics.boundedPoints > 0 {
                print("    \(outcome.scenario.name) (\(outcome.settings.model.rawValue)): \(outcome.statistics.boundedPoints) of \(outcome.statistics.points) points had more than \(outcome.settings.stateBudget) states: bounded family (prefixes, single partial changes, prefixes minus one)\(outcome.statistics.truncatedPoints > 0 ? ", cut at the budget at \(outcome.statistics.truncatedPoints)" : "")")
            }
            for failure in outcome.runFailures {
                print("    \(outcome.scenario.name) seed \(failure.seed): the run's own crash broke \(failure.violation.invariant.rawValue): \(failure.failureFile)")
            }
        }
        let vulnerabilities = report.vulnerabilities
        if vulnerabilities.isEmpty {
            print("No vulnerabilities.")
        } else {
            print("\nVulnerabilities (\(vulnerabilities.count)):")
            printTable(
                header: ["#", "scenario", "invariant", "states", "seeds", "broken under", "cause"],
                rows: vulnerabilities.enumerated().map { index, entry in
                    ["\(index + 1)", entry.scenario.name, entry.vulnerability.invariant, "\(entry.vulnerability.states)",
                     "\(entry.vulnerability.seeds.count)", entry.vulnerability.brokenUnder.joined(separator: ","), entry.vulnerability.cause]
                },
                leftColumns: [1, 2, 5, 6])
            for (index, entry) in vulnerabilities.enumerated() {
                let vulnerability = entry.vulnerability
                print("  \(index + 1). \(vulnerability.message)")
                if !vulnerability.safeUnder.isEmpty { print("     safe under \(vulnerability.safeUnder.joined(separator: ", ")), broken under \(vulnerability.brokenUnder.joined(separator: ", "))") }
                print("     at \(vulnerability.state)")
                print("     \(vulnerability.reproduce)")
            }
        }
        print(report.expectationsMet ? "All expectations met." : progress.paint("Some expectations NOT met.", code: "31"))
    }
}

/// Loads scenario files, or exits 2 naming the first bad one; names must be unique.
func loadScenarios(_ files: [String]) throws -> [(file: String, scenario: Scenario)] {
    var loaded: [(file: String, scenario: Scenario)] = []
    for file in files {
        do {
            loaded.append((file, try ScenarioParser.load(file: file)))
        } catch {
            printError("\(error)")
            throw ExitCode(CLIExit.badInput.rawValue)
        }
    }
    if let duplicate = Dictionary(grouping: loaded, by: \.scenario.name).first(where: { $0.value.count > 1 }) {
        printError("two scenarios are named \"\(duplicate.key)\" (\(duplicate.value.map(\.file).joined(separator: ", "))); names must be unique")
        throw ExitCode(CLIExit.badInput.rawValue)
    }
    return loaded
}

/// Prints aligned columns: `leftColumns` padded on the right, the others right-aligned.
func printTable(header: [String], rows: [[String]], leftColumns: Set<Int>) {
    let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max()! }
    for row in [header] + rows {
        print(row.enumerated().map { index, cell in
            leftColumns.contains(index)
                ? (index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0))
                : String(repeating: " ", count: widths[index] - cell.count) + cell
        }.joined(separator: "  "))
    }
}
