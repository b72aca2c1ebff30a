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

    /// A hash of what reads see: every entry (its directory's node number, name and kind) and
    /// every file's bytes, breadth first in bytewise name order. Two file systems with equal
    /// hashes hold (but for a 64-bit collision) the same image; crash exploration recovers each
    /// image once.
    public var imageHash: UInt64 {
        withLock {
            var hash = ImageHasher()
            var queue = [root]
            var next = 0
            while next < queue.count {
                let directory = queue[next]
                next += 1
                for name in directory.sortedNames {
                    switch directory.entries[name]! {
                    case .directory(let child):
                        hash.combine(directory: child.id, name: name, parent: directory.id)
                        queue.append(child)
                    case .file(let inode):
                        hash.combine(file: name, parent: directory.id, digest: ImageHasher.digest(inode.volatile))
                    }
                }
            }
            return hash.value
        }
    }
}

/// What a power loss leaves in one crash state, before it is built into a file system: the
/// namespace, the file images the state changed, and the image hash (equal to the built file
/// system's `imageHash`). Crash exploration hashes every state but builds only new images.
public struct CrashImage: Sendable {
    /// `SimulatedFileSystem.imageHash` of the file system this image builds into.
    public let hash: UInt64
    let entries: [Int: [String: PendingSnapshot.NodeRef]]
    /// Images of files the state's fates changed; the others are durable as they were.
    let changedImages: [Int: [UInt8]]
}

extension PendingSnapshot {
    /// Builds the file system `fate(i)` of each change `i` leaves (see `image`, `fileSystem`).
    func materialize(_ fate: (Int) -> ChangeFate) -> SimulatedFileSystem {
        var memo = ImageMemo()
        return fileSystem(image(fate, memo: &memo))
    }

    /// What states of one snapshot share: the namespace (with its files and walk order) for each
    /// set of kept directory operations, and the digest of each durable file image.
    struct ImageMemo {
        struct Namespace {
            var entries: [Int: [String: NodeRef]]
            var reachable: Set<Int>
            var walk: [(parent: Int, name: String, node: NodeRef)]
        }
        var namespaces: [[Bool]: Namespace] = [:]
        var digests: [Int: UInt64] = [:]
    }

    /// What `fate(i)` of each change `i` leaves: the kept directory operations applied to the
    /// durable namespace, the fates of each reachable file's changes applied to its durable
    /// image in issue order; hashed as `SimulatedFileSystem.imageHash` hashes the result.
    func image(_ fate: (Int) -> ChangeFate, memo: inout ImageMemo) -> CrashImage {
        let directoryKept = sources.indices.compactMap { index -> Bool? in
            if case .directory = sources[index] { fate(index).isKept } else { nil }
        }
        let shared = memo.namespaces[directoryKept] ?? {
            let entries = namespace { fate($0).isKept }
            var walk: [(parent: Int, name: String, node: NodeRef)] = []
            Self.walk(entries) { walk.append(($0, $1, $2)) }
            let made = ImageMemo.Namespace(entries: entries, reachable: Self.reachableFiles(entries), walk: walk)
            memo.namespaces[directoryKept] = made
            return made
        }()
        var images: [Int: [UInt8]] = [:]
        let sector = Int64(sectorSize)
        for (index, source) in sources.enumerated() {
            guard case .file(let inode, let change) = source, shared.reachable.contains(inode) else { continue }
            var image = images[inode] ?? durableImages[inode] ?? []
            // Only images a change reached are kept (and hashed in full); the others are durable.
            let changed = Self.apply(change, fate(index), sector: sector, to: &image) {
                SeededRandom(seed: SeededRandom.derive(seed: seed, label: "crash-state garbage \(change.callIndex)")).bytes($0)
            }
            if changed { images[inode] = image }
        }
        var hash = ImageHasher()
        for (parent, name, node) in shared.walk {
            if node.isDirectory {
                hash.combine(directory: node.id, name: name, parent: parent)
            } else if let image = images[node.id] {
                hash.combine(file: name, parent: parent, digest: ImageHasher.digest(image))
            } else {
                let digest = memo.digests[node.id] ?? ImageHasher.digest(durableImages[node.id] ?? [])
                memo.digests[node.id] = digest
                hash.combine(file: name, parent: parent, digest: digest)
            }
        }
        return CrashImage(hash: hash.value, entries: shared.entries, changedImages: images)
    }

    /// The file system `image` describes: everything durable, nothing pending, no faults.
    func fileSystem(_ image: CrashImage) -> SimulatedFileSystem {
        let (entries, images) = (image.entries, image.changedImages)
        let clone = SimulatedFileSystem(seed: seed, faults: .none, recordTrace: false)
        clone.hashesTrace = false
        clone.nextNodeID = nextNodeID
        var directories: [Int: SimulatedDirectory] = [0: clone.root]
        var inodes: [Int: SimulatedInode] = [:]
        var used: Int64 = 0
        Self.walk(entries) { parent, name, node in
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
    /// Returns whether anything of the change reached the image.
    @discardableResult
    static func apply(
        _ change: PendingChange, _ fate: ChangeFate, sector: Int64, to image: inout [UInt8],
        garbageBytes: (Int) -> [UInt8]
    ) -> Bool {
        if fate.isKept {
            change.apply(to: &image)
            return true
        }
        guard !change.isTruncate, !change.bytes.isEmpty else { return false }
        let first = change.landingOffset / sector
        let last = (change.landingEnd - 1) / sector
        let kept: [Int64]
        switch fate.landing {
        case .firstSectors: kept = Array(first..<min(last + 1, first + Int64(fate.sectors)))
        case .lastSectors: kept = Array(max(first, last + 1 - Int64(fate.sectors))...last)
        case .whole, .none: kept = []
        }
        let garbage = fate.garbage ? (first...last).filter { !kept.contains($0) } : []
        if kept.isEmpty && garbage.isEmpty && !fate.grewWithoutData { return false }
        SimulatedFileSystem.applyPartially(
            change, kept: kept, garbage: garbage, fill: fate.grewWithoutData ? .zeros : nil, sector: sector,
            to: &image, garbageBytes: garbageBytes)
        return true
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

    /// A file's image, as `combine(file:digest:)` takes it: files unchanged across crash states
    /// are hashed once (`PendingSnapshot.ImageMemo`).
    static func digest(_ bytes: [UInt8]) -> UInt64 {
        var hasher = ImageHasher()
        hasher.combine(bytes: bytes)
        return hasher.value
    }

    mutating func combine(directory id: Int, name: String, parent: Int) {
        combine(name: name, parent: parent)
        combine(word: 0xD ^ UInt64(id) << 8)
    }

    mutating func combine(file name: String, parent: Int, digest: UInt64) {
        combine(name: name, parent: parent)
        combine(word: 0xF)
        combine(word: digest)
    }

    private mutating func combine(name: String, parent: Int) {
        combine(word: UInt64(parent))
        var name = name
        name.withUTF8 { combine(raw: UnsafeRawBufferPointer($0)) }
    }

    mutating func combine(bytes: [UInt8]) {
        bytes.withUnsafeBytes { combine(raw: $0) }
    }

    private mutating func combine(raw: UnsafeRawBufferPointer) {
        combine(word: UInt64(raw.count))
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
