import Foundation
import TidemarkIO

/// An in-memory file system that behaves like POSIX on a real disk, including everything a real
/// disk is allowed to do at a crash, and injects the faults in `faults`.
///
/// Each file has a volatile image (what reads see: the page cache) and a durable image (what is
/// on disk), with the ordered pending changes in between; each directory has volatile and durable
/// entries, with pending entry operations (create, rename, remove) in between. `sync` makes a
/// file's data and size durable, `syncDirectory` a directory's entries; `close` makes nothing
/// durable. `crash(.powerLoss)` settles the fate of everything pending (see `FaultConfiguration`),
/// `crash(.processKill)` keeps it all and only kills the handles.
///
/// Deterministic: every random choice comes from `SeededRandom(seed)` streams (one per fault
/// kind, plus "crash"), every fault taken is recorded in `decisions`, and every call, decision
/// and crash is folded into `traceHash`. Thread-safe (one lock), though campaigns drive it from
/// one thread.
///
/// Not modelled: symlinks, hard links, permissions, timestamps; `..` is resolved lexically.
public final class SimulatedFileSystem: FileSystem, @unchecked Sendable {
    // Everything below is guarded by `lock`. Public entry points and handle calls take it
    // (through `performCall` or `withLock`); private helpers assume it is held.
    private let lock = NSLock()
    private let root = SimulatedDirectory(id: 0)
    private var nextNodeID = 1
    /// Inodes with pending changes or fsync-lost changes, by id (iterated sorted: determinism).
    private var trackedInodes: [Int: SimulatedInode] = [:]
    /// Inodes with open handles (so a process kill can release them).
    private var openInodes: [Int: SimulatedInode] = [:]
    private var pendingDirectoryOperations: [PendingDirectoryOperation] = []
    /// Incremented by every crash; handles from an older epoch are dead.
    private var epoch = 0
    private var crashCount = 0
    private var killPointMatches = 0
    private var haltError: FileSystemError?
    private var hasher = StableHasher()
    private var traceEvents: [TraceEvent] = []
    private var decisionList: [FaultDecision] = []
    private var configuredFaultList: [ConfiguredFault] = []
    private var currentCallDecisions: [Int] = []
    private var usedBytes: Int64 = 0
    private var faultConfiguration: FaultConfiguration
    private var armedKillPoint: KillPoint?
    private var suppressed: Set<Int> = []
    private var calls = 0
    private var halted = false

    /// Independent streams, so a decision drawn for one fault never shifts another's.
    private let writeErrorRandom, readErrorRandom, fsyncErrorRandom: SeededRandom
    private let earlyWritebackRandom, misdirectRandom, crashRandom: SeededRandom

    public let seed: UInt64
    public let recordTrace: Bool

    public init(seed: UInt64, faults: FaultConfiguration = .none, recordTrace: Bool = true) {
        self.seed = seed
        self.faultConfiguration = faults
        self.recordTrace = recordTrace
        let base = SeededRandom(seed: seed)
        writeErrorRandom = base.stream("faults.writeError")
        readErrorRandom = base.stream("faults.readError")
        fsyncErrorRandom = base.stream("faults.fsyncError")
        earlyWritebackRandom = base.stream("faults.earlyWriteback")
        misdirectRandom = base.stream("faults.misdirectedWrite")
        crashRandom = base.stream("crash")
        hasher.combine(seed)
    }

    // MARK: Public state

    /// The fault model; may change between phases of a run.
    public var faults: FaultConfiguration {
        get { withLock { faultConfiguration } }
        set { withLock { faultConfiguration = newValue } }
    }

    /// The armed kill point (nil: none). Arming resets its occurrence count.
    public var killPoint: KillPoint? {
        get { withLock { armedKillPoint } }
        set { withLock { armedKillPoint = newValue; killPointMatches = 0 } }
    }

    /// True after a kill point fired and until `crash(_:)`: every call throws.
    public var isHalted: Bool { withLock { halted } }

    /// File-system calls performed so far, of every kind, failed ones included (a call killed by
    /// a kill point, and calls while halted, are not performed and not counted).
    public var callCount: Int { withLock { calls } }

    /// FNV-1a over every call, its result, every fault decision and every crash.
    public var traceHash: UInt64 { withLock { hasher.value } }

    /// Every call, in order (empty when `recordTrace` is false).
    public var trace: [TraceEvent] { withLock { traceEvents } }

    /// Every fault the simulator injected (or would have, when suppressed), in order. Benign
    /// outcomes (a write that survived, a sync that worked) are not recorded, so the list stays
    /// short in long campaigns and its indices name faults.
    public var decisions: [FaultDecision] { withLock { decisionList } }

