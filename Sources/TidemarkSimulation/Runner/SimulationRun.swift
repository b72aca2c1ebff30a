import TidemarkIO
import TidemarkSimulatedDisk
import TidemarkReports

/// One run: a scenario, a seed, and the plan the seed produced (or a shrunk one), executed
/// against a fresh subject on a fresh `SimulatedFileSystem`, checked step by step against the
/// `Model`. Same inputs, same build ⇒ the same trace hash and the same verdict.
public struct SimulationRun {
    public var scenario: Scenario
    public var seed: UInt64
    public var plan: Plan
    public var suppressedDecisions: Set<Int>
    public var recordTrace: Bool
    /// Builds the subject instead of `scenario.subject.kind` (tests use it to run subjects that
    /// break invariants on purpose).
    public var subjectFactory: SubjectFactory?
    /// Explores the crash states at every persistence point of the run (or checks the one a
    /// failure file pinned); nil for a plain random run.
    public var explorer: CrashExplorer?

    public typealias SubjectFactory = @Sendable (any FileSystem, any Clock, any RandomSource) throws -> any Subject

    /// A run as the seed decides it: the generator's plan, its kills placed on the calls a
    /// fault-free dry run of it made (`KillPoints`). `subjectFactory` as the property below.
    public init(scenario: Scenario, seed: UInt64, recordTrace: Bool = false, subjectFactory: SubjectFactory? = nil) {
        let crashes = scenario.faults.draw(seed: seed).crashes
        var run = SimulationRun(
            scenario: scenario, seed: seed,
            plan: WorkloadGenerator(workload: scenario.workload, crashes: crashes, seed: seed).plan(),
            suppressedDecisions: [], recordTrace: recordTrace)
        run.subjectFactory = subjectFactory
        if let last = KillPoints.lastStepProfiled(for: run.plan) {
            run.plan = KillPoints.place(run.plan, profile: run.callProfile(through: last), crashes: crashes, seed: seed)
        }
        self = run
    }

    /// A run with an explicit plan (replay, shrinking).
    public init(scenario: Scenario, seed: UInt64, plan: Plan, suppressedDecisions: Set<Int>, recordTrace: Bool = false) {
        self.scenario = scenario
        self.seed = seed
        self.plan = plan
        self.suppressedDecisions = suppressedDecisions
        self.recordTrace = recordTrace
        self.subjectFactory = nil
        self.explorer = nil
    }

    public func execute() -> RunResult {
        var execution = Execution(run: self, dryRun: false)
        execution.perform()
        return execution.result
    }

    /// The file-system calls each step of the plan up to `lastStep` makes on a faithful disk,
    /// with no kill points and every crash a process kill (for a crash step: the calls of the
    /// recovery).
    func callProfile(through lastStep: Int = .max) -> KillPoints.Profile {
        var execution = Execution(run: self, dryRun: true)
        execution.lastDryRunStep = lastStep
        execution.perform()
        let trace = execution.fileSystem.trace
        return execution.stepCalls.mapValues { range in trace[range.clamped(to: trace.indices)].map(\.operation) }
    }
}

/// What one run did and found.
public struct RunResult: Sendable {
    public var seed: UInt64
    public var violation: Violation?
    public var traceHash: UInt64
    public var fsCalls: Int
    public var crashes = 0
    public var recoveries = 0
    /// Why the run stopped early without a verdict against it (detected corruption, I/O errors
    /// that recovery could not get past): the subject did the right thing by refusing.
    public var stoppedEarly: String?
    public var faults: [String: Int] = [:]
    public var crashPoints: [String: Int] = [:]
    public var recoveryPaths: [String: Int] = [:]
    public var operations: [String: Int] = [:]
    /// The scenario's fault knobs (their `faults:` names) that did something in this run.
    public var knobsFired: Set<String> = []
    public var events: [RunEvent] = []
    public var crashReports: [(eventIndex: Int, report: CrashReport)] = []
    public var decisions: [FaultDecision] = []
    public var trace: [TraceEvent] = []
    /// Set when the violation is a crash state found by exploration: the state to replay.
    public var pinnedCrash: PinnedCrash?
    /// The file-system call count when each step began (and, last, when the final crash and
    /// recovery began), for the steps the run reached: shrinking re-identifies a pinned crash
    /// state by step and offset.
    public var stepStarts: [Int] = []
    /// Times the scheduler handed a concurrent step's baton to another thread.
    public var threadSwitches = 0
    /// Exhaustive exploration: every vulnerability this seed showed (a campaign tallies them).
    public var vulnerabilities: [VulnerabilityTally] = []

