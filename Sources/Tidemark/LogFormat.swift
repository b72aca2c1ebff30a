import TidemarkIO

/// One change inside a commit.
enum LogOperation: Sendable, Hashable {
    case put(Record)
    case delete(id: String)

    var id: String {
        switch self {
        case .put(let record): record.id
        case .delete(let id): id
        }
    }
}

/// The byte layout of records and commits, shared by log frames and checkpoints.
enum RecordCoding {
    static func encode(_ record: Record, into writer: inout ByteWriter) {
        writer.string(record.id)
        writer.string(record.content)
        writer.u32(UInt32(record.embedding.count))
        writer.floats(record.embedding)
        writer.string(record.metadata.jsonText)
        if let expiresAt = record.expiresAt {
            writer.u8(1)
            writer.i64(expiresAt)
        } else {
            writer.u8(0)
        }
    }

    /// The length `encode` writes for `record`, without writing it.
    static func encodedSize(of record: Record) -> Int {
        12 + record.id.utf8.count + record.content.utf8.count + 4 * record.embedding.count + 4
            + record.metadata.jsonText.utf8.count + (record.expiresAt == nil ? 1 : 9)
    }

    static func decode(from reader: inout ByteReader) throws -> Record {
        let id = try reader.string()
        let content = try reader.string()
        let dimension = Int(try reader.u32())
        guard dimension <= reader.remaining / 4 else {
            throw FormatError(message: "embedding dimension \(dimension) runs past the end", offset: reader.offset)
        }
        let embedding = try reader.floats(dimension)
        let metadataOffset = reader.offset
        let metadataText = try reader.string()
        guard case .object(let metadata)? = try? JSONValue.parse(metadataText) else {
            throw FormatError(message: "metadata is not a JSON object", offset: metadataOffset)
        }
        let expiresAt: Int64? = try reader.u8() == 1 ? reader.i64() : nil
        return Record(id: id, content: content, embedding: embedding, metadata: metadata, expiresAt: expiresAt)
    }

    /// A commit: a count, then each operation tagged 1 (put) or 2 (delete), then (since the
    /// store's time is recorded, `StoreClock`) the store's time when it committed: tag 3 and
    /// Unix nanoseconds. Older commits end after their operations and still decode.
    static func encode(_ operations: [LogOperation], time: Int64? = nil) -> [UInt8] {
        var writer = ByteWriter()
        writer.bytes.reserveCapacity(operations.reduce(4 + 9) { $0 + sizeEstimate($1) })
        writer.u32(UInt32(operations.count))
        for operation in operations {
            switch operation {
            case .put(let record):
                writer.u8(1)
                encode(record, into: &writer)
            case .delete(let id):
                writer.u8(2)
                writer.string(id)
            }
        }
        if let time {
            writer.u8(commitTimeTag)
            writer.i64(time)
        }
        return writer.bytes
    }

    /// The encoded size of an operation when its metadata is empty (one allocation of the
    /// commit's buffer in the common case, at most one regrowth otherwise).
    private static func sizeEstimate(_ operation: LogOperation) -> Int {
        switch operation {
        case .put(let record): 1 + 4 + record.id.utf8.count + 4 + record.content.utf8.count + 4 + 4 * record.embedding.count + 4 + 2 + 9
        case .delete(let id): 1 + 4 + id.utf8.count
        }
    }

    /// The operation count a commit's payload declares, bounded by what its bytes can hold (the
    /// smallest operation, a delete of a one-byte id, takes 6): a capacity hint, not a check.
    static func declaredOperationCount(_ bytes: ArraySlice<UInt8>) -> Int {
        var reader = ByteReader(bytes)
        guard let count = try? reader.u32() else { return 0 }
        return min(Int(count), reader.remaining / 6)
    }

    static let commitTimeTag: UInt8 = 3

    static func decodeOperations(_ bytes: ArraySlice<UInt8>) throws -> [LogOperation] {
        try decodeCommit(bytes).operations
    }

