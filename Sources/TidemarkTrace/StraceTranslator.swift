import Foundation

/// Turns strace's calls into the trace's logical operations on one directory.
///
/// It keeps what the kernel keeps per process: descriptor tables (shared by threads, copied at
/// fork, shared or copied per `CLONE_FILES`), open file descriptions with their offsets (so a
/// plain `write` gets its offset: opens start at 0, `read`/`write` advance, `lseek` sets,
/// `dup` shares), and each thread's working directory (relative paths). Only operations on
/// the recorded directory are kept; writes to the recorded command's standard output (a pipe
/// named by `outputPipe`, e.g. "pipe:[1234]") become `output` lines.
public struct StraceTranslator {
    final class Description {
        /// The trace's handle number (0 when not traced).
        let id: Int
        var offset: Int64 = 0
        var append: Bool
        /// An `open` operation was emitted for it (it was opened inside the directory).
        var traced: Bool
        init(id: Int, append: Bool, traced: Bool) {
            self.id = id
            self.append = append
            self.traced = traced
        }
    }

    final class DescriptorTable {
        var entries: [Int: Description] = [:]
        func copy() -> DescriptorTable {
            let table = DescriptorTable()
            table.entries = entries
            return table
        }
    }

    public let directory: String
    public let outputPipe: String?
    public private(set) var operations: [TraceOperation] = []
    private var tables: [Int: DescriptorTable] = [:]
    private var workingDirectories: [Int: String] = [:]
    private let initialWorkingDirectory: String
    /// Handles number the descriptions opened inside the directory, from 1.
    private var nextHandle = 1
    private var pendingOutput: [UInt8] = []
    private var reader = StraceLineReader()

    /// The syscalls to ask strace for (`-e trace=`).
    public static let tracedCalls = [
        "open", "openat", "openat2", "creat", "close", "close_range", "dup", "dup2", "dup3", "fcntl",
        "read", "readv", "write", "writev", "pwrite64", "pwritev", "pwritev2", "lseek",
        "truncate", "ftruncate", "fallocate", "fsync", "fdatasync", "sync_file_range", "sync", "syncfs", "msync",
        "rename", "renameat", "renameat2", "unlink", "unlinkat", "rmdir", "mkdir", "mkdirat",
        "link", "linkat", "symlink", "symlinkat", "mmap", "copy_file_range", "sendfile", "splice",
        "io_uring_setup", "io_uring_enter", "chdir", "fchdir", "clone", "clone3", "fork", "vfork",
    ]

    public init(directory: String, outputPipe: String?, workingDirectory: String) {
        self.directory = Self.normalize(directory)
        self.outputPipe = outputPipe
        self.initialWorkingDirectory = Self.normalize(workingDirectory)
    }

    /// Feeds strace's whole output.
    public mutating func translate(_ straceOutput: String) throws {
        for line in straceOutput.split(separator: "\n") where !line.isEmpty {
            if let call = try reader.call(from: line) { try handle(call) }
        }
        flushOutput(pid: nil)
    }

    // MARK: Calls

