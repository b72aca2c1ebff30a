import TidemarkIO

/// One recovery, step by step (`Recovery.run` calls them in order): leftovers, manifest,
/// checkpoint, log replay segment by segment, repairs.
struct RecoveryPass {
    let directory: String
    let fileSystem: any FileSystem
    let options: StoreOptions
    let hooks: ProtocolHooks
    var report = RecoveryReport()
    var state = StoreState()
    /// The LSN of the checkpoint replay starts from (0: none).
    var baseLSN: UInt64 = 0
    var lastLSN: UInt64 = 0
    /// The latest store time a replayed commit recorded (`StoreClock`'s floor).
    var latestCommitTime: Int64 = 0
    /// Kept checkpoints, newest first (damaged ones dropped).
    var keptCheckpoints: [Manifest.Entry] = []
    /// `cutLogAtRecordedDurableEnd` only: where the canary ends the log.
    var canaryLogEnd: UInt64?
    var segments: [SegmentInfo] = []
    var resumable: (header: SegmentHeader, offset: Int64)?
    /// The replayed frames no successful sync was proven to cover (`RecoveredStore.unprovenFrames`).
    var unprovenFrames: [Frame] = []
    /// Where the first of `unprovenFrames` starts in the last segment.
    var unprovenStart: Int64?
    /// Files the repairs remove.
    var toRemove: [String] = []
    /// With salvage: files holding damage, and what each held, kept in quarantine before the
    /// salvage rewrites the store (`quarantineDamage`).
    var damagedFiles: [(name: String, held: String)] = []
    var quarantine: Quarantine
    /// `SYNCED`'s newest valid slot (`checkDurableEnd`), for the writer to continue.
    var syncedRecord: SyncedLSNRecord?
    /// `SYNCED`'s slots that hold bytes but do not validate, for the writer to repair.
    var damagedSyncedSlots: [Int] = []
    /// The segment the manifest's newest checkpoint started (`StoreInventory.segmentStarted`).
    var checkpointSegment: String?
    /// `POSSIBLE-LOSS`'s truncations, cut by an earlier recovery whose open did not succeed.
    var recordedPossibleLosses: [RecoveryReport.Truncation] = []
    /// `POSSIBLE-LOSS` exists (read, or written by `recordPossibleLosses`).
    var possibleLossRecorded = false
    /// Each segment is read into this one buffer in turn (`SegmentScan.scan(…reusing:)`).
    private var segmentBuffer: [UInt8] = []

    init(directory: String, fileSystem: any FileSystem, options: StoreOptions) {
        (self.directory, self.fileSystem, self.options) = (directory, fileSystem, options)
        hooks = options.hooks
        quarantine = Quarantine(directory: directory, fileSystem: fileSystem)
    }

    /// A read-only open reports what it finds and repairs nothing.
    private var repairs: Bool { !options.readOnly }

    private mutating func noteDamaged(_ name: String, _ held: String) {
        if salvage, !damagedFiles.contains(where: { $0.name == name }) { damagedFiles.append((name, held)) }
    }

    private var salvage: Bool { options.salvage }
    /// Damage that stops the open unless salvage reports it (or a canary replays past it).
    private var stopsAtDamage: Bool { !salvage && !hooks.replaysPastDamage }

    private func path(_ name: String) -> String { FilePaths.join(directory, name) }

    private func fsError(_ error: Error, _ name: String) -> StoreError {
        StoreError(
            .io, "recovery could not read or repair \(name)", path: path(name), outcome: .ambiguous,
            cause: error as? FileSystemError)
    }

    // MARK: Leftovers, manifest, checkpoint

    /// Lists the directory and removes leftover temp files from interrupted atomic replacements.
    mutating func removeTemporaryFiles() throws -> StoreInventory {
        let names: [String]
        do { names = try fileSystem.listDirectory(directory) } catch { throw fsError(error, ".") }
        let inventory = StoreInventory(names: names)
        guard repairs else { return inventory }
        for name in inventory.temporaryFiles {
            do { try fileSystem.remove(path(name)) } catch { throw fsError(error, name) }
            report.removedFiles.append(name)
        }
        return inventory
    }

