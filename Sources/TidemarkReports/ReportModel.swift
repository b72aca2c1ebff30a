// The report data a campaign produces. Plain Codable values: the campaign runner fills them,
// `ReportWriter` stores them as report.json, and every renderer is a pure function of them.

/// One campaign run: every scenario it ran and whether each met its expectation.
public struct CampaignReport: Codable, Sendable, Equatable {
    /// Run name, e.g. "2026-11-21T19-40-00-default".
    public var name: String
    /// ISO-8601 creation time, supplied by the caller (renderers never read the clock).
    public var createdAt: String
    /// Build identity (version + git describe).
    public var build: String
    /// Parallel jobs the campaign used.
    public var jobs: Int
    /// Wall-clock duration of the whole campaign.
    public var durationSeconds: Double
    /// True when every scenario met its expectation.
    public var expectationsMet: Bool
    /// True while the campaign is still running: the report so far, without timelines or
    /// failure files (those are written when it ends).
    public var inProgress: Bool
    public var scenarios: [ScenarioReport]

    public init(
        name: String, createdAt: String, build: String, jobs: Int = 1,
        durationSeconds: Double = 0, expectationsMet: Bool, inProgress: Bool = false, scenarios: [ScenarioReport] = []
    ) {
        self.inProgress = inProgress
        self.name = name
        self.createdAt = createdAt
        self.build = build
        self.jobs = jobs
        self.durationSeconds = durationSeconds
        self.expectationsMet = expectationsMet
        self.scenarios = scenarios
    }
}

/// One scenario of a campaign: its subject, what was expected, what happened.
public struct ScenarioReport: Codable, Sendable, Equatable {
    public var name: String, file: String, subject: String
    /// Subject configuration, e.g. `sync=group`.
    public var configuration: [String: String]
    public var expect: Expectation
    /// For `expect: violation`: the invariants that may break (empty means any).
    public var expectedInvariants: [String]
    public var runs: Int, passed: Int, failed: Int
    public var expectationMet: Bool
    /// Why the expectation was met or not, one sentence.
    public var expectationMessage: String
    /// One per distinct violation kept (its first seed), unexpected ones first; capped, so
    /// `failed` and `distinctViolations` may be larger.
    public var failures: [FailureReport]
    /// Distinct violations (invariant + message shape) among the failing runs.
    public var distinctViolations: Int
    /// Fault kind -> times injected.
    public var faults: [String: Int]
    public var crashes: Int, recoveries: Int
    /// Where crashes hit, e.g. "write segment", "during recovery" -> count.
    public var crashPoints: [String: Int]
    /// Recovery path taken ("clean open", "torn tail truncated", ...) -> count.
    public var recoveryPaths: [String: Int]
    /// Workload operation kind -> count.
    public var operations: [String: Int]
    /// Fault knob (as the scenario's `faults:` names it) -> runs in which it fired; nil in
    /// reports written before knobs were counted.
    public var knobsFired: [String: Int]?
    /// Invariant -> number of failing runs.
    public var invariantViolations: [String: Int]
    public var runsPerSecond: Double, fsCallsPerSecond: Double, fsCalls: Int
    /// Directory holding this scenario's failure files.
    public var reportDir: String
    /// Exhaustive exploration: what it covered and the vulnerabilities it found (nil for a
    /// scenario run in random mode only, and in reports written before exploration was reported).
    public var exploration: ExplorationFigures?
    public var vulnerabilities: [VulnerabilityReport]?

    public init(
        name: String, file: String = "", subject: String,
        configuration: [String: String] = [:], expect: Expectation = .pass,
        expectedInvariants: [String] = [], runs: Int = 0, passed: Int = 0, failed: Int = 0,
        expectationMet: Bool, expectationMessage: String = "", failures: [FailureReport] = [],
        distinctViolations: Int? = nil, faults: [String: Int] = [:], crashes: Int = 0, recoveries: Int = 0,
        crashPoints: [String: Int] = [:], recoveryPaths: [String: Int] = [:],
        operations: [String: Int] = [:], knobsFired: [String: Int]? = nil, invariantViolations: [String: Int] = [:],
        runsPerSecond: Double = 0, fsCallsPerSecond: Double = 0, fsCalls: Int = 0,
        reportDir: String = "", exploration: ExplorationFigures? = nil, vulnerabilities: [VulnerabilityReport]? = nil
    ) {
        self.exploration = exploration
        self.vulnerabilities = vulnerabilities
        self.name = name
        self.file = file
        self.subject = subject
        self.configuration = configuration
        self.expect = expect
        self.expectedInvariants = expectedInvariants
        self.runs = runs
        self.passed = passed
        self.failed = failed
        self.expectationMet = expectationMet
        self.expectationMessage = expectationMessage
        self.failures = failures
        self.distinctViolations = distinctViolations ?? failures.count
        self.faults = faults
        self.crashes = crashes
        self.recoveries = recoveries
        self.crashPoints = crashPoints
        self.recoveryPaths = recoveryPaths
        self.operations = operations
        self.knobsFired = knobsFired
        self.invariantViolations = invariantViolations
        self.runsPerSecond = runsPerSecond
        self.fsCallsPerSecond = fsCallsPerSecond
        self.fsCalls = fsCalls
        self.reportDir = reportDir
    }