    mutating func handle(_ call: StraceCall) throws {
        let pid = call.pid
        let args = call.arguments
        func arg(_ i: Int) -> String { i < args.count ? args[i] : "" }
        // Every AT_FDCWD decoration tells this thread's working directory.
        for text in args where text.hasPrefix("AT_FDCWD<") {
            if let path = try StraceArgument.descriptor(text).path { workingDirectories[pid] = path }
        }
        switch call.name {
        case "clone", "clone3", "fork", "vfork":
            guard call.succeeded, let child = call.result.map(Int.init) else { return }
            let shared = call.name.hasPrefix("clone") && args.joined(separator: ",").contains("CLONE_FILES")
            tables[child] = shared ? table(pid) : table(pid).copy()
            workingDirectories[child] = workingDirectory(pid)
        case "chdir":
            if call.succeeded { workingDirectories[pid] = resolve(try StraceArgument.string(arg(0)).bytes, pid: pid, base: nil) }
        case "fchdir":
            if call.succeeded, let path = try StraceArgument.descriptor(arg(0)).path { workingDirectories[pid] = path }
        case "open", "creat", "openat", "openat2":
            try handleOpen(call)
        case "close":
            guard call.succeeded, let fd = try StraceArgument.descriptor(arg(0)).fd else { return }
            close(fd, pid: pid)
        case "close_range":
            guard call.succeeded, let low = StraceArgument.integer(arg(0)), let high = StraceArgument.integer(arg(1)) else { return }
            for fd in table(pid).entries.keys.sorted() where Int64(fd) >= low && Int64(fd) <= high { close(fd, pid: pid) }
        case "dup", "dup2", "dup3":
            guard call.succeeded, let old = try StraceArgument.descriptor(arg(0)).fd, let new = call.result else { return }
            if Int(new) != old { close(Int(new), pid: pid) }
            table(pid).entries[Int(new)] = description(old, pid: pid, path: nil)
        case "fcntl":
            guard call.succeeded, arg(1).hasPrefix("F_DUPFD"), let old = try StraceArgument.descriptor(arg(0)).fd,
                let new = call.result else { return }
            table(pid).entries[Int(new)] = description(old, pid: pid, path: nil)
        case "read", "readv":
            guard call.succeeded, let fd = try StraceArgument.descriptor(arg(0)).fd, let count = call.result else { return }
            description(fd, pid: pid, path: nil).offset += count
        case "lseek":
            guard call.succeeded, let fd = try StraceArgument.descriptor(arg(0)).fd, let offset = call.result else { return }
            description(fd, pid: pid, path: nil).offset = offset
        case "write", "writev", "pwrite64", "pwritev", "pwritev2":
            try handleWrite(call)
        case "truncate":
            guard call.succeeded, let path = inside(try StraceArgument.string(arg(0)).bytes, pid: pid, base: nil) else { return }
            emit(TraceOperation(.truncate, pid: pid, path: path, size: StraceArgument.integer(arg(1))))
        case "ftruncate":
            try onHandle(call) { handle, path in TraceOperation(.truncate, pid: pid, path: path, handle: handle, size: StraceArgument.integer(arg(1))) }
        case "fsync":
            try onHandle(call) { handle, path in TraceOperation(.fsync, pid: pid, path: path, handle: handle) }
        case "fdatasync":
            try onHandle(call) { handle, path in TraceOperation(.fdatasync, pid: pid, path: path, handle: handle) }
        case "sync_file_range":
            try onHandle(call) { handle, path in
                TraceOperation(.syncFileRange, pid: pid, path: path, handle: handle, offset: StraceArgument.integer(arg(1)),
                               size: StraceArgument.integer(arg(2)), flags: StraceArgument.flags(arg(3)).sorted())
            }
        case "sync":
            if call.succeeded { emit(TraceOperation(.sync, pid: pid)) }
        case "syncfs":
            try onHandle(call) { _, path in TraceOperation(.sync, pid: pid, path: path) }
        case "fallocate":
            let mode = arg(1)
            try onHandle(call) { handle, path in
                mode == "0"
                    ? TraceOperation(.fallocate, pid: pid, path: path, handle: handle, offset: StraceArgument.integer(arg(2)),
                                     size: StraceArgument.integer(arg(3)))
                    : Self.unmodelled(call, path: path, "fallocate mode \(mode) (only mode 0, which grows the file, is modelled)")
            }
        case "rename", "renameat", "renameat2":
            try handleRename(call)
        case "unlink", "rmdir", "unlinkat":
            guard call.succeeded else { return }
            let (base, name) = call.name == "unlinkat" ? (try StraceArgument.descriptor(arg(0)).path, arg(1)) : (nil, arg(0))
            guard let path = inside(try StraceArgument.string(name).bytes, pid: pid, base: base) else { return }
            let isDirectory = call.name == "rmdir" || arg(2).contains("AT_REMOVEDIR")
            emit(TraceOperation(isDirectory ? .rmdir : .unlink, pid: pid, path: path))
        case "mkdir", "mkdirat":
            guard call.succeeded else { return }
            let (base, name) = call.name == "mkdirat" ? (try StraceArgument.descriptor(arg(0)).path, arg(1)) : (nil, arg(0))
            guard let path = inside(try StraceArgument.string(name).bytes, pid: pid, base: base) else { return }
            emit(TraceOperation(.mkdir, pid: pid, path: path))
        case "link", "linkat", "symlink", "symlinkat":
            guard call.succeeded else { return }
            let names: [(String?, String)] = switch call.name {
            case "link": [(nil, arg(0)), (nil, arg(1))]
            case "linkat": [(try StraceArgument.descriptor(arg(0)).path, arg(1)), (try StraceArgument.descriptor(arg(2)).path, arg(3))]
            case "symlink": [(nil, arg(1))]
            default: [(try StraceArgument.descriptor(arg(1)).path, arg(2))]
            }
            for (base, name) in names {
                if let path = inside(try StraceArgument.string(name).bytes, pid: pid, base: base) {
                    emit(Self.unmodelled(call, path: path, "\(call.name.hasPrefix("sym") ? "symbolic" : "hard") links are not modelled by the simulated disk"))
                    break
                }
            }
        case "mmap":
            let prot = StraceArgument.flags(arg(2)), flags = StraceArgument.flags(arg(3))
            guard call.succeeded, prot.contains("PROT_WRITE"), flags.contains("MAP_SHARED") else { return }
            let (_, path) = try StraceArgument.descriptor(arg(4))
            if let path, let relative = relativePath(path) {
                emit(Self.unmodelled(call, path: relative, "writes through a shared writable mapping are invisible to strace"))
            }
        case "copy_file_range", "sendfile", "splice":
            guard call.succeeded else { return }
            let target = call.name == "sendfile" ? arg(0) : arg(2)
            if let path = try StraceArgument.descriptor(target).path, let relative = relativePath(path) {
                emit(Self.unmodelled(call, path: relative, "\(call.name) copies bytes strace does not show"))
            }
        case "io_uring_setup", "io_uring_enter":
            if call.succeeded { emit(Self.unmodelled(call, path: nil, "io_uring submits I/O strace does not show (any file may be written)")) }
        default:
            break
        }
    }

