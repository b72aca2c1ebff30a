import TidemarkIO

/// The write side of the log: the segment being appended to, the finished segments before it,
/// and every step that changes them (append, sector padding, rotation, segment creation,
/// removal of covered segments, the close marker).
///
/// Errors are `StoreError`s; an `.ambiguous` one means bytes may or may not have reached the
/// log, and the store must fail stop. Not thread-safe: the store's lock guards it; syncing is
/// the store's (group commit releases the lock around it), which reports back with `noteSynced`.
struct LogWriter {
    /// The segment being appended to.
    struct Segment {
        var handle: any FileHandleProtocol
        var header: SegmentHeader
        var name: String
        /// Where the next frame goes.
        var tail: Int64
        /// Bytes of this segment known durable; written into each frame (see `Frame`).
        var syncedThrough: Int64
        /// Whether anything follows the header (and its sector padding).
        var hasFrames = false
    }

    private let directory: String
    private let fileSystem: any FileSystem
    private let random: any RandomSource
    private let options: StoreOptions
    private(set) var current: Segment
    /// Completed segments, oldest first.
    private(set) var finished: [SegmentInfo]
    /// `SYNCED`, the durable record of the highest synced LSN.
    private(set) var syncedLSN: SyncedLSNKeeper

    /// Continues the recovered log: appends to its last segment when every byte in it is proven
    /// synced, else starts a fresh segment. Frames written after bytes that later vanish (a failed
    /// fsync marks pages clean; re-syncing does not write them) would leave a hole that reads as
    /// corruption. The fresh segment starts with the replayed frames no sync was proven to cover,
    /// written again and synced (`rewriteSegment`), then cut off the segment they were replayed
    /// from (`cutUnprovenTail`): every replayed frame is then durable in the log, so a later
    /// checkpoint (and with tiers its cold commit) never covers frames a power loss could still
    /// take, and no open needs to checkpoint for them.
    init(
        recovered: RecoveredStore, directory: String, fileSystem: any FileSystem, random: any RandomSource,
        options: StoreOptions
    ) throws {
        (self.directory, self.fileSystem, self.random, self.options) = (directory, fileSystem, random, options)
        syncedLSN = SyncedLSNKeeper(
            directory: directory, fileSystem: fileSystem, intervalNanoseconds: options.syncedLSNRecordIntervalNanoseconds,
            recovered: recovered.syncedRecord, damagedSlots: recovered.damagedSyncedSlots)
        var segments = recovered.segments
        if let resumable = recovered.resumable, let last = segments.popLast() {
            let path = FilePaths.join(directory, last.name)
            do {
                let handle = try fileSystem.open(path, options: .readWrite)
                if try handle.size() > resumable.offset {
                    // Drop the close marker (the only bytes past the proven end), durably.
                    try handle.truncate(to: resumable.offset)
                    try handle.syncData()
                }
                current = Segment(
                    handle: handle, header: resumable.header, name: last.name, tail: resumable.offset,
                    syncedThrough: resumable.offset, hasFrames: true)
            } catch let error as FileSystemError {
                throw StoreError(.io, "cannot reopen the log segment for appending", path: path, outcome: .ambiguous, cause: error)
            }
        } else if Self.restartLSN(lastLSN: recovered.lastLSN, unproven: recovered.unprovenFrames) <= recovered.lastLSN {
            let source = segments.last
            let rewritten = try Self.rewriteSegment(
                recovered.unprovenFrames, directory: directory, fileSystem: fileSystem, random: random, options: options)
            segments.removeAll { $0.name == rewritten.name }  // replaced: it held only these frames
            if let source, source.name != rewritten.name, let start = recovered.unprovenStart, source.size > start {
                try Self.cutUnprovenTail(of: source.name, at: start, directory: directory, fileSystem: fileSystem)
                segments[segments.count - 1].size = start
            }
            try syncedLSN.recordRewritten(through: recovered.lastLSN)
            current = rewritten
        } else {
            current = try Self.startSegment(
                firstLSN: recovered.lastLSN + 1, directory: directory, fileSystem: fileSystem, random: random,
                options: options)
        }
        finished = segments
    }

    /// Bytes in every live segment.
    var totalBytes: Int64 { finished.reduce(current.tail) { $0 + $1.size } }

    /// Whether a frame of `frameSize` bytes must go to a new segment.
    func needsRotation(forFrameOf frameSize: Int64) -> Bool {
        current.hasFrames && current.tail + frameSize > options.segmentSizeLimit
    }

