import TidemarkIO

/// A self-contained copy of what a power loss decides over: the durable namespace (by node
/// number), every durable file image, and the pending changes in issue order. Taken under the
/// file system's lock; byte arrays are shared copy-on-write, so taking it is cheap, and the file
/// system may run on afterwards without changing it.
struct PendingSnapshot: Sendable {
    struct NodeRef: Sendable, Hashable {
        var id: Int
        var isDirectory: Bool
    }

    /// Where each change came from.
    enum Source: Sendable {
        case directory(kind: CrashReport.DirectoryOperationKind, directory: Int, name: String,
                       destinationDirectory: Int?, destinationName: String?, node: NodeRef)
        case file(inode: Int, change: PendingChange)
    }

    let seed: UInt64
    let nextNodeID: Int
    let sectorSize: Int
    /// Pending changes in issue order, and where each came from.
    let changes: [CrashChange]
    let sources: [Source]
    /// Durable entries of every directory a crash could leave reachable.
    let durableEntries: [Int: [String: NodeRef]]
    /// Durable image of every file a crash could leave reachable.
    let durableImages: [Int: [UInt8]]

    init(_ fileSystem: SimulatedFileSystem) {
        // Called with the lock held.
        seed = fileSystem.seed
        nextNodeID = fileSystem.nextNodeID
        sectorSize = fileSystem.injector.configuration.effectiveSectorSize
        var entries: [Int: [String: NodeRef]] = [:]
        var images: [Int: [UInt8]] = [:]
        var queue: [SimulatedDirectory] = [fileSystem.root]
        func visit(_ node: SimulatedNode) {
            switch node {
            case .directory(let directory): queue.append(directory)
            case .file(let inode): images[inode.id] = inode.durable
            }
        }
        for operation in fileSystem.pendingDirectoryOperations {
            queue.append(operation.directory)
            if let destination = operation.destinationDirectory { queue.append(destination) }
            visit(operation.node)
        }
        var next = 0
        while next < queue.count {
            let directory = queue[next]
            next += 1
            guard entries[directory.id] == nil else { continue }
            entries[directory.id] = directory.durableEntries.mapValues(Self.reference)
            for node in directory.durableEntries.values { visit(node) }
            for node in directory.entries.values { visit(node) }
        }
        durableEntries = entries

        var collected: [(CrashChange, Source)] = []
        for operation in fileSystem.pendingDirectoryOperations {
            let kind: CrashChange.Kind
            switch operation.kind {
            case .createFile: kind = .createFile
            case .createDirectory: kind = .createDirectory
            case .remove: kind = .remove
            case .rename: kind = .rename
            }
            collected.append((
                CrashChange(
                    key: .init(callIndex: operation.callIndex, isDirectoryOperation: true), kind: kind,
                    path: operation.path, destination: operation.destinationPath, offset: 0, length: 0,
                    sectorCount: 0, growsFile: false, sharesSectorWithExistingBytes: false, nodeID: operation.node.id),
                .directory(kind: operation.kind, directory: operation.directory.id, name: operation.name,
                           destinationDirectory: operation.destinationDirectory?.id,
                           destinationName: operation.destinationName, node: Self.reference(operation.node))))
        }
        let sector = Int64(sectorSize)
        for (id, inode) in fileSystem.trackedInodes {
            images[id] = inode.durable
            // Changes a failed fsync marked clean never reach the disk: not pending here.
            var size = Int64(inode.durable.count)
            for change in inode.pending {
                let grows = change.isTruncate ? change.offset > size : change.end > size
                let first = change.landingOffset / sector
                let last = change.bytes.isEmpty ? first : (change.landingEnd - 1) / sector
                collected.append((
                    CrashChange(
                        key: .init(callIndex: change.callIndex, isDirectoryOperation: false),
                        kind: change.isTruncate ? .truncate : .write, path: change.path, destination: nil,
                        offset: change.offset, length: change.bytes.count,
                        sectorCount: change.isTruncate ? 0 : Int(last - first + 1), growsFile: grows,
                        sharesSectorWithExistingBytes: !change.isTruncate && first * sector < size, nodeID: id),
                    .file(inode: id, change: change)))
                size = change.isTruncate ? change.offset : max(size, change.end)
            }
        }
        collected.sort { $0.0.key < $1.0.key }
        changes = collected.map(\.0)
        sources = collected.map(\.1)
        durableImages = images
    }

    static func reference(_ node: SimulatedNode) -> NodeRef {
        switch node {
        case .file(let inode): NodeRef(id: inode.id, isDirectory: false)
        case .directory(let directory): NodeRef(id: directory.id, isDirectory: true)
        }
    }

    // MARK: The namespace a crash leaves

    /// The durable entries after applying the kept directory operations in issue order (as
    /// `PendingDirectoryOperation.applyDurably` does).
    func namespace(keeping kept: (Int) -> Bool) -> [Int: [String: NodeRef]] {
        var entries = durableEntries
        for (index, source) in sources.enumerated() {
            guard case .directory(let kind, let directory, let name, let destinationDirectory, let destinationName, let node) = source,
                kept(index)
            else { continue }
            switch kind {
            case .createFile, .createDirectory:
                entries[directory, default: [:]][name] = node
            case .remove:
                if entries[directory]?[name] == node { entries[directory]?[name] = nil }
            case .rename:
                if entries[directory]?[name] == node { entries[directory]?[name] = nil }
                if let destinationDirectory, let destinationName { entries[destinationDirectory, default: [:]][destinationName] = node }
            }
        }
        return entries
    }

    /// Walks the namespace from the root (id 0) breadth first, in bytewise name order, cutting
    /// cycles a reordered pair of directory renames can leave. Calls `visit` with each entry.
    static func walk(_ entries: [Int: [String: NodeRef]], _ visit: (_ parent: Int, _ name: String, _ node: NodeRef) -> Void) {
        var visited: Set<Int> = [0]
        var queue = [0]
        var next = 0
        while next < queue.count {
            let directory = queue[next]
            next += 1
            guard let children = entries[directory] else { continue }
            for (name, node) in children.sorted(by: { bytewiseLess($0.key, $1.key) }) {
                if node.isDirectory {
                    guard visited.insert(node.id).inserted else { continue }
                    queue.append(node.id)
                }
                visit(directory, name, node)
            }
        }
    }

    /// Files reachable from the root in `entries`.
    static func reachableFiles(_ entries: [Int: [String: NodeRef]]) -> Set<Int> {
        // The walk's order and paths (a sort and a string per entry) do not matter here, and
        // this runs for every crash state materialised.
        var files: Set<Int> = []
        var visited: Set<Int> = [0]
        var queue = [0]
        while let directory = queue.popLast() {
            guard let children = entries[directory] else { continue }
            for node in children.values {
                if !node.isDirectory {
                    files.insert(node.id)
                } else if visited.insert(node.id).inserted {
                    queue.append(node.id)
                }
            }
        }
        return files
    }
}