    mutating func handleOpen(_ call: StraceCall) throws {
        guard call.succeeded, let fd = call.result.map(Int.init) else { return }
        let args = call.arguments
        let pid = call.pid
        let flagText: String
        switch call.name {
        case "creat": flagText = "O_WRONLY|O_CREAT|O_TRUNC"
        case "open": flagText = args.count > 1 ? args[1] : ""
        case "openat": flagText = args.count > 2 ? args[2] : ""
        default:  // openat2: {flags=O_RDONLY|O_CLOEXEC, resolve=…}
            let how = args.count > 2 ? args[2] : ""
            flagText = how.split(separator: ",").first { $0.contains("flags=") }.map { String($0.split(separator: "=").last ?? "") } ?? ""
        }
        let flags = StraceArgument.flags(flagText.replacingOccurrences(of: "{", with: "").replacingOccurrences(of: "}", with: ""))
        close(fd, pid: pid)
        let path = call.resultPath.flatMap(relativePath)
        let entry = Description(id: path == nil ? 0 : nextHandle, append: flags.contains("O_APPEND"), traced: path != nil)
        if path != nil { nextHandle += 1 }
        table(pid).entries[fd] = entry
        guard let path else { return }
        var names: [String] = []
        if !flags.contains("O_WRONLY") { names.append("read") }
        if flags.contains("O_WRONLY") || flags.contains("O_RDWR") { names.append("write") }
        for (flag, name) in [("O_CREAT", "create"), ("O_EXCL", "exclusive"), ("O_TRUNC", "truncate"), ("O_APPEND", "append"),
                             ("O_DIRECTORY", "directory"), ("O_DIRECT", "direct")] where flags.contains(flag) {
            names.append(name)
        }
        emit(TraceOperation(.open, pid: pid, path: path, handle: entry.id, flags: names))
        if flags.contains("O_DIRECT") {
            emit(Self.unmodelled(call, path: path, "O_DIRECT bypasses the page cache; its writes are modelled as buffered ones"))
        }
    }

    mutating func handleWrite(_ call: StraceCall) throws {
        guard call.succeeded, let written = call.result, call.arguments.count >= 2 else { return }
        let pid = call.pid
        let (fdValue, path) = try StraceArgument.descriptor(call.arguments[0])
        guard let fd = fdValue else { return }
        let entry = description(fd, pid: pid, path: path)
        let positional = call.name.hasPrefix("pwrite")
        defer { if !positional { entry.offset += written } }
        let isOutput = outputPipe != nil && path == outputPipe
        guard isOutput || path.flatMap(relativePath) != nil else { return }
        let (bytes, truncated) = call.name.hasSuffix("v") || call.name == "pwritev2"
            ? try StraceArgument.ioVector(call.arguments[1]) : try StraceArgument.string(call.arguments[1])
        guard !truncated, bytes.count >= Int(written) else {
            throw TraceError("strace cut the bytes of a \(call.name) of \(written) bytes by thread \(pid); record with a larger -s")
        }
        let data = Array(bytes.prefix(Int(written)))
        if isOutput {
            pendingOutput += data
            flushOutput(pid: pid)
            return
        }
        let relative = relativePath(path!)!
        guard entry.traced else {
            emit(Self.unmodelled(call, path: relative, "write through a descriptor opened before recording or outside the directory"))
            return
        }
        var offset: Int64? = entry.offset
        if positional {
            // pwrite64(fd, buf, count, offset), pwritev(fd, iov, count, offset[, flags])
            offset = call.arguments.count > 3 ? StraceArgument.integer(call.arguments[3]) : nil
        } else if entry.append {
            offset = nil
        }
        emit(TraceOperation(.write, pid: pid, path: relative, handle: entry.id, offset: offset, data: Data(data)))
    }

