#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one error type every `FileSystem` throws.
///
/// Modelled on NIO's `FileSystemError`: a stable `code` to switch on, a human `message`, the
/// `path` involved, the raw `errno` when a system call produced it, and an optional underlying
/// `cause`.
public struct FileSystemError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is. Stable across file-system implementations: the simulator
    /// and the POSIX implementation raise the same code for the same situation.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case io, noSpace, notFound, exists, corrupted, closed, invalidArgument
            case notDirectory, isDirectory, notEmpty, permissionDenied, unsupported, wouldBlock, unknown
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// EIO: the device failed a read, write or sync. After a failed sync the data is in doubt.
        public static let io = Code(.io)
        /// ENOSPC / EDQUOT: no room for the write; part of it may have been written.
        public static let noSpace = Code(.noSpace)
        /// ENOENT: the path (or a parent) does not exist.
        public static let notFound = Code(.notFound)
        /// EEXIST: exclusive create of an existing path, or mkdir of an existing directory.
        public static let exists = Code(.exists)
        /// Data read back does not match what was written (checksum, magic, bounds).
        public static let corrupted = Code(.corrupted)
        /// EBADF: the handle was closed.
        public static let closed = Code(.closed)
        /// EINVAL and friends: empty path, NUL in a path, negative offset, bad flag combination.
        public static let invalidArgument = Code(.invalidArgument)
        /// ENOTDIR: a path component, or the target of a directory call, is not a directory.
        public static let notDirectory = Code(.notDirectory)
        /// EISDIR: a file operation on a directory.
        public static let isDirectory = Code(.isDirectory)
        /// ENOTEMPTY: rmdir of a directory that still has entries, or rename over one.
        public static let notEmpty = Code(.notEmpty)
        /// EACCES / EPERM / EROFS.
        public static let permissionDenied = Code(.permissionDenied)
        /// The implementation does not support the request.
        public static let unsupported = Code(.unsupported)
        /// EWOULDBLOCK from a non-blocking `flock`: another open holds a conflicting lock.
        public static let wouldBlock = Code(.wouldBlock)
        /// An errno with no better mapping; `errno` holds it.
        public static let unknown = Code(.unknown)

        public var description: String { value.rawValue }
    }

    public var code: Code
    public var message: String
    public var path: String?
    /// The errno a system call set, when one did.
    public var errno: Int32?
    public var cause: (any Error & Sendable)?

    public init(
        _ code: Code,
        _ message: String,
        path: String? = nil,
        errno: Int32? = nil,
        cause: (any Error & Sendable)? = nil
    ) {
        self.code = code
        self.message = message
        self.path = path
        self.errno = errno
        self.cause = cause
    }

    public var description: String {
        var text = "\(code): \(message)"
        if let path { text += " (path: \(path))" }
        if let errno { text += " [errno \(errno): \(String(cString: strerror(errno)))]" }
        if let cause { text += " caused by: \(cause)" }
        return text
    }

    /// Maps an errno from a failed system call to a `FileSystemError`.
    ///
    /// The mapping is the contract the simulator imitates: keep the two in step.
    public static func fromErrno(
        _ errnoValue: Int32,
        operation: String,
        path: String?
    ) -> FileSystemError {
        let code: Code
        switch errnoValue {
        case EIO: code = .io
        case ENOSPC, EDQUOT: code = .noSpace
        case ENOENT: code = .notFound
        case EEXIST: code = .exists
        case EBADF: code = .closed
        case EINVAL, ENAMETOOLONG: code = .invalidArgument
        case ENOTDIR: code = .notDirectory
        case EISDIR: code = .isDirectory
        case ENOTEMPTY: code = .notEmpty
        case EACCES, EPERM, EROFS: code = .permissionDenied
        case ENOTSUP: code = .unsupported
        default: code = .unknown
        }
        return FileSystemError(code, "\(operation) failed", path: path, errno: errnoValue)
    }
}

extension FileSystemError: Equatable {
    /// Two errors are equal when they agree on code and path: what a caller can act on.
    /// Message and errno are diagnostics.
    public static func == (lhs: FileSystemError, rhs: FileSystemError) -> Bool {
        lhs.code == rhs.code && lhs.path == rhs.path
    }
}
