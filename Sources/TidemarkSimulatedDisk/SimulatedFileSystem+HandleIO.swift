import TidemarkIO

#if canImport(Glibc)
import Glibc
#endif

/// Handle calls and the data path: what a read sees, where a write goes (page cache, pending
/// change, capacity, misdirection, early writeback).
extension SimulatedFileSystem {
    // MARK: Handle operations (called by SimulatedFileHandle)

    func handleRead(_ handle: SimulatedFileHandle, at offset: Int64, count: Int) throws -> [UInt8] {
        try performCall(.read, handle.path, offset: offset, length: count) { index, event in
            let inode = try liveInode(handle)
            try HandleRules.validateRead(handle.options, offset: offset, count: count, path: handle.path)
            if injector.readError.chance(injector.configuration.readErrorProbability),
                takeFault(.readError, path: handle.path, callIndex: index, outcome: "eio on read of \(count) bytes at \(offset)", offset: offset)
            {
                stopFileSystemMaybe(afterErrorAt: handle.path, callIndex: index)
                throw FileSystemError(.io, "simulated EIO on read at offset \(offset)", path: handle.path, errno: EIO)
            }
            evictCleanPagesMaybe(inode, path: handle.path, callIndex: index, offset: offset)
            let size = Int64(inode.volatile.count)
            // Clamp before adding: offset and count come from the caller and may be huge.
            let end = offset < size ? offset + min(Int64(count), size - offset) : offset
            guard offset < end else {
                event.dataChecksum = CRC32C.checksum([])
                return []
            }
            for latent in injector.configuration.latentSectorErrors where handle.path.contains(latent.pathContains) {
                let (latentEnd, overflow) = latent.offset.addingReportingOverflow(latent.length)
                if offset < (overflow ? Int64.max : latentEnd) && latent.offset < end {
                    injector.configuredFaults.append(ConfiguredFault(
                        kind: .latentSectorError, path: handle.path, callIndex: index, offset: max(offset, latent.offset),
                        outcome: "eio on read of bytes \(latent.offset)..<\(latent.offset + latent.length)"))
                    stopFileSystemMaybe(afterErrorAt: handle.path, callIndex: index)
                    throw FileSystemError(
                        .io, "latent sector error in bytes \(latent.offset)..<\(latent.offset + latent.length)",
                        path: handle.path, errno: EIO)
                }
            }
            let bytes = Array(inode.volatile[Int(offset)..<Int(end)])
            event.dataChecksum = bytes.withUnsafeBytes { CRC32C.checksum($0) }
            return bytes
        }
    }

    func handleWrite(_ handle: SimulatedFileHandle, _ bytes: [UInt8], at offset: Int64) throws {
        let copyPagesBeforeKill = { (index: Int) in self.copyPagesBeforeKill(handle, bytes, at: offset, callIndex: index) }
        try performCall(.write, handle.path, offset: offset, length: bytes.count, whenKilled: copyPagesBeforeKill) { index, event in
            let inode = try liveInode(handle)
            try HandleRules.validateWrite(handle.options, offset: offset, path: handle.path)
            event.dataChecksum = bytes.withUnsafeBytes { CRC32C.checksum($0) }
            if bytes.isEmpty { return }
            try Self.checkFileSize(offset, plus: Int64(bytes.count), path: handle.path)
            if injector.writeError.chance(injector.configuration.writeErrorProbability) {
                let prefix = Int(injector.writeError.next(below: UInt64(bytes.count)))
                if takeFault(.writeError, path: handle.path, callIndex: index,
                             outcome: "eio after \(prefix) of \(bytes.count) bytes at \(offset)", offset: offset) {
                    if prefix > 0 {
                        try writeWithinCapacity(inode, Array(bytes[..<prefix]), at: offset, path: handle.path, callIndex: index)
                    }
                    stopFileSystemMaybe(afterErrorAt: handle.path, callIndex: index)
                    throw FileSystemError(
                        .io, "simulated EIO on write at offset \(offset) after \(prefix) of \(bytes.count) bytes",
                        path: handle.path, errno: EIO)
                }
            }
            try writeWithinCapacity(inode, bytes, at: offset, path: handle.path, callIndex: index)
        }
    }

