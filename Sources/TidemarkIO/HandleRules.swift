#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Argument rules every implementation applies before touching anything, so the real and the
/// simulated file system reject bad calls identically.
public enum HandleRules {
    public static func validateOpen(_ options: OpenOptions, path: String) throws {
        if !options.contains(.read) && !options.contains(.write) {
            throw FileSystemError(.invalidArgument, "open needs .read or .write", path: path, errno: EINVAL)
        }
        if options.contains(.truncate) && !options.contains(.write) {
            throw FileSystemError(.invalidArgument, ".truncate needs .write", path: path, errno: EINVAL)
        }
        if options.contains(.exclusive) && !options.contains(.create) {
            throw FileSystemError(.invalidArgument, ".exclusive needs .create", path: path, errno: EINVAL)
        }
    }

    public static func validateRead(_ options: OpenOptions, offset: Int64, count: Int, path: String) throws {
        if !options.contains(.read) {
            throw FileSystemError(.invalidArgument, "handle not opened for reading", path: path, errno: EBADF)
        }
        if offset < 0 || count < 0 {
            throw FileSystemError(.invalidArgument, "negative offset or count (offset \(offset), count \(count))", path: path, errno: EINVAL)
        }
    }

    public static func validateWrite(_ options: OpenOptions, offset: Int64, path: String) throws {
        if !options.contains(.write) {
            throw FileSystemError(.invalidArgument, "handle not opened for writing", path: path, errno: EBADF)
        }
        if offset < 0 {
            throw FileSystemError(.invalidArgument, "negative offset \(offset)", path: path, errno: EINVAL)
        }
    }

    public static func validateTruncate(_ options: OpenOptions, size: Int64, path: String) throws {
        if !options.contains(.write) {
            throw FileSystemError(.invalidArgument, "handle not opened for writing", path: path, errno: EBADF)
        }
        if size < 0 {
            throw FileSystemError(.invalidArgument, "negative size \(size)", path: path, errno: EINVAL)
        }
    }
}