    /// Every error the configuration injected without a draw (ENOSPC, latent sector errors), in
    /// order. Report data: not part of the trace hash.
    public var configuredFaults: [ConfiguredFault] { withLock { configuredFaultList } }

    /// Decision indices forced to the benign outcome (for shrinking).
    public var suppressedDecisions: Set<Int> {
        get { withLock { suppressed } }
        set { withLock { suppressed = newValue } }
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
            if fsyncErrorRandom.chance(faultConfiguration.fsyncErrorProbability),
                takeFault(.fsyncError, path: Self.normalize(path), callIndex: index, outcome: "eio on directory sync")
            {
                // The entries stay pending: in doubt until the crash decides.
                throw FileSystemError(.io, "simulated EIO on directory sync", path: path, errno: EIO)
            }
            // Commit the operations in this directory and, with each one, the earlier pending
            // operations on the same file or directory or on the same entry name: applying a
            // later operation before an earlier one it depends on would resurrect a replaced
            // file or give a file two names. Found walking backwards, applied in issue order.
            var pulledNodes: Set<Int> = []
            var pulledEntries: Set<PendingDirectoryOperation.EntryKey> = []
            var committed = [Bool](repeating: false, count: pendingDirectoryOperations.count)
            for index in pendingDirectoryOperations.indices.reversed() {
                let operation = pendingDirectoryOperations[index]
                let entries = operation.entryKeys
                if operation.touches(target) || pulledNodes.contains(operation.node.id)
                    || entries.contains(where: pulledEntries.contains)
                {
                    committed[index] = true
                    pulledNodes.insert(operation.node.id)
                    pulledEntries.formUnion(entries)
                }
            }
            var remaining: [PendingDirectoryOperation] = []
            for (index, operation) in pendingDirectoryOperations.enumerated() {
                if committed[index] { operation.applyDurably() } else { remaining.append(operation) }
            }
            pendingDirectoryOperations = remaining
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

    // MARK: Handle operations (called by SimulatedFileHandle)

    func handleRead(_ handle: SimulatedFileHandle, at offset: Int64, count: Int) throws -> [UInt8] {
        try performCall(.read, handle.path, offset: offset, length: count) { index, event in
            let inode = try liveInode(handle)
            try HandleRules.validateRead(handle.options, offset: offset, count: count, path: handle.path)
            if readErrorRandom.chance(faultConfiguration.readErrorProbability),
                takeFault(.readError, path: handle.path, callIndex: index, outcome: "eio on read of \(count) bytes at \(offset)", offset: offset)
            {
                throw FileSystemError(.io, "simulated EIO on read at offset \(offset)", path: handle.path, errno: EIO)
            }
            let size = Int64(inode.volatile.count)
            // Clamp before adding: offset and count come from the caller and may be huge.
            let end = offset < size ? offset + min(Int64(count), size - offset) : offset
            guard offset < end else {
                event.dataChecksum = CRC32C.checksum([])
                return []
            }
            for latent in faultConfiguration.latentSectorErrors where handle.path.contains(latent.pathContains) {
                let (latentEnd, overflow) = latent.offset.addingReportingOverflow(latent.length)
                if offset < (overflow ? Int64.max : latentEnd) && latent.offset < end {
                    configuredFaultList.append(ConfiguredFault(
                        kind: .latentSectorError, path: handle.path, callIndex: index, offset: max(offset, latent.offset),
                        outcome: "eio on read of bytes \(latent.offset)..<\(latent.offset + latent.length)"))
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
        try performCall(.write, handle.path, offset: offset, length: bytes.count) { index, event in
            let inode = try liveInode(handle)
            try HandleRules.validateWrite(handle.options, offset: offset, path: handle.path)
            event.dataChecksum = bytes.withUnsafeBytes { CRC32C.checksum($0) }
            if bytes.isEmpty { return }
            try Self.checkFileSize(offset, plus: Int64(bytes.count), path: handle.path)
            if writeErrorRandom.chance(faultConfiguration.writeErrorProbability) {
                let prefix = Int(writeErrorRandom.next(below: UInt64(bytes.count)))
                if takeFault(.writeError, path: handle.path, callIndex: index,
                             outcome: "eio after \(prefix) of \(bytes.count) bytes at \(offset)", offset: offset) {
                    if prefix > 0 {
                        try writeWithinCapacity(inode, Array(bytes[..<prefix]), at: offset, path: handle.path, callIndex: index)
                    }
                    throw FileSystemError(
                        .io, "simulated EIO on write at offset \(offset) after \(prefix) of \(bytes.count) bytes",
                        path: handle.path, errno: EIO)
                }
            }
            try writeWithinCapacity(inode, bytes, at: offset, path: handle.path, callIndex: index)
        }
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
            if inode.lastSyncFailed {
                // Linux reports a writeback error once; the next fsync succeeds.
                inode.lastSyncFailed = false
            } else if fsyncErrorRandom.chance(faultConfiguration.fsyncErrorProbability),
                takeFault(.fsyncError, path: handle.path, callIndex: index,
                          outcome: "eio; \(inode.pending.count) pending changes marked clean")
            {
                // As on Linux: the dirty pages are marked clean. Reads still see them; the disk
                // never gets them.
                inode.lostToFsyncError.append(contentsOf: inode.pending)
                inode.pending.removeAll()
                inode.lastSyncFailed = true
                throw FileSystemError(.io, "simulated EIO on \(operation.rawValue)", path: handle.path, errno: EIO)
            }
            inode.flushPending(count: inode.pending.count)
            untrackIfSettled(inode)
        }
    }

    func handleClose(_ handle: SimulatedFileHandle) throws {
        try performCall(.close, handle.path) { _, _ in
            let inode = try liveInode(handle)
            handle.isClosed = true
            inode.openHandles -= 1
            if inode.openHandles == 0 {
                openInodes[inode.id] = nil
                if !inode.linked { usedBytes -= Int64(inode.volatile.count) }
            }
        }
    }

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
                if !inode.linked { usedBytes -= Int64(inode.volatile.count) }
            }
            openInodes.removeAll()
            if kind == .powerLoss { losePower(into: &report) }
            halted = false
            haltError = nil
            hasher.combine(report)
            return report
        }
    }

