import TidemarkIO

/// What `Store.open` found and did.
public struct RecoveryReport: Sendable, Hashable, Codable {
    public struct Truncation: Sendable, Hashable, Codable {
        public var file: String
        public var offset: Int64
        public var bytes: Int64
        public var reason: String
        /// The cut bytes began with an intact frame header whose payload was cut short or failed
        /// its checksum: a torn write of an unacknowledged frame, or bit rot (in the length field
        /// or the checksummed bytes) of an acknowledged one. One copy cannot tell which, so
        /// acknowledged data may have been lost.
        public var frameHeaderIntact: Bool = false

        /// A warning for people when this cut may have dropped acknowledged data, else nil.
        public var possibleLossWarning: String? {
            guard frameHeaderIntact else { return nil }
            return "\(file) @ \(offset): recovery cut a frame whose header is intact but whose payload is cut short or fails its checksum: a torn write of an unacknowledged commit, or bit rot in an acknowledged one (one copy cannot tell); acknowledged data may have been lost"
        }
    }

    /// The checkpoint recovery started from (nil: replay from an empty store).
    public var checkpointFile: String?
    public var checkpointLSN: UInt64?
    /// Newer checkpoints that were damaged or missing, so an older one was used.
    public var skippedCheckpoints: [StoreProblem] = []
    public var framesReplayed = 0
    /// The last LSN in the recovered state.
    public var lastLSN: UInt64 = 0
    /// Torn tails cut off (unacknowledged bytes).
    public var truncations: [Truncation] = []
    /// With salvage: every damaged region skipped and the LSNs lost with it. Empty otherwise.
    public var lost: [StoreProblem] = []
    /// Leftover files removed (temp files, an unfinished segment, orphan checkpoints).
    public var removedFiles: [String] = []
    public var durationNanoseconds: Int64 = 0

    /// Frames replayed from log bytes no successful sync was proven to cover (a killed process's
    /// page cache, or pages a failed fsync marked clean). Open writes a checkpoint so the
    /// recovered state no longer depends on them.
    public var unprovenFramesReplayed = 0

    public var bytesTruncated: Int64 { truncations.reduce(0) { $0 + $1.bytes } }

    /// Whether recovery may have dropped acknowledged data it could not tell from a torn write
    /// (see `Truncation.frameHeaderIntact`).
    public var reportsPossibleLoss: Bool { truncations.contains(where: \.frameHeaderIntact) }
}

/// A live segment as the writer knows it.
struct SegmentInfo: Hashable {
    var name: String
    var firstLSN: UInt64
    var size: Int64
}

/// The result of recovery, from which `Store` continues.
struct RecoveredStore {
    var state: StoreState
    var lastLSN: UInt64
    /// Kept checkpoints, newest first (damaged ones dropped).
    var checkpoints: [Manifest.Entry]
    var segments: [SegmentInfo]
    /// The last segment when every frame in it is proven synced (a clean close left a marker
    /// claiming so): the store may keep appending at `offset`, the end of the proven bytes.
    var resumable: (header: SegmentHeader, offset: Int64)?
    var report: RecoveryReport
    /// Open must write a checkpoint before accepting writes: frames were replayed from bytes not
    /// proven durable, or a damaged checkpoint is still named by the manifest.
    var needsCheckpoint: Bool { report.unprovenFramesReplayed > 0 || !report.skippedCheckpoints.isEmpty }
}

