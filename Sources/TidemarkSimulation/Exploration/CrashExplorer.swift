import TidemarkIO
import TidemarkReports
import TidemarkSimulatedDisk

/// Where in a run a crash state was taken: before the `fsCall`-th file-system call (or after an
/// operation, when `fsCall` is the count after it) while step `stepIndex` ran.
public struct CrashPoint: Codable, Sendable, Hashable {
    public var stepIndex: Int
    public var fsCall: Int
    /// "before sync of /store/wal-….log in put k3", "after put k3", "before rename … in recovery".
    public var label: String
    public init(stepIndex: Int, fsCall: Int, label: String) {
        self.stepIndex = stepIndex
        self.fsCall = fsCall
        self.label = label
    }
}

/// One crash state pinned in a run: the point and the fate of every pending change. A failure
/// file with one replays exactly that state.
public struct PinnedCrash: Codable, Sendable, Hashable {
    public var point: CrashPoint
    public var pin: CrashStatePin
    /// The state in words (which changes were lost or torn).
    public var state: String
    public init(point: CrashPoint, pin: CrashStatePin, state: String) {
        self.point = point
        self.pin = pin
        self.state = state
    }
}

/// Crash exploration inside one run: at every persistence point `SimulationRun` calls `visit`,
/// which enumerates the crash states the disk may be left in there (`CrashStateEnumerator`),
/// recovers a fresh subject on each distinct image (a crash clone) and checks it against the
/// model as it stands at that point, with the same verdict as a random crash
/// (`Model.verdict`). The run itself goes on untouched: clones are independent disks.
///
/// In pinned mode it checks only the one state a failure file names, at its point.
public final class CrashExplorer: @unchecked Sendable {
    public enum Mode: Sendable {
        case explore(model: PersistenceModel, budget: Int)
        case pinned(PinnedCrash)
    }

    /// A violating crash state.
    public struct Finding: Sendable {
        public var crash: PinnedCrash
        public var violation: Violation
        /// The run's trace hash at the point (what a replay of the pinned state reproduces).
        public var traceHash: UInt64
        /// What the subject relied on (see `Vulnerability.cause`).
        public var cause: String
    }

    public struct Statistics: Sendable {
        public var points = 0
        public var statesEnumerated = 0
        /// States whose image differed from every other state's at the same point.
        public var statesChecked = 0
        /// Distinct images recovered (an image seen at an earlier point is not recovered again).
        public var recoveries = 0
        public var boundedPoints = 0
        public var truncatedPoints = 0
        public var refused = 0
        public var violatingStates = 0
    }

    let mode: Mode
    /// False when the scenario's crashes are process kills only: then the one crash state is
    /// the page cache (every pending change kept), as in a random run.
    let powerLoss: Bool
    let makeSubject: (any FileSystem, any Clock, any RandomSource) throws -> any Subject
    public private(set) var statistics = Statistics()
    /// Per vulnerability cause: the first finding and how many states showed it.
    public private(set) var vulnerabilities: [String: (finding: Finding, states: Int)] = [:]
    /// Pinned mode: the verdict once the point was reached.
    public private(set) var pinnedOutcome: (violation: Violation?, traceHash: UInt64)?
    /// When the first violating state was found (thread CPU time; a measurement, never an input).
    public private(set) var firstFindingNanoseconds: Int64?

    private struct Recovered {
        /// When the open failed: the verdict on that refusal (`DiskDamage.verdictOnRefusedOpen`).
        var refusal: RecoveredVerdict?
        var readBack: Result<Model.State, SubjectError>
        var reportedPossibleLoss: Bool
    }
    private var recovered: [UInt64: Recovered] = [:]
    /// Points visited, not yet checked (see `drain`).
    private var pending: [() -> Void] = []
    private var pinnedReached = false

    public init(
        mode: Mode, powerLoss: Bool = true, makeSubject: @escaping (any FileSystem, any Clock, any RandomSource) throws -> any Subject
    ) {
        self.mode = mode
        self.powerLoss = powerLoss
        self.makeSubject = makeSubject
    }

    /// Builds `scenario`'s subject on a crash clone.
    public static func subjects(of scenario: Scenario) -> SimulationRun.SubjectFactory {
        let subject = scenario.subject
        return { fileSystem, clock, random in
            try subject.kind.makeSubject(options: subject.options, fileSystem: fileSystem, clock: clock, random: random)
        }
    }

    /// Whether calls of this kind are persistence points (the states before them are explored).
    public static func isPersistencePoint(_ operation: FileOperation) -> Bool {
        [.sync, .syncData, .syncDirectory, .rename, .remove].contains(operation)
    }

    /// Takes the crash states of `fileSystem` at `point` (pinned: the one state, if this is its
    /// point) to be checked against `model` as it stands there by the next `drain()`.
    func visit(
        _ fileSystem: SimulatedFileSystem, at point: CrashPoint, model: Model, acknowledgementsAreDurable: Bool,
        faults: FaultConfiguration, wallNanoseconds: Int64
    ) {
        let damage = DiskDamage(faults: faults, disk: fileSystem)
        var model = model
        model.prepareForChecks()
        let check = { [unowned self, model] (image: UInt64, clone: () -> SimulatedFileSystem) -> RecoveredVerdict in
            var model = model
            return self.verdict(on: clone, image: image, model: &model, stepIndex: point.stepIndex, acknowledgementsAreDurable: acknowledgementsAreDurable,
                                damage: damage, wallNanoseconds: wallNanoseconds)
        }
        let traceHash = fileSystem.traceHash
        switch mode {
        case .pinned(let crash):
            guard !pinnedReached, crash.point.stepIndex == point.stepIndex, crash.point.fsCall == point.fsCall else { return }
            pinnedReached = true
            let clone = fileSystem.crashClone(crash.pin)
            pending.append { [unowned self] in
                if case .violation(let violation) = check(clone.imageHash, { clone }) { pinnedOutcome = (violation, traceHash) } else { pinnedOutcome = (nil, traceHash) }
            }
        case .explore(let persistence, let budget):
            // Process kills only: the one state is built below; enumerate no more than one.
            let set = CrashStateEnumerator(model: persistence, budget: powerLoss ? budget : 1).enumerate(fileSystem)
            pending.append { [unowned self] in explore(set, at: point, traceHash: traceHash, check: check) }
        }
    }

