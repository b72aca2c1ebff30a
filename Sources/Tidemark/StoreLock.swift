import TidemarkIO

/// One writer at a time, as LevelDB and RocksDB do it: a writable store holds an exclusive
/// `flock` on `LOCK` in its directory for its whole life, and writes its owner's name
/// (`StoreOptions.lockOwner`, e.g. "pid 4242") into it so a refused writer can say who holds
/// it. A read-only open creates nothing: it takes a shared lock when `LOCK` exists and can be
/// opened (so it never reads while a writer changes files under it), and goes without one when
/// the file is missing or unreadable. The kernel drops the lock when the process dies, so a
/// crash never leaves a stale lock behind.
enum StoreLock {
    static func acquire(directory: String, fileSystem: any FileSystem, options: StoreOptions) throws -> (any FileHandleProtocol)? {
        let path = FilePaths.join(directory, StoreFiles.lock)
        if options.readOnly, !fileSystem.exists(path) { return nil }
        let handle: any FileHandleProtocol
        do {
            handle = try fileSystem.lockFile(path, exclusive: !options.readOnly)
        } catch let error as FileSystemError where error.code == .wouldBlock {
            let owner = (try? fileSystem.readFile(path)).map { String(decoding: $0, as: UTF8.self) } ?? ""
            let holder = owner.isEmpty ? "a process that did not name itself" : owner
            let what = options.readOnly ? "a writer is using this store" : "another writer has this store open"
            throw StoreError(.locked, "\(what) (\(holder) holds \(StoreFiles.lock)); try again when it has finished", path: path)
        } catch let error as FileSystemError {
            if options.readOnly { return nil }  // unreadable LOCK: read without it
            throw StoreError(.io, "cannot take the store's lock", path: path, cause: error)
        }
        if !options.readOnly {
            do {
                try handle.truncate(to: 0)
                if !options.lockOwner.isEmpty { try handle.write(Array(options.lockOwner.utf8), at: 0) }
            } catch let error as FileSystemError {
                try? handle.close()
                throw StoreError(.io, "cannot write the lock owner", path: path, cause: error)
            }
        }
        return handle
    }
}
