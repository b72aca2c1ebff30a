import CSQLite
import TidemarkIO

// The C entry points of the VFS. Each one finds its Swift object, makes exactly one kind of
// `FileSystem` call, and turns a thrown `FileSystemError` into a SQLite result code (recording
// the error on the VFS for `xGetLastError` and `SQLiteError.fileSystemError`). Nothing here
// throws across the C boundary.

/// Which SQLite call failed, for picking its `SQLITE_IOERR_*` code.
enum VFSOperation {
    case open, read, write, truncate, sync, directorySync, fileSize, delete, access, close

    var ioErrorCode: Int32 {
        switch self {
        case .open: TM_SQLITE_CANTOPEN
        case .read: TM_SQLITE_IOERR_READ
        case .write: TM_SQLITE_IOERR_WRITE
        case .truncate: TM_SQLITE_IOERR_TRUNCATE
        case .sync: TM_SQLITE_IOERR_FSYNC
        case .directorySync: TM_SQLITE_IOERR_DIR_FSYNC
        case .fileSize: TM_SQLITE_IOERR_FSTAT
        case .delete: TM_SQLITE_IOERR_DELETE
        case .access: TM_SQLITE_IOERR_ACCESS
        case .close: TM_SQLITE_IOERR_CLOSE
        }
    }
}

/// The SQLite result code for a `FileSystem` error raised by `operation`.
///
/// `.noSpace` is `SQLITE_FULL` (SQLite then rolls back cleanly), except from a sync: SQLite's unix
/// VFS returns `SQLITE_IOERR_FSYNC` for every failed fsync, whatever errno said, because the
/// pages may be gone (delayed allocation) and a clean rollback would be a lie; `.notFound` on delete is
/// `SQLITE_IOERR_DELETE_NOENT` (which SQLite tolerates); `.corrupted` is `SQLITE_IOERR_DATA`
/// (the code SQLite's checksum VFS uses for a bad page); a directory opened as a file is
/// `SQLITE_CANTOPEN_ISDIR`; everything else is the operation's own `SQLITE_IOERR_*`.
func sqliteResultCode(for error: any Error, operation: VFSOperation) -> Int32 {
    guard let error = error as? FileSystemError else { return operation.ioErrorCode }
    switch (error.code, operation) {
    case (.noSpace, .sync), (.noSpace, .directorySync): return operation.ioErrorCode
    case (.noSpace, _): return TM_SQLITE_FULL
    case (.notFound, .delete): return TM_SQLITE_IOERR_DELETE_NOENT
    case (.isDirectory, .open): return TM_SQLITE_CANTOPEN_ISDIR
    case (_, .open): return TM_SQLITE_CANTOPEN
    case (.corrupted, _): return TM_SQLITE_IOERR_DATA
    default: return operation.ioErrorCode
    }
}

/// The io-methods table shared by every file the VFS opens (iVersion 1: no shm, no mmap).
nonisolated(unsafe) let tidemarkIOMethods: UnsafeMutablePointer<sqlite3_io_methods> = {
    var methods = sqlite3_io_methods()
    methods.iVersion = 1
    methods.xClose = { file in closeFile(file) }
    methods.xRead = { file, buffer, amount, offset in readFile(file, buffer, amount, offset) }
    methods.xWrite = { file, buffer, amount, offset in writeFile(file, buffer, amount, offset) }
    methods.xTruncate = { file, size in
        let object = fileObject(file)
        do {
            try object.liveHandle().truncate(to: size)
            return SQLITE_OK
        } catch {
            object.vfs.record(error, path: object.path)
            return sqliteResultCode(for: error, operation: .truncate)
        }
    }
    methods.xSync = { file, flags in syncFile(file, flags) }
    methods.xFileSize = { file, sizeOut in
        let object = fileObject(file)
        do {
            sizeOut?.pointee = try object.liveHandle().size()
            return SQLITE_OK
        } catch {
            object.vfs.record(error, path: object.path)
            return sqliteResultCode(for: error, operation: .fileSize)
        }
    }
    methods.xLock = { file, level in
        let object = fileObject(file)
        return object.vfs.lock(object, to: level)
    }
    methods.xUnlock = { file, level in
        let object = fileObject(file)
        return object.vfs.unlock(object, to: level)
    }
    methods.xCheckReservedLock = { file, resultOut in
        let object = fileObject(file)
        resultOut?.pointee = object.vfs.isReserved(object) ? 1 : 0
        return SQLITE_OK
    }
    methods.xFileControl = { file, operation, argument in fileControl(file, operation, argument) }
    methods.xSectorSize = { file in fileObject(file).vfs.configuration.sectorSize }
    methods.xDeviceCharacteristics = { file in
        fileObject(file).vfs.configuration.deviceCharacteristics.rawValue
    }
    let pointer = UnsafeMutablePointer<sqlite3_io_methods>.allocate(capacity: 1)
    pointer.initialize(to: methods)
    return pointer
}()

