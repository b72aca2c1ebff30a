import TidemarkIO

/// Crash clones: the states a power loss may leave, each as an independent file system (the
/// model Pebble's MemFS moved to). An engine's own test can stop at any call, enumerate the legal
/// crash states there and recover on each:
///
///     let states = disk.crashStates(model: .weakest, budget: 1000)
///     for state in states.states {
///         let clone = states.materialize(state)      // recover and check on `clone`
///     }
extension SimulatedFileSystem {
    /// The crash states a power loss may leave now (see `CrashStateEnumerator`).
    public func crashStates(model: PersistenceModel = .weakest, budget: Int = 4096) -> CrashStateSet {
        CrashStateEnumerator(model: model, budget: budget).enumerate(self)
    }

    /// The file system a power loss leaves now with the fates `pin` names (a pending change it
    /// does not name is lost): the one crash state a failure file recorded.
    public func crashClone(_ pin: CrashStatePin) -> SimulatedFileSystem {
        let snapshot = withLock { PendingSnapshot(self) }
        return snapshot.materialize { pin.fate(of: snapshot.changes[$0].key) }
    }

    /// A hash of what reads see: every path, its kind, and every file's bytes, in bytewise path
    /// order. Two file systems with equal hashes hold (but for a 64-bit collision) the same
    /// image; crash exploration recovers each image once.
    public var imageHash: UInt64 {
        withLock {
            var hash = ImageHasher()
            var queue: [(String, SimulatedDirectory)] = [("", root)]
            var next = 0
            while next < queue.count {
                let (prefix, directory) = queue[next]
                next += 1
                for name in directory.sortedNames {
                    let path = prefix + "/" + name
                    hash.combine(bytes: Array(path.utf8))
                    switch directory.entries[name]! {
                    case .directory(let child):
                        hash.combine(word: 0xD)
                        queue.append((path, child))
                    case .file(let inode):
                        hash.combine(word: 0xF ^ (UInt64(inode.volatile.count) << 8))
                        hash.combine(bytes: inode.volatile)
                    }
                }
            }
            return hash.value
        }
    }
}

extension PendingSnapshot {
    /// Builds the file system `fate(i)` of each change `i` leaves: the kept directory operations
    /// applied to the durable namespace, the fates of each reachable file's changes applied to
    /// its durable image in issue order, everything durable and nothing pending.
    func materialize(_ fate: (Int) -> ChangeFate) -> SimulatedFileSystem {
        let entries = namespace { fate($0).isKept }
        let reachable = Self.reachableFiles(entries)
        var images: [Int: [UInt8]] = [:]
        let sector = Int64(sectorSize)
        for (index, source) in sources.enumerated() {
            guard case .file(let inode, let change) = source, reachable.contains(inode) else { continue }
            var image = images[inode] ?? durableImages[inode] ?? []
            Self.apply(change, fate(index), sector: sector, to: &image) {
                SeededRandom(seed: SeededRandom.derive(seed: seed, label: "crash-state garbage \(change.callIndex)")).bytes($0)
            }
            images[inode] = image
        }

        let clone = SimulatedFileSystem(seed: seed, faults: .none, recordTrace: false)
        clone.nextNodeID = nextNodeID
        var directories: [Int: SimulatedDirectory] = [0: clone.root]
        var inodes: [Int: SimulatedInode] = [:]
        var used: Int64 = 0
        Self.walk(entries) { _, parent, name, node in
            guard let directory = directories[parent] else { return }
            let object: SimulatedNode
            if node.isDirectory {
                let child = SimulatedDirectory(id: node.id)
                directories[node.id] = child
                object = .directory(child)
            } else if let inode = inodes[node.id] {
                object = .file(inode)
            } else {
                let inode = SimulatedInode(id: node.id)
                inode.durable = images[node.id] ?? durableImages[node.id] ?? []
                inode.volatile = inode.durable
                used += Int64(inode.volatile.count)
                inodes[node.id] = inode
                object = .file(inode)
            }
            directory.entries[name] = object
            directory.durableEntries[name] = object
        }
        clone.usedBytes = used
        return clone
    }

    /// Applies one change with its fate to a durable image.
    static func apply(
        _ change: PendingChange, _ fate: ChangeFate, sector: Int64, to image: inout [UInt8],
        garbageBytes: (Int) -> [UInt8]
    ) {
        if fate.isKept {
            change.apply(to: &image)
            return
        }
        guard !change.isTruncate, !change.bytes.isEmpty else { return }
        let first = change.landingOffset / sector
        let last = (change.landingEnd - 1) / sector
        let kept: [Int64]
        switch fate.landing {
        case .firstSectors: kept = Array(first..<min(last + 1, first + Int64(fate.sectors)))
        case .lastSectors: kept = Array(max(first, last + 1 - Int64(fate.sectors))...last)
        case .whole, .none: kept = []
        }
        let garbage = fate.garbage ? (first...last).filter { !kept.contains($0) } : []
        if kept.isEmpty && garbage.isEmpty && !fate.grewWithoutData { return }
        SimulatedFileSystem.applyPartially(
            change, kept: kept, garbage: garbage, fill: fate.grewWithoutData ? .zeros : nil, sector: sector,
            to: &image, garbageBytes: garbageBytes)
    }
}

/// FNV-1a over 64-bit words (eight times fewer steps than byte-wise FNV-1a), for image hashes.
struct ImageHasher {
    private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

    mutating func combine(word: UInt64) {
        value ^= word
        value &*= 0x0000_0100_0000_01B3
        value ^= value >> 29
    }

    mutating func combine(bytes: [UInt8]) {
        combine(word: UInt64(bytes.count))
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset + 8 <= raw.count {
                combine(word: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
                offset += 8
            }
            var tail: UInt64 = 0
            while offset < raw.count {
                tail = tail << 8 | UInt64(raw[offset])
                offset += 1
            }
            combine(word: tail)
        }
    }
}