    /// Maybe background writeback of the pending writes fails now: marked clean, never durable,
    /// reported later to each descriptor open now.
    func failWritebackMaybe(_ inode: SimulatedInode, path: String, callIndex: Int) {
        let probability = injector.configuration.writebackErrorProbability
        guard probability > 0, injector.writebackError.chance(probability),
            takeFault(.writebackError, path: path, callIndex: callIndex,
                      outcome: "background writeback failed; \(inode.pending.count) pending changes marked clean")
        else { return }
        inode.markPendingClean()
        inode.writebackErrors.record(.io)
        stopFileSystemMaybe(afterErrorAt: path, callIndex: callIndex)
    }

    /// Maybe delayed allocation finds no blocks for the file's growth in background writeback:
    /// marked clean, never durable, ENOSPC reported later to each descriptor open now.
    func failWritebackForSpaceMaybe(_ inode: SimulatedInode, path: String, callIndex: Int) {
        let probability = injector.configuration.writebackNoSpaceProbability
        guard probability > 0, inode.volatile.count > inode.durable.count, !inode.pending.isEmpty,
            injector.writebackNoSpace.chance(probability),
            takeFault(.writebackNoSpace, path: path, callIndex: callIndex,
                      outcome: "enospc in background writeback; \(inode.pending.count) pending changes marked clean")
        else { return }
        inode.markPendingClean()
        inode.writebackErrors.record(.noSpace)
    }

    /// Maybe forgets the clean pages of `inode`: what reads see becomes the durable image, at
    /// the file's current size (that lives in the inode, not in pages), under the dirty pages.
    func evictCleanPagesMaybe(_ inode: SimulatedInode, path: String, callIndex: Int, offset: Int64) {
        let probability = injector.configuration.pageEvictionProbability
        guard probability > 0, injector.pageEviction.chance(probability) else { return }
        var image = inode.durable
        image.resize(to: inode.volatile.count)
        for change in inode.pending {
            if change.isTruncate { image.resize(to: Int(change.offset)) } else { image.write(change.bytes, at: Int(change.offset)) }
        }
        image.resize(to: inode.volatile.count)
        guard image != inode.volatile,
            takeFault(.pageEviction, path: path, callIndex: callIndex,
                      outcome: "clean pages evicted: reads come from the disk", offset: offset)
        else { return }
        inode.volatile = image
    }

    /// The page cache's page: a write copies page by page, and a SIGKILL lands between two.
    static let pageSize: Int64 = 4096

    /// A kill point fired on this write: maybe a prefix of whole pages was copied in already.
    func copyPagesBeforeKill(_ handle: SimulatedFileHandle, _ bytes: [UInt8], at offset: Int64, callIndex: Int) {
        let probability = injector.configuration.killMidWriteProbability
        let page = Self.pageSize, end = offset + Int64(bytes.count)
        let boundaries = bytes.isEmpty ? 0 : (end - 1) / page - offset / page
        guard probability > 0, boundaries > 0, let inode = try? liveInode(handle),
            (try? HandleRules.validateWrite(handle.options, offset: offset, path: handle.path)) != nil,
            (try? Self.checkFileSize(offset, plus: Int64(bytes.count), path: handle.path)) != nil,
            injector.killMidWrite.chance(probability)
        else { return }
        let cut = (offset / page + 1 + Int64(injector.killMidWrite.next(below: UInt64(boundaries)))) * page
        let copied = Int(cut - offset)
        guard takeFault(.killMidWrite, path: handle.path, callIndex: callIndex,
                        outcome: "killed after \(copied) of \(bytes.count) bytes at \(offset) reached the page cache", offset: offset)
        else { return }
        try? writeWithinCapacity(inode, Array(bytes[..<copied]), at: offset, path: handle.path, callIndex: callIndex)
    }

    func handleSize(_ handle: SimulatedFileHandle) throws -> Int64 {
        try performCall(.size, handle.path) { _, _ in
            Int64(try liveInode(handle).volatile.count)
        }
    }

    func handleTruncate(_ handle: SimulatedFileHandle, to size: Int64) throws {
        try performCall(.truncate, handle.path, offset: size) { index, _ in
            let inode = try liveInode(handle)
            try HandleRules.validateTruncate(handle.options, size: size, path: handle.path)
            try Self.checkFileSize(size, plus: 0, path: handle.path)
            applyVolatileTruncate(inode, to: size, path: handle.path, callIndex: index)
        }
    }

