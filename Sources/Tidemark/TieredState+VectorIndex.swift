import TidemarkIO

/// The approximate index over the cold tier (`VectorIndex`): whether it answers for the cold
/// tier as it is, building it, and searching through it. The hot tier is always scanned in full,
/// so only the cold tier's rows are approximated.
extension TieredState {
    /// Loads the index header (cached while the cold tier's LSN stays the one it was built at).
    func vectorIndexStatus(fileSystem: any FileSystem, directory: String) -> VectorIndexStatus {
        let path = VectorIndex.path(in: directory)
        guard fileSystem.exists(path) else {
            vectorIndex = nil
            return .missing
        }
        if let index = vectorIndex, index.lsn == cold.lsn { return .fresh(lists: index.lists.count, vectors: index.vectorCount) }
        vectorIndex = nil
        let index: VectorIndex
        do { index = try VectorIndex.load(path: path, fileSystem: fileSystem) } catch { return .damaged("\(error)") }
        guard index.lsn == cold.lsn else { return .stale("built at cold-tier LSN \(index.lsn), the cold tier is at \(cold.lsn)") }
        guard index.dimension == dimension || (index.vectorCount == 0 && dimension == nil) else {
            return .stale("built for dimension \(index.dimension), the store's is \(dimension.map(String.init) ?? "none")")
        }
        vectorIndex = index
        return .fresh(lists: index.lists.count, vectors: index.vectorCount)
    }

    /// Builds the index of the cold tier as of its LSN and keeps its header.
    func buildVectorIndex(fileSystem: any FileSystem, directory: String, options: VectorIndexOptions) throws -> VectorIndex {
        vectorIndex = nil
        let dimension = self.dimension ?? 1
        let index = try VectorIndex.build(
            path: VectorIndex.path(in: directory), fileSystem: fileSystem, dimension: dimension, lsn: cold.lsn, options: options
        ) { body in try cold.forEachVector(dimension: dimension, body) }
        vectorIndex = index
        return index
    }

    /// The `k` nearest live records as far as the hot tier and the `probes` lists of the index
    /// nearest the query can tell; the caller made sure the index is fresh.
    func approximateNearest(
        to query: [Float], k: Int, metric: SearchMetric, filter: [String: JSONValue], now: Int64, probes: Int, index: VectorIndex,
        fileSystem: any FileSystem
    ) throws -> [SearchResult] {
        guard probes >= 1 else { throw StoreError(.invalidInput, "probes must be positive, got \(probes)") }
        guard let dimension = try Search.checkQuery(query, k: k, dimension: dimension) else { return [] }
        var best = Search.Best(k: k, metric: metric, query: query)
        offerHot(to: &best, dimension: dimension, filter: filter, now: now)
        if index.vectorCount > 0 {
            let handle = try fileSystem.open(index.path, options: .read)
            defer { try? handle.close() }
            for list in query.withUnsafeBufferPointer({ index.nearestLists(to: $0, probes: probes) }) {
                try index.forEachEntry(inList: list, handle: handle) { id, vector, expiresAt in
                    try offerCold(id, vector, expiresAt, to: &best, filter: filter, now: now)
                }
            }
        }
        return try results(best)
    }
}
