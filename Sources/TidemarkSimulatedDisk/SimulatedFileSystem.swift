import Foundation
import TidemarkIO

/// An in-memory file system that behaves like POSIX on a real disk, including everything a real
/// disk is allowed to do at a crash, and injects the faults in `faults`.
///
/// Each file has a volatile image (what reads see: the page cache) and a durable image (what is
/// on disk), with the ordered pending changes in between; each directory has volatile and durable
/// entries, with pending entry operations (create, rename, remove) in between. `sync` makes a
/// file's data and size durable, `syncDirectory` a directory's entries; `close` makes nothing
/// durable. `crash(.powerLoss)` settles the fate of everything pending, `crash(.processKill)`
/// keeps it all and only kills the handles. The fault model is stated once, at the top of
/// `FaultInjector.swift`; its knobs are `FaultConfiguration`.
///
/// Deterministic: every random choice comes from the `FaultInjector`'s `SeededRandom(seed)`
/// streams, every fault taken is recorded in `decisions`, and every call, decision and crash is
/// folded into `traceHash`. Thread-safe (one lock), though campaigns drive it from
/// one thread.
///
/// Not modelled: symlinks, hard links, permissions, timestamps; `..` is resolved lexically.
public final class SimulatedFileSystem: HaltableFileSystem, @unchecked Sendable {
    // Everything below is guarded by `lock`. Public entry points and handle calls take it
    // (through `performCall` or `withLock`); the internal helpers in the extension files assume
    // it is held.
    let lock = NSLock()
    let root = SimulatedDirectory(id: 0)
    var nextNodeID = 1
    /// Inodes with pending changes or fsync-lost changes, by id (iterated sorted: determinism).
    var trackedInodes: [Int: SimulatedInode] = [:]
    /// Inodes with open handles (so a process kill can release them).
    var openInodes: [Int: SimulatedInode] = [:]
    /// `flock` holders by inode id: handle to exclusive or not (`SimulatedFileSystem+Lock`).
    var fileLocks: [Int: [ObjectIdentifier: Bool]] = [:]
    var pendingDirectoryOperations: [PendingDirectoryOperation] = []
    /// Incremented by every crash; handles from an older epoch are dead.
    var epoch = 0
    var crashCount = 0
    var killPointMatches = 0
    var haltError: FileSystemError?
    var hasher = TraceHasher()
    var traceEvents: [TraceEvent] = []
    var usedBytes: Int64 = 0
    /// Unlinked files whose bytes `usedBytes` still counts (`holdSpaceUntilUnlinkDurable`).
    var spaceHeldByUnlinks: [Int: SimulatedInode] = [:]
    /// Shut down or read-only after an error, until the next crash.
    var mountState = MountState.mounted
    /// The fault model's random streams, configuration, decisions and suppression.
    var injector: FaultInjector
    var armedKillPoint: KillPoint?
    var calls = 0
    var halted = false
    var callObserver: ((FileOperation, String) -> Void)?
    var yieldPoint: ((FileOperation, String) -> Void)?

    public let seed: UInt64
    public let recordTrace: Bool
    /// False on crash clones: nothing compares their traces, and hashing every call of a
    /// recovery is a tenth of crash exploration's cost. Their `traceHash` stays the seed's.
    var hashesTrace = true

    public init(seed: UInt64, faults: FaultConfiguration = .none, recordTrace: Bool = true) {
        self.seed = seed
        self.injector = FaultInjector(seed: seed, configuration: faults)
        self.recordTrace = recordTrace
        hasher.combine(seed)
    }

    // MARK: Public state

    /// The fault model; may change between phases of a run.
    public var faults: FaultConfiguration {
        get { withLock { injector.configuration } }
        set { withLock { injector.configuration = newValue } }
    }

    /// The armed kill point (nil: none). Arming resets its occurrence count.
    public var killPoint: KillPoint? {
        get { withLock { armedKillPoint } }
        set { withLock { armedKillPoint = newValue; killPointMatches = 0 } }
    }

    /// Called before each call is performed (not while halted), outside the lock, so it may
    /// inspect the file system (crash exploration enumerates crash states there). It gets the
    /// call's kind and path. Nil: none.
    public var beforeEachCall: ((FileOperation, String) -> Void)? {
        get { withLock { callObserver } }
        set { withLock { callObserver = newValue } }
    }

    /// Called before each call (halted or not), outside the lock: a deterministic scheduler's
    /// yield point, where it may hand the run to another simulated thread. Nil: none.
    public var yieldBeforeEachCall: ((FileOperation, String) -> Void)? {
        get { withLock { yieldPoint } }
        set { withLock { yieldPoint = newValue } }
    }

