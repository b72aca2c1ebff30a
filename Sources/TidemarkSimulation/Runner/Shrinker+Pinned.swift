import TidemarkSimulatedDisk

/// A pinned crash state (exploration's failure files) named relative to the plan, so that it
/// can be found again in a smaller plan: the point by the step it is in and its call offset
/// within that step, each pending change's fate by the step and offset of the call that issued
/// it. Removing a step renumbers every later call; these names survive it as long as the kept
/// steps make the same calls, and a candidate where they do not simply no longer fails.
struct RelativePin {
    struct Entry {
        var step: Int
        var offset: Int
        var entry: CrashStatePin.Entry
    }
    var crash: PinnedCrash
    /// Steps in the original plan (step `stepCount` is the final crash and recovery).
    var stepCount: Int
    var step: Int
    var offset: Int
    var entries: [Entry]

    /// `stepStarts`: the original run's call count at each step's start.
    init?(_ crash: PinnedCrash, stepCount: Int, stepStarts: [Int]) {
        func locate(_ call: Int) -> (step: Int, offset: Int)? {
            guard let step = stepStarts.lastIndex(where: { $0 <= call }) else { return nil }
            return (step, call - stepStarts[step])
        }
        guard crash.point.stepIndex < stepStarts.count, stepStarts[crash.point.stepIndex] <= crash.point.fsCall else { return nil }
        self.crash = crash
        self.stepCount = stepCount
        step = crash.point.stepIndex
        offset = crash.point.fsCall - stepStarts[step]
        // Changes issued before the first step (the subject's first open) keep their call index.
        entries = crash.pin.fates.map { entry in
            let place = locate(entry.change.callIndex)
            return Entry(step: place?.step ?? -1, offset: place?.offset ?? entry.change.callIndex, entry: entry)
        }
    }

    /// The pin in a plan made of the original steps `kept` (in order), whose run began its
    /// steps at `stepStarts`; nil when the point's step is gone or was not reached.
    func pinned(keeping kept: [Int], stepStarts: [Int]) -> PinnedCrash? {
        var position: [Int: Int] = [-1: -1, stepCount: kept.count]
        for (index, original) in kept.enumerated() { position[original] = index }
        guard let newStep = position[step], newStep >= 0, newStep < stepStarts.count else { return nil }
        var pinned = crash
        pinned.point.stepIndex = newStep
        pinned.point.fsCall = stepStarts[newStep] + offset
        pinned.pin.fates = entries.compactMap { relative in
            guard let newStep = position[relative.step] else { return nil }
            var entry = relative.entry
            entry.change.callIndex = newStep < 0 ? relative.offset : stepStarts[newStep] + relative.offset
            return entry
        }
        return pinned
    }
}

extension Shrinker {
    /// Shrinks the plan of a failure that pins a crash state: each candidate plan runs once
    /// plainly (for its steps' call counts), then with the pin re-identified in it, and is kept
    /// when that state still breaks the same invariant. Fault decisions are kept as they are
    /// (suppressing one changes the calls the pin is named by within a step).
    func shrinkPinned(_ crash: PinnedCrash, progress: (Int, Int) -> Void) -> Outcome {
        let scenario = failure.scenario, seed = failure.seed, invariant = failure.invariant
        let suppressed = Set(failure.suppressedDecisions)
        let steps = failure.plan.steps
        let faults = failure.decisions.filter { !$0.suppressed }.count
        let original = SimulationRun(scenario: scenario, seed: seed, plan: failure.plan, suppressedDecisions: suppressed).execute()
        runs += 1
        guard let relative = RelativePin(crash, stepCount: steps.count, stepStarts: original.stepStarts) else {
            return Outcome(failure: failure, operationsBefore: failure.plan.operationCount, operationsAfter: failure.plan.operationCount,
                           faultsBefore: faults, faultsAfter: faults, runs: runs)
        }
        func pinnedRun(_ kept: [Int]) -> (run: SimulationRun, result: RunResult)? {
            guard runs < maxRuns else { return nil }
            let plan = Plan(steps: kept.map { steps[$0] })
            var run = SimulationRun(scenario: scenario, seed: seed, plan: plan, suppressedDecisions: suppressed)
            let plain = run.execute()
            runs += 1
            guard let pin = relative.pinned(keeping: kept, stepStarts: plain.stepStarts) else { return nil }
            run.explorer = CrashExplorer(mode: .pinned(pin), makeSubject: CrashExplorer.subjects(of: scenario))
            var result = run.execute()
            runs += 1
            result.pinnedCrash = pin
            return result.violation?.invariant == invariant ? (run, result) : nil
        }
        let kept = minimize(Array(steps.indices)) { candidate in
            progress(runs, candidate.count)
            return pinnedRun(candidate) != nil
        }
        var shrunk = failure
        if kept.count < steps.count, let (run, result) = pinnedRun(kept) {
            shrunk = FailureFile(scenarioFile: failure.scenarioFile, scenario: scenario, run: run, result: result)
        }
        return Outcome(
            failure: shrunk, operationsBefore: failure.plan.operationCount, operationsAfter: shrunk.plan.operationCount,
            faultsBefore: faults, faultsAfter: faults, runs: runs)
    }
}
