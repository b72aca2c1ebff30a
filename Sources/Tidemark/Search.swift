/// How `search` scores a record against the query.
public enum SearchMetric: String, Sendable, Hashable, CaseIterable, Codable {
    /// Cosine similarity, higher is nearer; records with a zero vector score 0.
    case cosine
    /// Dot product, higher is nearer.
    case dot
    /// Euclidean distance, lower is nearer.
    case euclidean
}

public struct SearchResult: Sendable, Hashable {
    public var record: Record
    /// The metric's value: a similarity for cosine and dot, a distance for euclidean.
    public var score: Double
}

/// Exact nearest neighbours by a full scan: of a state (`nearest(in:)`), or of any stream of
/// vectors offered to a `Best` (the tiers' scan of hot records and cold vectors).
enum Search {
    static func nearest(
        in state: StoreState, to query: [Float], k: Int, metric: SearchMetric, filter: [String: JSONValue], now: Int64
    ) throws -> [SearchResult] {
        guard let dimension = try checkQuery(query, k: k, dimension: state.dimension) else { return [] }
        var best = Best(k: k, metric: metric, query: query)
        for record in state.records.values where record.embedding.count == dimension && !record.isExpired(at: now) {
            guard matches(record, filter) else { continue }
            record.embedding.withUnsafeBufferPointer { best.offer(id: record.id, vector: $0) }
        }
        return best.results().map { SearchResult(record: state.records[$0.id]!, score: $0.score) }
    }

    /// Checks `k` and the query against the store's dimension; nil when the store has none yet
    /// (nothing to find).
    static func checkQuery(_ query: [Float], k: Int, dimension: Int?) throws -> Int? {
        guard k > 0 else { throw StoreError(.invalidInput, "k must be positive, got \(k)") }
        guard !query.isEmpty else { throw StoreError(.invalidInput, "the query embedding is empty") }
        if let index = query.firstIndex(where: { !$0.isFinite }) {
            throw StoreError(.invalidInput, "query embedding[\(index)] is \(query[index]), not a finite number")
        }
        guard let dimension else { return nil }
        guard query.count == dimension else {
            throw StoreError(.invalidInput, "query has dimension \(query.count), this store's is \(dimension)")
        }
        return dimension
    }

    /// Whether the record's metadata has every key of `filter` with an equal value.
    static func matches(_ record: Record, _ filter: [String: JSONValue]) -> Bool {
        filter.allSatisfy { record.metadata[$0.key] == $0.value }
    }

    /// The `k` best (id, score) pairs offered so far, best first; ties go to the smaller id, so
    /// the answer does not depend on the order of the scan.
    struct Best {
        let k: Int
        let metric: SearchMetric
        let query: [Float]
        let queryNorm: Double
        private var kept: [(id: String, score: Double)] = []

        init(k: Int, metric: SearchMetric, query: [Float]) {
            (self.k, self.metric, self.query) = (k, metric, query)
            queryNorm = query.withUnsafeBufferPointer { Search.norm($0) }
        }

        mutating func offer(id: String, vector: UnsafeBufferPointer<Float>) {
            let score = query.withUnsafeBufferPointer { Search.score($0, queryNorm, vector, metric) }
            if kept.count == k, let worst = kept.last, !isBetter((id, score), than: worst) { return }
            let position = kept.firstIndex { !isBetter($0, than: (id, score)) } ?? kept.count
            kept.insert((id, score), at: position)
            if kept.count > k { kept.removeLast() }
        }

        func results() -> [(id: String, score: Double)] { kept }

        private func isBetter(_ a: (id: String, score: Double), than b: (id: String, score: Double)) -> Bool {
            if a.score != b.score { return metric == .euclidean ? a.score < b.score : a.score > b.score }
            return a.id < b.id
        }
    }

    private static func score(
        _ query: UnsafeBufferPointer<Float>, _ queryNorm: Double, _ vector: UnsafeBufferPointer<Float>, _ metric: SearchMetric
    ) -> Double {
        switch metric {
        case .dot:
            return dot(query, vector)
        case .cosine:
            let denominator = queryNorm * norm(vector)
            return denominator == 0 ? 0 : dot(query, vector) / denominator
        case .euclidean:
            var sum = 0.0
            for index in query.indices {
                let difference = Double(query[index]) - Double(vector[index])
                sum += difference * difference
            }
            return sum.squareRoot()
        }
    }

    private static func dot(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>) -> Double {
        var sum = 0.0
        for index in a.indices { sum += Double(a[index]) * Double(b[index]) }
        return sum
    }

    private static func norm(_ a: UnsafeBufferPointer<Float>) -> Double { dot(a, a).squareRoot() }
}