    /// True after an injected I/O error shut the file system down or remounted it read-only,
    /// until the next `crash(_:)`.
    public var isShutDownOrReadOnly: Bool { withLock { mountState != .mounted } }

    /// True after a kill point fired and until `crash(_:)`: every call throws.
    public var isHalted: Bool { withLock { halted } }

    /// File-system calls performed so far, of every kind, failed ones included (a call killed by
    /// a kill point, and calls while halted, are not performed and not counted).
    public var callCount: Int { withLock { calls } }

    /// FNV-1a (`TraceHasher`) over every call, its result, every fault decision and every crash.
    public var traceHash: UInt64 { withLock { hasher.value } }

    /// Every call, in order (empty when `recordTrace` is false).
    public var trace: [TraceEvent] { withLock { traceEvents } }

    /// Every fault the simulator injected (or would have, when suppressed), in order. Benign
    /// outcomes (a write that survived, a sync that worked) are not recorded, so the list stays
    /// short in long campaigns and its indices name faults.
    public var decisions: [FaultDecision] { withLock { injector.decisions } }

    /// Every error the configuration injected without a draw (ENOSPC, latent sector errors), in
    /// order. Report data: not part of the trace hash.
    public var configuredFaults: [ConfiguredFault] { withLock { injector.configuredFaults } }

    /// Decision indices forced to the benign outcome (for shrinking).
    public var suppressedDecisions: Set<Int> {
        get { withLock { injector.suppressed } }
        set { withLock { injector.suppressed = newValue } }
    }

    /// Bytes held by live files (volatile sizes), the figure `capacityBytes` limits.
    public var bytesUsed: Int64 { withLock { usedBytes } }

    // MARK: Inspection (not calls, not traced)

    /// The durable bytes of the file at `path` reached through durable entries only: what
    /// would survive if everything pending were dropped. Nil when there is no such file.
    public func durableContents(_ path: String) -> [UInt8]? {
        withLock {
            var directory = root
            let parts = Self.components(path)
            guard let last = parts.last else { return nil }
            for part in parts.dropLast() {
                guard case .directory(let next)? = directory.durableEntries[part] else { return nil }
                directory = next
            }
            guard case .file(let inode)? = directory.durableEntries[last] else { return nil }
            return inode.durable
        }
    }

    /// The bytes reads see now at `path`, or nil when there is no such file.
    public func volatileContents(_ path: String) -> [UInt8]? {
        withLock {
            guard case .file(let inode)? = try? lookup(path).node else { return nil }
            return inode.volatile
        }
    }

    /// Pending (unsynced) writes and truncates over all files.
    public func pendingWriteCount() -> Int {
        withLock { trackedInodes.values.reduce(0) { $0 + $1.pending.count } }
    }

    /// Pending directory entry operations (not yet made durable by `syncDirectory`).
    public func pendingDirectoryOperationCount() -> Int {
        withLock { pendingDirectoryOperations.count }
    }

    // MARK: FileSystem

    /// `open(2)`: `.isDirectory` for a directory, `.notFound` for a missing file (without
    /// `.create`) or parent, `.exists` for an exclusive create of an existing path.
    public func open(_ path: String, options: OpenOptions) throws -> any FileHandleProtocol {
        try performCall(.open, path) { index, _ in
            try FilePaths.validate(path)
            try HandleRules.validateOpen(options, path: path)
            try refuseWhenUnmounted(.open, path: path, callIndex: index, opening: options)
            let found = try lookup(path)
            let inode: SimulatedInode
            switch found.node {
            case .directory?:
                if options.contains(.create) && options.contains(.exclusive) {
                    throw FileSystemError(.exists, "exclusive create of an existing directory", path: path)
                }
                throw FileSystemError(.isDirectory, "open of a directory as a file", path: path)
            case .file(let existing)?:
                if options.contains(.create) && options.contains(.exclusive) {
                    throw FileSystemError(.exists, "exclusive create of an existing file", path: path)
                }
                inode = existing
                if options.contains(.truncate) {
                    applyVolatileTruncate(inode, to: 0, path: found.path, callIndex: index)
                }
            case nil:
                guard options.contains(.create), let parent = found.parent else {
                    throw FileSystemError(.notFound, "no such file", path: path)
                }
                inode = SimulatedInode(id: takeNodeID())
                parent.entries[found.name] = .file(inode)
                pendingDirectoryOperations.append(PendingDirectoryOperation(
                    kind: .createFile, directory: parent, name: found.name, node: .file(inode),
                    path: found.path, callIndex: index))
            }
            inode.openHandles += 1
            openInodes[inode.id] = inode
            return SimulatedFileHandle(fileSystem: self, inode: inode, path: found.path, options: options, epoch: epoch)
        }
    }