/// Recovery at open: newest valid checkpoint, then replay of the log after it. Every change it
/// makes (cutting a torn tail, removing leftovers) is one that recovery would make again the same
/// way, so a crash during recovery is harmless.
enum Recovery {
    static func run(
        directory: String, fileSystem: any FileSystem, options: StoreOptions, clock: any Clock
    ) throws -> RecoveredStore {
        let started = clock.monotonicNanoseconds()
        var report = RecoveryReport()
        let salvage = options.salvage
        let skipsBadFrames = options.hooks.replaysPastDamage
        func path(_ name: String) -> String { FilePaths.join(directory, name) }
        func fsError(_ error: Error, _ name: String) -> StoreError {
            let cause = error as? FileSystemError
            return StoreError(.io, "recovery could not read or repair \(name)", path: path(name), outcome: .ambiguous, cause: cause)
        }

        var names: [String]
        do { names = try fileSystem.listDirectory(directory) } catch { throw fsError(error, ".") }

        // 1. Leftover temp files from interrupted atomic replacements.
        for name in names where name.hasSuffix(".tmp") {
            do { try fileSystem.remove(path(name)) } catch { throw fsError(error, name) }
            report.removedFiles.append(name)
        }
        names.removeAll { $0.hasSuffix(".tmp") }

        // 2. The manifest and the newest checkpoint that validates.
        var manifest = Manifest()
        if names.contains(StoreFiles.manifest) {
            do {
                manifest = try Manifest.decode(try fileSystem.readFile(path(StoreFiles.manifest)), path: path(StoreFiles.manifest))
            } catch let error as StoreError {
                guard salvage else { throw error }
                report.lost.append(StoreProblem(file: StoreFiles.manifest, offset: error.offset ?? 0, message: error.message))
                // Salvage: trust whatever checkpoint files are there, newest first.
                manifest.checkpoints = names.compactMap(StoreFiles.checkpointLSN).sorted(by: >).compactMap { lsn in
                    let bytes = try? fileSystem.readFile(path(StoreFiles.checkpointName(lsn: lsn)))
                    return bytes.map { Manifest.Entry(lsn: lsn, fileChecksum: CRC32C.checksum($0)) }
                }
            } catch {
                throw fsError(error, StoreFiles.manifest)
            }
        }
        var state = StoreState()
        var baseLSN: UInt64 = 0
        var keptCheckpoints: [Manifest.Entry] = []
        for (index, entry) in manifest.checkpoints.enumerated() {
            do {
                state = try loadCheckpoint(entry, directory: directory, fileSystem: fileSystem)
                baseLSN = entry.lsn
                report.checkpointFile = entry.fileName
                report.checkpointLSN = entry.lsn
                keptCheckpoints = Array(manifest.checkpoints[index...])
                break
            } catch let error as StoreError {
                report.skippedCheckpoints.append(
                    StoreProblem(file: entry.fileName, offset: error.offset ?? 0, message: error.message))
            }
        }
        if report.checkpointFile == nil, let newest = manifest.checkpoints.first {
            let problem = report.skippedCheckpoints.first!
            guard salvage else {
                throw StoreError.corruption(
                    "no checkpoint in the manifest is usable (newest: \(problem.message))",
                    path: path(newest.fileName), offset: problem.offset)
            }
            report.lost.append(contentsOf: report.skippedCheckpoints)
        }

        // 3. The log after the checkpoint.
        let segmentLSNs = names.compactMap(StoreFiles.segmentFirstLSN).sorted()
        var segments: [SegmentInfo] = []
        var lastLSN = baseLSN
        var toRemove: [String] = []
        var resumable: (header: SegmentHeader, offset: Int64)?
        for (index, firstLSN) in segmentLSNs.enumerated() {
            let name = StoreFiles.segmentName(firstLSN: firstLSN)
            let isLast = index == segmentLSNs.count - 1
            // Segments whose every frame the checkpoint covers are not read (verify reads them).
            if !isLast, segmentLSNs[index + 1] <= baseLSN + 1 {
                let size = (try? fileSystem.status(path(name)).size) ?? 0
                segments.append(SegmentInfo(name: name, firstLSN: firstLSN, size: size))
                continue
            }
            if segments.isEmpty, firstLSN > baseLSN + 1 {
                let message = "the log starts at LSN \(firstLSN) but replay needs LSN \(baseLSN + 1) onwards"
                guard salvage else { throw StoreError.corruption(message, path: path(name), offset: 0) }
                report.lost.append(StoreProblem(file: name, offset: 0, message: message))
                lastLSN = firstLSN - 1
            }
            let scanned: Result<SegmentScan, FormatError>
            let fileSize: Int
            do {
                (fileSize, scanned) = try SegmentScan.scan(
                    fileSystem: fileSystem, path: path(name), maxPayload: options.maxFramePayloadBytes)
            } catch {
                throw fsError(error, name)
            }
            let scan: SegmentScan
            switch scanned {
            case .success(let value):
                scan = value
            case .failure(let error):
                if isLast, SegmentHeader.isUnfinished(fileSize: fileSize, sectorAlignment: options.sectorAlignment) {
                    // Created but never finished (its header is synced before any frame is
                    // written to it): nothing in it was ever acknowledged.
                    toRemove.append(name)
                    continue
                }
                guard salvage else { throw StoreError.corruption("segment header: \(error.message)", path: path(name), offset: 0) }
                report.lost.append(StoreProblem(file: name, offset: 0, message: "segment header: \(error.message); whole file skipped"))
                toRemove.append(name)
                continue
            }
            guard scan.header.firstLSN == firstLSN else {
                let message = "segment header says first LSN \(scan.header.firstLSN), the file name \(firstLSN)"
                guard salvage else { throw StoreError.corruption(message, path: path(name), offset: 16) }
                report.lost.append(StoreProblem(file: name, offset: 16, message: message + "; whole file skipped"))
                toRemove.append(name)
                continue
            }

            var cutAt: Int? = nil
            var unprovenHere = 0
            var corrupted = false
            switch scan.verdict(nextFirstLSN: isLast ? nil : segmentLSNs[index + 1]) {
            case .clean: break
            case .tornTail(let offset): cutAt = offset
            case .corrupted(let damage):
                if !salvage && !skipsBadFrames {
                    let why = isLast
                        ? "valid frames follow at offset \(damage.resumesAt.map(String.init) ?? "?") and record these bytes as synced"
                        : "in a finished segment, which was synced before the next one was started"
                    throw StoreError.corruption("\(damage.reason); not a torn tail: \(why)", path: path(name), offset: Int64(damage.offset))
                }
                corrupted = true
                if let last = scan.damage.last, last.resumesAt == nil, isLast { cutAt = last.offset }
            }
            if salvage && corrupted {
                for damage in scan.damage where cutAt == nil || damage.offset < cutAt! {
                    report.lost.append(StoreProblem(
                        file: name, offset: Int64(damage.offset),
                        message: "\(damage.length) bytes skipped: \(damage.reason)"))
                }
            }

            for item in scan.frames where cutAt == nil || item.offset < cutAt! {
                let frame = item.frame
                guard frame.lsn > lastLSN else { continue }  // covered by the checkpoint
                if frame.lsn != lastLSN + 1 {
                    let message = "LSNs \(lastLSN + 1)...\(frame.lsn - 1) are missing before this frame"
                    if !salvage && !skipsBadFrames {
                        throw StoreError.corruption(message, path: path(name), offset: Int64(item.offset))
                    }
                    if salvage { report.lost.append(StoreProblem(file: name, offset: Int64(item.offset), message: message)) }
                }
                let operations: [LogOperation]
                do {
                    operations = try RecordCoding.decodeOperations(frame.payload)
                } catch let error as FormatError {
                    // The checksum matched, so this is a writer bug, not a disk fault; never guess.
                    throw StoreError.corruption(
                        "frame LSN \(frame.lsn) does not decode: \(error.message)", path: path(name),
                        offset: Int64(item.offset + Frame.headerSize + error.offset))
                }
                state.apply(operations)
                lastLSN = frame.lsn
                report.framesReplayed += 1
                if UInt64(item.offset + frame.encodedSize) > scan.provenSyncedThrough { unprovenHere += 1 }
            }
            if let cutAt {
                let damage = scan.damage.first { $0.offset >= cutAt }
                report.truncations.append(RecoveryReport.Truncation(
                    file: name, offset: Int64(cutAt), bytes: Int64(scan.fileSize - cutAt),
                    reason: damage?.reason ?? "torn tail", frameHeaderIntact: damage?.frameHeaderIntact ?? false))
            }
            if isLast, scan.frames.isEmpty, cutAt != nil || scan.damage.isEmpty {
                // No frame in it was ever acknowledged; the store starts a fresh segment anyway.
                toRemove.append(name)
                report.truncations.removeAll { $0.file == name && !$0.frameHeaderIntact }
                continue
            }
            segments.append(SegmentInfo(name: name, firstLSN: firstLSN, size: Int64(cutAt ?? scan.fileSize)))
            // Only the last segment holding frames can end in unproven bytes: an earlier one was
            // synced before the next was started by rotation, or, when an open started the next,
            // that open checkpointed before writing to it (an empty next segment, left by an
            // open that failed, is removed above).
            report.unprovenFramesReplayed = unprovenHere
            if isLast, scan.damage.isEmpty, let last = scan.frames.last,
                UInt64(last.offset + last.frame.encodedSize) <= scan.provenSyncedThrough
            {
                resumable = (scan.header, Int64(scan.provenSyncedThrough))
            }
        }
        if skipsBadFrames { report.lost.removeAll() }

        // 4. Repairs, each idempotent.
        do {
            for truncation in report.truncations where !toRemove.contains(truncation.file) {
                let file = try fileSystem.open(path(truncation.file), options: .readWrite)
                defer { try? file.close() }
                try file.truncate(to: truncation.offset)
                try file.sync()
            }
            let keptNames = Set(keptCheckpoints.map(\.fileName))
            toRemove += names.filter { StoreFiles.checkpointLSN($0) != nil && !keptNames.contains($0) }
            for name in toRemove {
                try fileSystem.remove(path(name))
                report.removedFiles.append(name)
            }
            try fileSystem.syncDirectory(directory)
        } catch let error as FileSystemError {
            throw StoreError(.io, "recovery could not repair the store", path: error.path, outcome: .ambiguous, cause: error)
        }

        report.lastLSN = lastLSN
        report.durationNanoseconds = clock.monotonicNanoseconds() - started
        return RecoveredStore(
            state: state, lastLSN: lastLSN, checkpoints: keptCheckpoints, segments: segments, resumable: resumable,
            report: report)
    }

    /// Reads one checkpoint and checks it against its manifest entry.
    static func loadCheckpoint(_ entry: Manifest.Entry, directory: String, fileSystem: any FileSystem) throws -> StoreState {
        let path = FilePaths.join(directory, entry.fileName)
        let bytes: [UInt8]
        do {
            bytes = try fileSystem.readFile(path)
        } catch let error as FileSystemError {
            throw StoreError(.corruption, "checkpoint unreadable: \(error.message)", path: path, offset: 0, cause: error)
        }
        let state = try CheckpointFile.decode(bytes, path: path, expectedLSN: entry.lsn)
        guard CRC32C.checksum(bytes) == entry.fileChecksum else {
            throw StoreError.corruption("checkpoint file checksum does not match the manifest", path: path, offset: 0)
        }
        return state
    }
}
