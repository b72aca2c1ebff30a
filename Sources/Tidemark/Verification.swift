import TidemarkIO

/// What `verify` found. `problems` are damage (the store would refuse to open, or has lost
/// data); `warnings` are what recovery repairs on its own (a torn tail, leftover temp files).
public struct VerificationReport: Sendable, Hashable, Codable {
    public var problems: [StoreProblem] = []
    public var warnings: [StoreProblem] = []
    public var filesChecked = 0
    public var framesChecked = 0
    public var checkpointsChecked = 0
    /// Pages of `cold.sqlite` read whole and checked against their checksums (0: no cold tier,
    /// or one created before page checksums).
    public var coldPagesChecked = 0

    public var isClean: Bool { problems.isEmpty }
}

/// The offline check behind `Store.verify`: reads every file, changes nothing. It reads the
/// directory with the same rules as recovery (`StoreInventory`) and reports what recovery would
/// repair as warnings, what would stop it (or lose data) as problems.
enum Verification {
    static func run(directory: String, fileSystem: any FileSystem, options: StoreOptions) throws -> VerificationReport {
        let names: [String]
        do {
            names = try fileSystem.listDirectory(directory)
        } catch let error as FileSystemError {
            throw StoreError(.io, "cannot list the store directory", path: directory, cause: error)
        }
        let inventory = StoreInventory(names: names)
        var check = VerificationPass(directory: directory, fileSystem: fileSystem, options: options)
        for name in inventory.temporaryFiles {
            check.warn(name, 0, "leftover temp file (removed at open)")
        }
        let manifest = try check.checkManifestAndCheckpoints(inventory)
        check.checkpointSegment = manifest.checkpoints.first.map { StoreInventory.segmentStarted(byCheckpointAt: $0.lsn) }
        try check.checkLog(inventory, replayStart: (manifest.checkpoints.map(\.lsn).min() ?? 0) + 1)
        check.checkDurableEnd(manifest, inventory)
        check.checkPossibleLossRecord(inventory)
        check.checkColdTier()
        return check.report
    }
}

private struct VerificationPass {
    let directory: String
    let fileSystem: any FileSystem
    let options: StoreOptions
    var report = VerificationReport()
    /// The checkpoint recovery would start from (the newest that validates).
    var usableCheckpoint: (lsn: UInt64, requiresColdTier: Bool)?
    /// The segment the newest checkpoint started: it must exist.
    var checkpointSegment: String?
    /// The last LSN the log holds (0: none).
    var logEnd: UInt64 = 0

    private func path(_ name: String) -> String { FilePaths.join(directory, name) }

    mutating func problem(_ name: String, _ offset: Int64, _ message: String) {
        report.problems.append(StoreProblem(file: name, offset: offset, message: message))
    }

    mutating func warn(_ name: String, _ offset: Int64, _ message: String) {
        report.warnings.append(StoreProblem(file: name, offset: offset, message: message))
    }

    /// The manifest, every checkpoint it names, and checkpoint files it does not name.
    mutating func checkManifestAndCheckpoints(_ inventory: StoreInventory) throws -> Manifest {
        var manifest = Manifest()
        if inventory.hasManifest {
            report.filesChecked += 1
            do {
                manifest = try Manifest.decode(try fileSystem.readFile(path(StoreFiles.manifest)), path: path(StoreFiles.manifest))
            } catch let error as StoreError {
                problem(StoreFiles.manifest, error.offset ?? 0, error.message)
            } catch {
                problem(StoreFiles.manifest, 0, "unreadable: \(error)")
            }
        }
        for entry in manifest.checkpoints {
            report.filesChecked += 1
            report.checkpointsChecked += 1
            do {
                let state = try Recovery.loadCheckpoint(entry, directory: directory, fileSystem: fileSystem)
                if usableCheckpoint == nil { usableCheckpoint = (entry.lsn, state.requiresColdTier) }
            } catch let error as StoreError {
                problem(entry.fileName, error.offset ?? 0, error.message)
            }
        }
        let logStart = inventory.segments.first?.firstLSN
        if !inventory.hasManifest, !inventory.checkpointFiles.isEmpty, logStart.map({ $0 > 1 }) ?? true {
            problem(StoreFiles.manifest, 0, "missing, and the log starts at LSN \(logStart.map(String.init) ?? "none"): the checkpoint it named is needed (`recover --salvage` rebuilds it)")
        } else {
            for name in inventory.checkpointFiles(notIn: Set(manifest.checkpoints.map(\.fileName))) {
                warn(name, 0, "checkpoint not in the manifest (removed at open)")
            }
        }
        return manifest
    }

