import ArgumentParser
import Foundation
import TidemarkIO
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

    @Option(help: "Output directory for exploration.json and failure files (default: Reports/<timestamp>-explore-<name>).")
    var out: String?

    @Flag(help: "Print the result as JSON on stdout instead of tables.")
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
        let summary = ExplorationJSON(outcomes)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try jsonText(summary).write(toFile: FilePaths.join(directory, "exploration.json"), atomically: true, encoding: .utf8)
        if json {
            print(try jsonText(summary))
        } else {
            printTables(outcomes)
            print("Written: \(FilePaths.join(directory, "exploration.json"))")
        }
        if !summary.expectationsMet { throw ExitCode(CLIExit.problem.rawValue) }
    }

    private func printTables(_ outcomes: [ExplorationOutcome]) {
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
        let vulnerabilities = ExplorationJSON.merged(outcomes)
        if vulnerabilities.isEmpty {
            print("No vulnerabilities.")
        } else {
            print("\nVulnerabilities (\(vulnerabilities.count)):")
            printTable(
                header: ["#", "scenario", "invariant", "states", "seeds", "broken under", "cause"],
                rows: vulnerabilities.enumerated().map { index, entry in
                    ["\(index + 1)", entry.scenario, entry.vulnerability.invariant.rawValue, "\(entry.vulnerability.states)",
                     "\(entry.vulnerability.seeds.count)", entry.brokenUnder.joined(separator: ","), entry.vulnerability.cause]
                },
                leftColumns: [1, 2, 5, 6])
            for (index, entry) in vulnerabilities.enumerated() {
                let vulnerability = entry.vulnerability
                print("  \(index + 1). \(vulnerability.message)")
                if !entry.safeUnder.isEmpty { print("     safe under \(entry.safeUnder.joined(separator: ", ")), broken under \(entry.brokenUnder.joined(separator: ", "))") }
                print("     at \(vulnerability.reproducer.point.label), seed \(vulnerability.reproducerSeed): \(vulnerability.reproducer.state)")
                print("     replay: tidemark replay \(vulnerability.failureFile ?? "?")")
            }
        }
        print(ExplorationJSON.expectationsMet(outcomes) ? "All expectations met." : progress.paint("Some expectations NOT met.", code: "31"))
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

/// `tidemark explore --json` and `exploration.json`.
struct ExplorationJSON: Encodable {
    struct RunFailure: Encodable {
        var seed: UInt64
        var invariant: String
        var message: String
        var failureFile: String
    }
    struct ScenarioSummary: Encodable {
        var name: String
        var file: String
        var expect: String
        var expectationMet: Bool
        var expectationMessage: String
        var model: String
        var stateBudget: Int
        var seeds: Int
        var points: Int
        var statesEnumerated: Int
        var statesChecked: Int
        var recoveries: Int
        var boundedPoints: Int
        var truncatedPoints: Int
        var violatingStates: Int
        var exploringSeconds: Double
        var statesPerSecondPerCore: Double
        var secondsToFirstCatch: Double?
        var vulnerabilities: [Vulnerability]
        var runFailures: [RunFailure]
    }
    /// One vulnerability over every model explored: where it shows and where it does not.
    struct Merged: Encodable {
        var scenario: String
        var vulnerability: Vulnerability
        var brokenUnder: [String]
        var safeUnder: [String]
    }
    var expectationsMet: Bool
    var scenarios: [ScenarioSummary]
    var vulnerabilities: [Merged]

    /// Vulnerabilities by scenario, cause and invariant across models (the first model's
    /// reproducer and counts, most states first).
    static func merged(_ outcomes: [ExplorationOutcome]) -> [Merged] {
        var merged: [Merged] = []
        for outcome in outcomes {
            let explored = outcomes.filter { $0.scenario.name == outcome.scenario.name }.map(\.settings.model.rawValue)
            for vulnerability in outcome.vulnerabilities {
                if let index = merged.firstIndex(where: {
                    $0.scenario == outcome.scenario.name && $0.vulnerability.cause == vulnerability.cause
                        && $0.vulnerability.invariant == vulnerability.invariant
                }) {
                    merged[index].brokenUnder.append(outcome.settings.model.rawValue)
                    merged[index].safeUnder.removeAll { $0 == outcome.settings.model.rawValue }
                } else {
                    merged.append(Merged(
                        scenario: outcome.scenario.name, vulnerability: vulnerability, brokenUnder: [outcome.settings.model.rawValue],
                        safeUnder: explored.filter { $0 != outcome.settings.model.rawValue }))
                }
            }
        }
        return merged.sorted { $0.vulnerability.states > $1.vulnerability.states }
    }

    /// With several models a safe scenario must be clean under each; a canary must be caught
    /// under the weakest model explored (a stronger one may rightly hide it).
    static func expectationsMet(_ outcomes: [ExplorationOutcome]) -> Bool {
        Dictionary(grouping: outcomes, by: \.scenario.name).values.allSatisfy { group in
            if group[0].scenario.expect == .pass { return group.allSatisfy(\.expectation.met) }
            let weakest = PersistenceModel.allCases.compactMap { model in group.first { $0.settings.model == model } }.first!
            return weakest.expectation.met
        }
    }

    init(_ outcomes: [ExplorationOutcome]) {
        expectationsMet = Self.expectationsMet(outcomes)
        vulnerabilities = Self.merged(outcomes)
        scenarios = outcomes.map { outcome in
            let statistics = outcome.statistics
            return ScenarioSummary(
                name: outcome.scenario.name, file: outcome.file, expect: outcome.scenario.expect.rawValue,
                expectationMet: outcome.expectation.met, expectationMessage: outcome.expectation.message,
                model: outcome.settings.model.rawValue, stateBudget: outcome.settings.stateBudget, seeds: outcome.seeds,
                points: statistics.points, statesEnumerated: statistics.statesEnumerated, statesChecked: statistics.statesChecked,
                recoveries: statistics.recoveries, boundedPoints: statistics.boundedPoints,
                truncatedPoints: statistics.truncatedPoints, violatingStates: statistics.violatingStates,
                exploringSeconds: outcome.exploringSeconds, statesPerSecondPerCore: outcome.statesPerSecond,
                secondsToFirstCatch: outcome.secondsToFirstCatch, vulnerabilities: outcome.vulnerabilities,
                runFailures: outcome.runFailures.map {
                    RunFailure(seed: $0.seed, invariant: $0.violation.invariant.rawValue, message: $0.violation.message, failureFile: $0.failureFile)
                })
        }
    }
}
