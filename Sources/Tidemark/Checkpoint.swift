import TidemarkIO

/// A checkpoint file: the whole state as of one LSN.
///
/// header (40 bytes): magic "TMCHKPT1" | version u32 | flags u32 | LSN u64 | record count u64
///   | dimension u32 (0 = none yet) | CRC32C u32 of the header
/// then per record: length u32 | CRC32C u32 | record bytes, the CRC seeded with (LSN, index) so
///   an entry copied to another place or another checkpoint does not validate
/// then a trailer: magic "TMCKEND1" | record count u64 | CRC32C u32 of the trailer.
///
/// Flags: bit 0 = the store is tiered and the cold tier must reflect at least this LSN; such a
/// checkpoint holds no records (the cold tier holds them; older versions wrote the hot tier here,
/// which recovery still reads as records written after the cold tier's LSN).
///
/// Every entry has its own checksum so damage is reported with the offset of the entry it hit.
enum CheckpointFile {
    static let headerSize = 40
    static let magic: [UInt8] = Array("TMCHKPT1".utf8)
    static let trailerMagic: [UInt8] = Array("TMCKEND1".utf8)
    static let version: UInt32 = 1
    static let flagRequiresColdTier: UInt32 = 1

    static func encode(_ state: StoreState, lsn: UInt64) -> [UInt8] {
        let records = state.records.values.sorted { $0.id < $1.id }
        var writer = ByteWriter()
        // One allocation of the whole file: growing it by doubling would copy it about twice.
        writer.bytes.reserveCapacity(headerSize + records.reduce(20) { $0 + 8 + RecordCoding.encodedSize(of: $1) })
        writer.raw(magic)
        writer.u32(version)
        writer.u32(state.requiresColdTier ? flagRequiresColdTier : 0)
        writer.u64(lsn)
        writer.u64(UInt64(records.count))
        writer.u32(UInt32(state.dimension ?? 0))
        writer.u32(CRC32C.checksum(writer.bytes))
        for (index, record) in records.enumerated() {
            // Encoded in place after a blank length and checksum, which are filled in after.
            let entryStart = writer.bytes.count
            writer.u64(0)
            RecordCoding.encode(record, into: &writer)
            let checksum = entryChecksum(writer.bytes[(entryStart + 8)...], lsn: lsn, index: index)
            writer.patchU32(UInt32(writer.bytes.count - entryStart - 8), at: entryStart)
            writer.patchU32(checksum, at: entryStart + 4)
        }
        let trailerStart = writer.bytes.count
        writer.raw(trailerMagic)
        writer.u64(UInt64(records.count))
        writer.u32(CRC32C.checksum(writer.bytes[trailerStart...]))
        return writer.bytes
    }

    /// Decodes and checks a whole checkpoint. Errors name the file and the byte offset.
    static func decode(_ bytes: [UInt8], path: String, expectedLSN: UInt64) throws -> StoreState {
        try decode(bytes, path: path, expectedLSN: expectedLSN, salvaging: false).state
    }

