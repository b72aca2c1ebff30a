import TidemarkIO

/// Records kept in memory up to a byte budget, in least-recently-used order; beyond the budget
/// the least recently used are written to spill files (`SpillFile`) and read back on access.
///
/// The hot tier is not durable by itself: every record in it is also in the log or a
/// checkpoint. Spill files are a cache: written without `sync`, removed at open, and checked
/// (checksum, length, id) whenever read. A failed spill write leaves the record in memory (the
/// budget is then exceeded, and `spillFailures` counts it) rather than failing a commit.
///
/// A record's size is its encoded length (`RecordCoding`); `residentBytes` is the sum over the
/// records in memory, the figure the budget bounds. Not thread-safe: the store's lock guards it.
final class HotTier {
    /// One hot record: in memory (`record` set, linked into the LRU list) or spilled (`spillName`).
    final class Entry {
        let id: String
        var record: Record?
        var spillName: String?
        var bytes: Int
        /// The record's expiry, kept so expired records are found without reading spill files.
        let expiresAt: Int64?
        /// Wall-clock nanoseconds of the last put or read.
        var lastAccess: Int64
        /// LRU list links, towards the most (`newer`) and least (`older`) recently used.
        var newer: Entry?
        weak var older: Entry?

        init(id: String, record: Record, bytes: Int, lastAccess: Int64) {
            self.id = id
            self.record = record
            self.bytes = bytes
            self.expiresAt = record.expiresAt
            self.lastAccess = lastAccess
        }
    }

    let budget: Int
    let fileSystem: any FileSystem
    /// The spill directory (`<store>/spill`).
    let spillDirectory: String

    private var entries: [String: Entry] = [:]
    /// Least recently used resident entry (spill candidates start here) and most recent.
    private var oldest: Entry?
    private var newest: Entry?
    private var nextSpillNumber: UInt64 = 0
    private var spillDirectoryExists = false

    private(set) var residentBytes = 0
    private(set) var residentCount = 0
    /// The most resident bytes seen once an operation settled (after `enforceBudget`).
    private(set) var peakResidentBytes = 0
    private(set) var spilledBytes = 0
    private(set) var spilledCount = 0
    private(set) var spillWrites = 0
    private(set) var spillReloads = 0
    private(set) var spillFailures = 0

    init(budget: Int, fileSystem: any FileSystem, storeDirectory: String) {
        self.budget = budget
        self.fileSystem = fileSystem
        self.spillDirectory = FilePaths.join(storeDirectory, SpillFile.directoryName)
    }

    /// Removes every spill file a previous process left (they are never trusted after a crash).
    /// Only names `SpillFile.isValidName` accepts are touched; anything else is returned.
    static func removeLeftoverSpillFiles(storeDirectory: String, fileSystem: any FileSystem) throws -> (removed: [String], foreign: [String]) {
        let directory = FilePaths.join(storeDirectory, SpillFile.directoryName)
        guard fileSystem.exists(directory) else { return ([], []) }
        var removed: [String] = [], foreign: [String] = []
        for name in try fileSystem.listDirectory(directory).sorted() {
            if SpillFile.isValidName(name) {
                try fileSystem.remove(FilePaths.join(directory, name))
                removed.append(name)
            } else {
                foreign.append(name)
            }
        }
        return (removed, foreign)
    }

    var count: Int { entries.count }
    func contains(_ id: String) -> Bool { entries[id] != nil }

    // MARK: Changes

    /// Inserts or replaces `record` as the most recently used, then enforces the budget.
    func put(_ record: Record, now: Int64) {
        remove(record.id)
        let entry = Entry(id: record.id, record: record, bytes: Self.size(of: record), lastAccess: now)
        entries[record.id] = entry
        link(entry)
        enforceBudget()
    }

    /// Drops the record (and its spill file).
    func remove(_ id: String) {
        guard let entry = entries.removeValue(forKey: id) else { return }
        if entry.record != nil {
            unlink(entry)
        } else if let name = entry.spillName {
            spilledBytes -= entry.bytes
            spilledCount -= 1
            try? fileSystem.remove(FilePaths.join(spillDirectory, name))  // a cache file: a leftover is removed at open
        }
    }

    // MARK: Reads