    func handleSync(_ handle: SimulatedFileHandle, operation: FileOperation) throws {
        try performCall(operation, handle.path) { index, _ in
            let inode = try liveInode(handle)
            try reportRecordedWritebackError(inode, to: handle, operation: operation, callIndex: index)
            let errseq = injector.configuration.fsyncErrorReporting == .errseq
            if !errseq && inode.lastSyncFailed {
                // The per-file rule: the error was reported once; the next fsync succeeds.
                inode.lastSyncFailed = false
            } else if injector.fsyncError.chance(injector.configuration.fsyncErrorProbability),
                takeFault(.fsyncError, path: handle.path, callIndex: index,
                          outcome: "eio; \(inode.pending.count) pending changes marked clean")
            {
                inode.markPendingClean()
                if errseq {
                    // Recorded on the file; this descriptor reports it now, the others later.
                    inode.writebackErrors.record(.io)
                    handle.seenWritebackErrors = inode.writebackErrors.count
                } else {
                    inode.lastSyncFailed = true
                }
                stopFileSystemMaybe(afterErrorAt: handle.path, callIndex: index)
                throw FileSystemError(.io, "simulated EIO on \(operation.rawValue)", path: handle.path, errno: EIO)
            }
            try failSyncForSpaceMaybe(inode, handle: handle, operation: operation, callIndex: index)
            inode.flushPending(count: inode.pending.count)
            untrackIfSettled(inode)
        }
    }

    /// errseq: a writeback error recorded on the file since this descriptor last looked is
    /// reported once, by its next sync, with the latest error's code; what is dirty now is
    /// written back all the same.
    func reportRecordedWritebackError(
        _ inode: SimulatedInode, to handle: SimulatedFileHandle, operation: FileOperation, callIndex: Int
    ) throws {
        guard handle.seenWritebackErrors < inode.writebackErrors.count else { return }
        handle.seenWritebackErrors = inode.writebackErrors.count
        inode.flushPending(count: inode.pending.count)
        untrackIfSettled(inode)
        let code = inode.writebackErrors.latest
        let name = code == .noSpace ? "ENOSPC" : "EIO"
        if injector.configuration.fsyncErrorReporting == .errseq || code == .noSpace {
            injector.configuredFaults.append(ConfiguredFault(
                kind: .writebackErrorReported, path: handle.path, callIndex: callIndex, offset: 0,
                outcome: "\(name.lowercased()) recorded on the file earlier, reported to this descriptor"))
        }
        throw FileSystemError(
            code, "simulated \(name) on \(operation.rawValue): writeback failed since this descriptor's last sync (errseq)",
            path: handle.path, errno: code == .noSpace ? ENOSPC : EIO)
    }

    /// Delayed allocation: a sync that must allocate blocks for pending growth may find none.
    func failSyncForSpaceMaybe(_ inode: SimulatedInode, handle: SimulatedFileHandle, operation: FileOperation, callIndex: Int) throws {
        let probability = injector.configuration.syncNoSpaceProbability
        guard probability > 0, inode.volatile.count > inode.durable.count, !inode.pending.isEmpty,
            injector.syncNoSpace.chance(probability),
            takeFault(.syncNoSpace, path: handle.path, callIndex: callIndex,
                      outcome: "enospc at writeback; \(inode.pending.count) pending changes marked clean")
        else { return }
        inode.markPendingClean()
        throw FileSystemError(.noSpace, "simulated ENOSPC on \(operation.rawValue) (delayed allocation)", path: handle.path, errno: ENOSPC)
    }

    func handleClose(_ handle: SimulatedFileHandle) throws {
        try performCall(.close, handle.path) { _, _ in
            let inode = try liveInode(handle)
            handle.isClosed = true
            releaseLock(of: handle)
            inode.openHandles -= 1
            if inode.openHandles == 0 {
                openInodes[inode.id] = nil
                if !inode.linked { releaseSpace(of: inode) }
            }
        }
    }

    // MARK: Data

    /// The largest file the simulator holds (its images live in memory). A write or truncate
    /// beyond it fails with `.noSpace` (errno EFBIG), as a real file-size limit would.
    public static let maximumFileSize: Int64 = 1 << 30

    static func checkFileSize(_ offset: Int64, plus count: Int64, path: String) throws {
        if offset > maximumFileSize || count > maximumFileSize - offset {
            throw FileSystemError(
                .noSpace, "offset \(offset) + \(count) bytes exceeds the simulated maximum file size \(maximumFileSize)",
                path: path, errno: EFBIG)
        }
    }

