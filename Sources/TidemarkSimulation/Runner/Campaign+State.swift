import Foundation
import TidemarkIO

/// A campaign's progress as one value: what ran, what it found, and how the seeds were laid out.
/// `tidemark run` saves it under `--out` as it goes (to resume a killed campaign) and at the end
/// (for `tidemark merge` to combine shards). Tallies are sums and seed lists, so merging the
/// states of disjoint shards gives exactly the tallies of the whole campaign.
public struct CampaignState: Codable, Sendable, Equatable {
    public static let currentFormat = "tidemark-campaign-state/1"
    public static let fileName = "campaign-state.json"

    public var format = Self.currentFormat
    /// Shards and resumptions must come from the very same build, or their runs are not comparable.
    public var build = BuildInfo.identity
    public var buildDigest = BuildInfo.digest
    public var shard: Shard
    public var startSeed: UInt64
    public var openEnded: Bool
    public var jobs: Int
    public var scenarios: [ScenarioProgress]
    /// Set by the caller once the campaign ended normally (not killed).
    public var finished = false
    /// Wall-clock seconds spent so far, over every resumption (the caller keeps it).
    public var elapsedSeconds: Double = 0

    init(options: Campaign.Options, scenarios: [(file: String, scenario: Scenario)]) {
        shard = options.shard
        startSeed = options.startSeed
        openEnded = options.openEnded
        jobs = options.jobs
        self.scenarios = scenarios.map {
            ScenarioProgress(file: $0.file, scenario: $0.scenario, seedsPerRound: max(0, options.seeds ?? $0.scenario.seeds))
        }
    }

    /// Why `other` is not a run of the same campaign (scenarios, seeds, build), or nil. Shard
    /// indices and progress may differ; everything that decides which runs exist may not.
    public func mismatch(_ other: CampaignState) -> String? {
        if build != other.build || buildDigest != other.buildDigest {
            return "different builds (\(build) \(buildDigest) vs \(other.build) \(other.buildDigest))"
        }
        if scenarios.map(\.file) != other.scenarios.map(\.file) {
            return "different scenario files (\(scenarios.map(\.file).joined(separator: " ")) vs \(other.scenarios.map(\.file).joined(separator: " ")))"
        }
        for (mine, theirs) in zip(scenarios, other.scenarios) where mine.scenario != theirs.scenario {
            return "scenario \(mine.file) differs (its file changed between the runs)"
        }
        if scenarios.map(\.seedsPerRound) != other.scenarios.map(\.seedsPerRound) || startSeed != other.startSeed {
            return "different seeds (--seeds/--start-seed)"
        }
        if openEnded != other.openEnded { return "one is open-ended (--duration/--until-failure), the other is not" }
        if shard.count != other.shard.count { return "different shard counts (\(shard.count) vs \(other.shard.count))" }
        return nil
    }

    /// Reads a saved state; the error names the file and what is wrong with it.
    public static func load(from path: String) throws -> CampaignState {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw VerifierError("\(path): no campaign state (a `tidemark run --out` directory has one)")
        }
        let state: CampaignState
        do {
            state = try JSONDecoder().decode(CampaignState.self, from: data)
        } catch {
            throw VerifierError("\(path): not a campaign state: \(error)")
        }
        guard state.format == currentFormat else {
            throw VerifierError("\(path): unsupported format \"\(state.format)\" (this build reads \(currentFormat))")
        }
        return state
    }

    /// Writes the state atomically (temp file and rename), so a kill leaves the old or the new one.
    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try encoder.encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// The merged progress of disjoint shards of one campaign (checked by the caller).
    public static func merging(_ shards: [CampaignState]) -> CampaignState {
        var merged = shards[0]
        merged.shard = .whole
        merged.jobs = shards.reduce(0) { $0 + $1.jobs }
        merged.elapsedSeconds = shards.map(\.elapsedSeconds).max() ?? 0
        merged.finished = shards.allSatisfy(\.finished)
        for index in merged.scenarios.indices {
            merged.scenarios[index].completed = CompletedPositions()
            merged.scenarios[index].tally = CampaignTally()
            for shard in shards { merged.scenarios[index].tally.absorb(shard.scenarios[index].tally) }
        }
        return merged
    }
}