    /// `mkdir(2)`.
    public func createDirectory(_ path: String) throws {
        try performCall(.createDirectory, path) { index, _ in
            try FilePaths.validate(path)
            let found = try lookup(path)
            guard found.node == nil, let parent = found.parent else {
                throw FileSystemError(.exists, "mkdir of an existing path", path: path)
            }
            let directory = SimulatedDirectory(id: takeNodeID())
            parent.entries[found.name] = .directory(directory)
            pendingDirectoryOperations.append(PendingDirectoryOperation(
                kind: .createDirectory, directory: parent, name: found.name, node: .directory(directory),
                path: found.path, callIndex: index))
        }
    }

    /// `readdir(3)`: names sorted bytewise.
    public func listDirectory(_ path: String) throws -> [String] {
        try performCall(.listDirectory, path) { _, _ in
            try FilePaths.validate(path)
            return try directory(at: path).sortedNames
        }
    }

    /// `unlink(2)` / `rmdir(2)`. Open handles keep working on an unlinked file.
    public func remove(_ path: String) throws {
        try performCall(.remove, path) { index, _ in
            try FilePaths.validate(path)
            let found = try lookup(path)
            guard let parent = found.parent else {
                throw FileSystemError(.unknown, "cannot remove the root directory", path: path, errno: EBUSY)
            }
            guard let node = found.node else { throw FileSystemError(.notFound, "no such file or directory", path: path) }
            if case .directory(let directory) = node, !directory.entries.isEmpty {
                throw FileSystemError(.notEmpty, "rmdir of a non-empty directory", path: path)
            }
            parent.entries[found.name] = nil
            unlink(node)
            pendingDirectoryOperations.append(PendingDirectoryOperation(
                kind: .remove, directory: parent, name: found.name, node: node, path: found.path, callIndex: index))
        }
    }

    /// `rename(2)`: atomic, replaces a file or an empty directory at `destination`.
    public func rename(_ source: String, to destination: String) throws {
        try performCall(.rename, source, destination) { index, _ in
            try FilePaths.validate(source)
            try FilePaths.validate(destination)
            let from = try lookup(source)
            let to = try lookup(destination)
            guard let fromParent = from.parent, let toParent = to.parent else {
                throw FileSystemError(.unknown, "cannot rename the root directory", path: source, errno: EBUSY)
            }
            guard let node = from.node else { throw FileSystemError(.notFound, "rename source missing", path: source) }
            if from.path == to.path { return }
            let fromParts = Self.components(from.path), toParts = Self.components(to.path)
            if case .directory = node, toParts.starts(with: fromParts) {
                throw FileSystemError(.invalidArgument, "rename of a directory into itself", path: source, errno: EINVAL)
            }
            if fromParts.starts(with: toParts) {
                throw FileSystemError(.notEmpty, "rename over an ancestor of the source", path: destination)
            }
            if let target = to.node {
                switch (node, target) {
                case (.directory, .file):
                    throw FileSystemError(.notDirectory, "rename of a directory over a file", path: destination)
                case (.file, .directory):
                    throw FileSystemError(.isDirectory, "rename of a file over a directory", path: destination)
                case (.directory, .directory(let victim)) where !victim.entries.isEmpty:
                    throw FileSystemError(.notEmpty, "rename over a non-empty directory", path: destination)
                default:
                    unlink(target)
                }
            }
            fromParent.entries[from.name] = nil
            toParent.entries[to.name] = node
            pendingDirectoryOperations.append(PendingDirectoryOperation(
                kind: .rename, directory: fromParent, name: from.name, destinationDirectory: toParent,
                destinationName: to.name, node: node, path: from.path, destinationPath: to.path, callIndex: index))
        }
    }

    /// `fsync(2)` on a directory: makes every pending entry operation in it durable.
    public func syncDirectory(_ path: String) throws {
        try performCall(.syncDirectory, path) { index, _ in
            try FilePaths.validate(path)
            let target = try directory(at: path)
            if injector.fsyncError.chance(injector.configuration.fsyncErrorProbability),
                takeFault(.fsyncError, path: Self.normalize(path), callIndex: index, outcome: "eio on directory sync")
            {
                // The entries stay pending: in doubt until the crash decides.
                stopFileSystemMaybe(afterErrorAt: Self.normalize(path), callIndex: index)
                throw FileSystemError(.io, "simulated EIO on directory sync", path: path, errno: EIO)
            }
            // Commit the operations in this directory and, with each one, the earlier pending
            // operations on the same file or directory or on the same entry name: applying a
            // later operation before an earlier one it depends on would resurrect a replaced
            // file or give a file two names. Found walking backwards, applied in issue order.
            var committed = [Bool](repeating: true, count: pendingDirectoryOperations.count)
            // The usual case, one directory in play, commits everything without the walk.
            if !pendingDirectoryOperations.allSatisfy({ $0.touches(target) }) {
                var pulledNodes: Set<Int> = []
                var pulledEntries: Set<PendingDirectoryOperation.EntryKey> = []
                for index in pendingDirectoryOperations.indices.reversed() {
                    let operation = pendingDirectoryOperations[index]
                    let entries = operation.entryKeys
                    committed[index] = operation.touches(target) || pulledNodes.contains(operation.node.id)
                        || entries.contains(where: pulledEntries.contains)
                    if committed[index] {
                        pulledNodes.insert(operation.node.id)
                        pulledEntries.formUnion(entries)
                    }
                }
            }
            var remaining: [PendingDirectoryOperation] = []
            for (index, operation) in pendingDirectoryOperations.enumerated() {
                if committed[index] { operation.applyDurably() } else { remaining.append(operation) }
            }
            pendingDirectoryOperations = remaining
            releaseSpaceOfDurableUnlinks()
        }
    }

