import TidemarkIO

/// Building the index from a scan of the cold tier's vectors (three passes, in the scan's order:
/// sample, assign, write), so memory holds the sample, the centroids and one list number per
/// vector, never the vectors.
extension VectorIndex {
    /// The cold tier's vectors in a fixed order: `body(id bytes, vector, expiresAt)`.
    typealias Scan = ((UnsafeRawBufferPointer, UnsafeBufferPointer<Float>, Int64?) throws -> Void) throws -> Void

    /// Trains centroids on a seeded sample, assigns every vector to its nearest centroid, and
    /// writes the file atomically (a temporary file, synced, renamed over `path`, the directory
    /// synced). Deterministic: the same vectors in the same order and the same options give the
    /// same bytes.
    static func build(
        path: String, fileSystem: any FileSystem, dimension: Int, lsn: UInt64, options: VectorIndexOptions, scan: Scan
    ) throws -> VectorIndex {
        try options.validate()
        let random = SeededRandom(seed: options.seed)
        let (sample, total) = try reservoirSample(size: options.sampleSize, dimension: dimension, random: random, scan: scan)
        let sampleCount = sample.count / dimension
        let listCount = max(1, min(options.lists ?? Int(Double(total).squareRoot() / 2), max(sampleCount, 1)))
        let centroids = trainCentroids(sample: sample, dimension: dimension, lists: listCount, iterations: options.iterations, random: random)
        var assignment: [UInt32] = []
        assignment.reserveCapacity(total)
        var counts = [Int](repeating: 0, count: listCount), sizes = [Int64](repeating: 0, count: listCount)
        try scan { id, vector, _ in
            let list = nearestCentroid(vector, centroids: centroids, dimension: dimension)
            assignment.append(UInt32(list))
            counts[list] += 1
            sizes[list] += Int64(entryBytes(dimension: dimension, idBytes: id.count))
        }
        guard assignment.count == total else {
            throw StoreError(.io, "vector index: the cold tier changed while the index was built (\(total) then \(assignment.count) vectors)", path: path)
        }
        var lists: [List] = []
        var offset = Int64(headerBytes(dimension: dimension, lists: listCount))
        for list in 0..<listCount {
            lists.append(List(offset: offset, bytes: sizes[list], count: counts[list], checksum: 0))
            offset += sizes[list]
        }
        let temporary = path + ".tmp"
        let handle = try fileSystem.open(temporary, options: [.read, .write, .create, .truncate])
        do {
            try writeLists(&lists, assignment: assignment, dimension: dimension, handle: handle, scan: scan)
            try handle.write(encodeHeader(dimension: dimension, lsn: lsn, vectors: total, centroids: centroids, lists: lists), at: 0)
            try handle.sync()
            try handle.close()
        } catch {
            try? handle.close()
            try? fileSystem.remove(temporary)
            throw error
        }
        try fileSystem.rename(temporary, to: path)
        try fileSystem.syncDirectory(FilePaths.parent(of: path))
        return VectorIndex(path: path, dimension: dimension, lsn: lsn, vectorCount: total, centroids: centroids, lists: lists)
    }

    /// Up to `size` vectors chosen uniformly (reservoir sampling), and how many the scan had.
    private static func reservoirSample(size: Int, dimension: Int, random: SeededRandom, scan: Scan) throws -> ([Float], Int) {
        var sample: [Float] = []
        var seen = 0
        try scan { _, vector, _ in
            if seen < size {
                sample.append(contentsOf: vector)
            } else {
                let slot = Int(random.next(below: UInt64(seen + 1)))
                if slot < size {
                    sample.withUnsafeMutableBufferPointer { _ = UnsafeMutableBufferPointer(rebasing: $0[slot * dimension..<(slot + 1) * dimension]).initialize(fromContentsOf: vector) }
                }
            }
            seen += 1
        }
        return (sample, seen)
    }

    /// Lloyd's k-means (squared Euclidean) from `lists` distinct sample vectors drawn at random;
    /// a centroid that loses every vector keeps its place.
    static func trainCentroids(sample: [Float], dimension: Int, lists: Int, iterations: Int, random: SeededRandom) -> [Float] {
        let count = sample.count / dimension
        guard count > 0 else { return [Float](repeating: 0, count: lists * dimension) }
        var order = Array(0..<count)
        for index in 0..<min(lists, count) {
            order.swapAt(index, index + Int(random.next(below: UInt64(count - index))))
        }
        var centroids: [Float] = []
        for list in 0..<lists { centroids.append(contentsOf: sample[order[list % count] * dimension..<(order[list % count] + 1) * dimension]) }
        for _ in 0..<iterations {
            var sums = [Double](repeating: 0, count: lists * dimension)
            var members = [Int](repeating: 0, count: lists)
            sample.withUnsafeBufferPointer { all in
                for row in 0..<count {
                    let vector = UnsafeBufferPointer(rebasing: all[row * dimension..<(row + 1) * dimension])
                    let list = nearestCentroid(vector, centroids: centroids, dimension: dimension)
                    members[list] += 1
                    for index in 0..<dimension { sums[list * dimension + index] += Double(vector[index]) }
                }
            }
            for list in 0..<lists where members[list] > 0 {
                for index in 0..<dimension { centroids[list * dimension + index] = Float(sums[list * dimension + index] / Double(members[list])) }
            }
        }
        return centroids
    }