    public var passed: Bool { violation == nil }
}

/// One entry of a run's timeline.
public struct RunEvent: Sendable, Hashable {
    /// The report's kinds: a run event becomes a timeline event one to one.
    public typealias Kind = TimelineEvent.Kind
    public var stepIndex: Int
    public var kind: Kind
    public var label: String
    public var outcome: EventOutcome
    public var fsCallStart: Int
    public var fsCallEnd: Int
    /// For a fault: the file it hit and, when it has one, the byte offset.
    public var path: String? = nil
    public var offset: Int64? = nil
}

/// The mutable part of a run, kept out of `SimulationRun` so that stays a plain value.
struct Execution {
    let run: SimulationRun
    /// The disk's faults as this seed drew them.
    let faults: FaultConfiguration
    let fileSystem: SimulatedFileSystem
    let clock = ManualClock()
    let subject: (any Subject)?
    /// Owns the threads of concurrent steps (scenarios with `concurrency` only).
    let scheduler: DeterministicScheduler?
    /// A dry run (`callProfile`): a faithful disk, kills ignored, crashes are process kills.
    let dryRun: Bool
    /// The dry run ends after this step (`KillPoints.lastStepProfiled`).
    var lastDryRunStep = Int.max
    /// For a dry run: the calls of each step (the operation, or a crash step's recovery).
    var stepCalls: [Int: Range<Int>] = [:]
    var model = Model()
    var result: RunResult
    /// An ambiguous failure happened: the subject must acknowledge nothing until reopened.
    var mustFailStop = false
    var stopped = false
    /// How many crash reports and fault decisions the plan itself caused: the verifier's final
    /// crash is not a scenario knob.
    var planCrashReports: Int?
    var planDecisions: Int?
    /// How many of the simulator's fault decisions and configured faults are on the timeline.
    var decisionsOnTimeline = 0
    var configuredFaultsOnTimeline = 0

    init(run: SimulationRun, dryRun: Bool) {
        self.run = run
        self.dryRun = dryRun
        faults = dryRun ? .none : run.scenario.faults.draw(seed: run.seed).disk
        fileSystem = SimulatedFileSystem(
            seed: SeededRandom.derive(seed: run.seed, label: "filesystem"), faults: .none, recordTrace: run.recordTrace || dryRun)
        fileSystem.suppressedDecisions = run.suppressedDecisions
        result = RunResult(seed: run.seed, traceHash: 0, fsCalls: 0)
        let random = SeededRandom(seed: run.seed).stream("subject")
        do {
            if let factory = run.subjectFactory {
                subject = try factory(fileSystem, clock, random)
            } else {
                subject = try run.scenario.subject.kind.makeSubject(
                    options: run.scenario.subject.options, fileSystem: fileSystem, clock: clock, random: random)
            }
        } catch {
            subject = nil
            result.violation = Violation(.liveness, "cannot build the subject: \(error)")
        }
        scheduler = run.scenario.workload.concurrency.map { _ in DeterministicScheduler(seed: run.seed) }
        if let scheduler {
            scheduler.attach(to: fileSystem)
            if let concurrent = subject as? any ConcurrentSubject {
                concurrent.schedule(with: scheduler)
            } else if subject != nil {
                result.violation = Violation(.liveness, "the subject cannot run concurrent steps")
            }
        }
    }

    mutating func perform() {
        defer { finish() }
        guard let subject else { return }
        // The first open is of an empty directory on a faithful disk.
        let start = fileSystem.callCount
        do {
            let info = try subject.open()
            model.now = clock.wallNanoseconds()  // the open may use the clock (the tiers' ages)
            note(recovery: info)
            event(-1, .recovery, "open", .ok, from: start)
        } catch {
            fail(Violation(.liveness, "opening an empty store failed: \(error)"))
            return
        }
        fileSystem.faults = faults
        for (index, step) in run.plan.steps.enumerated() {
            if result.violation != nil || stopped || (dryRun && index > lastDryRunStep) { return }
            let start = fileSystem.callCount
            result.stepStarts.append(start)
            switch step {
            case .operation(let operation, let killAfterCalls, let crash):
                perform(operation, at: index, killAfterCalls: dryRun ? nil : killAfterCalls, crash: crash ?? CrashSpec(powerLoss: true))
            case .crash(let spec):
                crashAndRecover(dryRun ? CrashSpec(powerLoss: false) : spec, at: index, during: "between operations")
            }
            if dryRun { stepCalls[index] = start..<fileSystem.callCount }
        }
        if dryRun || result.violation != nil || stopped { return }
        // Damage the last recovery wrote (and did not sync) shows only at one more crash.
        fileSystem.faults = .none
        result.stepStarts.append(fileSystem.callCount)
        planCrashReports = result.crashReports.count
        planDecisions = fileSystem.decisions.count
        crashAndRecover(CrashSpec(powerLoss: true), at: run.plan.steps.count, during: "after the last recovery")
        if result.violation == nil && !stopped { checkLiveness(at: run.plan.steps.count) }
    }