    /// A commit's operations and the store's time it recorded (nil in a commit from before).
    static func decodeCommit(_ bytes: ArraySlice<UInt8>) throws -> (operations: [LogOperation], time: Int64?) {
        var reader = ByteReader(bytes)
        let count = Int(try reader.u32())
        guard count <= reader.remaining else {
            throw FormatError(message: "operation count \(count) exceeds the payload", offset: 0)
        }
        var operations: [LogOperation] = []
        operations.reserveCapacity(count)
        for _ in 0..<count {
            let tagOffset = reader.offset
            switch try reader.u8() {
            case 1: operations.append(.put(try decode(from: &reader)))
            case 2: operations.append(.delete(id: try reader.string()))
            case let tag: throw FormatError(message: "unknown operation tag \(tag)", offset: tagOffset)
            }
        }
        var time: Int64?
        if reader.remaining == 9, bytes[bytes.startIndex + reader.offset] == commitTimeTag {
            _ = try reader.u8()
            time = try reader.i64()
        }
        guard reader.isAtEnd else {
            throw FormatError(message: "\(reader.remaining) unexpected bytes after the operations", offset: reader.offset)
        }
        return (operations, time)
    }
}

/// A segment file starts with this 32-byte header:
/// magic "TMSEGMNT" | version u16 | reserved u16 | segment id u64 | first LSN u64 | CRC32C u32.
///
/// The segment id is random per segment incarnation and is mixed into every frame's checksum,
/// so a frame left over from another segment (or an older file at the same name) never
/// validates here.
struct SegmentHeader: Hashable {
    static let size = 32
    static let magic: [UInt8] = Array("TMSEGMNT".utf8)
    static let version: UInt16 = 1

    var segmentID: UInt64
    var firstLSN: UInt64

    func encode() -> [UInt8] {
        var writer = ByteWriter()
        writer.raw(Self.magic)
        writer.u16(Self.version)
        writer.u16(0)
        writer.u64(segmentID)
        writer.u64(firstLSN)
        writer.u32(CRC32C.checksum(writer.bytes))
        return writer.bytes
    }

    /// Whether a last segment whose header does not decode is one whose creation was cut short:
    /// no longer than the first write (the header, padded to a sector with `sectorAlignment`),
    /// which is synced before any frame is written after it, so nothing in it was acknowledged.
    static func isUnfinished(fileSize: Int, sectorAlignment: Int) -> Bool {
        fileSize <= max(size, sectorAlignment)
    }

    static func decode(_ bytes: ArraySlice<UInt8>) throws -> SegmentHeader {
        guard bytes.count >= size else {
            throw FormatError(message: "segment header needs \(size) bytes, file has \(bytes.count)", offset: 0)
        }
        let header = bytes.prefix(size)
        guard header.prefix(8).elementsEqual(magic) else { throw FormatError(message: "bad segment magic", offset: 0) }
        var reader = ByteReader(header.dropFirst(8))
        let version = try reader.u16()
        _ = try reader.u16()
        let segmentID = try reader.u64()
        let firstLSN = try reader.u64()
        let stored = try reader.u32()
        guard stored == CRC32C.checksum(header.prefix(size - 4)) else {
            throw FormatError(message: "segment header checksum mismatch", offset: 0)
        }
        guard version == Self.version else { throw FormatError(message: "unsupported segment version \(version)", offset: 8) }
        // LSNs start at 1, and the scan counts one past every LSN: 0 and UInt64.max never occur.
        guard Frame.lsnRange.contains(firstLSN) else {
            throw FormatError(message: "segment header's first LSN \(firstLSN) is out of range", offset: 16)
        }
        return SegmentHeader(segmentID: segmentID, firstLSN: firstLSN)
    }
}