    /// True when the scenario expects violations and this failure breaks an invariant it
    /// allows: a finding the campaign wanted (a canary doing its job), not a regression.
    public func isExpected(_ failure: FailureReport) -> Bool {
        expect == .violation
            && (expectedInvariants.isEmpty || expectedInvariants.contains(failure.invariant))
    }

    /// Failing runs whose violation the scenario expects (canaries doing their job).
    public var expectedViolations: Int {
        guard expect == .violation else { return 0 }
        return invariantViolations.filter { expectedInvariants.isEmpty || expectedInvariants.contains($0.key) }.values.reduce(0, +)
    }

    /// Failing runs that break what the scenario expects: regressions.
    public var unexpectedFailures: Int { failed - expectedViolations }
}

/// One failing run: the verdict and the timeline that led to it.
public struct FailureReport: Codable, Sendable, Equatable {
    public var seed: UInt64
    /// The broken invariant, e.g. "durability".
    public var invariant: String
    public var message: String
    /// Path of the failure JSON (what `tidemark replay` takes).
    public var failureFile: String
    /// Hex digest of the run's trace.
    public var traceHash: String
    /// The operation the verdict names, if any.
    public var operationIndex: Int?
    /// Failing runs with the same violation (invariant and message shape), this one included.
    public var similarRuns: Int
    /// Empty when the report keeps no timeline for this failure.
    public var timeline: Timeline

    public init(
        seed: UInt64, invariant: String, message: String, failureFile: String,
        traceHash: String = "", operationIndex: Int? = nil, similarRuns: Int = 1, timeline: Timeline = Timeline()
    ) {
        self.similarRuns = similarRuns
        self.seed = seed
        self.invariant = invariant
        self.message = message
        self.failureFile = failureFile
        self.traceHash = traceHash
        self.operationIndex = operationIndex
        self.timeline = timeline
    }

    /// The shell command that replays this failure.
    public var replayCommand: String { "tidemark replay \(ShellQuoting.quote(failureFile))" }
}

/// What happened in one run, in order, plus the fate of pending writes at each crash.
public struct Timeline: Codable, Sendable, Equatable {
    public var events: [TimelineEvent]
    /// One per crash in the run.
    public var crashes: [CrashFate]

    public init(events: [TimelineEvent] = [], crashes: [CrashFate] = []) {
        self.events = events
        self.crashes = crashes
    }
}

/// What a scenario expects of its runs.
public enum Expectation: String, Codable, Sendable, Hashable, CaseIterable {
    /// Every run satisfies every invariant.
    case pass
    /// At least one run breaks an invariant (from the expected ones when given), and none
    /// breaks another: for configurations known to be unsafe, and canaries.
    case violation
}

/// How one timeline event ended. Stored in report.json as the text `description` gives, so the
/// file reads the same as before the enum existed.
public enum EventOutcome: Sendable, Hashable, Codable, CustomStringConvertible {
    case acknowledged, rejected, ambiguous, inFlight, ok
    /// A `get` found nothing / found a record.
    case absent, found
    /// A search answered with this many ids.
    case results(Int)
    /// The subject refused: it had stopped after an earlier I/O failure.
    case refusedFailStopped
    case corruptionDetected
    /// A state check found a loss that recovery had reported as possible.
    case lossReported
    case violation
    /// A state check passed with this many records.
    case records(Int)
    /// The liveness check found leftovers.
    case untidy
    /// Not a verdict but a description: where a crash hit, which recovery paths ran, what an
    /// injected fault did.
    case note(String)

