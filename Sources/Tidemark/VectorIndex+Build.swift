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
        let listCount = max(1, min(options.lists ?? Int(Double(total).squareRoot()), max(sampleCount, 1)))
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

    /// Lloyd's k-means (squared Euclidean), seeded by k-means++ (each next centroid a sample
    /// vector drawn with probability proportional to its squared distance from the nearest one
    /// so far, so well-separated groups each get one), each iteration splitting outsized lists.
    static func trainCentroids(sample: [Float], dimension: Int, lists: Int, iterations: Int, random: SeededRandom) -> [Float] {
        let count = sample.count / dimension
        guard count > 0 else { return [Float](repeating: 0, count: lists * dimension) }
        var centroids = seedCentroids(sample: sample, dimension: dimension, lists: lists, random: random)
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
            splitLargeLists(&centroids, members: &members, dimension: dimension)
        }
        return centroids
    }

    /// While some list holds over three times the mean and another under a third of it (or none),
    /// the small one's centroid moves next to the large one's, splitting it: in many dimensions a
    /// centroid averaging a few groups drifts towards the middle of everything and draws in ever
    /// more groups (lists of 27,000 beside empty ones at a million vectors without this).
    private static func splitLargeLists(_ centroids: inout [Float], members: inout [Int], dimension: Int) {
        let mean = max(1, members.reduce(0, +) / max(1, members.count))
        while true {
            let largest = members.indices.max { (members[$0], $1) < (members[$1], $0) }!
            let smallest = members.indices.min { (members[$0], $0) < (members[$1], $1) }!
            guard members[largest] > 3 * mean, members[smallest] * 3 < mean, largest != smallest else { return }
            for index in 0..<dimension {
                let value = centroids[largest * dimension + index]
                let nudge = max(abs(value), 1e-3) * 1e-3
                (centroids[smallest * dimension + index], centroids[largest * dimension + index]) = (value + nudge, value - nudge)
            }
            (members[smallest], members[largest]) = (members[largest] / 2, members[largest] - members[largest] / 2)
        }
    }

    /// k-means++ seeding over the sample (a repeated vector can be chosen twice only when every
    /// vector is already some centroid).
    private static func seedCentroids(sample: [Float], dimension: Int, lists: Int, random: SeededRandom) -> [Float] {
        let count = sample.count / dimension
        func row(_ index: Int) -> ArraySlice<Float> { sample[index * dimension..<(index + 1) * dimension] }
        var centroids = Array(row(Int(random.next(below: UInt64(count)))))
        var nearest = [Float](repeating: .infinity, count: count)
        sample.withUnsafeBufferPointer { all in
            for list in 1..<max(lists, 1) {
                let last = Array(centroids[(list - 1) * dimension..<list * dimension])
                var total = 0.0
                last.withUnsafeBufferPointer { centre in
                    for index in 0..<count {
                        nearest[index] = min(nearest[index], squaredDistance(UnsafeBufferPointer(rebasing: all[index * dimension..<(index + 1) * dimension]), centre))
                        total += Double(nearest[index])
                    }
                }
                var chosen = count - 1
                if total > 0 {
                    var target = Double(random.next() >> 11) * 0x1.0p-53 * total
                    for index in 0..<count {
                        target -= Double(nearest[index])
                        if target < 0, nearest[index] > 0 { chosen = index; break }
                    }
                } else {
                    chosen = Int(random.next(below: UInt64(count)))
                }
                centroids.append(contentsOf: row(chosen))
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