/// A log frame: a 32-byte header then the payload.
///
/// magic u32 "TMFR" | version u8 | type u8 | reserved u16 | LSN u64 | payload length u32 |
/// synced-through u64 | CRC32C u32 over (segment id, header bytes 0..<28, payload).
///
/// `syncedThrough` is the offset in this segment up to which the log had been synced when the
/// frame was written. Recovery uses it to tell an unsynced (never acknowledged) damaged region,
/// which it may cut off, from damage to synced bytes, which is corruption.
struct Frame: Hashable {
    static let headerSize = 32
    static let magic: UInt32 = 0x5246_4D54  // "TMFR" little-endian
    static let magicBytes: [UInt8] = Array("TMFR".utf8)
    static let version: UInt8 = 1
    /// The LSNs a frame or segment may hold (a crafted 0 or UInt64.max would overflow the scan's
    /// "one before the first" and "next expected" counts).
    static let lsnRange: ClosedRange<UInt64> = 1...(UInt64.max - 1)

    enum Kind: UInt8 {
        /// A commit: one or more `LogOperation`s applied atomically.
        case commit = 1
        /// Filler (zero payload) that ends a synced region on a sector boundary, so the next
        /// write starts on a fresh sector (`StoreOptions.sectorAlignment`). Its LSN field holds
        /// the LSN the next commit will have; replay skips it without consuming that LSN.
        case padding = 2
    }

    var kind: Kind
    var lsn: UInt64
    var syncedThrough: UInt64
    var payload: ArraySlice<UInt8>

    var encodedSize: Int { Self.headerSize + payload.count }

    static func encode(kind: Kind, lsn: UInt64, syncedThrough: UInt64, payload: [UInt8], segmentID: UInt64) -> [UInt8] {
        var writer = ByteWriter()
        writer.bytes.reserveCapacity(headerSize + payload.count)
        writer.u32(magic)
        writer.u8(version)
        writer.u8(kind.rawValue)
        writer.u16(0)
        writer.u64(lsn)
        writer.u32(UInt32(payload.count))
        writer.u64(syncedThrough)
        writer.u32(0)
        writer.raw(payload)
        writer.patchU32(checksum(segmentID: segmentID, header: writer.bytes[0..<28], payload: payload[...]), at: 28)
        return writer.bytes
    }

    /// A padding frame that moves `offset` to the next multiple of `alignment` (one sector
    /// further when the gap is too small for a frame header); empty when already aligned.
    static func padding(at offset: Int64, alignment: Int, nextLSN: UInt64, syncedThrough: UInt64, segmentID: UInt64) -> [UInt8] {
        guard alignment > 0 else { return [] }
        var gap = (alignment - Int(offset % Int64(alignment))) % alignment
        guard gap > 0 else { return [] }
        while gap < headerSize { gap += alignment }
        return encode(
            kind: .padding, lsn: nextLSN, syncedThrough: syncedThrough, payload: [UInt8](repeating: 0, count: gap - headerSize),
            segmentID: segmentID)
    }

    static func checksum(segmentID: UInt64, header: ArraySlice<UInt8>, payload: ArraySlice<UInt8>) -> UInt32 {
        var crc = withUnsafeBytes(of: segmentID.littleEndian) { CRC32C.checksum($0) }
        crc = CRC32C.checksum(header, continuing: crc)
        return CRC32C.checksum(payload, continuing: crc)
    }