/// The `sqlite3_vfs` for one `SQLiteVFS`; `pAppData` is filled in by the caller.
func makeVFSStruct(name: UnsafePointer<CChar>, maxPathLength: Int32) -> sqlite3_vfs {
    var vfs = sqlite3_vfs()
    vfs.iVersion = 2
    vfs.szOsFile = Int32(MemoryLayout<TidemarkSQLiteFile>.size)
    vfs.mxPathname = maxPathLength
    vfs.zName = name
    vfs.xOpen = { vfs, name, file, flags, outFlags in openFile(vfs, name, file, flags, outFlags) }
    vfs.xDelete = { vfs, name, syncDirectory in deleteFile(vfs, name, syncDirectory) }
    vfs.xAccess = { vfs, name, flags, resultOut in accessFile(vfs, name, flags, resultOut) }
    vfs.xFullPathname = { vfs, name, size, output in
        // Identity: a path means what the FileSystem says it means.
        guard let name, let output else { return TM_SQLITE_CANTOPEN_FULLPATH }
        let bytes = Array(String(cString: name).utf8CString)
        if bytes.count > Int(size) { return TM_SQLITE_CANTOPEN_FULLPATH }
        output.update(from: bytes, count: bytes.count)
        return SQLITE_OK
    }
    vfs.xDlOpen = { _, _ in nil }
    vfs.xDlError = { _, size, output in
        writeCString("loadable extensions are not supported by the Tidemark VFS", to: output, capacity: size)
    }
    vfs.xDlSym = { _, _, _ in nil }
    vfs.xDlClose = { _, _ in }
    vfs.xRandomness = { vfs, count, output in
        guard let output, count > 0 else { return 0 }
        let bytes = SQLiteVFS.from(vfs).random.bytes(Int(count))
        bytes.withUnsafeBytes { UnsafeMutableRawPointer(output).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        return count
    }
    vfs.xSleep = { vfs, microseconds in
        SQLiteVFS.from(vfs).clock.sleep(nanoseconds: Int64(microseconds) * 1000)
        return microseconds
    }
    vfs.xCurrentTime = { vfs, daysOut in
        daysOut?.pointee = Double(julianMilliseconds(SQLiteVFS.from(vfs).clock)) / 86_400_000
        return SQLITE_OK
    }
    vfs.xGetLastError = { vfs, size, output in
        guard let error = SQLiteVFS.from(vfs).lastError else {
            writeCString("", to: output, capacity: size)
            return 0
        }
        writeCString(error.description, to: output, capacity: size)
        return error.errno ?? 0
    }
    vfs.xCurrentTimeInt64 = { vfs, millisecondsOut in
        millisecondsOut?.pointee = julianMilliseconds(SQLiteVFS.from(vfs).clock)
        return SQLITE_OK
    }
    return vfs
}

/// Milliseconds since the Julian epoch (noon, 24 November 4714 BC), as `xCurrentTimeInt64`
/// reports them: the Unix epoch is Julian day 2440587.5.
func julianMilliseconds(_ clock: any Clock) -> Int64 {
    let unixEpochInJulianMilliseconds: Int64 = 210_866_760_000_000
    return unixEpochInJulianMilliseconds + clock.wallNanoseconds() / 1_000_000
}

private func writeCString(_ text: String, to output: UnsafeMutablePointer<CChar>?, capacity: Int32) {
    guard let output, capacity > 0 else { return }
    let bytes = Array(text.utf8.prefix(Int(capacity) - 1))
    for (index, byte) in bytes.enumerated() { output[index] = CChar(bitPattern: byte) }
    output[bytes.count] = 0
}

private func tidemarkFile(_ file: UnsafeMutablePointer<sqlite3_file>?) -> UnsafeMutablePointer<TidemarkSQLiteFile> {
    UnsafeMutableRawPointer(file!).assumingMemoryBound(to: TidemarkSQLiteFile.self)
}

func fileObject(_ file: UnsafeMutablePointer<sqlite3_file>?) -> SQLiteVFSFile {
    Unmanaged<SQLiteVFSFile>.fromOpaque(tidemarkFile(file).pointee.owner).takeUnretainedValue()
}

/// `SQLITE_OPEN_*` bits that name the kind of file being opened.
private let fileTypeMask: Int32 = SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_TEMP_DB | SQLITE_OPEN_TRANSIENT_DB
    | SQLITE_OPEN_MAIN_JOURNAL | SQLITE_OPEN_TEMP_JOURNAL | SQLITE_OPEN_SUBJOURNAL
    | SQLITE_OPEN_SUPER_JOURNAL | SQLITE_OPEN_WAL

private func openFile(
    _ vfsPointer: UnsafeMutablePointer<sqlite3_vfs>?,
    _ name: UnsafePointer<CChar>?,
    _ file: UnsafeMutablePointer<sqlite3_file>?,
    _ flags: Int32,
    _ outFlags: UnsafeMutablePointer<Int32>?
) -> Int32 {
    let vfs = SQLiteVFS.from(vfsPointer)
    let slot = tidemarkFile(file)
    // SQLite calls xClose only when pMethods is set, so it stays nil until the open succeeds.
    slot.pointee.base.pMethods = nil
    slot.pointee.owner = nil

    let path = name.map { String(cString: $0) } ?? vfs.temporaryPath()
    let deleteOnClose = name == nil || flags & SQLITE_OPEN_DELETEONCLOSE != 0
    let type = flags & fileTypeMask
    let creates = flags & SQLITE_OPEN_CREATE != 0
    var options: OpenOptions = flags & SQLITE_OPEN_READWRITE != 0 ? .readWrite : .read
    if creates { options.insert(.create) }
    if creates && flags & SQLITE_OPEN_EXCLUSIVE != 0 { options.insert(.exclusive) }

    var resultFlags = flags
    let handle: any FileHandleProtocol
    do {
        handle = try vfs.liveFileSystem(for: path).open(path, options: options)
    } catch let error as FileSystemError where error.code == .permissionDenied && options.contains(.write) {
        // As the unix VFS does: a read-write open the file system refuses falls back to
        // read-only, and SQLite is told so through the output flags.
        do {
            handle = try vfs.liveFileSystem(for: path).open(path, options: .read)
            resultFlags = (flags & ~(SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) | SQLITE_OPEN_READONLY
        } catch {
            vfs.record(error, path: path)
            return sqliteResultCode(for: error, operation: .open)
        }
    } catch {
        vfs.record(error, path: path)
        return sqliteResultCode(for: error, operation: .open)
    }

    if type == SQLITE_OPEN_MAIN_DB { vfs.noteMainDatabase(path: path) }
    let isNewJournal = creates
        && (type == SQLITE_OPEN_MAIN_JOURNAL || type == SQLITE_OPEN_SUPER_JOURNAL || type == SQLITE_OPEN_WAL)
    let object = SQLiteVFSFile(
        vfs: vfs, handle: handle, path: path, deleteOnClose: deleteOnClose, needsDirectorySync: isNewJournal,
        checksPages: vfs.configuration.pageChecksums && type == SQLITE_OPEN_MAIN_DB)
    slot.pointee.owner = Unmanaged.passRetained(object).toOpaque()
    slot.pointee.base.pMethods = UnsafePointer(tidemarkIOMethods)
    outFlags?.pointee = resultFlags
    return SQLITE_OK
}

private func deleteFile(
    _ vfsPointer: UnsafeMutablePointer<sqlite3_vfs>?, _ name: UnsafePointer<CChar>?, _ syncDirectory: Int32
) -> Int32 {
    let vfs = SQLiteVFS.from(vfsPointer)
    guard let name else { return TM_SQLITE_IOERR_DELETE }
    let path = String(cString: name)
    do {
        try vfs.liveFileSystem(for: path).remove(path)
    } catch {
        vfs.record(error, path: path)
        return sqliteResultCode(for: error, operation: .delete)
    }
    if syncDirectory != 0 {
        let directory = FilePaths.parent(of: path)
        do {
            try vfs.liveFileSystem(for: directory).syncDirectory(directory)
        } catch {
            vfs.record(error, path: directory)
            return sqliteResultCode(for: error, operation: .directorySync)
        }
    }
    return SQLITE_OK
}

private func accessFile(
    _ vfsPointer: UnsafeMutablePointer<sqlite3_vfs>?, _ name: UnsafePointer<CChar>?, _ flags: Int32,
    _ resultOut: UnsafeMutablePointer<Int32>?
) -> Int32 {
    let vfs = SQLiteVFS.from(vfsPointer)
    guard let name else { return TM_SQLITE_IOERR_ACCESS }
    let path = String(cString: name)
    do {
        let status = try vfs.liveFileSystem(for: path).status(path)
        // As the unix VFS: for SQLITE_ACCESS_EXISTS an empty regular file does not count, so
        // a journal truncated to zero (journal_mode=TRUNCATE) is not hot.
        let exists = flags != SQLITE_ACCESS_EXISTS || status.kind == .directory || status.size > 0
        resultOut?.pointee = exists ? 1 : 0
        return SQLITE_OK
    } catch let error as FileSystemError where error.code == .notFound || error.code == .notDirectory {
        resultOut?.pointee = 0
        return SQLITE_OK
    } catch {
        vfs.record(error, path: path)
        resultOut?.pointee = 0
        return sqliteResultCode(for: error, operation: .access)
    }
}

private func closeFile(_ file: UnsafeMutablePointer<sqlite3_file>?) -> Int32 {
    let slot = tidemarkFile(file)
    let unmanaged = Unmanaged<SQLiteVFSFile>.fromOpaque(slot.pointee.owner)
    let object = unmanaged.takeUnretainedValue()
    defer {
        slot.pointee.owner = nil
        slot.pointee.base.pMethods = nil
        unmanaged.release()
    }
    _ = object.vfs.unlock(object, to: SQLITE_LOCK_NONE)
    var result = SQLITE_OK
    do {
        try object.liveHandle().close()
    } catch {
        object.vfs.record(error, path: object.path)
        result = sqliteResultCode(for: error, operation: .close)
    }
    if object.deleteOnClose {
        do {
            try object.vfs.liveFileSystem(for: object.path).remove(object.path)
        } catch let error as FileSystemError where error.code == .notFound {
        } catch {
            object.vfs.record(error, path: object.path)
            if result == SQLITE_OK { result = sqliteResultCode(for: error, operation: .delete) }
        }
    }
    return result
}

private func readFile(
    _ file: UnsafeMutablePointer<sqlite3_file>?, _ buffer: UnsafeMutableRawPointer?, _ amount: Int32, _ offset: sqlite3_int64
) -> Int32 {
    let object = fileObject(file)
    guard let buffer else { return TM_SQLITE_IOERR_READ }
    do {
        let bytes = try object.liveHandle().read(at: offset, count: Int(amount))
        bytes.withUnsafeBytes { source in
            if let base = source.baseAddress { buffer.copyMemory(from: base, byteCount: source.count) }
        }
        if bytes.count < Int(amount) {
            // SQLite requires the unread tail zeroed: it may use the buffer regardless.
            (buffer + bytes.count).initializeMemory(as: UInt8.self, repeating: 0, count: Int(amount) - bytes.count)
            return TM_SQLITE_IOERR_SHORT_READ
        }
        return verifyPage(object, bytes, offset: offset)
    } catch {
        object.vfs.record(error, path: object.path)
        return sqliteResultCode(for: error, operation: .read)
    }
}

private func writeFile(
    _ file: UnsafeMutablePointer<sqlite3_file>?, _ buffer: UnsafeRawPointer?, _ amount: Int32, _ offset: sqlite3_int64
) -> Int32 {
    let object = fileObject(file)
    guard let buffer else { return TM_SQLITE_IOERR_WRITE }
    var bytes = Array(UnsafeRawBufferPointer(start: buffer, count: Int(amount)))
    // Sealed in the copy: SQLite's own page (and so what it writes to the WAL) is unchanged.
    bytes.withUnsafeMutableBytes { page in
        if let number = object.checksummedPage(UnsafeRawBufferPointer(page), amount: page.count, offset: offset) {
            SQLitePageChecksum.seal(page, pageNumber: number)
        }
    }
    do {
        try object.liveHandle().write(bytes, at: offset)
        return SQLITE_OK
    } catch {
        object.vfs.record(error, path: object.path)
        return sqliteResultCode(for: error, operation: .write)
    }
}

/// `SQLITE_OK`, or `SQLITE_IOERR_DATA` with the `SQLitePageChecksum.Mismatch` recorded when
/// a full page read from a checksummed database fails its checksum.
private func verifyPage(_ object: SQLiteVFSFile, _ bytes: [UInt8], offset: Int64) -> Int32 {
    bytes.withUnsafeBytes { page in
        guard let number = object.checksummedPage(page, amount: page.count, offset: offset),
            let holds = SQLitePageChecksum.failure(page, pageNumber: number)
        else { return SQLITE_OK }
        let mismatch = SQLitePageChecksum.Mismatch(
            path: object.path, pageNumber: Int(number), offset: offset, holdsPage: holds == 0 ? nil : Int(holds))
        object.vfs.record(FileSystemError(.corrupted, mismatch.description, path: object.path, cause: mismatch), path: object.path)
        return TM_SQLITE_IOERR_DATA
    }
}

private func syncFile(_ file: UnsafeMutablePointer<sqlite3_file>?, _ flags: Int32) -> Int32 {
    let object = fileObject(file)
    do {
        if flags & SQLITE_SYNC_DATAONLY != 0 {
            try object.liveHandle().syncData()
        } else {
            try object.liveHandle().sync()
        }
    } catch {
        object.vfs.record(error, path: object.path)
        return sqliteResultCode(for: error, operation: .sync)
    }
    if object.needsDirectorySync {
        let directory = FilePaths.parent(of: object.path)
        do {
            try object.vfs.liveFileSystem(for: directory).syncDirectory(directory)
        } catch {
            // Stays set: the next sync retries, and SQLite has not been told the name is durable.
            object.vfs.record(error, path: directory)
            return sqliteResultCode(for: error, operation: .directorySync)
        }
        object.needsDirectorySync = false
    }
    return SQLITE_OK
}

private func fileControl(_ file: UnsafeMutablePointer<sqlite3_file>?, _ operation: Int32, _ argument: UnsafeMutableRawPointer?) -> Int32 {
    let object = fileObject(file)
    switch operation {
    case SQLITE_FCNTL_LOCKSTATE:
        argument?.assumingMemoryBound(to: Int32.self).pointee = object.vfs.state.withLock { _ in object.lockLevel }
        return SQLITE_OK
    case SQLITE_FCNTL_VFSNAME:
        // SQLite frees the string with sqlite3_free, so it must come from sqlite3_malloc.
        let utf8 = Array(object.vfs.name.utf8CString)
        guard let copy = sqlite3_malloc(Int32(utf8.count)) else { return SQLITE_NOMEM }
        utf8.withUnsafeBytes { copy.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        argument?.assumingMemoryBound(to: UnsafeMutableRawPointer?.self).pointee = copy
        return SQLITE_OK
    case SQLITE_FCNTL_HAS_MOVED:
        // The unix VFS compares inodes; a name-level file system can only say whether the
        // path still names a file.
        guard let fileSystem = try? object.vfs.liveFileSystem(for: object.path) else { return TM_SQLITE_IOERR_ACCESS }
        let moved = !fileSystem.exists(object.path)
        argument?.assumingMemoryBound(to: Int32.self).pointee = moved ? 1 : 0
        return SQLITE_OK
    default:
        return TM_SQLITE_NOTFOUND
    }
}
