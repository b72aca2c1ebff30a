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
        /// A crash cut it short after its commit record was durable: it committed.
        case committedInFlight
    }

    struct Entry: Sendable {
        var stepIndex: Int
        var label: String
        var mutations: [Mutation]
        var status: EntryStatus
        /// The model's time when it was acknowledged: the time its commit recorded.
        var time: Int64 = 0
    }

    public private(set) var base: State = [:] { didSet { prefixStates = nil } }
    /// `base` without its last operation, when one is known: the state a lost last log frame
    /// (the one a torn write explains) leaves.
    private var baseBeforeLast: State? { beforeLastAdoption.map { Model.applying($0.entries, to: $0.base) } }
    /// What `baseBeforeLast` is built from, only when asked (rarely: after injected corruption).
    private var beforeLastAdoption: (base: State, entries: ArraySlice<Entry>)?
    private(set) var history: [Entry] = [] { didSet { prefixStates = nil } }
    /// The live state after each prefix of `history` (`allowedStates()`), kept by
    /// `prepareForChecks()` so that many checks at one point build them once.
    private var prefixStates: [State]?
    private var rejected: [Entry] = []
    /// Members of a concurrent step that are still uncertain (in flight at a crash, or
    /// ambiguous): they put or delete distinct ids and commit in whatever order their threads
    /// raced to, so any subset of them may show, after all of `history`. Nothing is
    /// acknowledged after them: the store fail-stops or crashes first.
    private var unorderedTail: [Entry] = []
    /// Entries covered by a successful sync (or acknowledged as durable).
    private(set) var syncedCount = 0
    private(set) var acknowledgedCount = 0
    /// The latest time a commit recorded that survived a check: the subject's time never goes
    /// below it again (`adoptSubjectTime`).
    var survivingCommitTime: Int64 = 0
    /// What reads must return now: base plus every acknowledged entry (expired records
    /// included; `live` hides them).
    public private(set) var current: State = [:]
    /// The subject's time (nanoseconds): it fixes TTL expiries and which records are live. The
    /// wall clock, except that it never runs backwards (the runner keeps the max); after a
    /// recovery, the subject's own (`adoptSubjectTime`).
    public var now: Int64 = 0 { didSet { prefixStates = nil } }
    /// Set by the last `check` when it accepted a state that lost the last frame because
    /// recovery reported a possible loss after injected corruption: what was lost.
    public private(set) var excusedLoss: String?

    public init() {}

    /// The records of `state` that reads see at `now`.
    public func live(_ state: State) -> State { state.filter { $0.value.isLive(at: now) } }

    /// What `get id` must return now.
    public func expected(_ id: String) -> RecordValue? { current[id].flatMap { $0.isLive(at: now) ? $0 : nil } }

    /// Builds the states `check` compares against once, for every copy of this model taken
    /// afterwards: crash exploration checks many recovered states against one point's model.
    public mutating func prepareForChecks() {
        if prefixStates == nil { prefixStates = allowedStates() }
    }

    /// `base` with every entry's mutations applied.
    private static func applying(_ entries: ArraySlice<Entry>, to base: State) -> State {
        var state = base
        for entry in entries { apply(entry.mutations, to: &state) }
        return state
    }

    /// The live state after each prefix of `history`, the empty prefix first.
    private func allowedStates() -> [State] {
        var state = base
        var states = [live(state)]
        for entry in history {
            Model.apply(entry.mutations, to: &state)
            states.append(live(state))
        }
        return states
    }

    /// An operation was acknowledged; `durable` when the subject promises it survives a crash.
    public mutating func acknowledged(stepIndex: Int, operation: WorkloadOperation, durable: Bool) {
        let mutations = operation.mutations(at: now)
        history.append(Entry(stepIndex: stepIndex, label: operation.label, mutations: mutations, status: .acknowledged, time: now))
        acknowledgedCount = history.count
        if durable { syncedCount = history.count }
        Model.apply(mutations, to: &current)
    }

    /// A crash cut the operation short after its commit record was durable
    /// (`Subject.inFlightCommitRecord`): it must survive, as if acknowledged as durable.
    public mutating func committedInFlight(stepIndex: Int, operation: WorkloadOperation) {
        acknowledged(stepIndex: stepIndex, operation: operation, durable: true)
        history[history.count - 1].status = .committedInFlight
    }

    /// A clean error: the operation must never be visible.
    public mutating func rejected(stepIndex: Int, operation: WorkloadOperation) {
        rejected.append(Entry(stepIndex: stepIndex, label: operation.label, mutations: operation.mutations(at: now), status: .uncertain))
    }

    /// An ambiguous error or a crash during the operation: it may or may not have applied.
    public mutating func uncertain(stepIndex: Int, operation: WorkloadOperation) {
        let mutations = operation.mutations(at: now)
        guard !mutations.isEmpty || operation.kind.isMutation else { return }
        history.append(Entry(stepIndex: stepIndex, label: operation.label, mutations: mutations, status: .uncertain))
    }

    /// A member of a concurrent step that is uncertain: it may or may not show, whatever the
    /// other uncertain members of its step do (see `unorderedTail`).
    public mutating func uncertainConcurrent(stepIndex: Int, operation: WorkloadOperation) {
        let mutations = operation.mutations(at: now)
        guard !mutations.isEmpty else { return }
        unorderedTail.append(Entry(stepIndex: stepIndex, label: operation.label, mutations: mutations, status: .uncertain))
        prefixStates = nil
    }

    /// A successful sync: everything acknowledged so far must survive.
    public mutating func synced() { syncedCount = acknowledgedCount }

    /// The verdict on a recovered state (its live records). On success adopts the longest
    /// matching prefix as the new base.
    ///
    /// `possibleLossReported`: recovery said it dropped a frame it could not tell from a torn
    /// write. After injected corruption that excuses exactly one loss, the last frame written
    /// (the last operation that had to survive and changed the state), never more.
    public mutating func check(
        recovered: State, acknowledgementsAreDurable: Bool, corruptionInjected: Bool, possibleLossReported: Bool = false,
        stepIndex: Int
    ) -> Violation? {
        excusedLoss = nil
        let states = prefixStates ?? allowedStates()
        let longest = states.lastIndex { $0 == recovered }
        if longest == nil, !unorderedTail.isEmpty, matchesAllOfHistoryAndSomeOfTheTail(recovered) {
            adopt(prefix: history.count, state: recovered)
            return nil
        }
        let violation = verdict(recovered: recovered, states: states, longest: longest, acknowledgementsAreDurable: acknowledgementsAreDurable, corruptionInjected: corruptionInjected, stepIndex: stepIndex)
        guard let violation else {
            adopt(prefix: longest!, state: recovered)
            return nil
        }
        if possibleLossReported && corruptionInjected && [.durability, .syncDurability, .noSilentCorruption].contains(violation.invariant) {
            let required = max(syncedCount, acknowledgedCount)
            // The last frame is the last operation that changed the state: one that did not
            // (a rolled-back transaction, a delete of an absent id) wrote none.
            var last = required - 1
            while last > 0, states[last] == states[last + 1] { last -= 1 }
            if required > 0, states[last] == recovered {
                excusedLoss = "\(history[last].label) (step \(history[last].stepIndex))"
                adopt(prefix: last, state: recovered)
                beforeLastAdoption = nil
                return nil
            }
            if required == 0, let before = baseBeforeLast, live(before) == recovered {
                excusedLoss = "the last operation before the previous check"
                adopt(prefix: 0, state: recovered)
                beforeLastAdoption = nil
                return nil
            }
            return Violation(
                violation.invariant,
                "recovery reported a possible loss, which excuses only the last frame, but more is missing: \(violation.message)",
                stepIndex: violation.stepIndex)
        }
        return violation
    }

    private func verdict(
        recovered: State, states: [State], longest: Int?, acknowledgementsAreDurable: Bool, corruptionInjected: Bool, stepIndex: Int
    ) -> Violation? {
        guard let longest else {
            var closest = (prefix: 0, difference: Model.difference(expected: states[0], actual: recovered))
            for (prefix, state) in states.enumerated().dropFirst() {
                let difference = Model.difference(expected: state, actual: recovered)
                if difference.count <= closest.difference.count { closest = (prefix, difference) }
            }
            return diagnoseMismatch(recovered: recovered, closest: closest, corruptionInjected: corruptionInjected, stepIndex: stepIndex)
        }
        if longest < syncedCount {
            let lost = history[longest]
            let invariant: Invariant = acknowledgementsAreDurable ? .durability : .syncDurability
            return Violation(
                invariant,
                "\(lost.label) (step \(lost.stepIndex)) was \(lost.status == .committedInFlight ? "cut short by the crash after its commit record was durable" : acknowledgementsAreDurable ? "acknowledged as durable" : "covered by a successful sync") but is missing after recovery; recovered state matches the model after \(longest) of \(history.count) operations",
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
        return nil
    }

    /// Whether `recovered` is every entry of `history` applied, then any subset of the
    /// `unorderedTail`: its ids are distinct, so each member is judged on its own ids.
    private func matchesAllOfHistoryAndSomeOfTheTail(_ recovered: State) -> Bool {
        let full = Model.applying(history[...], to: base)
        let tailIDs = Set(unorderedTail.flatMap { $0.mutations.map(\.id) })
        guard live(full).filter({ !tailIDs.contains($0.key) }) == recovered.filter({ !tailIDs.contains($0.key) }) else { return false }
        let before = live(full)
        return unorderedTail.allSatisfy { entry in
            let after = live(Model.applying([entry][...], to: full))
            let ids = Set(entry.mutations.map(\.id))
            let showsNone = ids.allSatisfy { recovered[$0] == before[$0] }
            let showsAll = ids.allSatisfy { recovered[$0] == after[$0] }
            return showsNone || showsAll
        }
    }

    private mutating func adopt(prefix: Int, state: State) {
        if prefix > 0 { beforeLastAdoption = (base, history[..<(prefix - 1)]) }
        base = state
        current = state
        history.removeAll()
        rejected.removeAll()
        unorderedTail.removeAll()
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
                if live(state) == recovered, let culprit = rejected.first(where: { $0.stepIndex <= entry.stepIndex }) {
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
        if corruptionInjected { return Violation(.noSilentCorruption, detail, stepIndex: stepIndex) }
        // Records an earlier check verified, untouched since, that are gone: verified state was
        // lost (a durability failure), not a torn operation.
        let touched = Set((history + rejected + unorderedTail).flatMap { $0.mutations.map(\.id) })
        let verified = live(base)
        let gone = verified.keys.filter { recovered[$0] == nil && !touched.contains($0) }.sorted()
        let otherwiseEqual = recovered.filter { !touched.contains($0.key) } == verified.filter { !gone.contains($0.key) }
        if !gone.isEmpty && otherwiseEqual {
            return Violation(
                .durability,
                "\(gone.prefix(4).joined(separator: ", ")) \(gone.count == 1 ? "was" : "were") verified by an earlier check and \(gone.count == 1 ? "is" : "are") missing after recovery; \(detail)",
                stepIndex: stepIndex)
        }
        return Violation(.prefixConsistency, detail, stepIndex: stepIndex)
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
                } else if e.metadata != a.metadata {
                    lines.append("\(id): metadata \(a.metadata), expected \(e.metadata)")
                } else if e.expiresAt != a.expiresAt {
                    lines.append("\(id): expires at \(a.expiresAt.map(String.init) ?? "never"), expected \(e.expiresAt.map(String.init) ?? "never")")
                } else {
                    lines.append("\(id): embedding differs")
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

    /// Checks a search answer: the right number of hits, each a live record the filter admits,
    /// returned with the model's content, metadata and embedding and the score the model
    /// computes, in non-increasing similarity, with the same similarities as the model's top k
    /// (ties may pick any id).
    public func checkSearch(query: [Float], k: Int, metric: SearchMetric, filter: [String: String]?, answer: [SearchHit]) -> String? {
        let tolerance = 1e-4
        func admitted(_ record: RecordValue) -> Bool { (filter ?? [:]).allSatisfy { record.metadata[$0.key] == $0.value } }
        let ranked = live(current).values.filter(admitted).map { Model.similarity(query, $0.embedding, metric: metric) }.sorted(by: >)
        let expected = Array(ranked.prefix(k))
        guard answer.count == expected.count else {
            return "search returned \(answer.count) hits, expected \(expected.count)"
        }
        let ids = answer.map(\.record.id)
        guard Set(ids).count == ids.count else { return "search returned duplicate ids: \(ids)" }
        var previous = Double.infinity
        for (position, hit) in answer.enumerated() {
            let id = hit.record.id
            guard let record = self.expected(id) else { return "search returned \(id), which the model does not have" }
            guard admitted(record) else { return "search returned \(id), whose metadata \(record.metadata) the filter \(filter ?? [:]) excludes" }
            if hit.record != record {
                let problem = Model.difference(expected: [id: record], actual: [id: hit.record])
                return "search returned \(id) with other data than the model: \(problem.joined(separator: "; "))"
            }
            let score = Model.similarity(query, record.embedding, metric: metric)
            if abs(hit.score - score) > tolerance {
                return "search scored \(id) \(hit.score), the model computes \(score)"
            }
            if score > previous + tolerance { return "search results out of order at position \(position) (\(id))" }
            if abs(score - expected[position]) > tolerance {
                return "search position \(position) is \(id) with similarity \(score), expected \(expected[position])"
            }
            previous = score
        }
        return nil
    }
}
