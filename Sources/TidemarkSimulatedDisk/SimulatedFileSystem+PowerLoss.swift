import TidemarkIO

/// Crashes: a process kill keeps the page cache; a power loss settles the fate of everything
/// pending (see the fault model in `FaultInjector.swift`).
extension SimulatedFileSystem {
    // MARK: Crash

    /// Crashes now: applies power-loss or process-kill semantics, invalidates every open handle
    /// (later calls on them throw `.closed`), clears `isHalted` and reports what happened.
    @discardableResult
    public func crash(_ kind: CrashKind) -> CrashReport {
        withLock {
            crashCount += 1
            var report = CrashReport(
                kind: kind, callIndex: calls, crashNumber: crashCount, keptEverything: false,
                handlesInvalidated: openInodes.values.reduce(0) { $0 + $1.openHandles },
                writes: [], directoryOperations: [], vanishedFiles: [], vanishedDirectories: [],
                reappeared: [], bitFlips: [])
            epoch += 1
            for inode in openInodes.values {
                inode.openHandles = 0
                if !inode.linked { releaseSpace(of: inode) }
            }
            openInodes.removeAll()
            fileLocks.removeAll()
            mountState = .mounted  // a crash restarts the machine, or remounts the file system
            if kind == .powerLoss { losePower(into: &report) }
            halted = false
            haltError = nil
            hasher.combine(report)
            return report
        }
    }

    // MARK: Power loss

    /// Settles every pending directory operation and file change, applies bit rot, and rebuilds
    /// the volatile state from the durable one.
    func losePower(into report: inout CrashReport) {
        let faults = injector.configuration
        let random = injector.crash
        let before = volatileTree()
        // An enumerated crash state, when the configuration asks for one, decides every fate.
        let enumerated = faults.enumeratedCrashStates.map { drawEnumeratedState($0, budget: faults.enumeratedCrashStateBudget) }
        let keepAll = enumerated == nil && random.chance(faults.keepAllProbability)
        report.keptEverything = keepAll
        let prefixOnly = faults.reorder == .orderedPrefix

        // Directory operations, in issue order (a journal commits them in order).
        // Once an operation on a node is lost, later ones on that node are lost too (they
        // depend on it), without a decision of their own.
        var directoryStopped = false
        var lostNodes: Set<Int> = []
        for operation in pendingDirectoryOperations {
            let draw = random.chance(faults.directoryOperationSurvivalProbability)
            // An enumerated state is legal already: it loses what depends on a lost operation.
            let dependsOnLost = enumerated == nil && lostNodes.contains(operation.node.id)
            var survived = enumerated?.fate(of: .init(callIndex: operation.callIndex, isDirectoryOperation: true)).isKept
                ?? (keepAll || (draw && !(prefixOnly && directoryStopped)))
            if dependsOnLost {
                survived = false
            } else if !survived {
                let described = operation.kind == .rename
                    ? "\(operation.kind.rawValue) \(operation.path) -> \(operation.destinationPath ?? "")"
                    : "\(operation.kind.rawValue) \(operation.path)"
                survived = !takeFault(.directoryOperationLost, path: operation.path, callIndex: operation.callIndex,
                                      outcome: "lost: \(described)")
            }
            if survived {
                operation.applyDurably()
            } else {
                lostNodes.insert(operation.node.id)
                if prefixOnly { directoryStopped = true }
            }
            report.directoryOperations.append(CrashReport.DirectoryOperationFate(
                kind: operation.kind, path: operation.path, destination: operation.destinationPath,
                callIndex: operation.callIndex, survived: survived))
        }
        pendingDirectoryOperations.removeAll()

        // File changes, per inode in creation order.
        for id in trackedInodes.keys.sorted() {
            guard let inode = trackedInodes[id] else { continue }
            for change in inode.lostToFsyncError {
                report.writes.append(fate(of: change, .lostToFsyncError))
            }
            var stopped = false
            for change in inode.pending {
                if let enumerated {
                    report.writes.append(settle(change, in: inode, as: enumerated.fate(of: .init(callIndex: change.callIndex, isDirectoryOperation: false))))
                } else {
                    report.writes.append(settle(change, in: inode, keepAll: keepAll, stopped: &stopped))
                }
            }
            inode.pending.removeAll()
            inode.lostToFsyncError.removeAll()
        }
        trackedInodes.removeAll()

        // What survived: walk the durable namespace, which becomes the volatile one.
        var after: [String: SimulatedNode] = [:]
        var visited: Set<Int> = [root.id]
        var queue: [(String, SimulatedDirectory)] = [("", root)]
        var next = 0
        usedBytes = 0
        spaceHeldByUnlinks.removeAll()
        while next < queue.count {
            let (prefix, directory) = queue[next]
            next += 1
            directory.entries = directory.durableEntries
            for name in directory.sortedDurableNames {
                let path = prefix + "/" + name
                guard let node = directory.durableEntries[name] else { continue }
                switch node {
                case .directory(let child):
                    // A reordered pair of directory renames can leave a cycle: cut it.
                    guard visited.insert(child.id).inserted else { directory.entries[name] = nil; continue }
                    after[path] = node
                    queue.append((path, child))
                case .file(let inode):
                    after[path] = node
                    inode.linked = true
                }
            }
        }

        // Bit rot strikes durable bytes at rest.
        if random.chance(faults.bitRotPerCrashProbability) {
            for path in after.keys.sorted(by: bytewiseLess) {
                guard case .file(let inode)? = after[path] else { continue }
                let strikes = random.chance(faults.bitRotPerFileProbability)
                guard strikes, !inode.durable.isEmpty else { continue }
                let offset = Int(random.next(below: UInt64(inode.durable.count)))
                let bit = Int(random.next(below: 8))
                if takeFault(.bitRot, path: path, callIndex: calls, outcome: "flipped bit \(bit) of byte \(offset)", offset: Int64(offset)) {
                    inode.durable[offset] ^= UInt8(1 << bit)
                    report.bitFlips.append(CrashReport.BitFlip(path: path, offset: Int64(offset), bit: bit))
                }
            }
        }

        for node in after.values {
            if case .file(let inode) = node {
                inode.volatile = inode.durable
                usedBytes += Int64(inode.volatile.count)
            }
        }
        for (path, node) in before.sorted(by: { bytewiseLess($0.key, $1.key) }) where after[path] == nil {
            if case .directory = node { report.vanishedDirectories.append(path) } else { report.vanishedFiles.append(path) }
        }
        report.reappeared = after.keys.filter { before[$0] == nil }.sorted(by: bytewiseLess)
    }