    // MARK: Operations

    private mutating func perform(_ operation: WorkloadOperation, at index: Int, killAfterCalls: Int?, crash: CrashSpec) {
        guard let subject else { return }
        result.operations[operation.kind.rawValue, default: 0] += 1
        if case .reopen = operation {
            reopen(at: index)
            return
        }
        if case .advanceClock(let seconds) = operation {
            if seconds < 0 { clock.stepWall(by: Int64(seconds) * 1_000_000_000) } else { clock.advance(nanoseconds: Int64(seconds) * 1_000_000_000) }
        } else {
            // The subject reads the clock when used, and its time never runs backwards.
            model.now = max(model.now, clock.wallNanoseconds())
        }
        if case .concurrent(let members, let closes) = operation {
            performConcurrent(operation, members: members, closes: closes, at: index, killAfterCalls: killAfterCalls, crash: crash)
            return
        }
        if let killAfterCalls { fileSystem.killPoint = KillPoint(afterCalls: fileSystem.callCount + killAfterCalls) }
        let start = fileSystem.callCount
        watchPersistencePoints(during: operation, at: index)
        defer { exploreAfter(operation, at: index) }
        let response = subject.perform(operation)
        fileSystem.beforeEachCall = nil
        fileSystem.killPoint = nil
        let kind: RunEvent.Kind = operation.kind == .sync ? .sync : operation.kind == .checkpoint ? .checkpoint : .operation

        if fileSystem.isHalted {
            event(index, kind, operation.label, .inFlight, from: start)
            if Self.isCommitted(operation, subject: subject, on: fileSystem) {
                model.committedInFlight(stepIndex: index, operation: operation)
            } else {
                model.uncertain(stepIndex: index, operation: operation)
            }
            crashAndRecover(crash, at: index, during: "during \(operation.kind.rawValue)")
            return
        }

        switch response {
        case .acknowledged(let durable):
            event(index, kind, operation.label, .acknowledged, from: start)
            if mustFailStop {
                fail(Violation(.failStop, "\(operation.label) was acknowledged after an earlier I/O failure, before any reopen", stepIndex: index))
                return
            }
            model.acknowledged(stepIndex: index, operation: operation, durable: durable)
        case .done:
            event(index, kind, operation.label, .ok, from: start)
            // Maintenance syncs the log before it works, in every mode.
            if [.sync, .checkpoint, .maintenance].contains(operation.kind) {
                if mustFailStop {
                    fail(Violation(.failStop, "\(operation.label) succeeded after an earlier I/O failure, before any reopen", stepIndex: index))
                    return
                }
                model.synced()
            }
        case .value(let value):
            event(index, kind, operation.label, value == nil ? .absent : .found, from: start)
            guard case .get(let id) = operation, !mustFailStop else { return }
            let expected = model.expected(id)
            if value != expected {
                let problem = Model.difference(expected: expected.map { [id: $0] } ?? [:], actual: value.map { [id: $0] } ?? [:])
                fail(Violation(
                    faults.injectsCorruption ? .noSilentCorruption : .readsMatchModel,
                    "get \(id) returned a different answer than the model: \(problem.joined(separator: "; "))", stepIndex: index))
            }
        case .searchResults(let hits):
            event(index, kind, operation.label, .results(hits.count), from: start)
            guard case .search(let query, let k, let metric, let filter) = operation, !mustFailStop else { return }
            if let problem = model.checkSearch(query: query, k: k, metric: metric, filter: filter, answer: hits) {
                fail(Violation(faults.injectsCorruption ? .noSilentCorruption : .readsMatchModel, problem, stepIndex: index))
            }
        case .rejected:
            event(index, kind, operation.label, .rejected, from: start)
            if operation.kind.isMutation { model.rejected(stepIndex: index, operation: operation) }
        case .ambiguous:
            event(index, kind, operation.label, .ambiguous, from: start)
            model.uncertain(stepIndex: index, operation: operation)
            mustFailStop = true
        case .failStopped:
            event(index, kind, operation.label, .refusedFailStopped, from: start)
            // The subject stopped on its own (a failed background sync, say); nothing applied.
            mustFailStop = true
        case .corruptionDetected(let message):
            event(index, kind, operation.label, .corruptionDetected, from: start)
            if damage.corruptionFired || damage.ioErrorFired {
                stop("\(operation.label) detected corruption: \(message)")
            } else {
                fail(Violation(.liveness, "\(operation.label) reported corruption though none was injected: \(message)", stepIndex: index))
            }
        }
    }

