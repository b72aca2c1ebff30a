import Tidemark

/// The oracle: applies the workload's mutations in order and knows, at every crash, which
/// recovered states are allowed.
///
/// Between two checks the model keeps the verified `base` state and the `history` of mutating
/// operations attempted since (rejected ones apart: they must never show). A recovered state is
/// allowed when it equals `base` plus some prefix of `history` (invariant 1) that is at least as
/// long as what was synced (2a) and acknowledged (2b).
public struct Model: Sendable {
    public typealias State = [String: RecordValue]

    public enum EntryStatus: Sendable, Hashable {
        case acknowledged
        /// An I/O error left it unknown whether it applied, or the crash struck during it.
        case uncertain
    }

    struct Entry: Sendable {
        var stepIndex: Int
        var label: String
        var mutations: [Mutation]
        var status: EntryStatus
    }

    public private(set) var base: State = [:]
    private var history: [Entry] = []
    private var rejected: [Entry] = []
    /// Entries covered by a successful sync (or acknowledged as durable).
    private var syncedCount = 0
    private var acknowledgedCount = 0
    /// What reads must return now: base plus every acknowledged entry.
    public private(set) var current: State = [:]

    public init() {}

    /// An operation was acknowledged; `durable` when the subject promises it survives a crash.
    public mutating func acknowledged(stepIndex: Int, operation: WorkloadOperation, durable: Bool) {
        history.append(Entry(stepIndex: stepIndex, label: operation.label, mutations: operation.mutations, status: .acknowledged))
        acknowledgedCount = history.count
        if durable { syncedCount = history.count }
        Model.apply(operation.mutations, to: &current)
    }

    /// A clean error: the operation must never be visible.
    public mutating func rejected(stepIndex: Int, operation: WorkloadOperation) {
        rejected.append(Entry(stepIndex: stepIndex, label: operation.label, mutations: operation.mutations, status: .uncertain))
    }

    /// An ambiguous error or a crash during the operation: it may or may not have applied.
    public mutating func uncertain(stepIndex: Int, operation: WorkloadOperation) {
        guard !operation.mutations.isEmpty || operation.kind.isMutation else { return }
        history.append(Entry(stepIndex: stepIndex, label: operation.label, mutations: operation.mutations, status: .uncertain))
    }

    /// A successful sync: everything acknowledged so far must survive.
    public mutating func synced() { syncedCount = acknowledgedCount }

    /// The verdict on a recovered state. On success returns the longest matching prefix length
    /// and adopts that state as the new base.
    public mutating func check(
        recovered: State, acknowledgementsAreDurable: Bool, corruptionInjected: Bool, stepIndex: Int
    ) -> Violation? {
        var state = base
        var matches: [Int] = []
        if state == recovered { matches.append(0) }
        for (index, entry) in history.enumerated() {
            Model.apply(entry.mutations, to: &state)
            if state == recovered { matches.append(index + 1) }
        }
        guard let longest = matches.last else {
            return diagnoseMismatch(recovered: recovered, closest: closestPrefix(to: recovered), corruptionInjected: corruptionInjected, stepIndex: stepIndex)
        }
        if longest < syncedCount {
            let lost = history[longest]
            let invariant: Invariant = acknowledgementsAreDurable ? .durability : .syncDurability
            return Violation(
                invariant,
                "\(lost.label) (step \(lost.stepIndex)) was \(acknowledgementsAreDurable ? "acknowledged as durable" : "covered by a successful sync") but is missing after recovery; recovered state matches the model after \(longest) of \(history.count) operations",
                stepIndex: lost.stepIndex)
        }
        if longest < acknowledgedCount {
            let lost = history[longest]
            let count = acknowledgedCount - longest
            return Violation(
                .durability,
                "\(count) acknowledged operation\(count == 1 ? "" : "s") lost, first \(lost.label) (step \(lost.stepIndex)): acknowledged before it was synced",
                stepIndex: lost.stepIndex)
        }
        adopt(prefix: longest, state: recovered)
        return nil
    }

    /// The prefix of the history whose state differs least from `recovered` (the last of equals),
    /// computed only for a mismatch: crash exploration checks thousands of states that match.
    private func closestPrefix(to recovered: State) -> (prefix: Int, difference: [String]) {
        var state = base
        var closest = (prefix: 0, difference: Model.difference(expected: state, actual: recovered))
        for (index, entry) in history.enumerated() {
            Model.apply(entry.mutations, to: &state)
            let difference = Model.difference(expected: state, actual: recovered)
            if difference.count <= closest.difference.count { closest = (index + 1, difference) }
        }
        return closest
    }