    /// The record, marking it used now; a spilled record is read back into memory.
    func get(_ id: String, now: Int64) throws -> Record? {
        guard let entry = entries[id] else { return nil }
        entry.lastAccess = now
        if let record = entry.record {
            unlink(entry)
            link(entry)
            return record
        }
        let record = try readSpilled(entry)
        try? fileSystem.remove(FilePaths.join(spillDirectory, entry.spillName!))
        entry.spillName = nil
        entry.record = record
        spilledBytes -= entry.bytes
        spilledCount -= 1
        spillReloads += 1
        link(entry)
        enforceBudget()
        return record
    }

    /// The record without changing its recency or residence (for migration, checkpoints, scans).
    func peek(_ id: String) throws -> Record? {
        guard let entry = entries[id] else { return nil }
        return try entry.record ?? readSpilled(entry)
    }

    /// Every record, in memory or spilled, in id order (so the spill files are read in the same
    /// order in every process: Swift's dictionary order is seeded per process); spilled ones
    /// are read one at a time and not kept.
    func forEach(_ body: (Record) throws -> Void) throws {
        for id in entries.keys.sorted() {
            let entry = entries[id]!
            try body(entry.record ?? readSpilled(entry))
        }
    }

    /// Ids last used at or before `cutoff`, least recently used first.
    func idsIdle(since cutoff: Int64) -> [String] {
        entries.values.filter { $0.lastAccess <= cutoff }.sorted { ($0.lastAccess, $0.id) < ($1.lastAccess, $1.id) }.map(\.id)
    }

    /// Ids whose records have expired at `now`.
    func idsExpired(at now: Int64) -> [String] {
        entries.values.filter { $0.expiresAt.map { $0 <= now } ?? false }.map(\.id).sorted()
    }

    func accessTimes() -> [String: Int64] { entries.mapValues(\.lastAccess) }

    // MARK: Budget

    /// Spills least recently used records until the resident bytes fit the budget. The most
    /// recently used record stays resident only if it fits alone.
    func enforceBudget() {
        defer { peakResidentBytes = max(peakResidentBytes, residentBytes) }
        while residentBytes > budget, let victim = oldest {
            guard spill(victim) else { return }
        }
    }

    private func spill(_ entry: Entry) -> Bool {
        guard let record = entry.record else { return true }
        let name = SpillFile.name(number: nextSpillNumber)
        let path = FilePaths.join(spillDirectory, name)
        do {
            if !spillDirectoryExists {
                if !fileSystem.exists(spillDirectory) { try fileSystem.createDirectory(spillDirectory) }
                spillDirectoryExists = true
            }
            let handle = try fileSystem.open(path, options: [.read, .write, .create, .truncate])
            defer { try? handle.close() }
            try handle.write(SpillFile.encode(record, name: name), at: 0)
        } catch {
            spillFailures += 1
            try? fileSystem.remove(path)
            return false
        }
        nextSpillNumber += 1
        spillWrites += 1
        unlink(entry)
        entry.record = nil
        entry.spillName = name
        spilledBytes += entry.bytes
        spilledCount += 1
        return true
    }

    private func readSpilled(_ entry: Entry) throws -> Record {
        let name = entry.spillName!
        guard SpillFile.isValidName(name) else {
            throw StoreError(.invalidInput, "refusing spill file name '\(name)'", path: spillDirectory)
        }
        let path = FilePaths.join(spillDirectory, name)
        let bytes: [UInt8]
        do {
            bytes = try fileSystem.readFile(path)
        } catch let error as FileSystemError {
            throw StoreError(.io, "cannot read spilled record '\(entry.id)'", path: path, cause: error)
        }
        return try SpillFile.decode(bytes, name: name, path: path, expectedID: entry.id)
    }

    static func size(of record: Record) -> Int {
        var writer = ByteWriter()
        RecordCoding.encode(record, into: &writer)
        return writer.bytes.count
    }

    // MARK: LRU list (resident entries only)

    private func link(_ entry: Entry) {
        entry.older = newest
        entry.newer = nil
        newest?.newer = entry
        newest = entry
        if oldest == nil { oldest = entry }
        residentBytes += entry.bytes
        residentCount += 1
    }

    private func unlink(_ entry: Entry) {
        if let older = entry.older { older.newer = entry.newer } else { oldest = entry.newer }
        if let newer = entry.newer { newer.older = entry.older } else { newest = entry.older }
        entry.newer = nil
        entry.older = nil
        residentBytes -= entry.bytes
        residentCount -= 1
    }
}
