extension Shrinker {
    /// After ddmin over the steps (which keeps or drops a concurrent step as a unit), each
    /// concurrent step left is shrunk by ddmin over its members; a racing close stays as it was.
    func droppingConcurrentMembers(_ steps: [Step], _ fails: ([Step]) -> Bool) -> [Step] {
        var steps = steps
        for index in steps.indices {
            guard case .operation(.concurrent(let members, let closes), let kill, let crash) = steps[index], members.count > 1 else { continue }
            func step(_ members: [WorkloadOperation]) -> Step {
                .operation(.concurrent(members: members, closes: closes), killAfterCalls: kill, crash: crash)
            }
            let kept = minimize(members) { candidate in
                var trial = steps
                trial[index] = step(candidate)
                return fails(trial)
            }
            steps[index] = step(kept)
        }
        return steps
    }
}
