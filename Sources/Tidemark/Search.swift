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

/// Exact nearest neighbours by a full scan: of a state (`nearest(in:)`, through its vector table,
/// `VectorTable`), or of any stream of vectors offered to a `Best` (the tiers' scan of hot records
/// and cold vectors).
///
/// Scores are computed from `Float` embeddings with `Double` accumulation, eight lanes at a time
/// in a fixed order (lane sums, then the lanes added in halves, then the tail), so a search is
/// deterministic and its scores differ from a sequential `Double` sum by summation order only
/// (relative 1e-12 at most for 384 dimensions; `SearchTests` holds them to that). Ties in score go
/// to the smaller id, so the answer does not depend on the order of the scan. No record is copied
/// but the final `k`.
enum Search {
    static func nearest(
        in state: StoreState, to query: [Float], k: Int, metric: SearchMetric, filter: [String: JSONValue], now: Int64
    ) throws -> [SearchResult] {
        guard let dimension = try checkQuery(query, k: k, dimension: state.dimension) else { return [] }
        let table = state.vectors ?? VectorTable(dimension: dimension, records: state.records)
        var best = TopK(k: k, higherIsBetter: metric != .euclidean, ids: table.ids)
        query.withUnsafeBufferPointer { query in
            let queryNorm = Kernels.norm(query)
            table.values.withUnsafeBufferPointer { values in
                for slot in 0..<table.slotCount where table.ids[slot] != nil {
                    if let expiresAt = table.expiresAt[slot], expiresAt <= now { continue }
                    if !filter.isEmpty {
                        guard let record = state.records[table.ids[slot]!], matches(record, filter) else { continue }
                    }
                    let vector = UnsafeBufferPointer(rebasing: values[slot * dimension..<(slot + 1) * dimension])
                    best.offer(Kernels.score(query, queryNorm, vector, table.squaredNorms[slot].squareRoot(), metric), slot: slot)
                }
            }
        }
        return best.sorted().map { SearchResult(record: state.records[table.ids[$0.slot]!]!, score: $0.score) }
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

    /// The `k` best (id, score) pairs offered so far, best first, for a scan that streams
    /// vectors from anywhere (the tiers).
    struct Best {
        let k: Int
        let metric: SearchMetric
        let query: [Float]
        let queryNorm: Double
        private var kept: [(id: String, score: Double)] = []

        init(k: Int, metric: SearchMetric, query: [Float]) {
            (self.k, self.metric, self.query) = (k, metric, query)
            queryNorm = query.withUnsafeBufferPointer { Kernels.norm($0) }
        }

        mutating func offer(id: String, vector: UnsafeBufferPointer<Float>) {
            offer(id: id, score: score(vector))
        }

        /// The metric's value for `vector` against the query.
        func score(_ vector: UnsafeBufferPointer<Float>) -> Double {
            query.withUnsafeBufferPointer { query in
                guard metric == .cosine else { return Kernels.score(query, queryNorm, vector, 0, metric) }
                // One pass for the dot product and the vector's norm (the same sums as two passes).
                let (dot, squaredNorm) = Kernels.dotAndSquaredNorm(query, vector)
                let denominator = queryNorm * squaredNorm.squareRoot()
                return denominator == 0 ? 0 : dot / denominator
            }
        }

        /// Whether a record with `score` may be kept (a tie with the worst kept depends on the
        /// id): a scan makes the id and checks shadowing only for those.
        func mayKeep(_ score: Double) -> Bool {
            guard kept.count == k, let worst = kept.last else { return true }
            return metric == .euclidean ? score <= worst.score : score >= worst.score
        }

        mutating func offer(id: String, score: Double) {
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

    /// The `k` best (score, slot) pairs seen so far: a binary heap with the worst on top. Ties
    /// in score go to the smaller id, as in the full sort this replaces.
    struct TopK {
        struct Entry {
            var score: Double
            var slot: Int
        }

        let k: Int
        let higherIsBetter: Bool
        let ids: [String?]
        private var heap: [Entry] = []

        init(k: Int, higherIsBetter: Bool, ids: [String?]) {
            (self.k, self.higherIsBetter, self.ids) = (k, higherIsBetter, ids)
            heap.reserveCapacity(min(k, ids.count))
        }

        /// Whether `a` ranks before `b`.
        func isBetter(_ a: Entry, _ b: Entry) -> Bool {
            if a.score != b.score { return higherIsBetter ? a.score > b.score : a.score < b.score }
            return ids[a.slot]! < ids[b.slot]!
        }

        mutating func offer(_ score: Double, slot: Int) {
            let entry = Entry(score: score, slot: slot)
            if heap.count < k {
                heap.append(entry)
                siftUp(heap.count - 1)
            } else if isBetter(entry, heap[0]) {
                heap[0] = entry
                siftDown(0)
            }
        }

        /// Best first.
        func sorted() -> [Entry] { heap.sorted(by: isBetter) }

        private mutating func siftUp(_ child: Int) {
            var child = child
            while child > 0 {
                let parent = (child - 1) / 2
                guard isBetter(heap[parent], heap[child]) else { return }
                heap.swapAt(parent, child)
                child = parent
            }
        }

        private mutating func siftDown(_ parent: Int) {
            var parent = parent
            while true {
                var worst = parent
                let left = 2 * parent + 1, right = left + 1
                if left < heap.count, isBetter(heap[worst], heap[left]) { worst = left }
                if right < heap.count, isBetter(heap[worst], heap[right]) { worst = right }
                guard worst != parent else { return }
                heap.swapAt(parent, worst)
                parent = worst
            }
        }
    }

    enum Kernels {
        typealias Lanes = SIMD8<Double>
        static let width = Lanes.scalarCount

        @inline(__always)
        static func load(_ buffer: UnsafeBufferPointer<Float>, _ offset: Int) -> Lanes {
            Lanes(UnsafeRawPointer(buffer.baseAddress! + offset).loadUnaligned(as: SIMD8<Float>.self))
        }

        /// The lanes added in a fixed order (halves, then halves of those).
        @inline(__always)
        static func total(_ lanes: Lanes) -> Double {
            let four = lanes.lowHalf + lanes.highHalf
            let two = four.lowHalf + four.highHalf
            return two[0] + two[1]
        }

        static func dot(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>) -> Double {
            var lanes = Lanes()
            let whole = a.count - a.count % width
            var offset = 0
            while offset < whole {
                lanes += load(a, offset) * load(b, offset)
                offset += width
            }
            var sum = total(lanes)
            while offset < a.count {
                sum += Double(a[offset]) * Double(b[offset])
                offset += 1
            }
            return sum
        }

        /// `dot(a, b)` and `dot(b, b)` in one pass, each summed exactly as `dot` sums it.
        static func dotAndSquaredNorm(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>) -> (Double, Double) {
            var (lanes, squares) = (Lanes(), Lanes())
            let whole = a.count - a.count % width
            var offset = 0
            while offset < whole {
                let y = load(b, offset)
                lanes += load(a, offset) * y
                squares += y * y
                offset += width
            }
            var (sum, squareSum) = (total(lanes), total(squares))
            while offset < a.count {
                sum += Double(a[offset]) * Double(b[offset])
                squareSum += Double(b[offset]) * Double(b[offset])
                offset += 1
            }
            return (sum, squareSum)
        }

        static func squaredDistance(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>) -> Double {
            var lanes = Lanes()
            let whole = a.count - a.count % width
            var offset = 0
            while offset < whole {
                let difference = load(a, offset) - load(b, offset)
                lanes += difference * difference
                offset += width
            }
            var sum = total(lanes)
            while offset < a.count {
                let difference = Double(a[offset]) - Double(b[offset])
                sum += difference * difference
                offset += 1
            }
            return sum
        }

        static func norm(_ a: UnsafeBufferPointer<Float>) -> Double { dot(a, a).squareRoot() }

        /// The metric's value for `vector` (whose norm the caller knows).
        @inline(__always)
        static func score(
            _ query: UnsafeBufferPointer<Float>, _ queryNorm: Double, _ vector: UnsafeBufferPointer<Float>, _ vectorNorm: Double,
            _ metric: SearchMetric
        ) -> Double {
            switch metric {
            case .dot: return dot(query, vector)
            case .cosine:
                let denominator = queryNorm * vectorNorm
                return denominator == 0 ? 0 : dot(query, vector) / denominator
            case .euclidean: return squaredDistance(query, vector).squareRoot()
            }
        }
    }
}
