import TidemarkReports
import TidemarkSimulatedDisk

/// A scenario: what to test (subject and its configuration), with what (workload and fault mix,
/// as ranges randomized per seed: swarm testing), how often (seeds), and what should happen.
///
/// Scenarios are YAML files (see `Scenarios/README.md` for the schema); `ScenarioParser` reads them
/// with line and column on every error.
public struct Scenario: Codable, Sendable, Hashable {
    public var name: String
    public var description: String
    public var subject: SubjectConfiguration
    public var workload: WorkloadConfiguration
    public var faults: FaultRanges
    /// Seeds a campaign runs by default (`--seeds` overrides).
    public var seeds: Int
    public var expect: Expectation
    /// With `expect: violation`: the invariants the scenario is meant to break (required). Only
    /// runs that break one of them count as caught; a violation of any other invariant means
    /// the expectation is not met (a canary caught for the wrong reason).
    public var expectInvariants: [Invariant]
    /// Random crashes only (nil), or also every crash state at every persistence point
    /// (`exploration: exhaustive` in YAML; see `CrashExplorer`).
    public var exploration: ExplorationSettings?
    /// The largest share of runs (0...1) that may end in a refusal (the subject stopped on
    /// detected corruption or I/O errors it could not get past); nil: no bound.
    public var refusalsAtMost: Double?

    public init(
        name: String, description: String = "", subject: SubjectConfiguration,
        workload: WorkloadConfiguration = WorkloadConfiguration(), faults: FaultRanges = FaultRanges(),
        seeds: Int = 100, expect: Expectation = .pass, expectInvariants: [Invariant] = [], refusalsAtMost: Double? = nil
    ) {
        self.name = name
        self.description = description
        self.subject = subject
        self.workload = workload
        self.faults = faults
        self.seeds = seeds
        self.expect = expect
        self.expectInvariants = expectInvariants
        self.exploration = nil
        self.refusalsAtMost = refusalsAtMost
    }

    /// What the scenario expects of its runs; the report states the same value.
    public typealias Expectation = TidemarkReports.Expectation
}

/// Which subject, and its options (validated by the subject kind; see `SubjectKind`).
public struct SubjectConfiguration: Codable, Sendable, Hashable {
    public var kind: SubjectKind
    public var options: [String: String]
    public init(kind: SubjectKind, options: [String: String] = [:]) {
        self.kind = kind
        self.options = options
    }
}

/// An inclusive integer range; a single value is `n...n`.
public struct IntRange: Codable, Sendable, Hashable, CustomStringConvertible {
    public var lower: Int
    public var upper: Int
    public init(_ lower: Int, _ upper: Int) {
        self.lower = lower
        self.upper = upper
    }
    public init(_ value: Int) { self.init(value, value) }
    public var description: String { lower == upper ? "\(lower)" : "\(lower)..\(upper)" }
}

/// An inclusive range of doubles, drawn uniformly per seed; a single value is `x...x`.
public struct DoubleRange: Codable, Sendable, Hashable, CustomStringConvertible {
    public var lower: Double
    public var upper: Double
    public init(_ lower: Double, _ upper: Double) {
        self.lower = lower
        self.upper = upper
    }
    public init(_ value: Double) { self.init(value, value) }
    public static let zero = DoubleRange(0)
    public var isZero: Bool { lower == 0 && upper == 0 }
    public var description: String { lower == upper ? "\(lower)" : "\(lower)..\(upper)" }
}

/// The workload mix. Every choice is drawn from the run's seed.
public struct WorkloadConfiguration: Codable, Sendable, Hashable {
    /// Operations between two crashes.
    public var operationsPerCycle = IntRange(20, 60)
    /// Crash/recover cycles per run.
    public var cycles = IntRange(1, 3)
    /// Distinct record ids the workload draws from.
    public var keys = 24
    public var distribution = KeyDistribution.zipfian
    public var contentBytes = IntRange(4, 120)
    public var embeddingDimensions = 4
    public var batchSize = IntRange(2, 5)
    /// Relative weights of operation kinds.
    public var mix: [OperationKind: Double] = WorkloadConfiguration.defaultMix
    /// How `concurrent` steps (their weight is in `mix`) are drawn; nil: the run is sequential.
    public var concurrency: ConcurrencyConfiguration?

    public init() {}

    public static let defaultMix: [OperationKind: Double] = [
        .put: 40, .delete: 8, .batch: 8, .transaction: 6, .get: 14, .search: 5, .sync: 8,
        .checkpoint: 3, .maintenance: 2, .advanceClock: 3, .reopen: 2,
    ]

    public enum KeyDistribution: String, Codable, Sendable, Hashable, CaseIterable {
        case uniform, zipfian
    }
}

/// The shape of a workload's `concurrent` steps.
public struct ConcurrencyConfiguration: Codable, Sendable, Hashable {
    /// Threads per step, each putting or deleting an id of its own (fewer when `keys` runs out).
    public var writers = IntRange(2, 4)
    /// The chance that a step also closes the store from one more thread.
    public var closeChance = 0.2
    /// The chance that a step also checkpoints from one more thread (a maintenance pass's
    /// flush racing the commits); 0 draws nothing.
    public var checkpointChance = 0.0
    public init(writers: IntRange = IntRange(2, 4), closeChance: Double = 0.2, checkpointChance: Double = 0) {
        self.writers = writers
        self.closeChance = closeChance
        self.checkpointChance = checkpointChance
    }
}

/// How a scenario explores crash states: under which persistence model, and how many states per
/// persistence point at most (beyond it, the bounded family: see `CrashStateSet.Family`).
public struct ExplorationSettings: Codable, Sendable, Hashable {
    public static let defaultStateBudget = 256
    public var stateBudget: Int
    public var model: PersistenceModel
    public init(stateBudget: Int = ExplorationSettings.defaultStateBudget, model: PersistenceModel = .weakest) {
        self.stateBudget = stateBudget
        self.model = model
    }
}