    mutating func reopen(at index: Int) {
        guard let subject else { return }
        let start = fileSystem.callCount
        subject.close()
        mustFailStop = false
        guard let info = openAfterCrash(at: index, crashKind: false, recoveryKill: nil) else { return }
        note(recovery: info)
        event(index, .recovery, "reopen", .note(info.paths.joined(separator: ", ")), from: start)
        checkRecoveredState(at: index, afterRecoveryCrash: false, reportedPossibleLoss: info.reportedPossibleLoss)
    }

    // MARK: Crashes and recovery

    mutating func crashAndRecover(_ spec: CrashSpec, at index: Int, during place: String) {
        guard let subject else { return }
        subject.abandon()
        let start = fileSystem.callCount
        let report = fileSystem.crash(spec.powerLoss ? .powerLoss : .processKill)
        result.crashes += 1
        result.crashPoints[place, default: 0] += 1
        result.faults[spec.powerLoss ? "power loss" : "process kill", default: 0] += 1
        let crashEvent = event(index, .crash, spec.powerLoss ? "power loss" : "process kill", .note(place), from: start)
        result.crashReports.append((crashEvent, report))
        mustFailStop = false
        let crashesBefore = result.crashes
        guard let info = openAfterCrash(at: index, crashKind: spec.recoveryPowerLoss ?? spec.powerLoss, recoveryKill: spec.recoveryKillAfterCalls) else { return }
        note(recovery: info)
        event(index, .recovery, "recover", .note(info.paths.joined(separator: ", ")), from: start)
        checkRecoveredState(at: index, afterRecoveryCrash: result.crashes > crashesBefore, reportedPossibleLoss: info.reportedPossibleLoss)
    }

    /// Opens after a crash or close. A kill point during recovery crashes again (a power loss
    /// when `crashKind` says so) and recovers once more (invariant 6). I/O errors injected into
    /// recovery are retried a few times, as an operator would; a refusal ends the run when
    /// damage of its kind was injected and fired.
    private mutating func openAfterCrash(at index: Int, crashKind powerLoss: Bool, recoveryKill: Int?) -> RecoveryInfo? {
        guard let subject else { return nil }
        if let recoveryKill { fileSystem.killPoint = KillPoint(afterCalls: fileSystem.callCount + recoveryKill) }
        var attempts = 0
        while true {
            attempts += 1
            do throws(SubjectError) {
                let info = try subject.open()
                fileSystem.killPoint = nil
                // A subject that swallowed the kill and reported success is still a dead process.
                if fileSystem.isHalted { throw SubjectError(.crashed, "the process died during recovery") }
                return info
            } catch {
                fileSystem.killPoint = nil
                if fileSystem.isShutDownOrReadOnly && !fileSystem.isHalted {
                    // Refusing to open a shut-down or read-only file system is right: the
                    // operator reboots (a power loss) and opens again.
                    reboot(at: index)
                    if attempts < 6 { continue }
                }
                if fileSystem.isHalted || error.kind == .crashed {
                    subject.abandon()
                    let start = fileSystem.callCount
                    let report = fileSystem.crash(powerLoss ? .powerLoss : .processKill)
                    result.crashes += 1
                    result.crashPoints["during recovery", default: 0] += 1
                    let crashEvent = event(index, .crash, powerLoss ? "power loss" : "process kill", .note("during recovery"), from: start)
                    result.crashReports.append((crashEvent, report))
                    if attempts < 6 { continue }
                }
                switch error.kind {
                case .corruption where damage.corruptionFired:
                    let verdict = damage.verdictOnRefusedOpen(error, subject: subject, disk: fileSystem, stepIndex: index)
                    if case .violation(let violation) = verdict { fail(violation) } else { stop("recovery detected corruption: \(error.message)") }
                    return nil
                case .io where attempts < 6:
                    continue
                case .io where damage.ioErrorFired:
                    stop("recovery kept failing on injected I/O errors: \(error.message)")
                    return nil
                default:
                    fail(Violation(.liveness, "recovery failed: \(error)", stepIndex: index))
                    return nil
                }
            }
        }
    }

