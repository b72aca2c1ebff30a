import Tidemark
import TidemarkIO

/// Turns a scenario and a seed into a plan. Draws only from the `workload` stream of the seed,
/// so fault decisions (another stream) never shift the operations.
public struct WorkloadGenerator {
    public let workload: WorkloadConfiguration
    public let crashes: CrashMix
    private let random: SeededRandom
    private let keyWeights: [Double]
    private let keyWeightTotal: Double
    /// The operation kinds the mix draws, with their weights.
    private let kinds: [OperationKind]
    private let kindWeights: [Double]
    private let kindWeightTotal: Double

    public init(workload: WorkloadConfiguration, crashes: CrashMix, seed: UInt64) {
        self.workload = workload
        self.crashes = crashes
        self.random = SeededRandom(seed: seed).stream("workload")
        let keyCount = max(1, workload.keys)
        switch workload.distribution {
        case .uniform:
            keyWeights = Array(repeating: 1, count: keyCount)
        case .zipfian:
            // Zipf with exponent 1: key i is drawn with weight 1/(i+1); a few hot keys, a long tail.
            keyWeights = (0..<keyCount).map { 1 / Double($0 + 1) }
        }
        keyWeightTotal = keyWeights.reduce(0, +)
        kinds = OperationKind.allCases.filter { (workload.mix[$0] ?? 0) > 0 }
        kindWeights = kinds.map { workload.mix[$0]! }
        kindWeightTotal = kindWeights.reduce(0, +)
    }

    public func plan() -> Plan {
        var steps: [Step] = []
        let cycles = draw(workload.cycles)
        for _ in 0..<cycles {
            let operations = draw(workload.operationsPerCycle)
            let crash = CrashSpec(
                powerLoss: random.chance(crashes.powerLoss),
                recoveryKillAfterCalls: random.chance(crashes.killDuringRecovery) ? random.int(in: 1...40) : nil)
            let killInside = operations > 0 && random.chance(crashes.killInOperation)
            let victim = killInside ? random.int(in: 0...(operations - 1)) : -1
            for index in 0..<operations {
                let operation = nextOperation()
                if index == victim {
                    // A first guess; `KillPoints.place` moves it onto a call the operation
                    // really makes once a dry run has counted them.
                    let window = [.checkpoint, .maintenance, .batch, .transaction, .concurrent].contains(operation.kind) ? 24 : 8
                    steps.append(.operation(operation, killAfterCalls: random.int(in: 1...window), crash: crash))
                } else {
                    steps.append(.operation(operation, killAfterCalls: nil, crash: nil))
                }
            }
            // A crash step closes every cycle: when the kill inside an operation fired, the
            // runner has already crashed and recovered, and this one strikes the fresh state.
            steps.append(.crash(crash))
        }
        return Plan(steps: steps)
    }

    private func nextOperation() -> WorkloadOperation {
        guard !kinds.isEmpty else { return .sync }
        let kind = kinds[weightedIndex(kindWeights, total: kindWeightTotal)]
        switch kind {
        case .put: return .put(record: record())
        case .putWithTTL: return .putWithTTL(record: record(), ttlSeconds: random.int(in: 1...900))
        case .delete: return .delete(id: key())
        case .batch: return .batch(mutations: mutations())
        case .transaction: return .transaction(mutations: mutations(), rollback: random.chance(0.3))
        case .get: return .get(id: key())
        case .search:
            return .search(
                embedding: embedding(), k: random.int(in: 1...5), metric: random.element(of: SearchMetric.allCases)!,
                filter: random.chance(0.5) ? ["group": "g\(random.int(in: 0...3))"] : nil)
        case .sync: return .sync
        case .checkpoint: return .checkpoint
        case .maintenance: return .maintenance
        case .advanceClock: return .advanceClock(seconds: random.int(in: 1...600))
        case .clockJump: return .advanceClock(seconds: random.int(in: 3_600...2_592_000))
        case .clockStepBack: return .advanceClock(seconds: -random.int(in: 1...3_600))
        case .reopen: return .reopen
        case .concurrent: return concurrent(workload.concurrency ?? ConcurrencyConfiguration())
        }
    }

    /// Puts (four in five) and deletes of distinct ids, so they commute and only the commit
    /// order the threads race to is left open; perhaps a checkpoint racing them.
    private func concurrent(_ configuration: ConcurrencyConfiguration) -> WorkloadOperation {
        let count = draw(configuration.writers)
        var ids: [String] = []
        for _ in 0..<(count * 8) where ids.count < count {
            let id = key()
            if !ids.contains(id) { ids.append(id) }
        }
        var members: [WorkloadOperation] = ids.map { id in random.chance(0.8) ? .put(record: record(id: id)) : .delete(id: id) }
        let closes = random.chance(configuration.closeChance)
        if configuration.checkpointChance > 0, random.chance(configuration.checkpointChance) { members.append(.checkpoint) }
        return .concurrent(members: members, closes: closes)
    }

    private func mutations() -> [Mutation] {
        (0..<draw(workload.batchSize)).map { _ in
            random.chance(0.8) ? .put(record: record()) : .delete(id: key())
        }
    }

    private static let contentAlphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789 ".utf8)

    private func record() -> RecordValue { record(id: key()) }

    private func record(id: String) -> RecordValue {
        let length = draw(workload.contentBytes)
        let content = String(unsafeUninitializedCapacity: length) { buffer in
            for index in 0..<length { buffer[index] = Self.contentAlphabet[Int(random.next(below: UInt64(Self.contentAlphabet.count)))] }
            return length
        }
        return RecordValue(
            id: id, content: content, embedding: embedding(),
            metadata: ["group": "g\(random.int(in: 0...3))"])
    }

    /// Components are multiples of 1/64 in [-1, 1], exact in Float, so stored and model scores agree.
    private func embedding() -> [Float] {
        (0..<max(1, workload.embeddingDimensions)).map { _ in Float(random.int(in: -64...64)) / 64 }
    }

    private func key() -> String { "k\(weightedIndex(keyWeights, total: keyWeightTotal))" }

    private func draw(_ range: IntRange) -> Int { random.int(in: range.lower...max(range.lower, range.upper)) }

    /// An index drawn with probability proportional to its weight; `total` is `weights`' sum.
    private func weightedIndex(_ weights: [Double], total: Double) -> Int {
        var point = random.unitDouble() * total
        for (index, weight) in weights.enumerated() {
            if point < weight { return index }
            point -= weight
        }
        return weights.count - 1
    }
}