    /// Every frame of every segment, and LSN continuity from `replayStart` on.
    mutating func checkLog(_ inventory: StoreInventory, replayStart: UInt64) throws {
        if let first = inventory.segments.first, first.firstLSN > replayStart {
            problem(first.name, 0, "the log starts at LSN \(first.firstLSN) but the oldest checkpoint needs LSN \(replayStart) onwards")
        }
        var previousLastLSN: UInt64?
        for segment in inventory.segments {
            previousLastLSN = try checkSegment(segment, previousLastLSN: previousLastLSN)
        }
    }

    /// Returns the segment's last LSN, nil when its header is unusable.
    private mutating func checkSegment(_ segment: StoreInventory.Segment, previousLastLSN: UInt64?) throws -> UInt64? {
        let name = segment.name
        report.filesChecked += 1
        let scanned: (bytes: Int, result: Result<SegmentScan, FormatError>)
        do {
            scanned = try SegmentScan.scan(fileSystem: fileSystem, path: path(name), maxPayload: options.maxFramePayloadBytes)
        } catch {
            problem(name, 0, "unreadable: \(error)")
            return previousLastLSN
        }
        let scan: SegmentScan
        let verdict: SegmentScan.Verdict
        switch StoreInventory.finding(for: segment, scanned: scanned, sectorAlignment: options.sectorAlignment) {
        case .unfinished:
            warn(name, 0, "unfinished new segment (removed at open)")
            return nil
        case .badHeader(let error):
            problem(name, 0, "segment header: \(error.message)")
            return nil
        case .scanned(let value, let valueVerdict, let headerMatchesName):
            (scan, verdict) = (value, valueVerdict)
            if !headerMatchesName { problem(name, 16, StoreInventory.misnamedMessage(scan, segment)) }
        }
        logEnd = max(logEnd, scan.frames.last?.frame.lsn ?? (segment.firstLSN - 1))
        // An overlap is an open's rewrite of unproven frames (`LogWriter.rewriteSegment`).
        if let previousLastLSN, previousLastLSN + 1 < segment.firstLSN {
            problem(name, 0, "segment starts at LSN \(segment.firstLSN), the previous one ends at \(previousLastLSN)")
        }
        switch verdict {
        case .clean: break
        case .tornTail(let offset):
            warn(name, Int64(offset), "torn tail: \(scan.fileSize - offset) unacknowledged bytes (cut at open)")
        case .corrupted:
            for damage in scan.damage {
                problem(name, Int64(damage.offset), "\(damage.reason) (\(damage.length) bytes damaged)")
            }
        }
        for item in scan.frames {
            report.framesChecked += 1
            do {
                _ = try RecordCoding.decodeOperations(item.frame.payload)
            } catch let error as FormatError {
                problem(name, Int64(item.offset + Frame.headerSize + error.offset), "frame LSN \(item.frame.lsn): \(error.message)")
            }
        }
        return scan.frames.last?.frame.lsn ?? (segment.firstLSN - 1)
    }