    private mutating func reboot(at index: Int) {
        subject?.abandon()
        let start = fileSystem.callCount
        let report = fileSystem.crash(.powerLoss)
        result.crashes += 1
        result.crashPoints["reboot after a shutdown", default: 0] += 1
        let crashEvent = event(index, .crash, "power loss", .note("reboot after a shutdown"), from: start)
        result.crashReports.append((crashEvent, report))
    }

    private mutating func checkRecoveredState(at index: Int, afterRecoveryCrash: Bool, reportedPossibleLoss: Bool) {
        guard let subject else { return }
        let start = fileSystem.callCount
        let readBack = Result { () throws(SubjectError) in try subject.readAll() }
        switch model.verdict(
            readBack: readBack, acknowledgementsAreDurable: subject.acknowledgementsAreDurable,
            damage: damage, subjectTime: subject.storeTime, wall: clock.wallNanoseconds(),
            stepIndex: index, afterRecoveryCrash: afterRecoveryCrash, reportedPossibleLoss: reportedPossibleLoss)
        {
        case .ok(let records):
            event(index, .check, "check state", .records(records), from: start)
        case .refused(let reason):
            stop(reason)
        case .lossReported:
            // Excused (the last frame only) and adopted: the run goes on being checked.
            event(index, .check, "check state", .lossReported, from: start)
        case .violation(let violation):
            if case .success = readBack { event(index, .check, "check state", .violation, from: start) }
            fail(violation)
        }
    }

    /// The damage that struck this run's disk so far (see `DiskDamage`).
    var damage: DiskDamage { DiskDamage(faults: faults, disk: fileSystem) }

    /// Invariant 7: on a healthy disk the recovered subject accepts a write and a checkpoint and
    /// is tidy afterwards.
    private mutating func checkLiveness(at index: Int) {
        guard let subject else { return }
        let start = fileSystem.callCount
        let probe = RecordValue(id: "liveness-probe", content: "after recovery", embedding: Array(repeating: 0.5, count: max(1, run.scenario.workload.embeddingDimensions)), metadata: [:])
        let write = subject.perform(.put(record: probe))
        // Damage that struck earlier may surface only now (a flipped page SQLite reads first at
        // this write): detecting it is the subject's duty, not a liveness failure.
        if case .corruptionDetected(let message) = write, damage.corruptionFired {
            stop("the liveness probe's put detected corruption: \(message)")
            return
        }
        guard case .acknowledged = write else {
            fail(Violation(.liveness, "after recovery on a healthy disk a put was not acknowledged: \(write)", stepIndex: index))
            return
        }
        let checkpoint = subject.perform(.checkpoint)
        if case .corruptionDetected(let message) = checkpoint, damage.corruptionFired {
            stop("the liveness probe's checkpoint detected corruption: \(message)")
            return
        }
        guard case .done = checkpoint else {
            fail(Violation(.liveness, "after recovery on a healthy disk a checkpoint failed: \(checkpoint)", stepIndex: index))
            return
        }
        let problems = subject.hygieneProblems()
        event(index, .check, "liveness", problems.isEmpty ? .ok : .untidy, from: start)
        if !problems.isEmpty, verifyNamesOnlyCorruptedFiles(problems) {
            stop("the liveness check's verify detected damage corruption struck: \(problems.joined(separator: "; "))")
            return
        }
        if !problems.isEmpty {
            fail(Violation(.liveness, "after a checkpoint: \(problems.joined(separator: "; "))", stepIndex: index))
        }
        subject.close()
    }

    /// Whether every hygiene problem is `verify` naming a file that bit rot or a misdirected
    /// write struck: the subject detecting that damage (a stale page a misdirected write left
    /// passes every read, not verify's cross-checks), not untidiness.
    private func verifyNamesOnlyCorruptedFiles(_ problems: [String]) -> Bool {
        let struck = damage.corruptedFiles.map { "verify: \(FilePaths.name(of: $0)) @ " }
        return !struck.isEmpty && problems.allSatisfy { problem in struck.contains { problem.hasPrefix($0) } }
    }