    /// The manifest (empty when there is none yet). Damaged, or missing while the log no longer
    /// starts at LSN 1 (so a checkpoint it named is needed): an error, or with salvage one
    /// rebuilt from every checkpoint file present, newest first.
    mutating func readManifest(_ inventory: StoreInventory) throws -> Manifest {
        let manifestPath = path(StoreFiles.manifest)
        let problem: StoreProblem
        if inventory.hasManifest {
            do {
                return try Manifest.decode(try fileSystem.readFile(manifestPath), path: manifestPath)
            } catch let error as StoreError {
                guard salvage else { throw error }
                problem = StoreProblem(file: StoreFiles.manifest, offset: error.offset ?? 0, message: error.message + "; rebuilt from the checkpoint files present")
                noteDamaged(StoreFiles.manifest, "the list of kept checkpoints")
            } catch {
                throw fsError(error, StoreFiles.manifest)
            }
        } else {
            let logStart = inventory.segments.first?.firstLSN
            guard !inventory.checkpointFiles.isEmpty, logStart.map({ $0 > 1 }) ?? true else { return Manifest() }
            let message = "\(StoreFiles.manifest) is missing, and the log starts at LSN \(logStart.map(String.init) ?? "none"): the checkpoint it named is needed"
            guard salvage else {
                throw StoreError.corruption(message + "; `recover --salvage` rebuilds it from the checkpoint files", path: manifestPath, offset: 0)
            }
            problem = StoreProblem(file: StoreFiles.manifest, offset: 0, message: message + "; rebuilt from the checkpoint files present")
        }
        report.lost.append(problem)
        var manifest = Manifest()
        manifest.checkpoints = try inventory.checkpointFiles.compactMap(StoreFiles.checkpointLSN).sorted(by: >).map { lsn in
            let name = StoreFiles.checkpointName(lsn: lsn)
            do { return Manifest.Entry(lsn: lsn, fileChecksum: CRC32C.checksum(try fileSystem.readFile(path(name)))) } catch {
                throw fsError(error, name)  // unreadable, maybe intact: never dropped as an orphan
            }
        }
        return manifest
    }

    /// The newest checkpoint in `manifest` that validates; older ones are fallbacks. One that
    /// cannot be read (an I/O error) stops the open, salvage included: it may be intact, so
    /// nothing is skipped, moved aside or removed on its account.
    mutating func loadNewestCheckpoint(from manifest: Manifest) throws {
        checkpointSegment = manifest.checkpoints.first.map { StoreInventory.segmentStarted(byCheckpointAt: $0.lsn) }
        for (index, entry) in manifest.checkpoints.enumerated() {
            do {
                state = try Recovery.loadCheckpoint(entry, directory: directory, fileSystem: fileSystem)
                baseLSN = entry.lsn
                lastLSN = entry.lsn
                report.checkpointFile = entry.fileName
                report.checkpointLSN = entry.lsn
                keptCheckpoints = Array(manifest.checkpoints[index...])
                return
            } catch let error as StoreError where error.code != .io {
                if !hooks.fallsBackToOlderCheckpoint && !salvage { throw error }
                report.skippedCheckpoints.append(
                    StoreProblem(file: entry.fileName, offset: error.offset ?? 0, message: error.message))
            }
        }
        if let newest = manifest.checkpoints.first {
            let problem = report.skippedCheckpoints.first!
            guard salvage else {
                throw StoreError.corruption(
                    "no checkpoint in the manifest is usable (newest: \(problem.message))",
                    path: path(newest.fileName), offset: problem.offset)
            }
            for (entry, skipped) in zip(manifest.checkpoints, report.skippedCheckpoints) {
                noteDamaged(entry.fileName, "the records as of LSN \(entry.lsn)")
                if !loadPartially(entry, keeping: manifest) { report.lost.append(skipped) }
            }
        }
        for entry in manifest.checkpoints.prefix(while: { $0.fileName != report.checkpointFile }) {
            noteDamaged(entry.fileName, "the records as of LSN \(entry.lsn)")
        }
    }