    /// The centroid nearest `vector` in squared Euclidean distance (ties to the lower number),
    /// in `Float` lanes: only the choice of list depends on it, not any score.
    static func nearestCentroid(_ vector: UnsafeBufferPointer<Float>, centroids: [Float], dimension: Int) -> Int {
        centroids.withUnsafeBufferPointer { all in
            var best = 0
            var bestDistance = Float.infinity
            for list in 0..<(all.count / dimension) {
                let distance = squaredDistance(vector, UnsafeBufferPointer(rebasing: all[list * dimension..<(list + 1) * dimension]))
                if distance < bestDistance { (best, bestDistance) = (list, distance) }
            }
            return best
        }
    }

    /// Squared Euclidean distance in `Float` lanes, in a fixed order (deterministic).
    @inline(__always)
    static func squaredDistance(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>) -> Float {
        var lanes = SIMD16<Float>()
        var offset = 0
        let whole = a.count - a.count % 16
        while offset < whole {
            let difference = UnsafeRawPointer(a.baseAddress! + offset).loadUnaligned(as: SIMD16<Float>.self)
                - UnsafeRawPointer(b.baseAddress! + offset).loadUnaligned(as: SIMD16<Float>.self)
            lanes += difference * difference
            offset += 16
        }
        let eight = lanes.lowHalf + lanes.highHalf, four = eight.lowHalf + eight.highHalf, two = four.lowHalf + four.highHalf
        var sum = two[0] + two[1]  // not `sum()`, which the compiler leaves as a generic call
        while offset < a.count {
            let difference = a[offset] - b[offset]
            sum += difference * difference
            offset += 1
        }
        return sum
    }

    /// The third pass: each vector appended to its list through a buffer per list, each list's
    /// checksum computed as its bytes go out.
    private static func writeLists(
        _ lists: inout [List], assignment: [UInt32], dimension: Int, handle: any FileHandleProtocol, scan: Scan
    ) throws {
        let flushBytes = 1 << 16
        var buffers = [[UInt8]](repeating: [], count: lists.count)
        var written = [Int64](repeating: 0, count: lists.count)
        func flush(_ list: Int) throws {
            guard !buffers[list].isEmpty else { return }
            try handle.write(buffers[list], at: lists[list].offset + written[list])
            lists[list].checksum = CRC32C.checksum(buffers[list], continuing: lists[list].checksum)
            written[list] += Int64(buffers[list].count)
            buffers[list].removeAll(keepingCapacity: true)
        }
        var row = 0
        try scan { id, vector, expiresAt in
            let list = Int(assignment[row])
            row += 1
            var entry = ByteWriter()
            entry.raw(Array(UnsafeRawBufferPointer(vector)))
            entry.i64(expiresAt ?? .min)
            entry.u32(UInt32(id.count))
            entry.raw(Array(id))
            entry.raw([UInt8](repeating: 0, count: entryBytes(dimension: dimension, idBytes: id.count) - entry.bytes.count))
            buffers[list].append(contentsOf: entry.bytes)
            if buffers[list].count >= flushBytes { try flush(list) }
        }
        for list in lists.indices { try flush(list) }
    }

    private static func encodeHeader(dimension: Int, lsn: UInt64, vectors: Int, centroids: [Float], lists: [List]) -> [UInt8] {
        var writer = ByteWriter()
        writer.raw(magic)
        writer.u32(UInt32(dimension))
        writer.u32(UInt32(lists.count))
        writer.u64(lsn)
        writer.u64(UInt64(vectors))
        for value in centroids { writer.u32(value.bitPattern) }
        for list in lists {
            writer.u64(UInt64(list.offset))
            writer.u64(UInt64(list.bytes))
            writer.u32(UInt32(list.count))
            writer.u32(list.checksum)
        }
        writer.u32(CRC32C.checksum(writer.bytes))
        return writer.bytes
    }
}
