import TidemarkIO

/// How to build the approximate index (`Store.buildVectorIndex`).
public struct VectorIndexOptions: Sendable, Hashable {
    /// Inverted lists (k-means centroids); nil: about √N for N cold vectors (at least 1).
    public var lists: Int?
    /// Vectors the centroids are trained on (a seeded uniform sample of the cold tier).
    public var sampleSize: Int
    /// k-means iterations over the sample.
    public var iterations: Int
    /// Seeds the sample and the initial centroids: same seed and same store ⇒ the same file.
    public var seed: UInt64

    public init(lists: Int? = nil, sampleSize: Int = 16_384, iterations: Int = 8, seed: UInt64 = 0x1D_E5EE_D1F0) {
        (self.lists, self.sampleSize, self.iterations, self.seed) = (lists, sampleSize, iterations, seed)
    }

    func validate() throws {
        if let lists, lists < 1 || lists > 65_536 { throw StoreError(.invalidInput, "index lists must be from 1 to 65536, got \(lists)") }
        guard sampleSize >= 1 else { throw StoreError(.invalidInput, "index sample size must be positive, got \(sampleSize)") }
        guard (0...1_000).contains(iterations) else { throw StoreError(.invalidInput, "index iterations must be from 0 to 1000, got \(iterations)") }
    }
}

/// An approximate search (`Store.search(..., approximate:)`): how many lists to read, and how to
/// rebuild the index when a writable store finds it missing, stale or damaged.
public struct ApproximateSearch: Sendable, Hashable {
    /// Inverted lists scanned per query (those whose centroids are nearest the query).
    public var probes: Int
    public var rebuild: VectorIndexOptions

    public init(probes: Int = 8, rebuild: VectorIndexOptions = VectorIndexOptions()) {
        (self.probes, self.rebuild) = (probes, rebuild)
    }
}

/// Whether the index file can answer for the store as it is.
public enum VectorIndexStatus: Sendable, Hashable, CustomStringConvertible {
    case fresh(lists: Int, vectors: Int)
    case missing
    /// Built at another cold-tier LSN (the cold tier changed since) or dimension.
    case stale(String)
    /// Fails its checksum or does not parse: never used.
    case damaged(String)

    public var isFresh: Bool { if case .fresh = self { true } else { false } }

    public var description: String {
        switch self {
        case .fresh(let lists, let vectors): "fresh: \(vectors) vectors in \(lists) lists"
        case .missing: "missing"
        case .stale(let why): "stale: \(why)"
        case .damaged(let why): "damaged: \(why)"
        }
    }
}

/// The approximate index of the cold tier's vectors, IVF-Flat: k-means centroids, and for each
/// centroid an inverted list holding (a copy of) the vectors nearest to it. A query scores the
/// centroids, then only the vectors of the `probes` nearest lists.
///
/// The file (`vectors.ivf`, beside `cold.sqlite`) reflects the cold tier at one LSN and is only a
/// cache: any flush moves the cold tier's LSN and makes it stale, a damaged one is never used,
/// and both are rebuilt from the cold tier (`VectorIndex+Build.swift`). Layout, little-endian:
/// a header `TMIVF001`, dimension u32, lists u32, cold LSN u64, vectors u64; the centroids
/// (lists × dimension f32); one directory entry per list (offset u64, bytes u64, count u32,
/// CRC32C u32 of its bytes); a CRC32C of everything before it. Then the lists, each entry the
/// vector (f32s), its expiry (i64, `Int64.min` for none), the id's length (u32) and UTF-8 bytes,
/// padded to 4 bytes so the next vector stays aligned. A list is checked when it is read.
struct VectorIndex {
    static let fileName = "vectors.ivf"
    static let magic = Array("TMIVF001".utf8)
    static let fixedHeaderBytes = 32
    static let directoryEntryBytes = 24

    struct List: Hashable {
        var offset: Int64
        var bytes: Int64
        var count: Int
        var checksum: UInt32
    }

    let path: String
    let dimension: Int
    let lsn: UInt64
    let vectorCount: Int
    /// Lists × dimension, row-major.
    let centroids: [Float]
    let lists: [List]

    static func path(in directory: String) -> String { FilePaths.join(directory, fileName) }

    static func headerBytes(dimension: Int, lists: Int) -> Int { fixedHeaderBytes + lists * (dimension * 4 + directoryEntryBytes) + 4 }

    static func entryBytes(dimension: Int, idBytes: Int) -> Int { (dimension * 4 + 12 + idBytes + 3) & ~3 }

    // MARK: Reading

