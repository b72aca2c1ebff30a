import TidemarkIO

/// What a power loss now could not take.
extension SimulatedFileSystem {
    /// Whether the first `end` bytes of the file at `path`, as reads see them now, would survive
    /// a power loss: the name resolves to the same file in the durable namespace (every parent
    /// directory's entry included), no pending or fsync-lost change reaches below `end`, and the
    /// durable image is at least that long. The checker asks it where an operation cut short by a
    /// crash wrote its commit record (`Subject.inFlightCommitRecord`): once that record is
    /// durable, the operation committed, acknowledged or not.
    public func isDurable(_ path: String, through end: Int64) -> Bool {
        withLock {
            guard case .file(let inode)? = try? lookup(path).node else { return false }
            let parts = Self.components(path)
            var directory = root
            for part in parts.dropLast() {
                guard case .directory(let next)? = directory.durableEntries[part] else { return false }
                directory = next
            }
            guard let name = parts.last, case .file(let durable)? = directory.durableEntries[name], durable === inode else { return false }
            let reachesBelowEnd = { (change: PendingChange) in min(change.offset, change.landingOffset) < end }
            return inode.durable.count >= end && !inode.pending.contains(where: reachesBelowEnd)
                && !inode.lostToFsyncError.contains(where: reachesBelowEnd)
        }
    }
}