/// One scenario's progress within a campaign.
public struct ScenarioProgress: Codable, Sendable, Equatable {
    public var file: String
    public var scenario: Scenario
    public var seedsPerRound: Int
    /// Positions (in the shard's seed sequence) whose runs are in `tally`.
    public var completed = CompletedPositions()
    public var tally = CampaignTally()

    mutating func record(_ result: RunResult, position: Int) {
        guard !completed.contains(position) else { return }
        completed.insert(position)
        tally.absorb(CampaignTally(result))
    }
}

/// Sums over finished runs, and every failing run by seed.
public struct CampaignTally: Codable, Sendable, Equatable {
    public var runs = 0
    public var stoppedEarly = 0
    public var crashes = 0
    public var recoveries = 0
    public var fsCalls = 0
    public var faults: [String: Int] = [:]
    public var crashPoints: [String: Int] = [:]
    public var recoveryPaths: [String: Int] = [:]
    public var operations: [String: Int] = [:]
    /// Fault knob -> runs in which it fired.
    public var knobsFired: [String: Int] = [:]
    public var invariantViolations: [String: Int] = [:]
    /// In completion order; sorted by seed when read.
    public var failingRuns: [FailingRun] = []
    /// Exhaustive scenarios: vulnerabilities over the seeds (nil in random mode and in shards
    /// written before they were tallied).
    public var vulnerabilities: [VulnerabilityTally]?
    /// Wall-clock seconds spent on this scenario (summed over rounds and shards).
    public var elapsedSeconds: Double = 0

    init() {}

    /// The tally of one run.
    init(_ result: RunResult) {
        runs = 1
        crashes = result.crashes
        recoveries = result.recoveries
        fsCalls = result.fsCalls
        faults = result.faults
        crashPoints = result.crashPoints
        recoveryPaths = result.recoveryPaths
        operations = result.operations
        knobsFired = Dictionary(uniqueKeysWithValues: Set(result.knobsFired).map { ($0, 1) })
        stoppedEarly = result.stoppedEarly == nil ? 0 : 1
        if !result.vulnerabilities.isEmpty { vulnerabilities = result.vulnerabilities }
        if let violation = result.violation {
            invariantViolations = [violation.invariant.rawValue: 1]
            failingRuns = [FailingRun(seed: result.seed, violation: violation, traceHash: Hex.digits16(result.traceHash))]
        }
    }

    mutating func absorb(_ other: CampaignTally) {
        runs += other.runs
        stoppedEarly += other.stoppedEarly
        crashes += other.crashes
        recoveries += other.recoveries
        fsCalls += other.fsCalls
        faults.merge(other.faults, uniquingKeysWith: +)
        crashPoints.merge(other.crashPoints, uniquingKeysWith: +)
        recoveryPaths.merge(other.recoveryPaths, uniquingKeysWith: +)
        operations.merge(other.operations, uniquingKeysWith: +)
        knobsFired.merge(other.knobsFired, uniquingKeysWith: +)
        invariantViolations.merge(other.invariantViolations, uniquingKeysWith: +)
        failingRuns += other.failingRuns
        if let more = other.vulnerabilities { vulnerabilities = VulnerabilityTally.merge(vulnerabilities ?? [], more) }
        elapsedSeconds += other.elapsedSeconds
    }
}

/// A failing seed as the campaign saw it: enough to count, group and re-run it.
public struct FailingRun: Codable, Sendable, Equatable {
    public var seed: UInt64
    public var violation: Violation
    public var traceHash: String

    /// The violation with every number replaced by `#`: runs that broke the same invariant in
    /// the same way ("put k# (step #) was acknowledged …") share one failure file.
    public var shape: String {
        var out = violation.invariant.rawValue + ": "
        var inNumber = false
        for character in violation.message {
            if character.isASCII && character.isNumber {
                if !inNumber { out.append("#") }
                inNumber = true
            } else {
                out.append(character)
                inNumber = false
            }
        }
        return out
    }
}

/// A set of positions kept as "all below `prefix`" plus the few finished out of order.
public struct CompletedPositions: Codable, Sendable, Equatable {
    public private(set) var prefix = 0
    public private(set) var beyond: [Int] = []

    public init() {}

    public func contains(_ position: Int) -> Bool {
        position < prefix || beyond.contains(position)
    }

    mutating func insert(_ position: Int) {
        guard !contains(position) else { return }
        beyond.append(position)
        beyond.sort()
        while let first = beyond.first, first == prefix {
            beyond.removeFirst()
            prefix += 1
        }
    }
}