    func liveInode(_ handle: SimulatedFileHandle) throws -> SimulatedInode {
        if handle.isClosed {
            throw FileSystemError(.closed, "handle is closed", path: handle.path, errno: EBADF)
        }
        if handle.epoch != epoch {
            throw FileSystemError(.closed, "handle died in a simulated crash", path: handle.path, errno: EBADF)
        }
        return handle.inode
    }

    /// Writes what fits under `capacityBytes`; throws `.noSpace` after writing the prefix that
    /// fits. The size never grows past the bytes actually written (no phantom bytes).
    func writeWithinCapacity(
        _ inode: SimulatedInode, _ bytes: [UInt8], at offset: Int64, path: String, callIndex: Int
    ) throws {
        let size = Int64(inode.volatile.count)
        let growth = max(0, offset + Int64(bytes.count) - size)
        if let capacity = injector.configuration.capacityBytes, growth > 0, usedBytes + growth > capacity {
            let room = max(0, capacity - usedBytes)
            let fits = Int(max(0, min(Int64(bytes.count), size + room - offset)))
            let held = heldBytes
            let heldCaused = held > 0 && usedBytes - held + growth <= capacity
            if fits > 0 { applyWrite(inode, Array(bytes[..<fits]), at: offset, path: path, callIndex: callIndex) }
            injector.configuredFaults.append(ConfiguredFault(
                kind: heldCaused ? .diskFullHeldByUnlink : .diskFull, path: path, callIndex: callIndex, offset: offset + Int64(fits),
                outcome: "enospc after \(fits) of \(bytes.count) bytes at \(offset)"))
            throw FileSystemError(
                .noSpace, "simulated ENOSPC: capacity \(capacity) bytes, wrote \(fits) of \(bytes.count) at offset \(offset)",
                path: path, errno: ENOSPC)
        }
        applyWrite(inode, bytes, at: offset, path: path, callIndex: callIndex)
    }

    /// A successful write: the page cache takes it, it becomes pending, and maybe the disk gets
    /// it elsewhere (misdirected) or early (writeback).
    func applyWrite(_ inode: SimulatedInode, _ bytes: [UInt8], at offset: Int64, path: String, callIndex: Int) {
        let oldSize = inode.volatile.count
        inode.volatile.write(bytes, at: Int(offset))
        if inode.linked || inode.openHandles > 0 { usedBytes += Int64(inode.volatile.count - oldSize) }
        var change = PendingChange(
            path: path, callIndex: callIndex, offset: offset, bytes: bytes, isTruncate: false, landingOffset: offset)
        if injector.misdirectedWrite.chance(injector.configuration.misdirectedWriteProbability) {
            let sector = Int64(injector.configuration.effectiveSectorSize)
            let lastStart = max(0, Int64(inode.volatile.count) - Int64(bytes.count))
            let candidates = lastStart / sector + 1
            let pick = Int64(injector.misdirectedWrite.next(below: UInt64(candidates))) * sector
            if pick != offset,
                takeFault(.misdirectedWrite, path: path, callIndex: callIndex,
                          outcome: "\(bytes.count) bytes for offset \(offset) land at \(pick)", offset: offset)
            {
                change.landingOffset = pick
            }
        }
        inode.pending.append(change)
        trackedInodes[inode.id] = inode
        failWritebackMaybe(inode, path: path, callIndex: callIndex)
        failWritebackForSpaceMaybe(inode, path: path, callIndex: callIndex)
        if injector.earlyWriteback.chance(injector.configuration.earlyWritebackProbability),
            takeFault(.earlyWriteback, path: path, callIndex: callIndex,
                      outcome: "\(inode.pending.count) pending changes written back before any sync")
        {
            inode.flushPending(count: inode.pending.count)
            untrackIfSettled(inode)
        }
    }

    func applyVolatileTruncate(_ inode: SimulatedInode, to size: Int64, path: String, callIndex: Int) {
        let oldSize = inode.volatile.count
        inode.volatile.resize(to: Int(size))
        if inode.linked || inode.openHandles > 0 { usedBytes += Int64(inode.volatile.count - oldSize) }
        inode.pending.append(PendingChange(
            path: path, callIndex: callIndex, offset: size, bytes: [], isTruncate: true, landingOffset: size))
        trackedInodes[inode.id] = inode
    }

    func untrackIfSettled(_ inode: SimulatedInode) {
        if inode.pending.isEmpty && inode.lostToFsyncError.isEmpty { trackedInodes[inode.id] = nil }
    }
}
