/// Where `capacityBytes` is counted: live files, and with `holdSpaceUntilUnlinkDurable` the
/// unlinked files whose removal is not durable yet (a real file system frees their blocks only
/// when the unlink commits).
extension SimulatedFileSystem {
    /// `inode` lost its last name and its last handle: its bytes are free now, or once no
    /// durable entry names it.
    func releaseSpace(of inode: SimulatedInode) {
        if injector.configuration.holdSpaceUntilUnlinkDurable, durablyNamedInodeIDs().contains(inode.id) {
            spaceHeldByUnlinks[inode.id] = inode
        } else {
            usedBytes -= Int64(inode.volatile.count)
        }
    }

    /// After a directory sync: frees the held files no durable entry names any more.
    func releaseSpaceOfDurableUnlinks() {
        guard !spaceHeldByUnlinks.isEmpty else { return }
        let named = durablyNamedInodeIDs()
        for (id, inode) in spaceHeldByUnlinks where !named.contains(id) {
            usedBytes -= Int64(inode.volatile.count)
            spaceHeldByUnlinks[id] = nil
        }
    }

    /// Bytes of unlinked files still counted.
    var heldBytes: Int64 { spaceHeldByUnlinks.values.reduce(0) { $0 + Int64($1.volatile.count) } }

    /// The inodes the durable namespace names.
    func durablyNamedInodeIDs() -> Set<Int> {
        var ids: Set<Int> = []
        var visited: Set<Int> = [root.id]
        var queue = [root]
        while let directory = queue.popLast() {
            for node in directory.durableEntries.values {
                switch node {
                case .file(let inode): ids.insert(inode.id)
                case .directory(let child): if visited.insert(child.id).inserted { queue.append(child) }
                }
            }
        }
        return ids
    }
}