    // MARK: Internals: calls, tracing, decisions

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    /// Runs one file-system call: halt and kill-point checks, counting, tracing, hashing.
    /// `body` gets the call index and the trace event to fill in.
    private func performCall<T>(
        _ operation: FileOperation, _ path: String, _ destination: String? = nil,
        offset: Int64? = nil, length: Int? = nil,
        _ body: (Int, inout TraceEvent) throws -> T
    ) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        if halted, let haltError { throw haltError }
        let index = calls
        var event = TraceEvent(
            callIndex: index, operation: operation, path: path, destination: destination,
            offset: offset, length: length, dataChecksum: nil, result: .ok, decisions: [])
        if let point = armedKillPoint,
            point.isEligible(callIndex: index, operation: operation, paths: [path] + (destination.map { [$0] } ?? []))
        {
            killPointMatches += 1
            if killPointMatches >= point.occurrence {
                armedKillPoint = nil
                halted = true
                let error = FileSystemError(
                    .io, "simulated crash at call \(index) (\(operation.rawValue) \(path))", path: path, errno: EIO)
                haltError = error
                event.result = .killed
                record(event)
                throw error
            }
        }
        calls += 1
        currentCallDecisions.removeAll(keepingCapacity: true)
        do {
            let result = try body(index, &event)
            event.decisions = currentCallDecisions
            record(event)
            return result
        } catch let error as FileSystemError {
            event.result = .error(error.code.description)
            event.decisions = currentCallDecisions
            record(event)
            throw error
        }
    }

    private func record(_ event: TraceEvent) {
        hasher.combine(event)
        if recordTrace { traceEvents.append(event) }
    }

    /// Records a fault the simulator drew. Returns whether to inject it: false when its index is
    /// suppressed (the caller then takes the benign outcome).
    private func takeFault(_ kind: FaultKind, path: String, callIndex: Int, outcome: String, offset: Int64? = nil) -> Bool {
        let index = decisionList.count
        let isSuppressed = suppressed.contains(index)
        let decision = FaultDecision(
            index: index, kind: kind, path: path, callIndex: callIndex, outcome: outcome, suppressed: isSuppressed, offset: offset)
        decisionList.append(decision)
        currentCallDecisions.append(index)
        hasher.combine(decision)
        return !isSuppressed
    }

    private func takeNodeID() -> Int {
        defer { nextNodeID += 1 }
        return nextNodeID
    }

    // MARK: Internals: namespace

    /// Normalised components: relative paths start at "/", empty and "." components vanish,
    /// ".." goes up (never above the root). Lexical, unlike POSIX: "file/.." names the parent
    /// here where Linux says ENOTDIR (there are no symlinks, so nothing else differs).
    static func components(_ path: String) -> [String] {
        var parts: [String] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                if !parts.isEmpty { parts.removeLast() }
                continue
            }
            parts.append(String(part))
        }
        return parts
    }

    /// The absolute, `/`-separated form of `path`.
    static func normalize(_ path: String) -> String {
        "/" + components(path).joined(separator: "/")
    }

    private struct Lookup {
        /// Nil only for the root.
        var parent: SimulatedDirectory?
        var name: String
        var node: SimulatedNode?
        var path: String
    }

    /// Resolves `path` in the volatile namespace. Throws `.notFound` when a parent is missing,
    /// `.notDirectory` when one is a file; a missing final component is not an error.
    private func lookup(_ path: String) throws -> Lookup {
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
        return Lookup(parent: directory, name: last, node: directory.entries[last], path: "/" + parts.joined(separator: "/"))
    }

    private func directory(at path: String) throws -> SimulatedDirectory {
        switch try lookup(path).node {
        case .directory(let directory)?: return directory
        case .file?: throw FileSystemError(.notDirectory, "not a directory", path: path)
        case nil: throw FileSystemError(.notFound, "no such directory", path: path)
        }
    }

    /// A name no longer refers to `node` in the volatile namespace.
    private func unlink(_ node: SimulatedNode) {
        guard case .file(let inode) = node else { return }
        inode.linked = false
        if inode.openHandles == 0 { usedBytes -= Int64(inode.volatile.count) }
    }

    // MARK: Internals: data

    /// The largest file the simulator holds (its images live in memory). A write or truncate
    /// beyond it fails with `.noSpace` (errno EFBIG), as a real file-size limit would.
    public static let maximumFileSize: Int64 = 1 << 30

    private static func checkFileSize(_ offset: Int64, plus count: Int64, path: String) throws {
        if offset > maximumFileSize || count > maximumFileSize - offset {
            throw FileSystemError(
                .noSpace, "offset \(offset) + \(count) bytes exceeds the simulated maximum file size \(maximumFileSize)",
                path: path, errno: EFBIG)
        }
    }

    private func liveInode(_ handle: SimulatedFileHandle) throws -> SimulatedInode {
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
    private func writeWithinCapacity(
        _ inode: SimulatedInode, _ bytes: [UInt8], at offset: Int64, path: String, callIndex: Int
    ) throws {
        let size = Int64(inode.volatile.count)
        let growth = max(0, offset + Int64(bytes.count) - size)
        if let capacity = faultConfiguration.capacityBytes, growth > 0, usedBytes + growth > capacity {
            let room = max(0, capacity - usedBytes)
            let fits = Int(max(0, min(Int64(bytes.count), size + room - offset)))
            if fits > 0 { applyWrite(inode, Array(bytes[..<fits]), at: offset, path: path, callIndex: callIndex) }
            configuredFaultList.append(ConfiguredFault(
                kind: .diskFull, path: path, callIndex: callIndex, offset: offset + Int64(fits),
                outcome: "enospc after \(fits) of \(bytes.count) bytes at \(offset)"))
            throw FileSystemError(
                .noSpace, "simulated ENOSPC: capacity \(capacity) bytes, wrote \(fits) of \(bytes.count) at offset \(offset)",
                path: path, errno: ENOSPC)
        }
        applyWrite(inode, bytes, at: offset, path: path, callIndex: callIndex)
    }

    /// A successful write: the page cache takes it, it becomes pending, and maybe the disk gets
    /// it elsewhere (misdirected) or early (writeback).
    private func applyWrite(_ inode: SimulatedInode, _ bytes: [UInt8], at offset: Int64, path: String, callIndex: Int) {
        let oldSize = inode.volatile.count
        inode.volatile.write(bytes, at: Int(offset))
        if inode.linked || inode.openHandles > 0 { usedBytes += Int64(inode.volatile.count - oldSize) }
        var change = PendingChange(
            path: path, callIndex: callIndex, offset: offset, bytes: bytes, isTruncate: false, landingOffset: offset)
        if misdirectRandom.chance(faultConfiguration.misdirectedWriteProbability) {
            let sector = Int64(faultConfiguration.effectiveSectorSize)
            let lastStart = max(0, Int64(inode.volatile.count) - Int64(bytes.count))
            let candidates = lastStart / sector + 1
            let pick = Int64(misdirectRandom.next(below: UInt64(candidates))) * sector
            if pick != offset,
                takeFault(.misdirectedWrite, path: path, callIndex: callIndex,
                          outcome: "\(bytes.count) bytes for offset \(offset) land at \(pick)", offset: offset)
            {
                change.landingOffset = pick
            }
        }
        inode.pending.append(change)
        trackedInodes[inode.id] = inode
        if earlyWritebackRandom.chance(faultConfiguration.earlyWritebackProbability),
            takeFault(.earlyWriteback, path: path, callIndex: callIndex,
                      outcome: "\(inode.pending.count) pending changes written back before any sync")
        {
            inode.flushPending(count: inode.pending.count)
            untrackIfSettled(inode)
        }
    }

    private func applyVolatileTruncate(_ inode: SimulatedInode, to size: Int64, path: String, callIndex: Int) {
        let oldSize = inode.volatile.count
        inode.volatile.resize(to: Int(size))
        if inode.linked || inode.openHandles > 0 { usedBytes += Int64(inode.volatile.count - oldSize) }
        inode.pending.append(PendingChange(
            path: path, callIndex: callIndex, offset: size, bytes: [], isTruncate: true, landingOffset: size))
        trackedInodes[inode.id] = inode
    }

    private func untrackIfSettled(_ inode: SimulatedInode) {
        if inode.pending.isEmpty && inode.lostToFsyncError.isEmpty { trackedInodes[inode.id] = nil }
    }

    // MARK: Internals: power loss

    /// Settles every pending directory operation and file change, applies bit rot, and rebuilds
    /// the volatile state from the durable one.
    private func losePower(into report: inout CrashReport) {
        let faults = faultConfiguration
        let random = crashRandom
        let before = volatileTree()
        let keepAll = random.chance(faults.keepAllProbability)
        report.keptEverything = keepAll
        let prefixOnly = faults.reorder == .orderedPrefix

        // Directory operations, in issue order (a journal commits them in order).
        // Once an operation on a node is lost, later ones on that node are lost too (they
        // depend on it), without a decision of their own.
        var directoryStopped = false
        var lostNodes: Set<Int> = []
        for operation in pendingDirectoryOperations {
            let draw = random.chance(faults.directoryOperationSurvivalProbability)
            let dependsOnLost = lostNodes.contains(operation.node.id)
            var survived = keepAll || (draw && !(prefixOnly && directoryStopped))
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
                report.writes.append(settle(change, in: inode, keepAll: keepAll, stopped: &stopped))
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

    private func fate(of change: PendingChange, _ fate: CrashReport.Fate) -> CrashReport.WriteFate {
        CrashReport.WriteFate(
            path: change.path, offset: change.offset, length: change.bytes.count, isTruncate: change.isTruncate,
            callIndex: change.callIndex, fate: fate, keptSectors: [], garbageSectors: [], unsafeAppendFill: nil,
            misdirectedTo: change.isMisdirected ? change.landingOffset : nil)
    }

    /// Decides and applies the fate of one pending change at a power loss.
    private func settle(
        _ change: PendingChange, in inode: SimulatedInode, keepAll: Bool, stopped: inout Bool
    ) -> CrashReport.WriteFate {
        let faults = faultConfiguration
        let random = crashRandom
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
        if let chosen = fill,
            takeFault(.unsafeAppend, path: change.path, callIndex: change.callIndex,
                      outcome: "size grew to \(change.end) with \(chosen.rawValue)", offset: change.offset)
        {
            result.unsafeAppendFill = chosen
        }
        applyPartially(change, kept: kept, garbage: result.garbageSectors, fill: result.unsafeAppendFill,
                       sector: sector, to: &inode.durable)
        return result
    }

    /// Applies the landed sectors of a write that did not survive whole. The size grows only over
    /// the contiguous landed prefix past the old end (data before metadata), or to the whole
    /// write with an unsafe append (whose unlanded bytes read as zeros or garbage).
    private func applyPartially(
        _ change: PendingChange, kept: [Int64], garbage: [Int64], fill: CrashReport.AppendFill?,
        sector: Int64, to image: inout [UInt8]
    ) {
        let oldSize = Int64(image.count)
        var grownTo = oldSize
        if let fill {
            let end = max(change.end, change.landingEnd)
            if end > oldSize {
                let filler = fill == .zeros ? [UInt8](repeating: 0, count: Int(end - oldSize)) : crashRandom.bytes(Int(end - oldSize))
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
            if start < end { image.write(crashRandom.bytes(Int(end - start)), at: Int(start)) }
        }
    }

    /// Every path in the volatile namespace (for vanished/reappeared in crash reports).
    private func volatileTree() -> [String: SimulatedNode] {
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