    /// `salvaging`: a damaged record (each is framed and checksummed on its own) is skipped and
    /// listed, and the others are kept: the walk goes on at the next entry whose checksum
    /// verifies (`resynchronise`), so a damaged length field loses only its own record. A
    /// damaged trailer is listed. The header must be intact either way.
    static func decode(
        _ bytes: [UInt8], path: String, expectedLSN: UInt64, salvaging: Bool
    ) throws -> (state: StoreState, damage: [StoreProblem]) {
        func corrupt(_ message: String, _ offset: Int) -> StoreError {
            .corruption("checkpoint: " + message, path: path, offset: Int64(offset))
        }
        guard bytes.count >= headerSize else { throw corrupt("file is \(bytes.count) bytes, shorter than its header", 0) }
        guard bytes.prefix(8).elementsEqual(magic) else { throw corrupt("bad magic", 0) }
        var header = ByteReader(bytes[8..<headerSize])
        let version = try! header.u32()
        let flags = try! header.u32()
        let lsn = try! header.u64()
        let count = try! header.u64()
        let dimension = Int(try! header.u32())
        let stored = try! header.u32()
        guard stored == CRC32C.checksum(bytes[0..<headerSize - 4]) else { throw corrupt("header checksum mismatch", 0) }
        guard version == Self.version else { throw corrupt("unsupported version \(version)", 8) }
        guard lsn == expectedLSN else { throw corrupt("holds LSN \(lsn), the manifest says \(expectedLSN)", 16) }
        guard count <= UInt64(bytes.count / 8) else { throw corrupt("record count \(count) cannot fit in the file", 24) }

        var state = StoreState()
        state.dimension = dimension == 0 ? nil : dimension
        state.requiresColdTier = flags & flagRequiresColdTier != 0
        state.records.reserveCapacity(Int(count))
        var damage: [StoreProblem] = []
        func skip(_ error: StoreError) throws {
            guard salvaging else { throw error }
            damage.append(StoreProblem(file: FilePaths.name(of: path), offset: error.offset ?? 0, message: error.message))
        }
        var offset = headerSize
        var index = 0
        while index < Int(count) {
            if let body = verifiedEntry(bytes, at: offset, index: index, lsn: lsn) {
                var entryReader = ByteReader(body)
                do {
                    let record = try RecordCoding.decode(from: &entryReader)
                    guard entryReader.isAtEnd else { throw FormatError(message: "trailing bytes", offset: entryReader.offset) }
                    state.records[record.id] = record
                } catch let error as FormatError {
                    try skip(corrupt("record \(index): \(error.message)", offset + 8 + error.offset))
                }
                (offset, index) = (offset + 8 + body.count, index + 1)
                continue
            }
            guard salvaging else { throw corrupt("record \(index): \(entryDamage(bytes, at: offset, index: index))", offset) }
            // A damaged length field leaves the rest unframed: resynchronise at the next entry
            // whose checksum (seeded with its index) verifies.
            guard let (next, nextIndex) = resynchronise(bytes, after: offset, index: index, count: Int(count), lsn: lsn) else {
                try skip(corrupt("record \(index): \(entryDamage(bytes, at: offset, index: index)); records \(index)...\(count - 1) are unreadable", offset))
                return (state, damage)
            }
            let skipped = nextIndex - index == 1 ? "record \(index)" : "records \(index)...\(nextIndex - 1)"
            try skip(corrupt("\(skipped): \(entryDamage(bytes, at: offset, index: index)) (skipped; record \(nextIndex) verifies at offset \(next))", offset))
            (offset, index) = (next, nextIndex)
        }
        let trailerOffset = offset
        guard bytes.count - offset == 20 else {
            try skip(corrupt("expected a 20-byte trailer, found \(bytes.count - offset) bytes", trailerOffset))
            return (state, damage)
        }
        let trailer = bytes[trailerOffset...]
        var trailerReader = ByteReader(trailer)
        _ = try! trailerReader.raw(8)
        let trailerCount = try! trailerReader.u64()
        let trailerChecksum = try! trailerReader.u32()
        if !(trailer.prefix(8).elementsEqual(trailerMagic) && trailerChecksum == CRC32C.checksum(trailer.prefix(16))
            && trailerCount == count)
        {
            try skip(corrupt("bad trailer", trailerOffset))
        }
        return (state, damage)
    }

    /// The body of the entry at `offset` when it frames and its checksum verifies for `index`.
    private static func verifiedEntry(_ bytes: [UInt8], at offset: Int, index: Int, lsn: UInt64) -> ArraySlice<UInt8>? {
        guard offset + 8 <= bytes.count else { return nil }
        var reader = ByteReader(bytes[offset..<(offset + 8)])
        let length = Int(try! reader.u32())
        let checksum = try! reader.u32()
        guard length <= bytes.count - offset - 8 else { return nil }
        let body = bytes[(offset + 8)..<(offset + 8 + length)]
        return checksum == entryChecksum(body, lsn: lsn, index: index) ? body : nil
    }

