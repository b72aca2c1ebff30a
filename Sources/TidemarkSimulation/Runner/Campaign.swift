import Foundation
import Synchronization
import TidemarkIO

/// Runs many seeds of one or more scenarios over several threads. Each finished run is folded
/// into its scenario's `CampaignTally` at once (sums and a list of failing seeds), so the outcome
/// depends neither on the job count nor on scheduling, memory stays flat however long the
/// campaign runs, and the whole progress is one small `CampaignState` value that can be saved,
/// resumed and merged with other shards'.
///
/// Seeds come in rounds: round r of a scenario with `seeds` S covers seeds
/// `startSeed + r*S ..< startSeed + (r+1)*S`, restricted to the campaign's shard. A fixed campaign
/// runs round 0 of every scenario; an open-ended one (`--duration`, `--until-failure`) repeats
/// rounds over all scenarios until `shouldStop` says so.
public final class Campaign: Sendable {
    public struct Options: Sendable {
        /// Seeds per scenario (per round); nil uses each scenario's own `seeds`.
        public var seeds: Int?
        public var startSeed: UInt64 = 1
        public var jobs: Int = ProcessInfo.processInfo.activeProcessorCount
        /// The part of every scenario's seeds this process runs.
        public var shard = Shard.whole
        /// Repeat rounds after the first until stopped.
        public var openEnded = false
        /// Stop drawing seeds at the first failure the scenario does not expect.
        public var stopAtUnexpectedFailure = false
        /// Distinct violations per scenario that get a failure file (the rest are counted).
        public var failureFilesPerScenario = 10
        /// Failures per scenario whose timeline goes into the report.
        public var timelinesPerScenario = 3
        /// Where failure files go (created when a run fails).
        public var failureDirectory: String
        public init(failureDirectory: String) { self.failureDirectory = failureDirectory }
    }

    /// What a progress callback sees as a round starts and after every finished run (from worker threads).
    public struct Progress: Sendable {
        public var scenario: String
        public var round: Int
        /// Runs done and to do in the current round of the current scenario.
        public var done: Int, total: Int
        /// Failing runs of the current scenario so far.
        public var failed: Int
    }

    public let options: Options
    private let state: Mutex<CampaignState>
    private let stopRequested = Atomic<Bool>(false)

    /// A fresh campaign over `scenarios`, or the continuation of `resuming` (whose scenarios and
    /// seed layout the caller has checked with `CampaignState.mismatch`).
    public init(options: Options, scenarios: [(file: String, scenario: Scenario)], resuming: CampaignState? = nil) {
        self.options = options
        state = Mutex(resuming ?? CampaignState(options: options, scenarios: scenarios))
    }

    /// The progress so far: consistent (every completed seed is in its tally) and cheap to copy.
    public func snapshot() -> CampaignState { state.withLock { $0 } }

    /// Each scenario's outcome so far; `final` re-runs the kept violations for their timelines
    /// and writes their failure files.
    public func outcomes(final: Bool = true) throws -> [ScenarioOutcome] {
        try snapshot().scenarios.map { try ScenarioOutcome($0, options: options, final: final) }
    }

    /// Runs until every round is done, or (open-ended) until `shouldStop` or an unexpected failure
    /// under `stopAtUnexpectedFailure`. `clock` only times the scenarios for the report.
    public func run(
        clock: any Clock, shouldStop: @escaping @Sendable () -> Bool = { false },
        progress: @escaping @Sendable (Progress) -> Void = { _ in }
    ) {
        let layout = state.withLock { $0.scenarios.map { ($0.scenario, $0.seedsPerRound) } }
        var round = 0
        while !stopped(shouldStop) {
            for (index, (scenario, seedsPerRound)) in layout.enumerated() where !stopped(shouldStop) {
                runRound(round, scenarioIndex: index, scenario: scenario, seedsPerRound: seedsPerRound,
                         clock: clock, shouldStop: shouldStop, progress: progress)
            }
            round += 1
            if !options.openEnded { break }
        }
    }