    /// Salvage, when no checkpoint validates whole: the newest whose header is intact, without
    /// its damaged records (each is listed as lost). Returns whether it was used.
    private mutating func loadPartially(_ entry: Manifest.Entry, keeping manifest: Manifest) -> Bool {
        guard report.checkpointFile == nil, let bytes = try? fileSystem.readFile(path(entry.fileName)),
            let (partial, damage) = try? CheckpointFile.decode(bytes, path: path(entry.fileName), expectedLSN: entry.lsn, salvaging: true)
        else { return false }
        state = partial
        (baseLSN, lastLSN) = (entry.lsn, entry.lsn)
        report.checkpointFile = entry.fileName
        report.checkpointLSN = entry.lsn
        keptCheckpoints = Array(manifest.checkpoints.drop { $0 != entry })
        report.lost.append(contentsOf: damage)
        return true
    }

    // MARK: The log

    /// Replays one segment's frames after the checkpoint, deciding its tail.
    mutating func replay(_ segment: StoreInventory.Segment) throws {
        // Segments whose every frame the checkpoint covers are not read (verify reads them).
        if let next = segment.nextFirstLSN, next <= baseLSN + 1 {
            let size = (try? fileSystem.status(path(segment.name)).size) ?? 0
            segments.append(SegmentInfo(name: segment.name, firstLSN: segment.firstLSN, size: size))
            return
        }
        if segments.isEmpty, segment.firstLSN > baseLSN + 1 {
            try noteMissing("the log starts at LSN \(segment.firstLSN) but replay needs LSN \(baseLSN + 1) onwards", before: segment)
        }
        guard let (scan, verdict) = try read(segment) else { return }
        if segment.firstLSN > lastLSN + 1 {
            // A segment with a valid header proves every LSN before it was written and synced
            // (rotation syncs the previous segment first), even when no frame in it survived.
            try noteMissing("LSNs \(lastLSN + 1)...\(segment.firstLSN - 1) are missing before this segment", before: segment)
        }
        var cutAt = try cutPoint(scan, verdict, segment)
        if let canaryLogEnd, let beyond = scan.frames.first(where: { $0.frame.lsn > canaryLogEnd }), beyond.offset < cutAt ?? .max {
            cutAt = beyond.offset
        }
        let (unproven, unprovenStart) = try apply(scan, before: cutAt)
        let name = segment.name
        if let cutAt {
            let damage = scan.damage.first { $0.offset >= cutAt }
            if damage?.frameHeaderIntact ?? false { noteDamaged(name, "log frames from LSN \(segment.firstLSN); cut at offset \(cutAt)") }
            report.truncations.append(RecoveryReport.Truncation(
                file: name, offset: Int64(cutAt), bytes: Int64(scan.fileSize - cutAt),
                reason: damage?.reason ?? "torn tail", frameHeaderIntact: damage?.frameHeaderIntact ?? false,
                keptThroughLSN: lastLSN))
        }
        if segment.isLast, scan.frames.isEmpty, cutAt != nil || scan.damage.isEmpty {
            // No frame in it was ever acknowledged; the store starts a fresh segment anyway.
            toRemove.append(name)
            report.truncations.removeAll { $0.file == name && !$0.frameHeaderIntact }
            return
        }
        segments.append(SegmentInfo(name: name, firstLSN: segment.firstLSN, size: Int64(cutAt ?? scan.fileSize)))
        // Only the last segment holding frames can end in unproven bytes: an earlier one was
        // synced before the next was started by rotation, or, when an open started the next
        // with the unproven frames written again, that open cut them off the earlier one
        // (`LogWriter.init`; an empty next segment, left by an open that failed, is removed above).
        (report.unprovenFramesReplayed, unprovenFrames, self.unprovenStart) = (unproven.count, unproven, unprovenStart.map(Int64.init))
        if segment.isLast, scan.damage.isEmpty, let last = scan.frames.last,
            UInt64(last.offset + last.frame.encodedSize) <= scan.provenSyncedThrough
        {
            resumable = (scan.header, Int64(scan.provenSyncedThrough))
        }
    }

