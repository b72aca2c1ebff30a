import Foundation
import TidemarkIO
import TidemarkSimulatedDisk

/// Replays a trace into a fresh `SimulatedFileSystem`, one operation at a time: the recorded
/// directory becomes the simulated root, its snapshot is written and made durable first, and
/// each operation then makes the same calls the program made (so the disk's pending changes
/// are the program's). Each step also says what the operation did, as `show` prints it.
public final class TraceReplay {
    public let trace: TraceFile
    public let disk: SimulatedFileSystem
    /// The next operation to replay.
    public private(set) var position: Int
    /// The simulated disk's call count before each replayed operation (index: operation).
    public private(set) var firstCall: [Int: Int] = [:]
    private var handles: [Int: Opened] = [:]

    enum Opened {
        case file(any FileHandleProtocol)
        case directory(String)
    }

    /// What one replayed operation did.
    public struct Step: Sendable {
        public var index: Int
        public var operation: TraceOperation
        /// "append 120 B at 4096 to wal-1.log", "rename a.tmp → a", "> ack 3".
        public var summary: String
        /// Opens of existing files, closes and other bookkeeping a reader can skip.
        public var isBookkeeping: Bool
    }

    public init(_ trace: TraceFile) throws {
        self.trace = trace
        disk = SimulatedFileSystem(seed: 0, faults: .none, recordTrace: false)
        var index = 0
        var directories = ["/"]
        while index < trace.operations.count {
            let operation = trace.operations[index]
            let path = Self.simulated(operation.path ?? "")
            do {
                switch operation.kind {
                case .snapshotDirectory:
                    try disk.createDirectory(path)
                    directories.append(path)
                case .snapshotFile:
                    let handle = try disk.open(path, options: [.read, .write, .create, .exclusive])
                    try handle.write(Array(operation.data ?? Data()), at: 0)
                    try handle.sync()
                    try handle.close()
                default:
                    break
                }
            } catch {
                throw TraceError("snapshot operation \(index) (\(operation.kind.rawValue) \(operation.path ?? "")): \(error)")
            }
            if operation.kind != .snapshotDirectory && operation.kind != .snapshotFile { break }
            index += 1
        }
        for directory in directories { try disk.syncDirectory(directory) }
        position = index
    }

    /// The simulated path of a trace path.
    public static func simulated(_ path: String) -> String { "/" + path }

    /// Replays operations until `position == index`.
    public func advance(to index: Int) throws {
        while position < min(index, trace.operations.count) { _ = try step() }
    }

    /// Replays the operation at `position`.
    public func step() throws -> Step {
        let index = position
        let operation = trace.operations[index]
        firstCall[index] = disk.callCount
        position += 1
        do {
            let (summary, bookkeeping) = try apply(operation)
            return Step(index: index, operation: operation, summary: summary, isBookkeeping: bookkeeping)
        } catch {
            throw TraceError("operation \(index) (\(operation.kind.rawValue) \(operation.path ?? "")) cannot be replayed: \(error)")
        }
    }

    /// Replays everything; the steps in order.
    public func all() throws -> [Step] {
        var steps: [Step] = []
        while position < trace.operations.count { steps.append(try step()) }
        return steps
    }