    private mutating func adopt(prefix: Int, state: State) {
        base = state
        current = state
        history.removeAll()
        rejected.removeAll()
        syncedCount = 0
        acknowledgedCount = 0
    }

    private func diagnoseMismatch(
        recovered: State, closest: (prefix: Int, difference: [String]), corruptionInjected: Bool, stepIndex: Int
    ) -> Violation {
        // Would some rejected operation, applied in its place, explain the state?
        if !rejected.isEmpty {
            let merged = (history + rejected).sorted { $0.stepIndex < $1.stepIndex }
            var state = base
            for entry in merged {
                Model.apply(entry.mutations, to: &state)
                if state == recovered, let culprit = rejected.first(where: { $0.stepIndex <= entry.stepIndex }) {
                    return Violation(
                        .rejectedMeansAbsent,
                        "\(culprit.label) (step \(culprit.stepIndex)) was rejected with a clean error, yet it is visible after recovery",
                        stepIndex: culprit.stepIndex)
                }
            }
        }
        let shown = closest.difference.prefix(4).joined(separator: "; ")
        let more = closest.difference.count > 4 ? " (+\(closest.difference.count - 4) more)" : ""
        let detail = "recovered state matches no prefix of the \(history.count) operations since the last check; closest is after \(closest.prefix): \(shown)\(more)"
        return Violation(corruptionInjected ? .noSilentCorruption : .prefixConsistency, detail, stepIndex: stepIndex)
    }

    public static func apply(_ mutations: [Mutation], to state: inout State) {
        for mutation in mutations {
            switch mutation {
            case .put(let record): state[record.id] = record
            case .delete(let id): state[id] = nil
            }
        }
    }

    /// Human-readable differences, sorted by id.
    public static func difference(expected: State, actual: State) -> [String] {
        var lines: [String] = []
        for id in Set(expected.keys).union(actual.keys).sorted() {
            switch (expected[id], actual[id]) {
            case (let e?, let a?) where e != a:
                if e.content != a.content {
                    lines.append("\(id): content \(quote(a.content)), expected \(quote(e.content))")
                } else {
                    lines.append("\(id): embedding or metadata differs")
                }
            case (_?, nil): lines.append("\(id): missing")
            case (nil, _?): lines.append("\(id): unexpected")
            default: break
            }
        }
        return lines
    }

    private static func quote(_ text: String) -> String {
        text.count > 16 ? "\"\(text.prefix(16))…\"" : "\"\(text)\""
    }

    // MARK: Search oracle

    /// Similarity of `record` to `query` (higher is closer), the ordering search must follow.
    public static func similarity(_ query: [Float], _ record: [Float], metric: SearchMetric) -> Double {
        var dot = 0.0, normQ = 0.0, normR = 0.0, distance = 0.0
        for (q, r) in zip(query, record) {
            let (dq, dr) = (Double(q), Double(r))
            dot += dq * dr
            normQ += dq * dq
            normR += dr * dr
            distance += (dq - dr) * (dq - dr)
        }
        switch metric {
        case .dot: return dot
        case .cosine: return normQ == 0 || normR == 0 ? 0 : dot / (normQ.squareRoot() * normR.squareRoot())
        case .euclidean: return -distance.squareRoot()
        }
    }

    /// Checks a search answer: the right number of ids, each present, in non-increasing
    /// similarity, with the same similarities as the model's top k (ties may pick any id).
    public func checkSearch(query: [Float], k: Int, metric: SearchMetric, answer: [String]) -> String? {
        let tolerance = 1e-4
        let ranked = current.values.map { Model.similarity(query, $0.embedding, metric: metric) }.sorted(by: >)
        let expected = Array(ranked.prefix(k))
        guard answer.count == expected.count else {
            return "search returned \(answer.count) ids, expected \(expected.count)"
        }
        guard Set(answer).count == answer.count else { return "search returned duplicate ids: \(answer)" }
        var previous = Double.infinity
        for (position, id) in answer.enumerated() {
            guard let record = current[id] else { return "search returned \(id), which the model does not have" }
            let score = Model.similarity(query, record.embedding, metric: metric)
            if score > previous + tolerance { return "search results out of order at position \(position) (\(id))" }
            if abs(score - expected[position]) > tolerance {
                return "search position \(position) is \(id) with similarity \(score), expected \(expected[position])"
            }
            previous = score
        }
        return nil
    }
}
