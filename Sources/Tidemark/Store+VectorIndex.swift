import TidemarkIO

/// The approximate index (`VectorIndex`, tiered stores only): build it, ask about it, search
/// through it. It is a cache of the cold tier: a writable store rebuilds it when a search finds it
/// missing, stale (the cold tier flushed since) or damaged; a read-only one refuses instead.
extension Store {
    /// Builds (or rebuilds) the index of the cold tier under the store's lock: two scans of the
    /// cold vectors plus training, so writers wait for it.
    @discardableResult
    public func buildVectorIndex(_ options: VectorIndexOptions = VectorIndexOptions()) throws -> VectorIndexStatus {
        try withUsableStore {
            try checkWritable()
            let tiers = try tiersForIndex()
            let index = try tiers.buildVectorIndex(fileSystem: fileSystem, directory: directory, options: options)
            return .fresh(lists: index.lists.count, vectors: index.vectorCount)
        }
    }

    /// The index file's path (errors about the index name it).
    public var vectorIndexPath: String { VectorIndex.path(in: directory) }

    public func vectorIndexStatus() throws -> VectorIndexStatus {
        try withUsableStore { try tiersForIndex().vectorIndexStatus(fileSystem: fileSystem, directory: directory) }
    }

    /// Like `search(embedding:k:metric:filter:)`, but through the approximate index: the hot
    /// records and the `approximate.probes` nearest lists of the cold tier's index. A writable
    /// store first rebuilds an index that is missing, stale or damaged (also one whose list fails
    /// its checksum during the search); a read-only store throws `.notFound` or `.corruption`
    /// naming the index file.
    public func search(
        embedding: [Float], k: Int, metric: SearchMetric = .cosine, filter: [String: JSONValue] = [:], approximate: ApproximateSearch
    ) throws -> [SearchResult] {
        let now = storeClock.now()
        return try withUsableStore {
            let tiers = try tiersForIndex()
            let index = try freshIndex(tiers, rebuild: approximate.rebuild)
            do {
                return try tiers.approximateNearest(
                    to: embedding, k: k, metric: metric, filter: filter, now: now, probes: approximate.probes, index: index, fileSystem: fileSystem)
            } catch let error as StoreError where error.code == .corruption && error.path == index.path && !options.readOnly {
                let rebuilt = try tiers.buildVectorIndex(fileSystem: fileSystem, directory: directory, options: approximate.rebuild)
                return try tiers.approximateNearest(
                    to: embedding, k: k, metric: metric, filter: filter, now: now, probes: approximate.probes, index: rebuilt, fileSystem: fileSystem)
            }
        }
    }

    private func freshIndex(_ tiers: TieredState, rebuild: VectorIndexOptions) throws -> VectorIndex {
        let status = tiers.vectorIndexStatus(fileSystem: fileSystem, directory: directory)
        if status.isFresh, let index = tiers.vectorIndex { return index }
        let path = VectorIndex.path(in: directory)
        guard !options.readOnly else {
            if case .damaged(let why) = status { throw StoreError.corruption("the vector index is damaged (\(why))", path: path, offset: 0) }
            throw StoreError(.notFound, "the vector index is \(status); a writable open rebuilds it (`tidemark db DIR index build`)", path: path)
        }
        return try tiers.buildVectorIndex(fileSystem: fileSystem, directory: directory, options: rebuild)
    }

    private func tiersForIndex() throws -> TieredState {
        guard let tiers else { throw StoreError(.invalidInput, "the vector index needs a tiered store (it indexes the cold tier)", path: directory) }
        return tiers
    }
}