    /// Writes one commit frame at the tail; returns its size. On ENOSPC the tail is cut back
    /// (durably) so no partial frame stays to be overwritten halfway, and the commit is rejected.
    mutating func append(_ payload: [UInt8], lsn: UInt64) throws -> Int64 {
        let frame = Frame.encode(
            kind: .commit, lsn: lsn, syncedThrough: UInt64(current.syncedThrough), payload: payload,
            segmentID: current.header.segmentID)
        do {
            try current.handle.write(frame, at: current.tail)
        } catch let error as FileSystemError where error.code == .noSpace {
            // The cut must be durable: a partial frame that survives a power loss while the
            // truncate does not would sit inside the segment once more frames follow it.
            do {
                try current.handle.truncate(to: current.tail)
                try current.handle.syncData()
            } catch let truncateError as FileSystemError {
                throw StoreError(
                    .io, "disk full, and cutting the partial frame back failed", path: current.handle.path,
                    offset: current.tail, outcome: .ambiguous, cause: truncateError)
            }
            throw StoreError(.noSpace, "disk full: commit rejected", path: current.handle.path, offset: current.tail, cause: error)
        } catch let error as FileSystemError {
            throw StoreError(
                .io, "log write failed", path: current.handle.path, offset: current.tail, outcome: .ambiguous, cause: error)
        }
        current.tail += Int64(frame.count)
        current.hasFrames = true
        return Int64(frame.count)
    }

    /// Without powersafe overwrite a torn write may garble a whole sector, including the synced
    /// bytes of earlier frames sharing it. With `sectorAlignment`, every sync first pads the
    /// log to a sector boundary, so no later write touches a sector holding synced bytes.
    mutating func padToSector(nextLSN: UInt64) throws {
        let padding = Frame.padding(
            at: current.tail, alignment: options.sectorAlignment, nextLSN: nextLSN,
            syncedThrough: UInt64(current.syncedThrough), segmentID: current.header.segmentID)
        guard !padding.isEmpty else { return }
        do {
            try current.handle.write(padding, at: current.tail)
        } catch let error as FileSystemError {
            // Commits waiting for this sync are written but now cannot be made durable.
            throw StoreError(
                .io, "writing sector padding failed", path: current.handle.path, offset: current.tail,
                outcome: .ambiguous, cause: error)
        }
        current.tail += Int64(padding.count)
    }

    /// A sync of segment `segmentID` covering `tail` succeeded.
    /// Then `lsn` is durable: `SYNCED` records it, at most once per interval (`now`: the
    /// store's monotonic clock).
    mutating func noteSynced(through tail: Int64, segmentID: UInt64, lsn: UInt64, now: Int64) {
        if current.header.segmentID == segmentID { current.syncedThrough = max(current.syncedThrough, tail) }
        syncedLSN.noteDurable(lsn, now: now)
    }

    /// Salvage accepted a log ending at `lastLSN`, below what `SYNCED` records: lower the record.
    mutating func resetSyncedLSN(to lastLSN: UInt64) throws {
        guard syncedLSN.newest.map({ $0.lsn > lastLSN }) ?? false else { return }
        try syncedLSN.reset(to: lastLSN)
    }

    /// Finishes the current segment (the caller has synced it: recovery treats damage in any
    /// finished segment as corruption) and starts the next at `firstLSN`.
    mutating func rotate(firstLSN: UInt64) throws {
        let next = try Self.startSegment(
            firstLSN: firstLSN, directory: directory, fileSystem: fileSystem, random: random, options: options)
        try? current.handle.close()  // synced; close errors carry no data
        finished.append(SegmentInfo(name: current.name, firstLSN: current.header.firstLSN, size: current.tail))
        current = next
    }

    /// Creates a segment durably: header written and synced, then the directory synced, before
    /// any frame can be acknowledged in it. With `sectorAlignment` the header is padded to a
    /// whole sector so no frame write shares its sector. On ENOSPC the file is removed, durably
    /// (the directory synced: a half-made segment left on disk after a power loss would end a log
    /// the old segment goes on past), and the error is `rejected`; other failures, or a removal
    /// that cannot be made durable, are `ambiguous`.
    private static func startSegment(
        firstLSN: UInt64, directory: String, fileSystem: any FileSystem, random: any RandomSource, options: StoreOptions
    ) throws -> Segment {
        let header = SegmentHeader(segmentID: random.next(), firstLSN: firstLSN)
        let start = header.encode() + Frame.padding(
            at: Int64(SegmentHeader.size), alignment: options.sectorAlignment, nextLSN: firstLSN, syncedThrough: 0,
            segmentID: header.segmentID)
        let name = StoreFiles.segmentName(firstLSN: firstLSN)
        let path = FilePaths.join(directory, name)
        var handle: (any FileHandleProtocol)?
        do {
            let file = try fileSystem.open(path, options: [.read, .write, .create, .truncate])
            handle = file
            try file.write(start, at: 0)
            try file.sync()
            if options.hooks.syncsDirectoryForNewSegment { try fileSystem.syncDirectory(directory) }
            return Segment(handle: file, header: header, name: name, tail: Int64(start.count), syncedThrough: Int64(start.count))
        } catch let error as FileSystemError {
            try? handle?.close()
            if error.code == .noSpace, (try? fileSystem.remove(path)) != nil, (try? fileSystem.syncDirectory(directory)) != nil {
                throw StoreError(.noSpace, "disk full: cannot start a new log segment", path: path, cause: error)
            }
            throw StoreError(.io, "cannot create log segment", path: path, outcome: .ambiguous, cause: error)
        }
    }