    /// LSNs before `segment` are missing: an error, or with salvage a loss, replay going on
    /// from the segment's first LSN.
    private mutating func noteMissing(_ message: String, before segment: StoreInventory.Segment) throws {
        guard salvage else { throw StoreError.corruption(message, path: path(segment.name), offset: 0) }
        report.lost.append(StoreProblem(file: segment.name, offset: 0, message: message))
        lastLSN = segment.firstLSN - 1
    }

    /// The segment's scan, or nil when the whole file is skipped (and removed).
    private mutating func read(_ segment: StoreInventory.Segment) throws -> (SegmentScan, SegmentScan.Verdict)? {
        let name = segment.name
        let scanned: (bytes: Int, result: Result<SegmentScan, FormatError>)
        do {
            scanned = try SegmentScan.scan(
                fileSystem: fileSystem, path: path(name), maxPayload: options.maxFramePayloadBytes, reusing: &segmentBuffer)
        } catch {
            throw fsError(error, name)
        }
        switch StoreInventory.finding(for: segment, scanned: scanned, sectorAlignment: options.sectorAlignment) {
        case .unfinished:
            toRemove.append(name)
            return nil
        case .badHeader(let error):
            guard salvage else { throw StoreError.corruption("segment header: \(error.message)", path: path(name), offset: 0) }
            report.lost.append(StoreProblem(file: name, offset: 0, message: "segment header: \(error.message); whole file skipped"))
            noteDamaged(name, "log frames from LSN \(segment.firstLSN) (by its name)")
            toRemove.append(name)
            return nil
        case .scanned(let scan, _, headerMatchesName: false):
            let message = StoreInventory.misnamedMessage(scan, segment)
            guard salvage else { throw StoreError.corruption(message, path: path(name), offset: 16) }
            report.lost.append(StoreProblem(file: name, offset: 16, message: message + "; whole file skipped"))
            noteDamaged(name, "log frames from LSN \(scan.header.firstLSN) (by its header)")
            toRemove.append(name)
            return nil
        case .scanned(let scan, let verdict, headerMatchesName: true):
            return (scan, verdict)
        }
    }

    /// Where the segment is cut back (a torn tail), if anywhere. Corruption throws unless
    /// salvage, which reports every damaged region before the cut as lost.
    private mutating func cutPoint(
        _ scan: SegmentScan, _ verdict: SegmentScan.Verdict, _ segment: StoreInventory.Segment
    ) throws -> Int? {
        switch verdict {
        case .clean: return nil
        case .tornTail(let offset): return offset
        case .corrupted(let damage):
            if stopsAtDamage {
                let why = segment.isLast
                    ? "valid frames follow at offset \(damage.resumesAt.map(String.init) ?? "?") and record these bytes as synced"
                    : "in a finished segment, which was synced before the next one was started"
                throw StoreError.corruption(
                    "\(damage.reason); not a torn tail: \(why)", path: path(segment.name), offset: Int64(damage.offset))
            }
            var cutAt: Int?
            if let last = scan.damage.last, last.resumesAt == nil, segment.isLast { cutAt = last.offset }
            if salvage {
                noteDamaged(segment.name, "log frames from LSN \(segment.firstLSN); its intact frames were replayed")
                for damage in scan.damage where cutAt == nil || damage.offset < cutAt! {
                    report.lost.append(StoreProblem(
                        file: segment.name, offset: Int64(damage.offset),
                        message: "\(damage.length) bytes skipped: \(damage.reason)"))
                }
            }
            return cutAt
        }
    }