    /// Decodes the frame starting at `offset` in `bytes`, checking magic, version, kind, the
    /// length bound (before touching the payload) and the checksum.
    static func decode(_ bytes: [UInt8], at offset: Int, segmentID: UInt64, maxPayload: Int) -> Result<Frame, FormatError> {
        let available = bytes.count - offset
        guard available >= headerSize else {
            return .failure(FormatError(message: "frame header cut short (\(available) of \(headerSize) bytes)", offset: offset))
        }
        var reader = ByteReader(bytes[offset..<offset + headerSize])
        // The header slice is exactly headerSize bytes, so these reads cannot fail.
        let magicValue = try! reader.u32()
        let versionValue = try! reader.u8()
        let kindValue = try! reader.u8()
        _ = try! reader.u16()
        let lsn = try! reader.u64()
        let length = Int(try! reader.u32())
        let syncedThrough = try! reader.u64()
        let stored = try! reader.u32()
        guard magicValue == magic else {
            // Rot in the magic of a whole frame leaves the rest of the header plausible; a torn
            // sector of zeros or garbage almost never does.
            let restPlausible = versionValue == version && Kind(rawValue: kindValue) != nil && length <= maxPayload
                && length <= available - headerSize
            return .failure(FormatError(message: "bad frame magic", offset: offset, frameHeaderIntact: restPlausible))
        }
        // Past an intact magic the header was written (a torn write keeps or loses whole
        // sectors): any other field that fails is rot in it, or a header torn across a sector.
        guard versionValue == version else {
            return .failure(FormatError(message: "unsupported frame version \(versionValue)", offset: offset, frameHeaderIntact: true))
        }
        guard let kind = Kind(rawValue: kindValue) else {
            return .failure(FormatError(message: "unknown frame type \(kindValue)", offset: offset, frameHeaderIntact: true))
        }
        guard length <= maxPayload else {
            return .failure(FormatError(message: "frame length \(length) exceeds the limit \(maxPayload)", offset: offset, frameHeaderIntact: true))
        }
        guard length <= available - headerSize else {
            return .failure(FormatError(
                message: "frame payload cut short (\(available - headerSize) of \(length) bytes)", offset: offset,
                frameHeaderIntact: true))
        }
        let payload = bytes[(offset + headerSize)..<(offset + headerSize + length)]
        guard stored == checksum(segmentID: segmentID, header: bytes[offset..<offset + 28], payload: payload) else {
            return .failure(FormatError(
                message: "frame checksum mismatch (LSN field \(lsn))", offset: offset, frameHeaderIntact: true))
        }
        guard lsnRange.contains(lsn) else {
            return .failure(FormatError(message: "frame LSN \(lsn) is out of range", offset: offset, frameHeaderIntact: true))
        }
        return .success(Frame(kind: kind, lsn: lsn, syncedThrough: syncedThrough, payload: payload))
    }
}

/// File names in a store directory.
enum StoreFiles {
    static let manifest = "MANIFEST"
    /// Held with `flock` by the one writer (`StoreLock`); holds its owner's name.
    static let lock = "LOCK"
    /// Where `recover --salvage` moves what it cannot use (`Quarantine`).
    static let quarantine = "quarantine"

    static func segmentName(firstLSN: UInt64) -> String { "wal-" + Hex.digits16(firstLSN) + ".log" }
    static func checkpointName(lsn: UInt64) -> String { "checkpoint-" + Hex.digits16(lsn) + ".ckpt" }

    /// The first LSN named by a segment file name, or nil when `name` is not a segment.
    /// (A name with LSN 0 or UInt64.max is none of ours: see `Frame.lsnRange`.)
    static func segmentFirstLSN(_ name: String) -> UInt64? {
        parse(name, prefix: "wal-", suffix: ".log").flatMap { Frame.lsnRange.contains($0) ? $0 : nil }
    }
    /// (A checkpoint may be at LSN 0, an empty store, but never at UInt64.max.)
    static func checkpointLSN(_ name: String) -> UInt64? {
        parse(name, prefix: "checkpoint-", suffix: ".ckpt").flatMap { $0 < UInt64.max ? $0 : nil }
    }

    private static func parse(_ name: String, prefix: String, suffix: String) -> UInt64? {
        guard name.hasPrefix(prefix), name.hasSuffix(suffix) else { return nil }
        let digits = name.dropFirst(prefix.count).dropLast(suffix.count)
        guard digits.count == 16 else { return nil }
        return UInt64(digits, radix: 16)
    }
}