    func fate(of change: PendingChange, _ fate: CrashReport.Fate) -> CrashReport.WriteFate {
        CrashReport.WriteFate(
            path: change.path, offset: change.offset, length: change.bytes.count, isTruncate: change.isTruncate,
            callIndex: change.callIndex, fate: fate, keptSectors: [], garbageSectors: [], unsafeAppendFill: nil,
            misdirectedTo: change.isMisdirected ? change.landingOffset : nil)
    }

    /// Decides and applies the fate of one pending change at a power loss.
    func settle(
        _ change: PendingChange, in inode: SimulatedInode, keepAll: Bool, stopped: inout Bool
    ) -> CrashReport.WriteFate {
        let faults = injector.configuration
        let random = injector.crash
        let sector = Int64(faults.effectiveSectorSize)
        let firstSector = change.landingOffset / sector
        let lastSector = change.bytes.isEmpty ? firstSector : (change.landingEnd - 1) / sector
        let draw = random.chance(faults.writeSurvivalProbability)
        if keepAll || (draw && !stopped) {
            change.apply(to: &inode.durable)
            return fate(of: change, .survived)
        }
        // Not whole: torn (sector by sector) or dropped; maybe garbage; maybe an unsafe append.
        var result = fate(of: change, .dropped)
        var kept: [Int64] = []
        if !change.isTruncate, lastSector > firstSector, !stopped, random.chance(faults.tornWriteProbability) {
            for number in firstSector...lastSector where random.next(below: 2) == 1 { kept.append(number) }
            if kept.isEmpty { kept.append(firstSector + Int64(random.next(below: UInt64(lastSector - firstSector + 1)))) }
            if kept.count == Int(lastSector - firstSector + 1) { kept.remove(at: Int(random.next(below: UInt64(kept.count)))) }
            result.fate = .torn
            result.keptSectors = kept
        }
        var garbage: [Int64] = []
        if result.fate == .torn {
            let keptSet = Set(kept)
            for number in firstSector...lastSector where !keptSet.contains(number) && random.chance(faults.garbageProbability) {
                garbage.append(number)
            }
        }
        // Its own stream, drawn only when the knob is on, so other draws never shift.
        var garbled: [Int64] = []
        if !change.isTruncate, faults.sectorGarbleProbability > 0,
            injector.sectorGarble.chance(faults.sectorGarbleProbability)
        {
            let untouched = Set(kept).union(garbage)
            garbled = (firstSector...lastSector).filter { !untouched.contains($0) }
        }
        let oldSize = Int64(inode.durable.count)
        var fill: CrashReport.AppendFill?
        if !change.isTruncate, change.end > oldSize, random.chance(faults.unsafeAppendProbability) {
            fill = random.chance(faults.garbageProbability) ? .garbage : .zeros
        }
        let described = result.fate == .torn ? "torn: kept sectors \(kept)" : "dropped"
        guard takeFault(.writeLost, path: change.path, callIndex: change.callIndex,
                        outcome: "\(described) (\(change.isTruncate ? "truncate to" : "\(change.bytes.count) bytes at") \(change.offset))",
                        offset: change.offset)
        else {
            change.apply(to: &inode.durable)
            return fate(of: change, .survived)
        }
        // In ordered-prefix mode nothing after the first lost change survives.
        if faults.reorder == .orderedPrefix { stopped = true }
        if !garbage.isEmpty,
            takeFault(.garbage, path: change.path, callIndex: change.callIndex, outcome: "random bytes in sectors \(garbage)", offset: change.offset)
        {
            result.garbageSectors = garbage
        }
        if !garbled.isEmpty,
            takeFault(.sectorGarble, path: change.path, callIndex: change.callIndex,
                      outcome: "whole sectors \(garbled) garbled (no powersafe overwrite)", offset: change.offset)
        {
            result.garbageSectors = (result.garbageSectors + garbled).sorted()
        }
        if let chosen = fill,
            takeFault(.unsafeAppend, path: change.path, callIndex: change.callIndex,
                      outcome: "size grew to \(change.end) with \(chosen.rawValue)", offset: change.offset)
        {
            result.unsafeAppendFill = chosen
        }
        Self.applyPartially(change, kept: kept, garbage: result.garbageSectors, fill: result.unsafeAppendFill,
                            sector: sector, to: &inode.durable, garbageBytes: random.bytes)
        return result
    }