    /// Applies the frames before `cutAt` that the checkpoint does not cover; returns those that
    /// rest on bytes no successful sync was proven to cover, and the offset of the first.
    private mutating func apply(_ scan: SegmentScan, before cutAt: Int?) throws -> (frames: [Frame], start: Int?) {
        var unproven: [Frame] = []
        var unprovenStart: Int?
        let name = scan.name
        state.reserveCapacity(forAdding: scan.frames.reduce(0) { $0 + RecordCoding.declaredOperationCount($1.frame.payload) })
        for item in scan.frames where cutAt == nil || item.offset < cutAt! {
            let frame = item.frame
            guard frame.lsn > lastLSN else { continue }  // covered by the checkpoint
            if frame.lsn != lastLSN + 1 {
                let message = "LSNs \(lastLSN + 1)...\(frame.lsn - 1) are missing before this frame"
                if stopsAtDamage { throw StoreError.corruption(message, path: path(name), offset: Int64(item.offset)) }
                if salvage { report.lost.append(StoreProblem(file: name, offset: Int64(item.offset), message: message)) }
            }
            let operations: [LogOperation]
            do {
                let commit = try RecordCoding.decodeCommit(frame.payload)
                operations = commit.operations
                latestCommitTime = max(latestCommitTime, commit.time ?? 0)
            } catch let error as FormatError {
                // The checksum matched, so this is a writer bug, not a disk fault; never guess.
                throw StoreError.corruption(
                    "frame LSN \(frame.lsn) does not decode: \(error.message)", path: path(name),
                    offset: Int64(item.offset + Frame.headerSize + error.offset))
            }
            state.apply(operations)
            lastLSN = frame.lsn
            report.framesReplayed += 1
            if UInt64(item.offset + frame.encodedSize) > scan.provenSyncedThrough {
                if unproven.isEmpty { unprovenStart = item.offset }
                unproven.append(frame)
            }
        }
        return (unproven, unprovenStart)
    }

    /// A log that ends before the LSN the store's files prove durable (`DurableEnd`: a clean
    /// close or a checkpoint recorded in the manifest, or a log sync recorded in `SYNCED`) lost
    /// synced frames: a segment cut short or removed. An error, or with salvage a loss naming
    /// where the log now ends.
    mutating func checkDurableEnd(_ manifest: Manifest, _ inventory: StoreInventory) throws {
        if let checkpointSegment, !hooks.replaysPastDamage, !inventory.segments.contains(where: { $0.name == checkpointSegment }) {
            let message = "missing: the checkpoint at LSN \(manifest.checkpoints[0].lsn) started it durably, so the commits after that checkpoint are lost"
            guard salvage else { throw StoreError.corruption(message, path: path(checkpointSegment), offset: 0) }
            report.lost.append(StoreProblem(file: checkpointSegment, offset: 0, message: message))
        }
        do {
            if inventory.hasSyncedLSNRecord {
                (syncedRecord, damagedSyncedSlots) = try SyncedLSNRecord.read(directory: directory, fileSystem: fileSystem)
            }
        } catch {
            throw fsError(error, SyncedLSNRecord.fileName)
        }
        let durable = DurableEnd(manifest: manifest, synced: syncedRecord)
        guard durable.isLost(logEnd: lastLSN), !hooks.replaysPastDamage else { return }
        let file = inventory.segments.last?.name ?? durable.recordedBy
        let offset = segments.last.flatMap { $0.name == file ? $0.size : nil } ?? 0
        let message = durable.lossMessage(logEnd: lastLSN)
        guard salvage else { throw StoreError.corruption(message, path: path(file), offset: offset) }
        report.lost.append(StoreProblem(file: file, offset: offset, message: message))
        if file != durable.recordedBy { noteDamaged(file, "the end of the log") }
    }