    /// An operation a crash cut short committed when its commit record (which the subject names)
    /// was already durable: then it must survive like an acknowledged one. Otherwise it may or
    /// may not have applied.
    private static func isCommitted(_ operation: WorkloadOperation, subject: any Subject, on disk: SimulatedFileSystem) -> Bool {
        guard operation.kind.isMutation, let record = subject.inFlightCommitRecord else { return false }
        return disk.isDurable(record.path, through: record.end)
    }

    // MARK: Crash exploration

    /// Lets the explorer visit the state before every persistence call of `operation`, against
    /// the model with the operation in flight (it may or may not have applied).
    private func watchPersistencePoints(during operation: WorkloadOperation, at index: Int) {
        guard let explorer = run.explorer, let subject else { return }
        var (model, committed) = (model, model)
        model.uncertain(stepIndex: index, operation: operation)
        committed.committedInFlight(stepIndex: index, operation: operation)
        let (faults, clock, durable, label) = (faults, clock, subject.acknowledgementsAreDurable, operation.label)
        fileSystem.beforeEachCall = { [unowned fileSystem] call, path in
            guard CrashExplorer.isPersistencePoint(call) else { return }
            let point = CrashPoint(stepIndex: index, fsCall: fileSystem.callCount, label: "before \(call.rawValue) \(path) in \(label)")
            let isCommitted = Self.isCommitted(operation, subject: subject, on: fileSystem)
            explorer.visit(fileSystem, at: point, model: isCommitted ? committed : model, acknowledgementsAreDurable: durable, faults: faults,
                           wallNanoseconds: clock.wallNanoseconds())
        }
    }

    /// The state after an operation that may have changed the disk, against the model with its
    /// outcome; then every point visited is checked. A pinned crash ends the run once checked.
    private mutating func exploreAfter(_ operation: WorkloadOperation, at index: Int) {
        guard let explorer = run.explorer else { return }
        if let subject, result.violation == nil, !stopped, !fileSystem.isHalted, ![.get, .search, .advanceClock].contains(operation.kind) {
            let point = CrashPoint(stepIndex: index, fsCall: fileSystem.callCount, label: "after \(operation.label)")
            explorer.visit(fileSystem, at: point, model: model, acknowledgementsAreDurable: subject.acknowledgementsAreDurable,
                           faults: faults, wallNanoseconds: clock.wallNanoseconds())
        }
        explorer.drain()
        if explorer.pinnedOutcome != nil { stopped = true }
    }

    // MARK: Bookkeeping

    private mutating func note(recovery info: RecoveryInfo) {
        result.recoveries += 1
        for path in info.paths { result.recoveryPaths[path, default: 0] += 1 }
    }

    /// Appends a timeline event, with the faults the simulator injected since the last one:
    /// before it when they happened during its calls, after it when it is the crash that
    /// decided them (lost writes, bit flips).
    /// Returns the event's index in the timeline.
    @discardableResult
    mutating func event(_ step: Int, _ kind: RunEvent.Kind, _ label: String, _ outcome: EventOutcome, from start: Int) -> Int {
        if kind != .crash { appendInjectedFaults(at: step) }
        result.events.append(RunEvent(stepIndex: step, kind: kind, label: label, outcome: outcome, fsCallStart: start, fsCallEnd: fileSystem.callCount))
        let position = result.events.count - 1
        if kind == .crash { appendInjectedFaults(at: step) }
        return position
    }

