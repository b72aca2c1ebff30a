import Foundation

/// The trace file: what `tidemark trace record` writes and `show`, `explore` and `materialize` read.
///
/// Format `tidemark-trace` version 1, JSON lines (documented in README, "Tracing any program"):
/// line 1 is a `TraceHeader`; every later line is one `TraceOperation`, in the order the calls
/// completed. Paths are relative to the recorded directory ("" is the directory itself) and
/// `/`-separated. The directory's contents before the command started come first, as
/// `snapshot-directory` and `snapshot-file` operations (parents before children).
public struct TraceFile: Sendable, Equatable {
    public var header: TraceHeader
    public var operations: [TraceOperation]

    public init(header: TraceHeader, operations: [TraceOperation]) {
        self.header = header
        self.operations = operations
    }
}

public struct TraceHeader: Codable, Sendable, Equatable {
    public static let formatName = "tidemark-trace"
    public static let currentVersion = 1

    public var format: String
    public var version: Int
    /// The recorded directory, as an absolute path with symlinks resolved (as strace prints).
    public var directory: String
    /// The command and its arguments.
    public var command: [String]
    /// `strace -V`, first line.
    public var strace: String
    /// The command's exit status (128 + signal when killed by one).
    public var exitStatus: Int32
    /// Wall time of the recorded run, in seconds.
    public var wallSeconds: Double

    public init(directory: String, command: [String], strace: String, exitStatus: Int32, wallSeconds: Double) {
        self.format = Self.formatName
        self.version = Self.currentVersion
        self.directory = directory
        self.command = command
        self.strace = strace
        self.exitStatus = exitStatus
        self.wallSeconds = wallSeconds
    }
}

/// One logical operation on the recorded directory, one line of output, or one call that cannot
/// be modelled. One struct for every kind (the JSON stays flat); which fields a kind uses is
/// listed on `Kind`.
public struct TraceOperation: Codable, Sendable, Hashable {
    public enum Kind: String, Codable, Sendable, Hashable, CaseIterable {
        /// `path` existed as a directory before the command started.
        case snapshotDirectory = "snapshot-directory"
        /// `path` held `data` before the command started.
        case snapshotFile = "snapshot-file"
        /// `open`/`openat`/`creat` of `path` giving `handle`; `flags` ⊆ read, write, create,
        /// exclusive, truncate, append, directory, direct.
        case open
        /// The last descriptor of `handle` closed.
        case close
        /// `data` written through `handle` at `offset` (nil: at the end, O_APPEND); `path` is the
        /// handle's name at the time.
        case write
        /// `path` (or `handle`'s file) cut or grown to `size`.
        case truncate
        /// `fallocate` mode 0 through `handle`: the file grows to at least `offset + size`.
        case fallocate
        case mkdir, rmdir, unlink
        /// `path` renamed to `destination`.
        case rename
        /// `fsync`/`fdatasync` of `handle` (a file or a directory) named `path`.
        case fsync, fdatasync
        /// `sync_file_range` of `size` bytes at `offset` through `handle` (not a persistence
        /// point: it flushes no metadata and no disk cache).
        case syncFileRange = "sync-file-range"
        /// `sync()` or `syncfs()`: everything becomes durable.
        case sync
        /// One line (`text`, without its newline) the command wrote to its standard output.
        case output
        /// A call the simulated disk cannot model: `call` (the syscall), `path`, `reason`.
        case unmodelled
    }

    public var kind: Kind
    /// The thread that made the call (strace's pid column).
    public var pid: Int?
    public var path: String?
    public var destination: String?
    public var handle: Int?
    public var offset: Int64?
    public var size: Int64?
    public var data: Data?
    public var flags: [String]?
    public var text: String?
    public var call: String?
    public var reason: String?

