#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TidemarkIO

/// `flock(2)`, modelled: a lock belongs to one handle (one open file description). Another
/// handle's conflicting lock on the same file fails at once; closing the handle, dropping it,
/// or any crash (a killed process's descriptors close) releases it. Locks are not durable and
/// leave no trace on the disk images.
extension SimulatedFileSystem {
    /// An `open` (traced as one) of `path`, read-write and created when missing for
    /// `exclusive`, read-only otherwise, then the lock: `.wouldBlock` when another handle holds
    /// an exclusive lock, or any lock and this one is exclusive.
    public func lockFile(_ path: String, exclusive: Bool) throws -> any FileHandleProtocol {
        let handle = try open(path, options: exclusive ? [.read, .write, .create] : .read) as! SimulatedFileHandle
        let granted: Bool = withLock {
            let holders = fileLocks[handle.inode.id, default: [:]]
            guard exclusive ? holders.isEmpty : !holders.values.contains(true) else { return false }
            fileLocks[handle.inode.id, default: [:]][ObjectIdentifier(handle)] = exclusive
            handle.holdsLock = true
            return true
        }
        guard granted else {
            try? handle.close()
            throw FileSystemError(.wouldBlock, "another open holds a conflicting lock", path: path, errno: EWOULDBLOCK)
        }
        return handle
    }

    /// Drops `handle`'s lock, if it holds one from this epoch (a crash dropped older ones).
    /// The caller holds `lock`.
    func releaseLock(of handle: SimulatedFileHandle) {
        guard handle.holdsLock else { return }
        handle.holdsLock = false
        guard handle.epoch == epoch else { return }
        fileLocks[handle.inode.id]?[ObjectIdentifier(handle)] = nil
        if fileLocks[handle.inode.id]?.isEmpty == true { fileLocks[handle.inode.id] = nil }
    }
}
