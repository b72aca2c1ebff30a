import TidemarkIO
import TidemarkSimulatedDisk

/// Where a plan's kills land. The generator only knows which operation (or recovery) a kill
/// strikes; how many file-system calls that operation makes depends on the subject and its
/// state (a put makes two, a tiered checkpoint dozens). A fault-free dry run of the plan
/// (`SimulationRun.callProfile`) records the calls each step made, and `place` draws every
/// kill from those calls: half the time uniformly, half the time at a persistence point (a
/// sync, a rename, a directory sync, or the call right after one), where crash bugs live; and
/// three times in four the kill moves to the operation of its cycle with the most such calls.
/// A crash during recovery draws its own kind, so "SIGKILL, then power loss while
/// restarting" happens.
public enum KillPoints {
    /// The calls one step made in the dry run: the operation's own, and for a crash step those
    /// of the recovery that followed it.
    public typealias Profile = [Int: [FileOperation]]

    static let persistenceCalls: Set<FileOperation> = [.sync, .syncData, .syncDirectory, .rename]

    /// The last step whose calls `place` reads: the end (crash step) of the last cycle holding a
    /// kill, or the last crash step with a recovery kill. Nil when nothing is killed. The dry run
    /// stops there: what follows does not move a kill.
    public static func lastStepProfiled(for plan: Plan) -> Int? {
        var last: Int?
        var cycleHasKill = false
        for (index, step) in plan.steps.enumerated() {
            switch step {
            case .operation(_, let kill, _):
                if kill != nil { cycleHasKill = true }
            case .crash(let spec):
                if cycleHasKill || spec.recoveryKillAfterCalls != nil { last = index }
                cycleHasKill = false
            }
        }
        return cycleHasKill ? plan.steps.count - 1 : last
    }

    public static func place(_ plan: Plan, profile: Profile, crashes: CrashMix, seed: UInt64) -> Plan {
        let random = SeededRandom(seed: seed).stream("killpoints")
        // The recovery that follows an operation's kill is the one measured at its cycle's crash step.
        var nextCrash: [Int: Int] = [:]
        var following: Int?
        for index in plan.steps.indices.reversed() {
            if case .crash = plan.steps[index] { following = index }
            nextCrash[index] = following
        }
        func respec(_ spec: CrashSpec, recoveryAt step: Int?) -> CrashSpec {
            var spec = spec
            guard spec.recoveryKillAfterCalls != nil else { return spec }
            if let step, let calls = profile[step], let point = draw(calls, random) { spec.recoveryKillAfterCalls = point }
            spec.recoveryPowerLoss = random.chance(crashes.powerLoss)
            return spec
        }
        var steps = moveVictims(plan.steps, profile: profile, random: random)
        for (index, step) in steps.enumerated() {
            switch step {
            case .operation(let operation, let kill?, let crash):
                let placed = profile[index].flatMap { draw($0, random) } ?? kill
                steps[index] = .operation(operation, killAfterCalls: placed, crash: crash.map { respec($0, recoveryAt: nextCrash[index]) })
            case .crash(let spec):
                steps[index] = .crash(respec(spec, recoveryAt: index))
            case .operation:
                break
            }
        }
        return Plan(steps: steps)
    }

    /// Three times in four, moves a cycle's kill to the operation of that cycle with the most
    /// persistence calls (weighted by their number): checkpoints, maintenance passes and
    /// segment rotations, where a crash finds the most.
    static func moveVictims(_ steps: [Step], profile: Profile, random: SeededRandom) -> [Step] {
        var steps = steps
        var cycleStart = 0
        for end in steps.indices {
            guard case .crash = steps[end] else { continue }
            let cycle = cycleStart..<end
            cycleStart = end + 1
            guard let victim = cycle.first(where: { if case .operation(_, _?, _) = steps[$0] { true } else { false } }),
                case .operation(let victimOperation, let kill, let crash) = steps[victim]
            else { continue }
            let weights = cycle.map { index in Double(profile[index]?.filter { persistenceCalls.contains($0) }.count ?? 0) }
            let total = weights.reduce(0, +)
            guard total > 0, random.chance(0.75) else { continue }
            var point = random.unitDouble() * total
            var chosen = cycle.upperBound - 1
            for (index, weight) in zip(cycle, weights) {
                if point < weight { chosen = index; break }
                point -= weight
            }
            guard chosen != victim, case .operation(let operation, _, _) = steps[chosen] else { continue }
            steps[victim] = .operation(victimOperation, killAfterCalls: nil, crash: nil)
            steps[chosen] = .operation(operation, killAfterCalls: kill, crash: crash)
        }
        return steps
    }

    /// A kill point inside `calls` (`KillPoint(afterCalls:)` semantics: that many calls complete,
    /// the next is killed), or nil when the step made no call.
    static func draw(_ calls: [FileOperation], _ random: SeededRandom) -> Int? {
        guard !calls.isEmpty else { return nil }
        let persistence = calls.indices.filter { persistenceCalls.contains(calls[$0]) }
        if !persistence.isEmpty && random.chance(0.5) {
            // Kill the persistence call itself (it never happens) or the call after it (it did).
            let at = random.element(of: persistence)! + random.int(in: 0...1)
            return min(at, calls.count - 1)
        }
        return random.int(in: 0...(calls.count - 1))
    }
}
