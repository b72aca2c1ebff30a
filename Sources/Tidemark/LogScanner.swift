import TidemarkIO

/// What one read-only pass over a segment file found.
struct SegmentScan {
    struct ValidFrame {
        var offset: Int
        var frame: Frame
    }

    /// A region that holds no valid frame, from `offset` to the next valid frame (`resumesAt`)
    /// or to the end of the file (`resumesAt == nil`).
    struct Damage {
        var offset: Int
        var length: Int
        var reason: String
        var resumesAt: Int?
        /// The region starts with an intact frame header whose payload is cut short or fails its
        /// checksum: a torn write of an unsynced frame, or bit rot in a synced one (in its
        /// length field or anywhere under the checksum). One copy cannot tell them apart.
        var frameHeaderIntact = false
    }

    /// How the scan's damage is to be read, given whether this is the last segment.
    enum Verdict {
        /// Every frame valid up to the end of the file.
        case clean
        /// Damage from `offset` on is in bytes never synced (or a torn last frame): nothing there
        /// was acknowledged as durable; recovery cuts the file back to `offset`.
        case tornTail(offset: Int)
        /// Damage in synced bytes, or in a finished segment anywhere but a torn end whose frames
        /// the next segment continues.
        case corrupted(Damage)
    }

    var name: String
    var path: String
    var fileSize: Int
    var header: SegmentHeader
    /// Valid commit frames in LSN order (padding frames are skipped).
    var frames: [ValidFrame]
    var damage: [Damage]
    /// Every valid frame's claim, padding frames and the close marker included: at `offset` a
    /// frame was written recording that the bytes before `syncedThrough` were synced.
    var syncClaims: [(offset: Int, syncedThrough: UInt64)] = []
    /// The largest `syncedThrough` any valid frame (padding included) claims: every byte before
    /// it was covered by a sync that succeeded.
    var provenSyncedThrough: UInt64 = 0

    /// Reads and walks a segment. Throws `FormatError` (offset 0) when the header is unusable.
    static func scan(
        fileSystem: any FileSystem, path: String, maxPayload: Int
    ) throws -> (bytes: Int, result: Result<SegmentScan, FormatError>) {
        var buffer: [UInt8] = []
        return try scan(fileSystem: fileSystem, path: path, maxPayload: maxPayload, reusing: &buffer)
    }

    /// The same, reading into `buffer` (recovery keeps one for all its segments; the scan's
    /// frames are slices of it, so it is reused once the scan is dropped).
    static func scan(
        fileSystem: any FileSystem, path: String, maxPayload: Int, reusing buffer: inout [UInt8]
    ) throws -> (bytes: Int, result: Result<SegmentScan, FormatError>) {
        try fileSystem.readFile(path, into: &buffer)
        return (buffer.count, scan(buffer, path: path, maxPayload: maxPayload))
    }

    /// Walks the bytes of the segment file at `path`.
    static func scan(_ bytes: [UInt8], path: String, maxPayload: Int) -> Result<SegmentScan, FormatError> {
        let header: SegmentHeader
        do {
            header = try SegmentHeader.decode(bytes[...])
        } catch let error as FormatError {
            return .failure(error)
        } catch {
            return .failure(FormatError(message: "\(error)", offset: 0))
        }
        var scan = SegmentScan(
            name: FilePaths.name(of: path), path: path, fileSize: bytes.count, header: header, frames: [], damage: [])
        var offset = SegmentHeader.size
        var expectedLSN = header.firstLSN
        while offset < bytes.count {
            switch Frame.decode(bytes, at: offset, segmentID: header.segmentID, maxPayload: maxPayload) {
            case .success(let frame) where frame.kind == .padding && frame.lsn == expectedLSN:
                scan.noteClaim(frame, at: offset)
                offset += frame.encodedSize  // filler or a close marker; holds no LSN
            case .success(let frame) where frame.lsn == expectedLSN:
                scan.noteClaim(frame, at: offset)
                scan.frames.append(ValidFrame(offset: offset, frame: frame))
                offset += frame.encodedSize
                expectedLSN = frame.lsn + 1
            case let outcome:
                let reason: String
                var frameHeaderIntact = false
                switch outcome {
                case .success(let frame): reason = "frame has LSN \(frame.lsn) where \(expectedLSN) was expected"
                case .failure(let error):
                    reason = error.message
                    frameHeaderIntact = error.frameHeaderIntact
                }
                // Look for the next frame that validates for this segment with a later LSN:
                // if there is one, this is a hole in the middle, not a torn end.
                let next = nextValidFrame(in: bytes, after: offset, header: header, minimumLSN: expectedLSN, maxPayload: maxPayload)
                scan.damage.append(Damage(
                    offset: offset, length: (next?.offset ?? bytes.count) - offset, reason: reason, resumesAt: next?.offset,
                    frameHeaderIntact: frameHeaderIntact))
                guard let next else { return .success(scan) }
                offset = next.offset
                expectedLSN = next.lsn
            }
        }
        return .success(scan)
    }

    private mutating func noteClaim(_ frame: Frame, at offset: Int) {
        syncClaims.append((offset, frame.syncedThrough))
        provenSyncedThrough = max(provenSyncedThrough, frame.syncedThrough)
    }

    private static func nextValidFrame(
        in bytes: [UInt8], after offset: Int, header: SegmentHeader, minimumLSN: UInt64, maxPayload: Int
    ) -> (offset: Int, lsn: UInt64)? {
        let magic = Frame.magicBytes
        var position = offset + 1
        while position + Frame.headerSize <= bytes.count {
            if bytes[position] == magic[0], bytes[position + 1] == magic[1], bytes[position + 2] == magic[2],
                bytes[position + 3] == magic[3],
                case .success(let frame) = Frame.decode(bytes, at: position, segmentID: header.segmentID, maxPayload: maxPayload),
                frame.lsn >= minimumLSN
            {
                return (position, frame.lsn)
            }
            position += 1
        }
        return nil
    }

    /// The LSN of the last valid commit frame (the one before the first LSN when there is none).
    var lastLSN: UInt64 { frames.last?.frame.lsn ?? (header.firstLSN - 1) }

    /// Reads the damage. In the last segment, damage that no later valid frame claims as synced
    /// (each frame, padding and the close marker included, records how far the segment had been
    /// synced when it was written) lies in
    /// bytes that were never acknowledged: a torn tail. In a finished segment (`nextFirstLSN`:
    /// the next segment's first LSN) damage is a torn end too when the valid frames before it
    /// reach the next segment's first LSN: every LSN is accounted for, so the damaged bytes held
    /// nothing the log needs (an ENOSPC partial write whose cut was lost, or the unsynced tail of
    /// a process that later reopened, whose unproven frames that open wrote again into the next
    /// segment). Any other damage is corruption: a hole in the middle is never skipped.
    func verdict(nextFirstLSN: UInt64?) -> Verdict {
        guard let first = damage.first else { return .clean }
        guard let nextFirstLSN else {
            for item in damage {
                let claimedSynced = syncClaims.lazy.filter { $0.offset > item.offset }.map(\.syncedThrough).max() ?? 0
                if claimedSynced > UInt64(item.offset) { return .corrupted(item) }
            }
            return .tornTail(offset: first.offset)
        }
        let lastBeforeDamage = frames.last { $0.offset < first.offset }?.frame.lsn ?? (header.firstLSN - 1)
        guard lastBeforeDamage + 1 >= nextFirstLSN else { return .corrupted(first) }
        return .tornTail(offset: first.offset)
    }
}
