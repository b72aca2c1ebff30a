import Testing
import TidemarkIO

@testable import Tidemark

/// The SIMD scan over the vector table against the plain definition it replaced: a sequential
/// `Double` sum per record, every result sorted by score then id. Same ids in the same order;
/// scores equal within a relative 1e-12 (the summation order is all that differs).
@Suite struct SearchTests {
    static let tolerance = 1e-12

    static func reference(
        _ records: [Record], _ query: [Float], k: Int, metric: SearchMetric, filter: [String: JSONValue], now: Int64
    ) -> [(id: String, score: Double)] {
        func dot(_ a: [Float], _ b: [Float]) -> Double { zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } }
        var results: [(id: String, score: Double)] = []
        for record in records where record.embedding.count == query.count && !record.isExpired(at: now) {
            guard filter.allSatisfy({ record.metadata[$0.key] == $0.value }) else { continue }
            let score: Double
            switch metric {
            case .dot: score = dot(query, record.embedding)
            case .cosine:
                let denominator = dot(query, query).squareRoot() * dot(record.embedding, record.embedding).squareRoot()
                score = denominator == 0 ? 0 : dot(query, record.embedding) / denominator
            case .euclidean:
                score = zip(query, record.embedding).reduce(0.0) { $0 + (Double($1.0) - Double($1.1)) * (Double($1.0) - Double($1.1)) }
                    .squareRoot()
            }
            results.append((record.id, score))
        }
        let higherIsBetter = metric != .euclidean
        results.sort { a, b in a.score != b.score ? (higherIsBetter ? a.score > b.score : a.score < b.score) : a.id < b.id }
        return Array(results.prefix(k))
    }

    static func expectSame(_ actual: [SearchResult], _ expected: [(id: String, score: Double)], _ label: String) {
        #expect(actual.map(\.record.id) == expected.map(\.id), "\(label)")
        for (result, reference) in zip(actual, expected) {
            #expect(abs(result.score - reference.score) <= tolerance * max(1, abs(reference.score)), "\(label) \(result.record.id)")
        }
    }

    /// Random records (dimension 19: two SIMD blocks and a tail), with exact duplicates for
    /// ties, zero vectors, expired records and metadata to filter on; searched through a store
    /// whose vector table is built by the first search and then kept up to date by puts,
    /// overwrites and deletes.
    @Test func matchesThePlainDefinition() throws {
        let random = SeededRandom(seed: 99)
        let dimension = 19
        func vector() -> [Float] { (0..<dimension).map { _ in Float(Int(random.next() % 2001) - 1000) / 997 } }
        let clock = ManualClock()
        let now = clock.wallNanoseconds()
        let directory = TemporaryDirectory()
        let store = try Store.open(
            at: directory.path, fileSystem: PosixFileSystem(), clock: clock, random: SeededRandom(seed: 1),
            options: StoreOptions(syncMode: .async))
        defer { try? store.close() }
        var records: [String: Record] = [:]
        func put(_ number: Int) throws {
            let embedding: [Float] =
                switch number % 10 {
                case 3: records["r\(number - 1)"]?.embedding ?? vector()  // a tie with its neighbour
                case 7: [Float](repeating: 0, count: dimension)
                default: vector()
                }
            let record = Record(
                id: "r\(number)", embedding: embedding, metadata: ["group": .number(Double(number % 3))],
                expiresAt: number % 11 == 5 ? now - 1 : (number % 13 == 4 ? now + 1_000_000 : nil))
            try store.put(record)
            records[record.id] = record
        }
        func checkAll(_ label: String) throws {
            for metric in SearchMetric.allCases {
                for k in [1, 5, 40, 1000] {
                    for filter: [String: JSONValue] in [[:], ["group": .number(1)]] {
                        let query = vector()
                        let actual = try store.search(embedding: query, k: k, metric: metric, filter: filter)
                        let expected = Self.reference(Array(records.values), query, k: k, metric: metric, filter: filter, now: now)
                        Self.expectSame(actual, expected, "\(label) \(metric) k=\(k) filter=\(filter)")
                    }
                }
            }
        }
        try store.put(Record(id: "no-vector", content: "not searchable"))
        for number in 0..<400 { try put(number) }
        try checkAll("fresh table")
        for number in stride(from: 0, to: 400, by: 7) { try put(number) }  // overwrites
        for number in stride(from: 1, to: 400, by: 5) {
            try store.delete("r\(number)")
            records["r\(number)"] = nil
        }
        for number in 400..<460 { try put(number) }  // reuse freed slots, then grow
        try checkAll("after changes")
    }

    /// The table `apply` keeps up to date holds what a table built from scratch holds.
    @Test func maintainedTableEqualsARebuiltOne() {
        var state = StoreState()
        state.apply([.put(Record(id: "a", embedding: [1, 2, 3]))])
        state.buildVectorTable()
        state.apply([
            .put(Record(id: "b", embedding: [4, 5, 6])), .put(Record(id: "a", embedding: [7, 8, 9], expiresAt: 5)),
            .delete(id: "b"), .put(Record(id: "c", embedding: [1, 1, 1])), .put(Record(id: "c")),
            .put(Record(id: "d", embedding: [2, 2, 2])),
        ])
        let maintained = try! #require(state.vectors)
        let rebuilt = VectorTable(dimension: 3, records: state.records)
        func contents(_ table: VectorTable) -> [String: ([Float], Int64?, Double)] {
            var result: [String: ([Float], Int64?, Double)] = [:]
            for slot in 0..<table.slotCount {
                guard let id = table.ids[slot] else { continue }
                result[id] = (Array(table.values[slot * 3..<slot * 3 + 3]), table.expiresAt[slot], table.squaredNorms[slot])
            }
            return result
        }
        let (a, b) = (contents(maintained), contents(rebuilt))
        #expect(a.keys.sorted() == ["a", "d"])
        #expect(a.keys.sorted() == b.keys.sorted())
        for key in a.keys {
            #expect(a[key]!.0 == b[key]!.0 && a[key]!.1 == b[key]!.1 && a[key]!.2 == b[key]!.2)
        }
        // The table is not part of the state's value.
        var plain = state
        plain.records = state.records
        #expect(plain.vectors == nil && plain == state)
    }
}
