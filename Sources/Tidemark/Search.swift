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

/// Exact nearest neighbours by a full scan of the state.
enum Search {
    static func nearest(
        in state: StoreState, to query: [Float], k: Int, metric: SearchMetric, filter: [String: JSONValue], now: Int64
    ) throws -> [SearchResult] {
        guard k > 0 else { throw StoreError(.invalidInput, "k must be positive, got \(k)") }
        guard !query.isEmpty else { throw StoreError(.invalidInput, "the query embedding is empty") }
        if let index = query.firstIndex(where: { !$0.isFinite }) {
            throw StoreError(.invalidInput, "query embedding[\(index)] is \(query[index]), not a finite number")
        }
        guard let dimension = state.dimension else { return [] }
        guard query.count == dimension else {
            throw StoreError(.invalidInput, "query has dimension \(query.count), this store's is \(dimension)")
        }
        let queryNorm = norm(query)
        var results: [SearchResult] = []
        for record in state.records.values where record.embedding.count == dimension && !record.isExpired(at: now) {
            guard filter.allSatisfy({ record.metadata[$0.key] == $0.value }) else { continue }
            results.append(SearchResult(record: record, score: score(query, queryNorm, record.embedding, metric)))
        }
        let higherIsBetter = metric != .euclidean
        results.sort { a, b in
            if a.score != b.score { return higherIsBetter ? a.score > b.score : a.score < b.score }
            return a.record.id < b.record.id  // deterministic order among ties
        }
        return Array(results.prefix(k))
    }

    private static func score(_ query: [Float], _ queryNorm: Double, _ vector: [Float], _ metric: SearchMetric) -> Double {
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

    private static func dot(_ a: [Float], _ b: [Float]) -> Double {
        var sum = 0.0
        for index in a.indices { sum += Double(a[index]) * Double(b[index]) }
        return sum
    }

    private static func norm(_ a: [Float]) -> Double { dot(a, a).squareRoot() }
}