    /// Reads and checks the header, centroids and directory; `.corruption` naming the file when
    /// anything does not add up (the lists are checked as a search reads them).
    static func load(path: String, fileSystem: any FileSystem) throws -> VectorIndex {
        let handle = try fileSystem.open(path, options: .read)
        defer { try? handle.close() }
        let size = try handle.size()
        func damaged(_ what: String, _ offset: Int64 = 0) -> StoreError { .corruption("vector index: \(what)", path: path, offset: offset) }
        let fixed = try handle.read(at: 0, count: fixedHeaderBytes)
        guard fixed.count == fixedHeaderBytes, fixed.prefix(8).elementsEqual(magic) else { throw damaged("no index header") }
        var reader = ByteReader(fixed[8...])
        let dimension = Int(try reader.u32()), listCount = Int(try reader.u32())
        let lsn = try reader.u64(), vectorCount = try reader.u64()
        guard (1...65_536).contains(dimension), (1...65_536).contains(listCount), vectorCount <= UInt64(size) else {
            throw damaged("implausible header (dimension \(dimension), \(listCount) lists, \(vectorCount) vectors)", 8)
        }
        let headerBytes = Self.headerBytes(dimension: dimension, lists: listCount)
        guard Int64(headerBytes) <= size else { throw damaged("the file ends inside its header (\(size) of \(headerBytes) bytes)", size) }
        let header = try handle.read(at: 0, count: headerBytes)
        let stored = header.suffix(4).withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }
        guard header.count == headerBytes, stored == header.dropLast(4).withUnsafeBytes({ CRC32C.checksum($0) }) else {
            throw damaged("header checksum mismatch", Int64(headerBytes - 4))
        }
        let centroidBytes = listCount * dimension * 4
        var centroids = [Float](repeating: 0, count: listCount * dimension)
        centroids.withUnsafeMutableBytes { target in
            header.withUnsafeBytes { target.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[fixedHeaderBytes..<fixedHeaderBytes + centroidBytes])) }
        }
        #if !_endian(little)
        centroids = centroids.map { Float(bitPattern: UInt32(littleEndian: $0.bitPattern)) }
        #endif
        var directory = ByteReader(header[(fixedHeaderBytes + centroidBytes)..<(headerBytes - 4)])
        var lists: [List] = []
        var end = Int64(headerBytes)
        for number in 0..<listCount {
            let list = List(offset: Int64(try directory.u64()), bytes: Int64(try directory.u64()), count: Int(try directory.u32()), checksum: try directory.u32())
            guard list.offset == end, list.bytes >= 0, list.offset + list.bytes <= size else { throw damaged("list \(number) lies outside the file", list.offset) }
            end += list.bytes
            lists.append(list)
        }
        guard end == size, lists.reduce(0, { $0 + $1.count }) == Int(vectorCount) else {
            throw damaged("the lists cover \(end) of \(size) bytes, \(lists.reduce(0) { $0 + $1.count }) of \(vectorCount) vectors", end)
        }
        return VectorIndex(path: path, dimension: dimension, lsn: lsn, vectorCount: Int(vectorCount), centroids: centroids, lists: lists)
    }

    /// The `probes` lists whose centroids are nearest the query in squared Euclidean distance
    /// (ties to the lower number), nearest first. Whatever the search's metric, lists are chosen
    /// the way vectors were assigned to them, so a stored vector's own list comes first.
    func nearestLists(to query: UnsafeBufferPointer<Float>, probes: Int) -> [Int] {
        let distances: [Float] = centroids.withUnsafeBufferPointer { all in
            (0..<lists.count).map { Self.squaredDistance(query, UnsafeBufferPointer(rebasing: all[$0 * dimension..<($0 + 1) * dimension])) }
        }
        return Array((0..<lists.count).sorted { (distances[$0], $0) < (distances[$1], $1) }.prefix(probes))
    }

    /// Every entry of list `number`, after checking the list's checksum: `body(id bytes, vector,
    /// expiresAt)`, valid only during the call.
    func forEachEntry(
        inList number: Int, handle: any FileHandleProtocol, _ body: (UnsafeRawBufferPointer, UnsafeBufferPointer<Float>, Int64?) throws -> Void
    ) throws {
        let list = lists[number]
        let bytes = try handle.read(at: list.offset, count: Int(list.bytes))
        try bytes.withUnsafeBytes { raw in
            guard raw.count == list.bytes, CRC32C.checksum(raw) == list.checksum else {
                throw StoreError.corruption("vector index: list \(number) checksum mismatch", path: path, offset: list.offset)
            }
            var offset = 0
            for _ in 0..<list.count {
                let vectorBytes = dimension * 4
                guard offset + vectorBytes + 12 <= raw.count else { throw StoreError.corruption("vector index: list \(number) is short", path: path, offset: list.offset) }
                let expiry = Int64(littleEndian: raw.loadUnaligned(fromByteOffset: offset + vectorBytes, as: Int64.self))
                let idLength = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + vectorBytes + 8, as: UInt32.self)))
                let entry = Self.entryBytes(dimension: dimension, idBytes: idLength)
                guard offset + entry <= raw.count else { throw StoreError.corruption("vector index: list \(number) is short", path: path, offset: list.offset) }
                // Entries start 4-byte aligned in an array's storage, so the floats are aligned.
                let vector = UnsafeBufferPointer(start: (raw.baseAddress! + offset).assumingMemoryBound(to: Float.self), count: dimension)
                let idStart = offset + vectorBytes + 12
                try body(UnsafeRawBufferPointer(rebasing: raw[idStart..<idStart + idLength]), vector, expiry == .min ? nil : expiry)
                offset += entry
            }
        }
    }
}