    /// Why the entry at `offset` failed `verifiedEntry`.
    private static func entryDamage(_ bytes: [UInt8], at offset: Int, index: Int) -> String {
        guard offset + 8 <= bytes.count else { return "entry header cut short" }
        let length = Int(try! ByteReader(bytes[offset..<(offset + 4)]).readU32())
        return length > bytes.count - offset - 8 ? "length \(length) runs past the end of the file" : "checksum mismatch"
    }

    /// How far past a damaged entry salvage looks for the next intact one (entries, by index).
    static let resynchronisationReach = 8

    /// The first offset after `offset` where an entry with an index from `index + 1` (up to
    /// `resynchronisationReach` further) verifies, and that index; nil when none does.
    private static func resynchronise(_ bytes: [UInt8], after offset: Int, index: Int, count: Int, lsn: UInt64) -> (Int, Int)? {
        let indexes = (index + 1)..<min(count, index + 1 + resynchronisationReach)
        guard !indexes.isEmpty else { return nil }
        var candidate = offset + 1
        while candidate + 8 <= bytes.count {
            let length = Int(try! ByteReader(bytes[candidate..<(candidate + 4)]).readU32())
            // The body starts with the id's length (u32); both must fit before anything is hashed.
            if length >= 4, length <= bytes.count - candidate - 8,
                Int(try! ByteReader(bytes[(candidate + 8)..<(candidate + 12)]).readU32()) <= length - 4
            {
                let stored = try! ByteReader(bytes[(candidate + 4)..<(candidate + 8)]).readU32()
                let body = bytes[(candidate + 8)..<(candidate + 8 + length)]
                if let found = indexes.first(where: { stored == entryChecksum(body, lsn: lsn, index: $0) }) { return (candidate, found) }
            }
            candidate += 1
        }
        return nil
    }

    private static func entryChecksum(_ body: ArraySlice<UInt8>, lsn: UInt64, index: Int) -> UInt32 {
        let seed = withUnsafeBytes(of: (lsn.littleEndian, UInt64(index).littleEndian)) { CRC32C.checksum($0) }
        return CRC32C.checksum(body, continuing: seed)
    }
}

/// The manifest names the kept checkpoints, newest first. Replay starts after the LSN of the
/// checkpoint recovery uses. Replaced only with `writeFileAtomically`.
///
/// magic "TMMANIF1" | version u32 | count u32 | per checkpoint: LSN u64 | CRC32C u32 (whole file)
/// | (version 2) durable LSN u64 | then CRC32C u32 of everything before. Version 1 (no durable
/// LSN) is still read.
struct Manifest: Hashable {
    struct Entry: Hashable {
        var lsn: UInt64
        /// CRC32C of the whole checkpoint file, so a misdirected or rotted file is caught even
        /// before it is parsed.
        var fileChecksum: UInt32
        var fileName: String { StoreFiles.checkpointName(lsn: lsn) }
    }

    static let magic: [UInt8] = Array("TMMANIF1".utf8)
    /// 3 adds `storeTime`; 1 (no durable end) and 2 are still read.
    static let version: UInt32 = 3

    var checkpoints: [Entry] = []
    /// Every LSN up to this one was durable in the log when the manifest was written (a clean
    /// close records its last LSN here). Recovery reports a log that ends earlier as a loss.
    var durableLSN: UInt64 = 0
    /// The store's time when the manifest was written (`StoreClock`): at least that of every
    /// commit its checkpoints cover, so a checkpoint whose log is gone still restores the floor.
    var storeTime: Int64 = 0

    /// What the manifest proves durable: its recorded end, or its newest checkpoint.
    var provenDurableLSN: UInt64 { max(durableLSN, checkpoints.first?.lsn ?? 0) }

    func encode() -> [UInt8] {
        var writer = ByteWriter()
        writer.raw(Self.magic)
        writer.u32(Self.version)
        writer.u32(UInt32(checkpoints.count))
        for entry in checkpoints {
            writer.u64(entry.lsn)
            writer.u32(entry.fileChecksum)
        }
        writer.u64(durableLSN)
        writer.i64(storeTime)
        writer.u32(CRC32C.checksum(writer.bytes))
        return writer.bytes
    }