    public init(
        _ kind: Kind, pid: Int? = nil, path: String? = nil, destination: String? = nil, handle: Int? = nil,
        offset: Int64? = nil, size: Int64? = nil, data: Data? = nil, flags: [String]? = nil, text: String? = nil,
        call: String? = nil, reason: String? = nil
    ) {
        self.kind = kind
        self.pid = pid
        self.path = path
        self.destination = destination
        self.handle = handle
        self.offset = offset
        self.size = size
        self.data = data
        self.flags = flags
        self.text = text
        self.call = call
        self.reason = reason
    }

    /// fsync, fdatasync or sync: where the program asks for durability, so where crash states
    /// are explored.
    public var isPersistencePoint: Bool { kind == .fsync || kind == .fdatasync || kind == .sync }

    public func has(flag: String) -> Bool { flags?.contains(flag) ?? false }
}

/// A trace file that cannot be read: names the file, the line and what is wrong.
public struct TraceError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension TraceFile {
    /// The JSON lines, header first.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var out = try encoder.encode(header)
        out.append(0x0A)
        for operation in operations {
            out.append(try encoder.encode(operation))
            out.append(0x0A)
        }
        return out
    }

    public func write(to path: String) throws {
        try encoded().write(to: URL(fileURLWithPath: path))
    }

    /// Parses and checks a trace: format name, version, and each operation's required fields.
    public static func read(_ path: String) throws -> TraceFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TraceError("\(path): cannot read the trace file")
        }
        return try decode(data, name: path)
    }

    public static func decode(_ data: Data, name: String) throws -> TraceFile {
        let decoder = JSONDecoder()
        let lines = data.split(separator: 0x0A, omittingEmptySubsequences: false)
        guard let first = lines.first, !first.isEmpty else { throw TraceError("\(name): empty, not a tidemark trace") }
        let header: TraceHeader
        do {
            header = try decoder.decode(TraceHeader.self, from: Data(first))
        } catch {
            throw TraceError("\(name):1: not a tidemark trace header (\(error))")
        }
        guard header.format == TraceHeader.formatName else {
            throw TraceError("\(name):1: format is \"\(header.format)\", expected \"\(TraceHeader.formatName)\"")
        }
        guard header.version == TraceHeader.currentVersion else {
            throw TraceError("\(name):1: trace format version \(header.version); this tidemark reads version \(TraceHeader.currentVersion)")
        }
        var operations: [TraceOperation] = []
        for (index, line) in lines.enumerated().dropFirst() where !line.isEmpty {
            let operation: TraceOperation
            do {
                operation = try decoder.decode(TraceOperation.self, from: Data(line))
            } catch {
                throw TraceError("\(name):\(index + 1): not a trace operation (\(error))")
            }
            if let missing = operation.missingField {
                throw TraceError("\(name):\(index + 1): \(operation.kind.rawValue) needs \"\(missing)\"")
            }
            operations.append(operation)
        }
        return TraceFile(header: header, operations: operations)
    }
}

extension TraceOperation {
    /// The first field this kind needs that is absent.
    var missingField: String? {
        let required: [(String, Bool)]
        switch kind {
        case .snapshotDirectory, .mkdir, .rmdir, .unlink: required = [("path", path != nil)]
        case .snapshotFile: required = [("path", path != nil), ("data", data != nil)]
        case .open: required = [("path", path != nil), ("handle", handle != nil)]
        case .close, .fsync, .fdatasync: required = [("handle", handle != nil)]
        case .syncFileRange: required = [("handle", handle != nil)]
        case .write: required = [("handle", handle != nil), ("data", data != nil)]
        case .truncate: required = [("size", size != nil), ("path or handle", path != nil || handle != nil)]
        case .fallocate: required = [("handle", handle != nil), ("offset", offset != nil), ("size", size != nil)]
        case .rename: required = [("path", path != nil), ("destination", destination != nil)]
        case .sync: required = []
        case .output: required = [("text", text != nil)]
        case .unmodelled: required = [("call", call != nil), ("reason", reason != nil)]
        }
        return required.first { !$0.1 }?.0
    }
}
