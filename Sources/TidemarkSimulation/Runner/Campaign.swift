import Foundation
import Synchronization
import TidemarkIO

/// Runs many seeds of one or more scenarios over several threads. Each run is independent and
/// deterministic, and results are gathered by seed, so the outcome does not depend on the job
/// count or on scheduling.
public struct Campaign {
    public struct Options: Sendable {
        /// Seeds per scenario; nil uses each scenario's own `seeds`.
        public var seeds: Int?
        public var startSeed: UInt64 = 1
        public var jobs: Int = ProcessInfo.processInfo.activeProcessorCount
        /// Failing runs whose timelines are kept for the report (all are counted).
        public var timelinesPerScenario = 12
        /// Where failure files go (created when a run fails).
        public var failureDirectory: String
        public init(failureDirectory: String) { self.failureDirectory = failureDirectory }
    }

    public var options: Options
    public init(options: Options) { self.options = options }

    /// Runs `scenario` (read from `file`) and returns its aggregate. `progress` sees every
    /// finished run, from worker threads, in completion order.
    public func run(
        _ scenario: Scenario, file: String, progress: @escaping @Sendable (_ done: Int, _ total: Int, _ failed: Int) -> Void = { _, _, _ in }
    ) throws -> ScenarioOutcome {
        let total = max(0, options.seeds ?? scenario.seeds)
        let seeds = (0..<total).map { options.startSeed &+ UInt64($0) }
        let slots = Mutex([RunResult?](repeating: nil, count: total))
        let next = Atomic<Int>(0)
        let finished = Atomic<Int>(0)
        let failedCount = Atomic<Int>(0)
        let clock = SystemClock()
        let start = clock.monotonicNanoseconds()

        let jobs = max(1, min(options.jobs, total))
        let worker: @Sendable () -> Void = {
            while true {
                let index = next.add(1, ordering: .relaxed).oldValue
                if index >= total { return }
                var result = SimulationRun(scenario: scenario, seed: seeds[index]).execute()
                if result.passed {
                    // Keep the counters; drop the timeline and trace of passing runs.
                    result.events = []
                    result.crashReports = []
                    result.decisions = []
                }
                let failedSoFar = result.passed ? failedCount.load(ordering: .relaxed) : failedCount.add(1, ordering: .relaxed).newValue
                slots.withLock { $0[index] = result }
                let done = finished.add(1, ordering: .relaxed).newValue
                progress(done, total, failedSoFar)
            }
        }
        if jobs == 1 {
            worker()
        } else {
            let group = DispatchGroup()
            for _ in 0..<jobs {
                group.enter()
                let thread = Thread {
                    worker()
                    group.leave()
                }
                thread.stackSize = 8 << 20
                thread.start()
            }
            group.wait()
        }
        let elapsed = Double(clock.monotonicNanoseconds() - start) / 1e9
        let results = slots.withLock { $0.compactMap { $0 } }
        return try ScenarioOutcome(scenario: scenario, file: file, results: results, elapsedSeconds: elapsed, options: options)
    }
}

/// A scenario's runs, aggregated.
public struct ScenarioOutcome: Sendable {
    public var scenario: Scenario
    public var file: String
    public var runs: Int
    public var failed: Int
    public var stoppedEarly: Int
    public var failures: [Failure]
    public var faults: [String: Int] = [:]
    public var crashes = 0
    public var recoveries = 0
    public var crashPoints: [String: Int] = [:]
    public var recoveryPaths: [String: Int] = [:]
    public var operations: [String: Int] = [:]
    /// Fault knob -> runs in which it fired.
    public var knobsFired: [String: Int] = [:]
    public var invariantViolations: [String: Int] = [:]
    public var fsCalls = 0
    public var elapsedSeconds: Double

    public struct Failure: Sendable {
        public var seed: UInt64
        public var violation: Violation
        public var traceHash: UInt64
        public var failureFile: String
        /// The run, with its timeline; nil beyond `timelinesPerScenario`.
        public var result: RunResult?
    }

    init(scenario: Scenario, file: String, results: [RunResult], elapsedSeconds: Double, options: Campaign.Options) throws {
        self.scenario = scenario
        self.file = file
        self.elapsedSeconds = elapsedSeconds
        runs = results.count
        failed = 0
        stoppedEarly = 0
        failures = []
        for result in results {
            crashes += result.crashes
            recoveries += result.recoveries
            fsCalls += result.fsCalls
            faults.merge(result.faults, uniquingKeysWith: +)
            crashPoints.merge(result.crashPoints, uniquingKeysWith: +)
            recoveryPaths.merge(result.recoveryPaths, uniquingKeysWith: +)
            operations.merge(result.operations, uniquingKeysWith: +)
            for knob in result.knobsFired { knobsFired[knob, default: 0] += 1 }
            if result.stoppedEarly != nil { stoppedEarly += 1 }
            guard let violation = result.violation else { continue }
            failed += 1
            invariantViolations[violation.invariant.rawValue, default: 0] += 1
            let path = FilePaths.join(options.failureDirectory, "\(scenario.name)-seed\(result.seed).json")
            try FileManager.default.createDirectory(atPath: options.failureDirectory, withIntermediateDirectories: true)
            let run = SimulationRun(scenario: scenario, seed: result.seed)
            try FailureFile(scenarioFile: file, scenario: scenario, run: run, result: result).write(to: path)
            failures.append(Failure(
                seed: result.seed, violation: violation, traceHash: result.traceHash, failureFile: path,
                result: failures.count < options.timelinesPerScenario ? result : nil))
        }
    }

    public var passed: Int { runs - failed }

    /// Runs that broke one of the invariants the scenario expects to break.
    public var caught: Int {
        scenario.expectInvariants.reduce(0) { $0 + invariantViolations[$1.rawValue, default: 0] }
    }

    /// Whether the scenario met its `expect` (and its bound on refusals), and why, in one sentence.
    public var expectation: (met: Bool, message: String) {
        if let bound = scenario.refusalsAtMost, Double(stoppedEarly) > bound * Double(runs) {
            return (false, "\(stoppedEarly) of \(runs) runs ended in a refusal, more than the \(Int(bound * 100))% the scenario allows")
        }
        switch scenario.expect {
        case .pass:
            if failed == 0 { return (true, "all \(runs) runs kept every invariant") }
            let kinds = invariantViolations.keys.sorted().joined(separator: ", ")
            return (false, "\(failed) of \(runs) runs broke an invariant (\(kinds))")
        case .violation:
            let allowed = Set(scenario.expectInvariants.map(\.rawValue))
            let unexpected = invariantViolations.keys.filter { !allowed.contains($0) }.sorted()
            if !unexpected.isEmpty {
                return (false, "violations of \(unexpected.joined(separator: ", ")), which this scenario does not expect")
            }
            if caught == 0 { return (false, "expected a violation of \(allowed.sorted().joined(separator: ", ")), but all \(runs) runs passed") }
            let kinds = invariantViolations.keys.sorted().joined(separator: ", ")
            return (true, "caught as expected: \(caught) of \(runs) runs broke \(kinds)")
        }
    }

    public var runsPerSecond: Double { elapsedSeconds > 0 ? Double(runs) / elapsedSeconds : 0 }
    public var fsCallsPerSecond: Double { elapsedSeconds > 0 ? Double(fsCalls) / elapsedSeconds : 0 }
}
