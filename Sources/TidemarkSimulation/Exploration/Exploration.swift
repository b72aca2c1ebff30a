import Foundation
import Synchronization
import TidemarkIO
import TidemarkSimulatedDisk

/// Exhaustive crash exploration of a scenario over seeds: each seed's plan runs as in a random
/// run, with a `CrashExplorer` checking every crash state at every persistence point. Violating
/// states are grouped into vulnerabilities by cause; each gets a failure file pinning one state.
public struct Exploration {
    public struct Options: Sendable {
        public var seeds: [UInt64]
        public var jobs: Int
        public var settings: ExplorationSettings
        /// Where failure files go (created when something fails).
        public var failureDirectory: String
        public init(seeds: [UInt64], jobs: Int = 1, settings: ExplorationSettings = ExplorationSettings(), failureDirectory: String) {
            self.seeds = seeds
            self.jobs = jobs
            self.settings = settings
            self.failureDirectory = failureDirectory
        }
    }

    /// The counters an explored seed adds to a campaign's crash points and faults.
    static let pointsCounter = "explored persistence points"
    static let statesCounter = "explored crash states"

    public var options: Options
    /// Builds the subject instead of the scenario's (tests).
    public var subjectFactory: SimulationRun.SubjectFactory?

    public init(options: Options) {
        self.options = options
    }

    /// One seed, explored.
    public struct SeedOutcome: Sendable {
        public var seed: UInt64
        /// The run itself (its own random crashes included); `violation` is its own finding.
        public var run: RunResult
        public var statistics: CrashExplorer.Statistics
        public var findings: [(finding: CrashExplorer.Finding, states: Int)]
        /// CPU seconds this seed took (its thread's: the figure per core, whatever else runs).
        public var cpuSeconds: Double
        /// CPU seconds into this seed when the first violating state was found.
        public var firstFindingSeconds: Double?

        /// As a campaign counts it (`tidemark run` on an `exploration: exhaustive` scenario): the
        /// run's own violation, else the first vulnerability's, pinned; the explored points and
        /// states among the crash points and faults.
        public var result: RunResult {
            var result = run
            result.crashPoints[Exploration.pointsCounter, default: 0] += statistics.points
            result.faults[Exploration.statesCounter, default: 0] += statistics.statesChecked
            result.vulnerabilities = findings.map {
                VulnerabilityTally(cause: $0.finding.cause, invariant: $0.finding.violation.invariant, states: $0.states, seeds: [seed])
            }
            if result.violation == nil, let first = findings.first?.finding {
                result.violation = first.violation
                result.traceHash = first.traceHash
                result.pinnedCrash = first.crash
            }
            return result
        }
    }

    /// Explores one seed of `scenario`.
    public static func explore(
        _ scenario: Scenario, seed: UInt64, settings: ExplorationSettings, subjectFactory: SimulationRun.SubjectFactory? = nil
    ) -> SeedOutcome {
        let start = threadCPUNanoseconds()
        let explorer = CrashExplorer(
            mode: .explore(model: settings.model, budget: settings.stateBudget), powerLoss: !scenario.faults.powerLoss.isZero,
            makeSubject: subjectFactory ?? CrashExplorer.subjects(of: scenario))
        var run = SimulationRun(scenario: scenario, seed: seed)
        run.subjectFactory = subjectFactory
        run.explorer = explorer
        let result = run.execute()
        let findings = explorer.vulnerabilities.values.sorted { ($0.finding.crash.point.fsCall, $0.finding.cause) < ($1.finding.crash.point.fsCall, $1.finding.cause) }
        return SeedOutcome(
            seed: seed, run: result, statistics: explorer.statistics, findings: findings,
            cpuSeconds: Double(threadCPUNanoseconds() - start) / 1e9,
            firstFindingSeconds: explorer.firstFindingNanoseconds.map { Double($0 - start) / 1e9 })
    }

    /// Explores every seed of `options` (in parallel; results gathered by seed) and aggregates.
    public func run(
        _ scenario: Scenario, file: String, progress: @escaping @Sendable (_ done: Int, _ total: Int, _ failed: Int) -> Void = { _, _, _ in }
    ) throws -> ExplorationOutcome {
        let seeds = options.seeds
        let clock = SystemClock()
        let start = clock.monotonicNanoseconds()
        let settings = options.settings
        let factory = subjectFactory
        let failed = Atomic<Int>(0)
        let outcomes = forEachSeed(count: seeds.count, jobs: options.jobs) { index in
            Self.explore(scenario, seed: seeds[index], settings: settings, subjectFactory: factory)
        } progress: { done, outcome in
            let bad = outcome.run.violation != nil || !outcome.findings.isEmpty
            progress(done, seeds.count, bad ? failed.add(1, ordering: .relaxed).newValue : failed.load(ordering: .relaxed))
        }
        return try ExplorationOutcome(
            scenario: scenario, file: file, settings: settings, seeds: outcomes,
            elapsedSeconds: Double(clock.monotonicNanoseconds() - start) / 1e9, failureDirectory: options.failureDirectory)
    }
}

/// CPU time of the calling thread: seeds run on one thread each, so per-seed figures stay per
/// core on a busy machine. A measurement only; nothing depends on it.
func threadCPUNanoseconds() -> Int64 {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
}

/// A scenario's exploration, aggregated: vulnerabilities (not seeds) first.
public struct ExplorationOutcome: Sendable {
    public var scenario: Scenario
    public var file: String
    public var settings: ExplorationSettings
    public var seeds: Int
    public var statistics = CrashExplorer.Statistics()
    /// Distinct vulnerabilities, most states first.
    public var vulnerabilities: [Vulnerability] = []
    /// Seeds whose own random crashes broke an invariant (as `tidemark run` would report).
    public var runFailures: [(seed: UInt64, violation: Violation, failureFile: String)] = []
    public var elapsedSeconds: Double
    /// CPU seconds of exploration (seeds in order, one core) until the first violating state.
    public var secondsToFirstCatch: Double?
    /// Summed per-seed CPU seconds.
    public var exploringSeconds: Double = 0