    /// With salvage: copies every damaged file, and every checkpoint the manifest does not keep,
    /// into the quarantine before the repairs and the salvage rewrite remove them.
    mutating func quarantineDamage(_ inventory: StoreInventory) throws {
        guard salvage else { return }
        for name in inventory.checkpointFiles(notIn: Set(keptCheckpoints.map(\.fileName))) {
            noteDamaged(name, "the records as of LSN \(StoreFiles.checkpointLSN(name) ?? 0), in a checkpoint the store no longer uses")
        }
        for (name, held) in damagedFiles where fileSystem.exists(path(name)) {
            let reasons = (report.lost + report.skippedCheckpoints).filter { $0.file == name }.map(\.description)
                + report.truncations.filter { $0.file == name }.map { "\($0.file) @ \($0.offset): cut \($0.bytes) bytes (\($0.reason))" }
            let reason = reasons.isEmpty ? "not used by the salvaged store" : reasons.joined(separator: "; ")
            try quarantine.keep(name, held: held, reason: reason, copy: true)
        }
        report.quarantineFolder = quarantine.folder
        report.quarantinedFiles = quarantine.entries.map(\.file)
    }

    // MARK: Possible losses (`PossibleLossRecord`)

    /// Reads the possible losses an earlier recovery recorded before cutting them.
    mutating func readPossibleLosses(_ inventory: StoreInventory) throws {
        guard inventory.hasPossibleLossRecord else { return }
        do {
            recordedPossibleLosses = try PossibleLossRecord.read(directory: directory, fileSystem: fileSystem)
        } catch {
            throw fsError(error, PossibleLossRecord.fileName)
        }
        possibleLossRecorded = true
    }

    /// Before `repair` cuts a possible loss (the only evidence of it), records it durably with
    /// those recorded before, so an open that fails after the cut leaves it reported.
    mutating func recordPossibleLosses(_ inventory: StoreInventory) throws {
        let found = report.truncations.filter { cut in
            cut.frameHeaderIntact && !recordedPossibleLosses.contains { $0.file == cut.file && $0.offset == cut.offset }
        }
        guard repairs, !found.isEmpty else { return }
        do {
            try PossibleLossRecord.write(recordedPossibleLosses + found, directory: directory, fileSystem: fileSystem)
        } catch {
            throw fsError(error, PossibleLossRecord.fileName)
        }
        possibleLossRecorded = true
    }

    /// The report lists the recorded possible losses first, then what this pass cut.
    mutating func reportRecordedPossibleLosses() {
        let recorded = recordedPossibleLosses.filter { old in
            !report.truncations.contains { $0.file == old.file && $0.offset == old.offset }
        }
        report.truncations.insert(contentsOf: recorded, at: 0)
    }

    // MARK: Repairs

    /// Cuts torn tails and removes leftovers, each idempotent, then syncs the directory.
    mutating func repair(_ inventory: StoreInventory) throws {
        guard repairs else { return }
        // The writer starts its segment under this name anyway (replacing it): not removed.
        let restarted = StoreFiles.segmentName(firstLSN: LogWriter.restartLSN(lastLSN: lastLSN, unproven: unprovenFrames))
        toRemove.removeAll { $0 == restarted && resumable == nil }
        do {
            for truncation in report.truncations where !toRemove.contains(truncation.file) {
                let file = try fileSystem.open(path(truncation.file), options: .readWrite)
                defer { try? file.close() }
                try file.truncate(to: truncation.offset)
                try file.sync()
            }
            toRemove += inventory.checkpointFiles(notIn: Set(keptCheckpoints.map(\.fileName)))
            for name in toRemove {
                try fileSystem.remove(path(name))
                report.removedFiles.append(name)
            }
            try fileSystem.syncDirectory(directory)
        } catch let error as FileSystemError {
            throw StoreError(.io, "recovery could not repair the store", path: error.path, outcome: .ambiguous, cause: error)
        }
    }
}