    /// One `.fault` event per fault the simulator injected since the last call (its random
    /// decisions and the errors its configuration forces), in file-system call order. Reading
    /// these lists is no file-system call: the trace hash does not move. Suppressed decisions
    /// took the benign outcome, so they are not shown.
    private mutating func appendInjectedFaults(at step: Int) {
        let decisions = fileSystem.decisions, configured = fileSystem.configuredFaults
        let drawn = decisions[decisionsOnTimeline...].filter { !$0.suppressed }.map { decision in
            RunEvent(
                stepIndex: step, kind: .fault, label: "\(decision.kind.rawValue) \(decision.path)", outcome: .note(decision.outcome),
                fsCallStart: decision.callIndex, fsCallEnd: decision.callIndex, path: decision.path, offset: decision.offset)
        }
        let forced = configured[configuredFaultsOnTimeline...].map { fault in
            RunEvent(
                stepIndex: step, kind: .fault, label: "\(fault.kind.rawValue) \(fault.path)", outcome: .note(fault.outcome),
                fsCallStart: fault.callIndex, fsCallEnd: fault.callIndex, path: fault.path, offset: fault.offset)
        }
        // Merged by call, each list keeping its own order (a crash lists lost writes by file).
        var pending = forced[...]
        for event in drawn {
            while let next = pending.first, next.fsCallStart < event.fsCallStart {
                result.events.append(next)
                pending = pending.dropFirst()
            }
            result.events.append(event)
        }
        result.events += pending
        decisionsOnTimeline = decisions.count
        configuredFaultsOnTimeline = configured.count
    }

    /// Which knobs of the scenario's `faults` took effect: the simulator's decisions, the errors
    /// its configuration forced, and what the crashes did.
    private func knobsFired() -> Set<String> {
        var knobs: Set<String> = []
        let byDecision: [FaultKind: String] = [
            .writeLost: "dropUnsynced", .directoryOperationLost: "dropDirectoryOperation", .garbage: "garbage",
            .unsafeAppend: "unsafeAppend", .earlyWriteback: "earlyWriteback", .fsyncError: "fsyncError",
            .writeError: "writeError", .readError: "readError", .misdirectedWrite: "misdirectedWrite", .bitRot: "bitRot",
            .sectorGarble: "sectorGarble", .killMidWrite: "killMidWrite", .pageEviction: "evictCleanPages",
            .writebackError: "writebackError", .syncNoSpace: "syncNoSpace", .writebackNoSpace: "writebackNoSpace",
            .shutdown: "shutdown", .readOnlyRemount: "readOnlyRemount",
        ]
        for decision in result.decisions.prefix(planDecisions ?? result.decisions.count) where !decision.suppressed {
            knobs.insert(byDecision[decision.kind]!)
            if decision.kind == .fsyncError && faults.fsyncErrorReporting == .errseq { knobs.insert("fsyncErrorReporting: errseq") }
            if decision.kind == .bitRot && !run.scenario.faults.bitRotPerFile.isZero { knobs.insert("bitRotPerFile") }
        }
        for fault in fileSystem.configuredFaults {
            switch fault.kind {
            case .diskFull: knobs.insert("capacityBytes")
            case .diskFullHeldByUnlink: knobs.formUnion(["capacityBytes", "holdSpaceUntilUnlinkDurable"])
            case .latentSectorError: knobs.insert("latentSectorErrors")
            case .writebackErrorReported, .shutDown, .readOnly: break  // their decisions name the knob
            }
        }
        for (_, report) in result.crashReports.prefix(planCrashReports ?? result.crashReports.count) {
            if report.kind == .powerLoss { knobs.insert("powerLoss") }
            if report.keptEverything { knobs.insert("keepAll") }
            if report.writes.contains(where: { $0.fate == .torn }) { knobs.insert("tornWrite") }
            if report.kind == .powerLoss && faults.reorder == .orderedPrefix && !report.writes.isEmpty {
                knobs.insert("reorder: orderedPrefix")
            }
        }
        if result.crashPoints.keys.contains(where: { $0.hasPrefix("during ") && $0 != "during recovery" }) { knobs.insert("killInOperation") }
        if result.crashPoints["during recovery"] != nil { knobs.insert("killDuringRecovery") }
        return knobs
    }

    mutating func fail(_ violation: Violation) {
        if result.violation == nil { result.violation = violation }
    }

    mutating func stop(_ reason: String) {
        stopped = true
        result.stoppedEarly = reason
    }

    private mutating func finish() {
        appendInjectedFaults(at: run.plan.steps.count)
        result.traceHash = fileSystem.traceHash
        result.fsCalls = fileSystem.callCount
        result.decisions = fileSystem.decisions
        for decision in result.decisions where !decision.suppressed {
            result.faults[decision.kind.rawValue, default: 0] += 1
        }
        result.knobsFired = knobsFired()
        result.threadSwitches = scheduler?.switches ?? 0
        if run.recordTrace { result.trace = fileSystem.trace }
        if let pinned = run.explorer?.pinnedOutcome {
            result.violation = pinned.violation
            result.traceHash = pinned.traceHash
        }
    }
}