    public var description: String {
        switch self {
        case .acknowledged: "acknowledged"
        case .rejected: "rejected"
        case .ambiguous: "ambiguous"
        case .inFlight: "in flight"
        case .ok: "ok"
        case .absent: "absent"
        case .found: "found"
        case .results(let count): "\(count) results"
        case .refusedFailStopped: "refused (fail-stopped)"
        case .corruptionDetected: "corruption detected"
        case .lossReported: "loss reported by recovery"
        case .violation: "violation"
        case .records(let count): "ok (\(count) records)"
        case .untidy: "untidy"
        case .note(let text): text
        }
    }

    /// The inverse of `description`: a text no verdict spells is a note.
    public init(_ text: String) {
        let fixed: [EventOutcome] = [
            .acknowledged, .rejected, .ambiguous, .inFlight, .ok, .absent, .found, .refusedFailStopped,
            .corruptionDetected, .lossReported, .violation, .untidy,
        ]
        if let match = fixed.first(where: { $0.description == text }) {
            self = match
        } else if let count = Self.count(in: text, prefix: "", suffix: " results") {
            self = .results(count)
        } else if let count = Self.count(in: text, prefix: "ok (", suffix: " records)") {
            self = .records(count)
        } else {
            self = .note(text)
        }
    }

    private static func count(in text: String, prefix: String, suffix: String) -> Int? {
        guard text.hasPrefix(prefix), text.hasSuffix(suffix), text.count > prefix.count + suffix.count else { return nil }
        let digits = text.dropFirst(prefix.count).dropLast(suffix.count)
        guard digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber), let count = Int(digits),
              digits == String(count) else { return nil }
        return count
    }

    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// One step of a run: an operation, a sync, a checkpoint, a crash, a recovery, a check or an
/// injected fault.
public struct TimelineEvent: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case operation, sync, checkpoint, crash, recovery, check, fault
    }
    /// Position in the run.
    public var index: Int
    public var kind: Kind
    /// e.g. "put k17", "sync", "power loss", "recover: torn tail 37 B".
    public var label: String
    public var outcome: EventOutcome
    /// FS call index range the event covered.
    public var fsCallStart: Int, fsCallEnd: Int
    /// The event the verdict names.
    public var highlighted: Bool
    /// For a fault: the file it hit, and the byte offset when the fault has one (absent from
    /// report.json otherwise).
    public var path: String?
    public var offset: Int64?

    public init(
        index: Int, kind: Kind, label: String, outcome: EventOutcome = .note(""),
        fsCallStart: Int = 0, fsCallEnd: Int = 0, highlighted: Bool = false, path: String? = nil, offset: Int64? = nil
    ) {
        self.index = index
        self.kind = kind
        self.label = label
        self.outcome = outcome
        self.fsCallStart = fsCallStart
        self.fsCallEnd = fsCallEnd
        self.highlighted = highlighted
        self.path = path
        self.offset = offset
    }
}

/// What a crash did to the writes and directory operations that were still pending.
public struct CrashFate: Codable, Sendable, Equatable {
    /// Which timeline event is the crash.
    public var eventIndex: Int
    /// "power loss" | "process kill".
    public var kind: String
    public var atFSCall: Int
    public var writes: [WriteFate]
    public var directoryOperations: [DirectoryOpFate]

    public init(
        eventIndex: Int, kind: String, atFSCall: Int, writes: [WriteFate] = [],
        directoryOperations: [DirectoryOpFate] = []
    ) {
        self.eventIndex = eventIndex
        self.kind = kind
        self.atFSCall = atFSCall
        self.writes = writes
        self.directoryOperations = directoryOperations
    }
}

/// The fate of one pending write at a crash.
public struct WriteFate: Codable, Sendable, Equatable {
    public var path: String, offset: Int64, length: Int, fsCall: Int
    /// "survived" | "dropped" | "torn (k of n sectors)" | "garbage" | "lost to fsync error".
    public var fate: String
    /// The checker flagged it as relevant to the verdict.
    public var mattered: Bool

    public init(
        path: String, offset: Int64, length: Int, fsCall: Int, fate: String, mattered: Bool = false
    ) {
        self.path = path
        self.offset = offset
        self.length = length
        self.fsCall = fsCall
        self.fate = fate
        self.mattered = mattered
    }
}

/// The fate of one pending directory operation (create, rename, unlink) at a crash.
public struct DirectoryOpFate: Codable, Sendable, Equatable {
    public var operation: String, path: String, fsCall: Int, survived: Bool

    public init(operation: String, path: String, fsCall: Int, survived: Bool) {
        self.operation = operation
        self.path = path
        self.fsCall = fsCall
        self.survived = survived
    }
}