    /// The proven durable end (`DurableEnd`) beyond the end of the log: synced frames were
    /// lost. A damaged `SYNCED` slot is a warning (a torn update; the other slot is used).
    mutating func checkDurableEnd(_ manifest: Manifest, _ inventory: StoreInventory) {
        if let checkpointSegment, !inventory.segments.contains(where: { $0.name == checkpointSegment }) {
            problem(checkpointSegment, 0, "missing: the checkpoint at LSN \(manifest.checkpoints[0].lsn) started it durably, so the commits after that checkpoint are lost")
        }
        var synced: SyncedLSNRecord?
        if inventory.hasSyncedLSNRecord {
            report.filesChecked += 1
            do {
                let read = try SyncedLSNRecord.read(directory: directory, fileSystem: fileSystem)
                synced = read.newest
                for slot in read.damagedSlots {
                    warn(SyncedLSNRecord.fileName, Int64(slot * SyncedLSNRecord.slotStride), "slot \(slot) does not validate (a torn update, or damage): \(read.newest.map { "slot \($0.slot) is used" } ?? "no synced LSN is recorded") (rewritten at the next sync)")
                }
            } catch {
                problem(SyncedLSNRecord.fileName, 0, "unreadable: \(error)")
            }
        }
        let durable = DurableEnd(manifest: manifest, synced: synced)
        let end = max(logEnd, usableCheckpoint?.lsn ?? 0)
        guard durable.isLost(logEnd: end) else { return }
        let last = inventory.segments.last
        let offset = last.flatMap { try? fileSystem.status(path($0.name)).size } ?? 0
        problem(last?.name ?? durable.recordedBy, offset, durable.lossMessage(logEnd: end))
    }

    /// Possible losses an earlier recovery cut in an open that then failed (`PossibleLossRecord`):
    /// the next successful open reports and clears them; until then `verify` names each.
    mutating func checkPossibleLossRecord(_ inventory: StoreInventory) {
        guard inventory.hasPossibleLossRecord else { return }
        report.filesChecked += 1
        do {
            for cut in try PossibleLossRecord.read(directory: directory, fileSystem: fileSystem) {
                warn(cut.file, cut.offset, (cut.possibleLossWarning ?? cut.reason) + " (recorded in \(PossibleLossRecord.fileName) by an open that did not finish; the next open reports and clears it)")
            }
        } catch {
            problem(PossibleLossRecord.fileName, 0, "unreadable: \(error)")
        }
    }

    /// The cold tier, opened read-only: present when the checkpoint relies on it, readable, its
    /// meta table consistent, and not behind the checkpoint.
    mutating func checkColdTier() {
        let coldPath = ColdTier.path(in: directory)
        guard fileSystem.exists(coldPath) else {
            if let usableCheckpoint, usableCheckpoint.requiresColdTier {
                problem(ColdTier.fileName, 0, "missing, and the checkpoint at LSN \(usableCheckpoint.lsn) relies on it: the records flushed to it are lost")
            }
            return
        }
        report.filesChecked += 1
        do {
            // Nothing random or timed happens in a read-only open; fixed sources keep it pure.
            let cold = try ColdTier(
                directory: directory, fileSystem: fileSystem, clock: ManualClock(), random: SeededRandom(seed: 0), readOnly: true)
            defer { cold.close(clean: false) }
            try cold.check(pagesChecked: &report.coldPagesChecked)
            if let usableCheckpoint, usableCheckpoint.requiresColdTier, cold.lsn < usableCheckpoint.lsn {
                problem(ColdTier.fileName, 0, "the cold tier\(ColdTier.walNote(directory, fileSystem)) reflects LSN \(cold.lsn), behind the checkpoint at LSN \(usableCheckpoint.lsn) that relies on it: flushed records are missing")
            }
            if cold.lsn > max(logEnd, usableCheckpoint?.lsn ?? 0) {
                problem(ColdTier.fileName, 0, "reflects LSN \(cold.lsn), beyond the end of the log: committed log frames are missing")
            }
        } catch let error as StoreError where error.code == .notFound && !(usableCheckpoint?.requiresColdTier ?? false) {
            warn(ColdTier.fileName, 0, error.message + " (set up at the next writable open)")
        } catch let error as StoreError {
            problem(ColdTier.fileName, error.offset ?? 0, error.message)
        } catch {
            problem(ColdTier.fileName, 0, "\(error)")
        }
    }
}