    /// One crash state the enumerator lists under `model` now, drawn uniformly from the crash
    /// stream (called with the lock held).
    func drawEnumeratedState(_ model: PersistenceModel, budget: Int) -> CrashStatePin {
        let set = CrashStateEnumerator(model: model, budget: budget).enumerate(PendingSnapshot(self))
        guard !set.states.isEmpty else { return CrashStatePin(model: model, fates: []) }
        return set.states[Int(injector.crash.next(below: UInt64(set.states.count)))].pin
    }

    /// Applies a pending change with the fate an enumerated crash state gave it, as the crash
    /// clone of that state would (`PendingSnapshot.apply`), and reports it.
    func settle(_ change: PendingChange, in inode: SimulatedInode, as changeFate: ChangeFate) -> CrashReport.WriteFate {
        if changeFate.isKept {
            change.apply(to: &inode.durable)
            return fate(of: change, .survived)
        }
        guard takeFault(.writeLost, path: change.path, callIndex: change.callIndex,
                        outcome: "\(changeFate.landing == .none ? "dropped" : "torn") (enumerated crash state)", offset: change.offset)
        else {
            change.apply(to: &inode.durable)
            return fate(of: change, .survived)
        }
        let sector = Int64(injector.configuration.effectiveSectorSize)
        PendingSnapshot.apply(change, changeFate, sector: sector, to: &inode.durable) {
            SeededRandom(seed: SeededRandom.derive(seed: seed, label: "crash-state garbage \(change.callIndex)")).bytes($0)
        }
        return fate(of: change, changeFate.landing == .none && !changeFate.garbage && !changeFate.grewWithoutData ? .dropped : .torn)
    }

    /// Applies the landed sectors of a write that did not survive whole. The size grows only over
    /// the contiguous landed prefix past the old end (data before metadata), or to the whole
    /// write with an unsafe append (whose unlanded bytes read as zeros or garbage).
    /// `garbageBytes(n)` supplies the random bytes (the crash stream, or a crash state's own).
    static func applyPartially(
        _ change: PendingChange, kept: [Int64], garbage: [Int64], fill: CrashReport.AppendFill?,
        sector: Int64, to image: inout [UInt8], garbageBytes: (Int) -> [UInt8]
    ) {
        let oldSize = Int64(image.count)
        var grownTo = oldSize
        if let fill {
            let end = max(change.end, change.landingEnd)
            if end > oldSize {
                let filler = fill == .zeros ? [UInt8](repeating: 0, count: Int(end - oldSize)) : garbageBytes(Int(end - oldSize))
                image.append(contentsOf: filler)
                grownTo = end
            }
        }
        // Portions of the write, one per sector, in order.
        var portions: [(sector: Int64, start: Int64, end: Int64)] = []
        var position = change.landingOffset
        while position < change.landingEnd {
            let number = position / sector
            let end = min(change.landingEnd, (number + 1) * sector)
            portions.append((number, position, end))
            position = end
        }
        let kept = Set(kept)
        if fill == nil {
            for portion in portions where portion.end > oldSize {
                guard kept.contains(portion.sector), portion.start <= grownTo else { break }
                grownTo = portion.end
            }
            if grownTo > oldSize { image.resize(to: Int(grownTo)) }
        }
        for portion in portions where kept.contains(portion.sector) && portion.start < grownTo {
            let end = min(portion.end, grownTo)
            let from = Int(portion.start - change.landingOffset), to = Int(end - change.landingOffset)
            image.write(change.bytes[from..<to], at: Int(portion.start))
        }
        for number in garbage {
            let start = number * sector, end = min((number + 1) * sector, Int64(image.count))
            if start < end { image.write(garbageBytes(Int(end - start)), at: Int(start)) }
        }
    }

    /// Every path in the volatile namespace (for vanished/reappeared in crash reports).
    func volatileTree() -> [String: SimulatedNode] {
        var result: [String: SimulatedNode] = [:]
        var queue: [(String, SimulatedDirectory)] = [("", root)]
        var next = 0
        while next < queue.count {
            let (prefix, directory) = queue[next]
            next += 1
            for (name, node) in directory.entries {
                let path = prefix + "/" + name
                result[path] = node
                if case .directory(let child) = node { queue.append((path, child)) }
            }
        }
        return result
    }
}