    mutating func handleRename(_ call: StraceCall) throws {
        guard call.succeeded else { return }
        let args = call.arguments
        let pid = call.pid
        let source: String, target: String
        if call.name == "rename" {
            source = resolve(try StraceArgument.string(args[0]).bytes, pid: pid, base: nil)
            target = resolve(try StraceArgument.string(args[1]).bytes, pid: pid, base: nil)
        } else {
            source = resolve(try StraceArgument.string(args[1]).bytes, pid: pid, base: try StraceArgument.descriptor(args[0]).path)
            target = resolve(try StraceArgument.string(args[3]).bytes, pid: pid, base: try StraceArgument.descriptor(args[2]).path)
        }
        let from = relativePath(source), to = relativePath(target)
        if call.name == "renameat2", args.count > 4, args[4].contains("RENAME_EXCHANGE"), from != nil || to != nil {
            emit(Self.unmodelled(call, path: from ?? to, "RENAME_EXCHANGE swaps two names; the simulated disk has no exchange"))
            return
        }
        switch (from, to) {
        case let (from?, to?): emit(TraceOperation(.rename, pid: pid, path: from, destination: to))
        case let (from?, nil): emit(TraceOperation(.unlink, pid: pid, path: from, reason: "renamed out of the directory"))
        case let (nil, to?): emit(Self.unmodelled(call, path: to, "renamed into the directory from outside it (contents unknown)"))
        case (nil, nil): break
        }
    }

    /// Emits the operation `make` builds for a call on a descriptor of the directory.
    mutating func onHandle(_ call: StraceCall, _ make: (Int?, String) -> TraceOperation) throws {
        guard call.succeeded, let first = call.arguments.first else { return }
        let (fdValue, path) = try StraceArgument.descriptor(first)
        guard let fd = fdValue, let path, let relative = relativePath(path) else { return }
        let entry = description(fd, pid: call.pid, path: path)
        let operation = make(entry.traced ? entry.id : nil, relative)
        // Without an `open` in the trace there is no handle to replay it on.
        emit(operation.missingField == nil
             ? operation : Self.unmodelled(call, path: relative, "\(call.name) on a descriptor opened before recording"))
    }

    // MARK: State

    mutating func table(_ pid: Int) -> DescriptorTable {
        if let table = tables[pid] { return table }
        let table = DescriptorTable()
        tables[pid] = table
        return table
    }

    /// The description behind `fd`; one it never saw opened (inherited) starts untraced at 0.
    mutating func description(_ fd: Int, pid: Int, path: String?) -> Description {
        if let entry = table(pid).entries[fd] { return entry }
        let entry = Description(id: 0, append: false, traced: false)
        table(pid).entries[fd] = entry
        return entry
    }

    mutating func close(_ fd: Int, pid: Int) {
        guard let entry = table(pid).entries.removeValue(forKey: fd) else { return }
        guard entry.traced else { return }
        // Close the handle when its last descriptor in any table goes.
        let stillOpen = tables.values.contains { $0.entries.values.contains { $0 === entry } }
        if !stillOpen { emit(TraceOperation(.close, pid: pid, handle: entry.id)) }
    }

    func workingDirectory(_ pid: Int) -> String { workingDirectories[pid] ?? initialWorkingDirectory }

    /// The absolute path `name` names: itself when absolute, else under `base` (a `*at` call's
    /// directory) or the thread's working directory.
    func resolve(_ name: [UInt8], pid: Int, base: String?) -> String {
        let text = String(decoding: name, as: UTF8.self)
        if text.hasPrefix("/") { return Self.normalize(text) }
        return Self.normalize((base ?? workingDirectory(pid)) + "/" + text)
    }

    func inside(_ name: [UInt8], pid: Int, base: String?) -> String? {
        relativePath(resolve(name, pid: pid, base: base))
    }

    /// The path relative to the directory ("" for the directory), or nil outside it.
    func relativePath(_ absolute: String) -> String? {
        let path = Self.normalize(absolute)
        if path == directory { return "" }
        let prefix = directory == "/" ? "/" : directory + "/"
        return path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : nil
    }

    /// Lexical: "." and empty components vanish, ".." goes up.
    static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            if part == "." { continue }
            if part == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }

    static func unmodelled(_ call: StraceCall, path: String?, _ reason: String) -> TraceOperation {
        TraceOperation(.unmodelled, pid: call.pid, path: path, call: call.name, reason: reason)
    }

    mutating func emit(_ operation: TraceOperation) { operations.append(operation) }

    /// Emits each complete line written to standard output so far (and, at the end, the rest).
    mutating func flushOutput(pid: Int?) {
        while let newline = pendingOutput.firstIndex(of: 0x0A) {
            emit(TraceOperation(.output, pid: pid, text: String(decoding: pendingOutput[..<newline], as: UTF8.self)))
            pendingOutput.removeSubrange(...newline)
        }
        if pid == nil, !pendingOutput.isEmpty {
            emit(TraceOperation(.output, text: String(decoding: pendingOutput, as: UTF8.self)))
            pendingOutput.removeAll()
        }
    }
}