    static func decode(_ bytes: [UInt8], path: String) throws -> Manifest {
        func corrupt(_ message: String, _ offset: Int) -> StoreError {
            .corruption("manifest: " + message, path: path, offset: Int64(offset))
        }
        guard bytes.count >= 20 else { throw corrupt("file is \(bytes.count) bytes, too short", 0) }
        guard bytes.prefix(8).elementsEqual(magic) else { throw corrupt("bad magic", 0) }
        var reader = ByteReader(bytes[8...])
        let version = try! reader.u32()
        let count = Int(try! reader.u32())
        guard (1...3).contains(version) else { throw corrupt("unsupported version \(version)", 8) }
        let trailing = [1: 0, 2: 8, 3: 16][version]!
        guard count <= bytes.count / 12, bytes.count == 16 + count * 12 + trailing + 4 else {
            throw corrupt("\(count) entries do not match the file size \(bytes.count)", 12)
        }
        let stored = try! ByteReader(bytes.suffix(4)).readU32()
        guard stored == CRC32C.checksum(bytes.dropLast(4)) else { throw corrupt("checksum mismatch", bytes.count - 4) }
        var manifest = Manifest()
        for index in 0..<count {
            let entry = Entry(lsn: try reader.u64(), fileChecksum: try reader.u32())
            guard entry.lsn < UInt64.max else { throw corrupt("checkpoint \(index) has LSN \(entry.lsn), out of range", 16 + index * 12) }
            manifest.checkpoints.append(entry)
        }
        if version >= 2 { manifest.durableLSN = try reader.u64() }
        if version >= 3 { manifest.storeTime = try reader.i64() }
        return manifest
    }
}

extension ByteReader {
    /// Reads one u32 from a copy (for one-shot reads of a fixed field).
    func readU32() throws -> UInt32 {
        var copy = self
        return try copy.u32()
    }
}

/// For the simulator's checker (oracle of a refused open): whether recovery had an intact place
/// to start from, judged from the files alone, independently of `Recovery`.
package enum IntactCheckpoint {
    /// The newest checkpoint the manifest in `directory` names whose file still has the CRC32C
    /// the manifest recorded for it (read through `contents`, which must not inject faults).
    /// Nil when the manifest is missing or damaged, or no named checkpoint is intact.
    package static func newest(in directory: String, contents: (String) -> [UInt8]?) -> (fileName: String, lsn: UInt64)? {
        let manifestPath = FilePaths.join(directory, StoreFiles.manifest)
        guard let bytes = contents(manifestPath), let manifest = try? Manifest.decode(bytes, path: manifestPath) else { return nil }
        for entry in manifest.checkpoints {
            if let file = contents(FilePaths.join(directory, entry.fileName)), CRC32C.checksum(file) == entry.fileChecksum {
                return (entry.fileName, entry.lsn)
            }
        }
        return nil
    }

    /// Whether recovery from the intact checkpoint at `lsn` can do without the file `name`: a
    /// checkpoint (one intact copy is enough), `SYNCED` (a floor for loss reports; no record is
    /// read from it), `LOCK`, or a segment before the one that checkpoint started (all its
    /// frames are in the checkpoint). The manifest and the log after the checkpoint are needed.
    package static func isDispensable(_ name: String, recoveringFrom lsn: UInt64) -> Bool {
        if let first = StoreFiles.segmentFirstLSN(name) { return first <= lsn }
        return StoreFiles.checkpointLSN(name) != nil || name == SyncedLSNRecord.fileName || name == StoreFiles.lock
    }

    /// The segment the checkpoint at `lsn` started: the log after it begins there.
    package static func segmentStarted(byCheckpointAt lsn: UInt64) -> String { StoreInventory.segmentStarted(byCheckpointAt: lsn) }
}