    /// Checks what was visited since the last call. `SimulationRun` calls it between operations,
    /// never from inside a file-system call: recovering a subject there would re-enter the
    /// subject under test (SQLite holds a process-wide lock during its VFS calls).
    func drain() {
        while !pending.isEmpty { pending.removeFirst()() }
    }

    private func explore(_ set: CrashStateSet, at point: CrashPoint, traceHash: UInt64, check: @escaping (UInt64, () -> SimulatedFileSystem) -> RecoveredVerdict) {
        let states = powerLoss ? set.states : [set.prefixState(set.changes.count, dropping: nil)]
        statistics.points += 1
        statistics.statesEnumerated += states.count
        if powerLoss && set.family == .bounded { statistics.boundedPoints += 1 }
        if powerLoss && set.truncated { statistics.truncatedPoints += 1 }
        var seen: Set<UInt64> = []
        // Built at the first violation: naming every change costs more than most points' checks.
        var finder: CauseFinder?
        let makeFinder = { CauseFinder(changes: set.changes.map(Vulnerability.generic)) { length, dropping in
            let state = set.prefixState(length, dropping: dropping)
            // A dropped change may take the one meant to be kept with it: then no witness.
            if dropping != nil, !(state.fates[length - 1].isKept && state.matters[length - 1]) { return nil }
            let image = set.image(of: state)
            if case .violation = check(image.hash, { set.materialize(image) }) { return true } else { return false }
        } }
        // Hashed before they are built: most states repeat an image seen at this point.
        for (state, image) in zip(states, set.images(of: states)) {
            guard seen.insert(image.hash).inserted else { continue }
            statistics.statesChecked += 1
            switch check(image.hash, { set.materialize(image) }) {
            case .ok, .lossReported: break
            case .refused: statistics.refused += 1
            case .violation(let violation):
                statistics.violatingStates += 1
                if firstFindingNanoseconds == nil { firstFindingNanoseconds = threadCPUNanoseconds() }
                if finder == nil { finder = makeFinder() }
                let cause = Vulnerability.cause(of: state, invariant: violation.invariant, finder: &finder!)
                let key = "\(cause)\u{0}\(violation.invariant.rawValue)"
                if let known = vulnerabilities[key] {
                    vulnerabilities[key] = (known.finding, known.states + 1)
                } else {
                    let crash = PinnedCrash(point: point, pin: state.pin, state: state.description)
                    vulnerabilities[key] = (Finding(crash: crash, violation: violation, traceHash: traceHash, cause: cause), 1)
                }
            }
        }
    }

    /// Recovers a fresh subject on `clone` (built only for an image not recovered before) and
    /// judges it.
    private func verdict(
        on clone: () -> SimulatedFileSystem, image: UInt64, model: inout Model, stepIndex: Int, acknowledgementsAreDurable: Bool,
        damage: DiskDamage, wallNanoseconds: Int64
    ) -> RecoveredVerdict {
        let outcome: Recovered
        if let known = recovered[image] {
            outcome = known
        } else {
            statistics.recoveries += 1
            outcome = recover(clone(), damage: damage, stepIndex: stepIndex, wallNanoseconds: wallNanoseconds)
            recovered[image] = outcome
        }
        // The verdict may come from another point with the same image: this point's step.
        if case .violation(var violation)? = outcome.refusal {
            violation.stepIndex = stepIndex
            return .violation(violation)
        }
        if let refusal = outcome.refusal { return refusal }
        return model.verdict(
            readBack: outcome.readBack, acknowledgementsAreDurable: acknowledgementsAreDurable,
            damage: damage,
            stepIndex: stepIndex, afterRecoveryCrash: false, reportedPossibleLoss: outcome.reportedPossibleLoss)
    }

    private func recover(_ clone: SimulatedFileSystem, damage: DiskDamage, stepIndex: Int, wallNanoseconds: Int64) -> Recovered {
        let subject: any Subject
        do {
            subject = try makeSubject(clone, ManualClock(wallNanoseconds: wallNanoseconds), SeededRandom(seed: clone.seed).stream("recovery"))
        } catch {
            let failure = Violation(.liveness, "recovery failed: cannot build the subject: \(error)", stepIndex: stepIndex)
            return Recovered(refusal: .violation(failure), readBack: .success([:]), reportedPossibleLoss: false)
        }
        defer { subject.abandon() }
        let info: RecoveryInfo
        do throws(SubjectError) {
            info = try subject.open()
        } catch {
            let refusal = damage.verdictOnRefusedOpen(error, subject: subject, disk: clone, stepIndex: stepIndex)
            return Recovered(refusal: refusal, readBack: .success([:]), reportedPossibleLoss: false)
        }
        let readBack = Result { () throws(SubjectError) in try subject.readAll() }
        return Recovered(refusal: nil, readBack: readBack, reportedPossibleLoss: info.reportedPossibleLoss)
    }
}
