/// Minimizes a failing run: delta debugging (Zeller's ddmin) first over the plan's steps (a
/// concurrent step as a unit), then over each concurrent step's members, then
/// over the fault decisions (suppressing each means the benign outcome), keeping only changes
/// after which the run still breaks the same invariant. A failure that pins a crash state is
/// shrunk over its steps with the pin re-identified in each candidate (`Shrinker+Pinned`).
public final class Shrinker {
    public var failure: FailureFile
    /// Upper bound on replays, so a stubborn case still ends.
    public var maxRuns: Int
    public internal(set) var runs = 0

    public init(failure: FailureFile, maxRuns: Int = 500) {
        self.failure = failure
        self.maxRuns = maxRuns
    }

    public struct Outcome: Sendable {
        public var failure: FailureFile
        public var operationsBefore: Int
        public var operationsAfter: Int
        public var faultsBefore: Int
        public var faultsAfter: Int
        public var runs: Int
    }

    /// Shrinks; `progress` is told the run count and current plan size now and then.
    public func shrink(progress: (Int, Int) -> Void = { _, _ in }) -> Outcome {
        if let crash = failure.crash { return shrinkPinned(crash, progress: progress) }
        let scenario = failure.scenario
        let invariant = failure.invariant
        let seed = failure.seed
        var suppressed = Set(failure.suppressedDecisions)
        let operationsBefore = failure.plan.operationCount
        let faultsBefore = failure.decisions.filter { !$0.suppressed }.count

        var steps = failure.plan.steps
        let fails = { (candidate: [Step]) in
            progress(self.runs, candidate.count)
            return self.stillFails(SimulationRun(scenario: scenario, seed: seed, plan: Plan(steps: candidate), suppressedDecisions: suppressed), invariant)
        }
        steps = minimize(steps, fails)
        steps = droppingConcurrentMembers(steps, fails)

        // Which decisions does the shrunk run take? Those are the candidates to suppress.
        let plan = Plan(steps: steps)
        var last = SimulationRun(scenario: scenario, seed: seed, plan: plan, suppressedDecisions: suppressed).execute()
        let active = last.decisions.filter { !$0.suppressed }.map(\.index)
        let keep = minimize(active) { candidate in
            let trial = suppressed.union(Set(active).subtracting(candidate))
            return stillFails(SimulationRun(scenario: scenario, seed: seed, plan: plan, suppressedDecisions: trial), invariant)
        }
        suppressed.formUnion(Set(active).subtracting(keep))
        // Members that mattered only under the faults just suppressed go too: the result is
        // 1-minimal over members under the decisions it keeps.
        steps = droppingConcurrentMembers(steps, fails)

        let run = SimulationRun(scenario: scenario, seed: seed, plan: Plan(steps: steps), suppressedDecisions: suppressed)
        last = run.execute()
        runs += 1
        var shrunk = FailureFile(scenarioFile: failure.scenarioFile, scenario: scenario, run: run, result: last)
        if last.violation?.invariant != invariant {
            // Cannot happen unless the run is not deterministic; keep the original rather than lie.
            shrunk = failure
        }
        return Outcome(
            failure: shrunk, operationsBefore: operationsBefore, operationsAfter: shrunk.plan.operationCount,
            faultsBefore: faultsBefore, faultsAfter: shrunk.decisions.filter { !$0.suppressed }.count, runs: runs)
    }

    private func stillFails(_ run: SimulationRun, _ invariant: Invariant) -> Bool {
        guard runs < maxRuns else { return false }
        runs += 1
        return run.execute().violation?.invariant == invariant
    }

    /// ddmin: the smallest sublist (1-minimal within the run budget) for which `fails` holds.
    func minimize<T>(_ items: [T], _ fails: ([T]) -> Bool) -> [T] {
        var current = items
        var granularity = 2
        while current.count >= 2 && runs < maxRuns {
            let chunkSize = (current.count + granularity - 1) / granularity
            var reduced = false
            var start = 0
            while start < current.count {
                let end = min(start + chunkSize, current.count)
                let complement = Array(current[..<start] + current[end...])
                if !complement.isEmpty && fails(complement) {
                    current = complement
                    granularity = max(granularity - 1, 2)
                    reduced = true
                    break
                }
                start = end
            }
            if !reduced {
                if granularity >= current.count { break }
                granularity = min(granularity * 2, current.count)
            }
        }
        if current.count == 1, runs < maxRuns, fails([]) { return [] }
        return current
    }
}