    /// The first LSN of the segment a writer starts after recovery: the first unproven frame's
    /// when they run without a gap to `lastLSN` (it rewrites them), else the next LSN.
    static func restartLSN(lastLSN: UInt64, unproven: [Frame]) -> UInt64 {
        guard let first = unproven.first, unproven.last?.lsn == lastLSN, lastLSN - first.lsn + 1 == UInt64(unproven.count)
        else { return lastLSN + 1 }
        return first.lsn
    }

    /// A fresh segment holding `frames` again, written atomically (temp file, sync, rename over
    /// any segment of that name, which held only these frames, directory sync). Every byte is
    /// synced before the name exists, so each frame claims the whole file synced and the
    /// segment is proven to its end; with `sectorAlignment` it ends on a sector boundary.
    private static func rewriteSegment(
        _ frames: [Frame], directory: String, fileSystem: any FileSystem, random: any RandomSource, options: StoreOptions
    ) throws -> Segment {
        let header = SegmentHeader(segmentID: random.next(), firstLSN: frames[0].lsn)
        let start = header.encode() + Frame.padding(
            at: Int64(SegmentHeader.size), alignment: options.sectorAlignment, nextLSN: header.firstLSN, syncedThrough: 0,
            segmentID: header.segmentID)
        let framesEnd = start.count + frames.reduce(0) { $0 + $1.encodedSize }
        let nextLSN = frames[frames.count - 1].lsn + 1
        let end = framesEnd + Frame.padding(
            at: Int64(framesEnd), alignment: options.sectorAlignment, nextLSN: nextLSN, syncedThrough: 0, segmentID: 0).count
        var bytes = start
        for frame in frames {
            bytes += Frame.encode(
                kind: .commit, lsn: frame.lsn, syncedThrough: UInt64(end), payload: Array(frame.payload), segmentID: header.segmentID)
        }
        bytes += Frame.padding(
            at: Int64(framesEnd), alignment: options.sectorAlignment, nextLSN: nextLSN, syncedThrough: UInt64(end),
            segmentID: header.segmentID)
        let name = StoreFiles.segmentName(firstLSN: header.firstLSN)
        let path = FilePaths.join(directory, name)
        do {
            try fileSystem.writeFileAtomically(path, bytes)
            let handle = try fileSystem.open(path, options: .readWrite)
            return Segment(handle: handle, header: header, name: name, tail: Int64(end), syncedThrough: Int64(end), hasFrames: true)
        } catch let error as FileSystemError {
            try? fileSystem.remove(path + ".tmp")
            throw StoreError(.io, "cannot rewrite the replayed unproven frames", path: path, outcome: .ambiguous, cause: error)
        }
    }

    /// Cuts a finished segment back to the end of its proven frames, durably, once the frames
    /// after them are durable in the next segment: only the last segment may end in unproven
    /// bytes (a later power loss could tear or garble them where recovery allows no damage).
    private static func cutUnprovenTail(of name: String, at offset: Int64, directory: String, fileSystem: any FileSystem) throws {
        let path = FilePaths.join(directory, name)
        do {
            let handle = try fileSystem.open(path, options: .readWrite)
            defer { try? handle.close() }
            try handle.truncate(to: offset)
            try handle.sync()
        } catch let error as FileSystemError {
            throw StoreError(
                .io, "cannot cut the rewritten unproven frames off the segment they were replayed from", path: path,
                offset: offset, outcome: .ambiguous, cause: error)
        }
    }

    /// Removes finished segments whose every frame is at or below `lsn`, then syncs the directory.
    mutating func removeSegments(coveredBy lsn: UInt64) throws {
        var removed = false
        while let first = finished.first {
            let nextFirstLSN = finished.count > 1 ? finished[1].firstLSN : current.header.firstLSN
            guard nextFirstLSN - 1 <= lsn else { break }
            try fileSystem.removeIfPresent(FilePaths.join(directory, first.name))
            finished.removeFirst()
            removed = true
        }
        if removed { try fileSystem.syncDirectory(directory) }
    }

    /// After a sync covering every frame succeeded: a padding frame claiming the segment synced
    /// (only as far as a sync really covered), so the next open knows the tail is durable and
    /// need not checkpoint. Throws when the marker's write or sync fails.
    func writeCloseMarker(nextLSN: UInt64) throws {
        let marker = Frame.encode(
            kind: .padding, lsn: nextLSN, syncedThrough: UInt64(current.syncedThrough), payload: [],
            segmentID: current.header.segmentID)
        try current.handle.write(marker, at: current.tail)
        try current.handle.syncData()
    }

    func closeFile() {
        try? current.handle.close()
        syncedLSN.close()
    }
}

extension FileSystem {
    /// Removes `path`; a file already gone is not an error.
    func removeIfPresent(_ path: String) throws {
        do { try remove(path) } catch let error as FileSystemError where error.code == .notFound {}
    }
}