    private func stopped(_ shouldStop: () -> Bool) -> Bool {
        stopRequested.load(ordering: .relaxed) || (options.openEnded && shouldStop())
    }

    private func runRound(
        _ round: Int, scenarioIndex: Int, scenario: Scenario, seedsPerRound: Int, clock: any Clock,
        shouldStop: @escaping @Sendable () -> Bool, progress: @escaping @Sendable (Progress) -> Void
    ) {
        let shard = options.shard, start = options.startSeed
        let roundStart = start &+ UInt64(round) &* UInt64(seedsPerRound)
        let low = shard.positions(below: roundStart, from: start)
        let high = shard.positions(below: roundStart &+ UInt64(seedsPerRound), from: start)
        let pending = state.withLock { state in
            (low..<high).filter { !state.scenarios[scenarioIndex].completed.contains($0) }
        }
        guard !pending.isEmpty else { return }
        let total = high - low
        let alreadyDone = total - pending.count
        let next = Atomic<Int>(0)
        let finished = Atomic<Int>(alreadyDone)
        let began = clock.monotonicNanoseconds()
        let failedBefore = state.withLock { $0.scenarios[scenarioIndex].tally.failingRuns.count }
        progress(Progress(scenario: scenario.name, round: round, done: alreadyDone, total: total, failed: failedBefore))

        let worker: @Sendable () -> Void = { [self] in
            while !stopped(shouldStop) {
                let index = next.add(1, ordering: .relaxed).oldValue
                if index >= pending.count { return }
                let position = pending[index]
                let result = scenario.execute(seed: shard.seed(at: position, from: start))
                let failedSoFar = state.withLock { state in
                    state.scenarios[scenarioIndex].record(result, position: position)
                    return state.scenarios[scenarioIndex].tally.failingRuns.count
                }
                if let violation = result.violation, options.stopAtUnexpectedFailure,
                   !scenario.allows(violation.invariant) {
                    stopRequested.store(true, ordering: .relaxed)
                }
                let done = finished.add(1, ordering: .relaxed).newValue
                progress(Progress(scenario: scenario.name, round: round, done: done, total: total, failed: failedSoFar))
            }
        }
        runOnThreads(max(1, min(options.jobs, pending.count)), worker)
        let elapsed = Double(clock.monotonicNanoseconds() - began) / 1e9
        state.withLock { $0.scenarios[scenarioIndex].tally.elapsedSeconds += elapsed }
    }
}

extension Scenario {
    /// Whether a violation of `invariant` is what this scenario expects (a canary doing its job).
    public func allows(_ invariant: Invariant) -> Bool {
        expect == .violation && expectInvariants.contains(invariant)
    }
}

/// Which seeds a process runs: shard K of N takes the seeds with `seed % N == K - 1`, whatever
/// the start seed and however many rounds run, so N shards cover every seed exactly once.
public struct Shard: Codable, Sendable, Hashable, CustomStringConvertible {
    /// 1-based.
    public var index: Int
    public var count: Int
    public static let whole = Shard(index: 1, count: 1)

    public init(index: Int, count: Int) {
        precondition(count >= 1 && (1...count).contains(index), "shard \(index)/\(count)")
        self.index = index
        self.count = count
    }

    public var description: String { "\(index)/\(count)" }

    public func contains(_ seed: UInt64) -> Bool { seed % UInt64(count) == UInt64(index - 1) }

    /// The shard's first seed at or after `start`.
    private func first(from start: UInt64) -> UInt64 {
        let n = UInt64(count)
        return start &+ (UInt64(index - 1) &+ n &- start % n) % n
    }

    /// The shard's `position`-th seed counting from `start`.
    public func seed(at position: Int, from start: UInt64) -> UInt64 {
        first(from: start) &+ UInt64(position) &* UInt64(count)
    }

    /// How many of the shard's seeds counting from `start` lie below `bound`.
    public func positions(below bound: UInt64, from start: UInt64) -> Int {
        let first = first(from: start)
        guard bound > first else { return 0 }
        return Int((bound - first + UInt64(count) - 1) / UInt64(count))
    }
}
