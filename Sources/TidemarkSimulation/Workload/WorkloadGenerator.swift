import Tidemark
import TidemarkIO

/// Turns a scenario and a seed into a plan. Draws only from the `workload` stream of the seed,
/// so fault decisions (another stream) never shift the operations.
public struct WorkloadGenerator {
    public let workload: WorkloadConfiguration
    public let faults: ResolvedFaults
    private let random: SeededRandom
    private let keyWeights: [Double]

    public init(workload: WorkloadConfiguration, faults: ResolvedFaults, seed: UInt64) {
        self.workload = workload
        self.faults = faults
        self.random = SeededRandom(seed: seed).stream("workload")
        let keyCount = max(1, workload.keys)
        switch workload.distribution {
        case .uniform:
            keyWeights = Array(repeating: 1, count: keyCount)
        case .zipfian:
            // Zipf with exponent 1: key i is drawn with weight 1/(i+1); a few hot keys, a long tail.
            keyWeights = (0..<keyCount).map { 1 / Double($0 + 1) }
        }
    }

    public func plan() -> Plan {
        var steps: [Step] = []
        let cycles = draw(workload.cycles)
        for _ in 0..<cycles {
            let operations = draw(workload.operationsPerCycle)
            let crash = CrashSpec(
                powerLoss: random.chance(faults.powerLoss),
                recoveryKillAfterCalls: random.chance(faults.killDuringRecovery) ? random.int(in: 1...40) : nil)
            let killInside = operations > 0 && random.chance(faults.killInOperation)
            let victim = killInside ? random.int(in: 0...(operations - 1)) : -1
            for index in 0..<operations {
                let operation = nextOperation()
                if index == victim {
                    // Operations that touch many files get a wider window, so every call of a
                    // checkpoint (rotate, write, rename, sync, remove) can be the last.
                    let window = [.checkpoint, .maintenance, .batch, .transaction].contains(operation.kind) ? 24 : 8
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
        let kinds = OperationKind.allCases.filter { (workload.mix[$0] ?? 0) > 0 }
        guard !kinds.isEmpty else { return .sync }
        let kind = weighted(kinds, weights: kinds.map { workload.mix[$0]! })
        switch kind {
        case .put: return .put(record: record())
        case .delete: return .delete(id: key())
        case .batch: return .batch(mutations: mutations())
        case .transaction: return .transaction(mutations: mutations(), rollback: random.chance(0.3))
        case .get: return .get(id: key())
        case .search:
            return .search(embedding: embedding(), k: random.int(in: 1...5), metric: random.element(of: SearchMetric.allCases)!)
        case .sync: return .sync
        case .checkpoint: return .checkpoint
        case .maintenance: return .maintenance
        case .advanceClock: return .advanceClock(seconds: random.int(in: 1...600))
        case .reopen: return .reopen
        }
    }

    private func mutations() -> [Mutation] {
        (0..<draw(workload.batchSize)).map { _ in
            random.chance(0.8) ? .put(record: record()) : .delete(id: key())
        }
    }

    private func record() -> RecordValue {
        let id = key()
        let length = draw(workload.contentBytes)
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789 ".unicodeScalars)
        var content = String.UnicodeScalarView()
        for _ in 0..<length { content.append(alphabet[Int(random.next(below: UInt64(alphabet.count)))]) }
        return RecordValue(
            id: id, content: String(content), embedding: embedding(),
            metadata: ["group": "g\(random.int(in: 0...3))"])
    }

    /// Components are multiples of 1/64 in [-1, 1], exact in Float, so stored and model scores agree.
    private func embedding() -> [Float] {
        (0..<max(1, workload.embeddingDimensions)).map { _ in Float(random.int(in: -64...64)) / 64 }
    }

    private func key() -> String { "k\(weighted(Array(keyWeights.indices), weights: keyWeights))" }

    private func draw(_ range: IntRange) -> Int { random.int(in: range.lower...max(range.lower, range.upper)) }

    private func weighted<T>(_ items: [T], weights: [Double]) -> T {
        let total = weights.reduce(0, +)
        var point = random.unitDouble() * total
        for (item, weight) in zip(items, weights) {
            if point < weight { return item }
            point -= weight
        }
        return items[items.count - 1]
    }
}

/// A scenario's fault ranges with one value drawn for this seed (the swarm draw).
public struct ResolvedFaults: Codable, Sendable, Hashable {
    public var powerLoss: Double
    public var killInOperation: Double
    public var killDuringRecovery: Double
    public var dropUnsynced: Double
    public var tornWrite: Double
    public var garbage: Double
    public var unsafeAppend: Double
    public var keepAll: Double
    public var dropDirectoryOperation: Double
    public var reorder: FaultRanges.ReorderMode
    public var sectorSize: Int
    public var earlyWriteback: Double
    public var fsyncError: Double
    public var writeError: Double
    public var readError: Double
    public var misdirectedWrite: Double
    public var bitRot: Double
    public var capacityBytes: Int?
    public var latentSectorErrors: [FaultConfiguration.LatentSectorError]

    /// Draws each range uniformly from the seed's `swarm` stream.
    public init(_ ranges: FaultRanges, seed: UInt64) {
        let random = SeededRandom(seed: seed).stream("swarm")
        func draw(_ range: DoubleRange) -> Double {
            let value = range.lower + (range.upper - range.lower) * random.unitDouble()
            return min(1, max(0, value))
        }
        powerLoss = draw(ranges.powerLoss)
        killInOperation = draw(ranges.killInOperation)
        killDuringRecovery = draw(ranges.killDuringRecovery)
        dropUnsynced = draw(ranges.dropUnsynced)
        tornWrite = draw(ranges.tornWrite)
        garbage = draw(ranges.garbage)
        unsafeAppend = draw(ranges.unsafeAppend)
        keepAll = draw(ranges.keepAll)
        dropDirectoryOperation = draw(ranges.dropDirectoryOperation)
        reorder = ranges.reorder
        sectorSize = ranges.sectorSize
        earlyWriteback = draw(ranges.earlyWriteback)
        fsyncError = draw(ranges.fsyncError)
        writeError = draw(ranges.writeError)
        readError = draw(ranges.readError)
        misdirectedWrite = draw(ranges.misdirectedWrite)
        bitRot = draw(ranges.bitRot)
        capacityBytes = ranges.capacityBytes.map { random.int(in: $0.lower...max($0.lower, $0.upper)) }
        latentSectorErrors = ranges.latentSectorErrors
    }

    /// Whether data at rest may be damaged (bit rot, misdirected writes): then refusing to open
    /// with a corruption error is detection, not a failure.
    public var injectsCorruption: Bool { bitRot > 0 || misdirectedWrite > 0 }
}