    /// `stat(2)`.
    public func status(_ path: String) throws -> FileStatus {
        try performCall(.status, path) { _, _ in
            try FilePaths.validate(path)
            switch try lookup(path).node {
            case .file(let inode)?: return FileStatus(kind: .file, size: Int64(inode.volatile.count))
            case .directory?: return FileStatus(kind: .directory, size: 0)
            case nil: throw FileSystemError(.notFound, "no such file or directory", path: path)
            }
        }
    }

    // MARK: Namespace

    /// Normalised components: relative paths start at "/", empty and "." components vanish,
    /// ".." goes up (never above the root). Lexical, unlike POSIX: "file/.." names the parent
    /// here where Linux says ENOTDIR (there are no symlinks, so nothing else differs).
    static func components(_ path: String) -> [String] {
        // Over the UTF-8 bytes: every call of the simulated disk resolves a path, and the
        // generic `split` into substrings cost a tenth of a campaign.
        var path = path
        return path.withUTF8 { utf8 in
            var parts: [String] = []
            var start = 0
            for end in 0...utf8.count where end == utf8.count || utf8[end] == UInt8(ascii: "/") {
                defer { start = end + 1 }
                let part = UnsafeBufferPointer(rebasing: utf8[start..<end])
                switch part.count {
                case 0: continue
                case 1 where part[0] == UInt8(ascii: "."): continue
                case 2 where part[0] == UInt8(ascii: ".") && part[1] == UInt8(ascii: "."):
                    if !parts.isEmpty { parts.removeLast() }
                    continue
                default: parts.append(String(decoding: part, as: UTF8.self))
                }
            }
            return parts
        }
    }

    /// The absolute, `/`-separated form of `path`.
    static func normalize(_ path: String) -> String {
        "/" + components(path).joined(separator: "/")
    }

    struct Lookup {
        /// Nil only for the root.
        var parent: SimulatedDirectory?
        var name: String
        var node: SimulatedNode?
        var path: String
    }

    /// Resolves `path` in the volatile namespace. Throws `.notFound` when a parent is missing,
    /// `.notDirectory` when one is a file; a missing final component is not an error.
    func lookup(_ path: String) throws -> Lookup {
        let parts = Self.components(path)
        guard let last = parts.last else {
            return Lookup(parent: nil, name: "", node: .directory(root), path: "/")
        }
        var directory = root
        for part in parts.dropLast() {
            switch directory.entries[part] {
            case .directory(let next)?: directory = next
            case .file?: throw FileSystemError(.notDirectory, "a path component is a file", path: path)
            case nil: throw FileSystemError(.notFound, "a parent directory is missing", path: path)
            }
        }
        // A path already in normal form (the usual case) is its own normal form: no new string.
        let normalLength = parts.reduce(parts.count) { $0 + $1.utf8.count }
        let normal = path.utf8.count == normalLength && path.utf8.first == UInt8(ascii: "/") ? path : "/" + parts.joined(separator: "/")
        return Lookup(parent: directory, name: last, node: directory.entries[last], path: normal)
    }

    func directory(at path: String) throws -> SimulatedDirectory {
        switch try lookup(path).node {
        case .directory(let directory)?: return directory
        case .file?: throw FileSystemError(.notDirectory, "not a directory", path: path)
        case nil: throw FileSystemError(.notFound, "no such directory", path: path)
        }
    }

    /// A name no longer refers to `node` in the volatile namespace.
    func unlink(_ node: SimulatedNode) {
        guard case .file(let inode) = node else { return }
        inode.linked = false
        if inode.openHandles == 0 { releaseSpace(of: inode) }
    }

    func takeNodeID() -> Int {
        defer { nextNodeID += 1 }
        return nextNodeID
    }
}
