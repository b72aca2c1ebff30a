/// The kinds of file-system call, as counted, traced and matched by kill points.
public enum FileOperation: String, Codable, Sendable, Hashable, CaseIterable {
    case open, read, write, size, truncate, sync, syncData, close
    case createDirectory, listDirectory, remove, rename, syncDirectory, status
}

/// The outcome of one traced call.
public enum TraceResult: Codable, Sendable, Hashable {
    case ok
    /// Failed with this `FileSystemError.Code` (its description, e.g. "notFound").
    case error(String)
    /// A kill point fired: the call was not performed.
    case killed
}

/// One file-system call as the simulator saw it.
public struct TraceEvent: Codable, Sendable, Hashable {
    public var callIndex: Int
    public var operation: FileOperation
    public var path: String
    /// Rename target.
    public var destination: String?
    public var offset: Int64?
    /// Bytes asked for (read) or written (write).
    public var length: Int?
    /// CRC32C of the bytes written or read.
    public var dataChecksum: UInt32?
    public var result: TraceResult
    /// Indices into `decisions` taken during this call.
    public var decisions: [Int]
}