    func apply(_ operation: TraceOperation) throws -> (String, Bool) {
        let name = operation.path ?? ""
        let path = Self.simulated(name)
        switch operation.kind {
        case .snapshotDirectory, .snapshotFile:
            throw TraceError("snapshot operations belong at the start of the trace")
        case .open:
            let existing = try? disk.status(path)
            if existing?.kind == .directory || (existing == nil && operation.has(flag: "directory")) {
                handles[operation.handle!] = .directory(path)
                return ("open directory \(display(name))", true)
            }
            var options: OpenOptions = []
            if operation.has(flag: "read") { options.insert(.read) }
            if operation.has(flag: "write") { options.insert(.write) }
            if operation.has(flag: "create") { options.insert(.create) }
            if operation.has(flag: "exclusive") && operation.has(flag: "create") { options.insert(.exclusive) }
            if operation.has(flag: "truncate") && operation.has(flag: "write") { options.insert(.truncate) }
            handles[operation.handle!] = .file(try disk.open(path, options: options))
            if existing == nil { return ("create \(name)", false) }
            if options.contains(.truncate) && (existing?.size ?? 0) > 0 {
                return ("truncate \(name) to 0 (from \(existing!.size), opened with O_TRUNC)", false)
            }
            return ("open \(name)", true)
        case .close:
            switch handles.removeValue(forKey: operation.handle!) {
            case .file(let handle)?: try handle.close()
            case .directory?, nil: break
            }
            return ("close \(name.isEmpty ? "handle \(operation.handle!)" : name)", true)
        case .write:
            let handle = try file(operation)
            let bytes = Array(operation.data!)
            let size = try handle.size()
            let offset = operation.offset ?? size
            try handle.write(bytes, at: offset)
            let what = offset >= size ? "append" : offset + Int64(bytes.count) > size ? "overwrite and extend" : "overwrite"
            return ("\(what) \(bytes.count) B at \(offset) to \(name)", false)
        case .truncate:
            let size = operation.size!
            if operation.handle != nil {
                let handle = try file(operation)
                let old = try handle.size()
                try handle.truncate(to: size)
                return ("truncate \(name) to \(size) (from \(old))", false)
            }
            let handle = try disk.open(path, options: .readWrite)
            let old = try handle.size()
            try handle.truncate(to: size)
            try handle.close()
            return ("truncate \(name) to \(size) (from \(old))", false)
        case .fallocate:
            let handle = try file(operation)
            let end = operation.offset! + operation.size!
            if try handle.size() < end { try handle.truncate(to: end) }
            return ("fallocate \(name) to at least \(end) B", false)
        case .mkdir:
            try disk.createDirectory(path)
            return ("mkdir \(name)", false)
        case .rmdir:
            try disk.remove(path)
            return ("rmdir \(name)", false)
        case .unlink:
            try disk.remove(path)
            return ("unlink \(name)\(operation.reason.map { " (\($0))" } ?? "")", false)
        case .rename:
            let destination = operation.destination!
            let replaces = (try? disk.status(Self.simulated(destination))) != nil
            try disk.rename(path, to: Self.simulated(destination))
            return ("rename \(name) → \(destination)\(replaces ? " (replacing it)" : "")", false)
        case .fsync, .fdatasync:
            let call = operation.kind.rawValue
            switch handles[operation.handle!] {
            case .directory(let directory)?:
                try disk.syncDirectory(directory)
                return ("\(call) directory \(display(String(directory.dropFirst())))", false)
            case .file(let handle)?:
                if operation.kind == .fsync { try handle.sync() } else { try handle.syncData() }
                return ("\(call) \(name)", false)
            case nil:
                throw TraceError("handle \(operation.handle!) is not open")
            }
        case .syncFileRange:
            return ("sync_file_range \(name) \(operation.size ?? 0) B at \(operation.offset ?? 0) \(operation.flags?.joined(separator: "|") ?? "") (no durability promise: not replayed)", false)
        case .sync:
            try syncEverything()
            return ("sync (everything)", false)
        case .output:
            return ("> \(operation.text!)", false)
        case .unmodelled:
            return ("UNMODELLED \(operation.call!)\(operation.path.map { " \(display($0))" } ?? ""): \(operation.reason!)", false)
        }
    }

    func file(_ operation: TraceOperation) throws -> any FileHandleProtocol {
        guard case .file(let handle)? = handles[operation.handle!] else {
            throw TraceError("handle \(operation.handle!) is not an open file")
        }
        return handle
    }

    func display(_ name: String) -> String { name.isEmpty ? "." : name }

    /// `sync()`: every file's data and every directory's entries become durable.
    func syncEverything() throws {
        var queue = ["/"]
        while let directory = queue.popLast() {
            for name in try disk.listDirectory(directory) {
                let path = directory == "/" ? "/" + name : directory + "/" + name
                if try disk.status(path).kind == .directory {
                    queue.append(path)
                } else {
                    let handle = try disk.open(path, options: .read)
                    try handle.sync()
                    try handle.close()
                }
            }
            try disk.syncDirectory(directory)
        }
        for case .file(let handle) in handles.values { try handle.sync() }
    }
}