    init(scenario: Scenario, file: String, settings: ExplorationSettings, seeds outcomes: [Exploration.SeedOutcome],
         elapsedSeconds: Double, failureDirectory: String) throws {
        self.scenario = scenario
        self.file = file
        self.settings = settings
        self.seeds = outcomes.count
        self.elapsedSeconds = elapsedSeconds
        var byCause: [String: (vulnerability: Vulnerability, failure: FailureFile)] = [:]
        for outcome in outcomes {
            if secondsToFirstCatch == nil, let first = outcome.firstFindingSeconds { secondsToFirstCatch = exploringSeconds + first }
            exploringSeconds += outcome.cpuSeconds
            statistics.add(outcome.statistics)
            if let violation = outcome.run.violation {
                let path = FilePaths.join(failureDirectory, "\(scenario.name)-seed\(outcome.seed).json")
                try Self.write(FailureFile(scenarioFile: file, scenario: scenario, run: SimulationRun(scenario: scenario, seed: outcome.seed), result: outcome.run), to: path)
                runFailures.append((outcome.seed, violation, path))
            }
            for (finding, states) in outcome.findings {
                let key = "\(finding.cause)\u{0}\(finding.violation.invariant.rawValue)"
                if byCause[key] != nil {
                    byCause[key]!.vulnerability.states += states
                    byCause[key]!.vulnerability.seeds.append(outcome.seed)
                    continue
                }
                var failure = FailureFile(scenarioFile: file, scenario: scenario, run: SimulationRun(scenario: scenario, seed: outcome.seed), result: outcome.run)
                failure.pin(finding)
                byCause[key] = (Vulnerability(
                    cause: finding.cause, invariant: finding.violation.invariant, states: states, seeds: [outcome.seed],
                    model: settings.model, reproducerSeed: outcome.seed, reproducer: finding.crash,
                    message: finding.violation.message, failureFile: nil), failure)
            }
        }
        // Most states first (ties by cause, so the order never depends on scheduling); the
        // failure files are numbered in that order.
        let ranked = byCause.values.sorted { ($0.vulnerability.states, $1.vulnerability.cause) > ($1.vulnerability.states, $0.vulnerability.cause) }
        for (rank, entry) in ranked.enumerated() {
            var vulnerability = entry.vulnerability
            let path = FilePaths.join(failureDirectory, "\(scenario.name)-vulnerability\(rank + 1)-seed\(vulnerability.reproducerSeed).json")
            try Self.write(entry.failure, to: path)
            vulnerability.failureFile = path
            vulnerabilities.append(vulnerability)
        }
    }

    private static func write(_ failure: FailureFile, to path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try failure.write(to: path)
    }

    /// Whether the scenario met its `expect`, and why, in one sentence.
    public var expectation: (met: Bool, message: String) {
        let invariants = Set(vulnerabilities.map(\.invariant) + runFailures.map(\.violation.invariant))
        let states = statistics.statesChecked
        switch scenario.expect {
        case .pass:
            if invariants.isEmpty { return (true, "all \(states) distinct crash states over \(seeds) seeds kept every invariant") }
            return (false, "\(vulnerabilities.count) vulnerabilities and \(runFailures.count) failing runs (\(invariants.map(\.rawValue).sorted().joined(separator: ", ")))")
        case .violation:
            if invariants.isEmpty { return (false, "expected a violation, but all \(states) distinct crash states over \(seeds) seeds passed") }
            let allowed = Set(scenario.expectInvariants)
            let unexpected = invariants.filter { !allowed.isEmpty && !allowed.contains($0) }
            if !unexpected.isEmpty {
                return (false, "violations of \(unexpected.map(\.rawValue).sorted().joined(separator: ", ")), which this scenario does not expect")
            }
            return (true, "caught as expected: \(vulnerabilities.count) vulnerabilities in \(statistics.violatingStates) crash states (\(invariants.map(\.rawValue).sorted().joined(separator: ", ")))")
        }
    }

    /// Distinct crash states checked per second of exploring (per core).
    public var statesPerSecond: Double { exploringSeconds > 0 ? Double(statistics.statesChecked) / exploringSeconds : 0 }
}

/// A vulnerability as a campaign counts it over seeds (`tidemark run` on an `exploration:
/// exhaustive` scenario): its failure file is written when the campaign ends.
public struct VulnerabilityTally: Codable, Sendable, Equatable {
    public var cause: String
    public var invariant: Invariant
    public var states: Int
    public var seeds: [UInt64]

    /// Adds `other`'s vulnerabilities: the same cause and invariant add up.
    static func merge(_ list: [VulnerabilityTally], _ other: [VulnerabilityTally]) -> [VulnerabilityTally] {
        var merged = list
        for entry in other {
            if let index = merged.firstIndex(where: { $0.cause == entry.cause && $0.invariant == entry.invariant }) {
                merged[index].states += entry.states
                merged[index].seeds += entry.seeds
            } else {
                merged.append(entry)
            }
        }
        return merged
    }
}

extension CrashExplorer.Statistics {
    mutating func add(_ other: CrashExplorer.Statistics) {
        points += other.points
        statesEnumerated += other.statesEnumerated
        statesChecked += other.statesChecked
        recoveries += other.recoveries
        boundedPoints += other.boundedPoints
        truncatedPoints += other.truncatedPoints
        refused += other.refused
        violatingStates += other.violatingStates
    }
}
