import Foundation
import TidemarkIO

/// What a directory tree holds: every path (relative, `/`-separated, sorted bytewise), its kind
/// and every file's bytes. Read from any `FileSystem` (a crashed simulated disk) or a real
/// directory, written to a real directory, hashed to deduplicate crash states.
public struct DiskImage: Sendable, Hashable {
    public enum Entry: Sendable, Hashable {
        case directory
        case file([UInt8])
    }

    public var entries: [(path: String, entry: Entry)]

    public static func == (a: DiskImage, b: DiskImage) -> Bool {
        a.entries.count == b.entries.count && zip(a.entries, b.entries).allSatisfy { $0.path == $1.path && $0.entry == $1.entry }
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(fingerprint) }

    /// Everything under `root` of `fileSystem`.
    public static func read(_ fileSystem: any FileSystem, root: String = "/") throws -> DiskImage {
        var entries: [(String, Entry)] = []
        var queue = [""]
        while !queue.isEmpty {
            let relative = queue.removeFirst()
            let directory = relative.isEmpty ? root : FilePaths.join(root, relative)
            for name in try fileSystem.listDirectory(directory) {
                let child = relative.isEmpty ? name : relative + "/" + name
                let path = FilePaths.join(root, child)
                if try fileSystem.status(path).kind == .directory {
                    entries.append((child, .directory))
                    queue.append(child)
                } else {
                    entries.append((child, .file(try fileSystem.readFile(path))))
                }
            }
        }
        entries.sort { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
        return DiskImage(entries: entries)
    }

    /// FNV-1a over paths, kinds, sizes and bytes (stable across processes).
    public var fingerprint: UInt64 {
        var hash = FNV1a()
        for (path, entry) in entries {
            hash.combine(bytes: path.utf8)
            hash.combine(byte: 0)
            switch entry {
            case .directory: hash.combine(byte: 0xD)
            case .file(let bytes):
                hash.combine(byte: 0xF)
                withUnsafeBytes(of: UInt64(bytes.count).littleEndian) { hash.combine(bytes: $0) }
                hash.combine(bytes: bytes)
            }
        }
        return hash.value
    }

    /// Creates the tree under `directory` (made if missing; it must be empty).
    public func materialize(into directory: String) throws {
        let manager = FileManager.default
        try manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        guard try manager.contentsOfDirectory(atPath: directory).isEmpty else {
            throw TraceError("\(directory) is not empty; materialise into a new or empty directory")
        }
        for (path, entry) in entries {
            let target = directory + "/" + path
            switch entry {
            case .directory: try manager.createDirectory(atPath: target, withIntermediateDirectories: true)
            case .file(let bytes):
                guard manager.createFile(atPath: target, contents: Data(bytes)) else {
                    throw TraceError("cannot create \(target)")
                }
            }
        }
    }

    /// "3 files, 1 directory, 8192 bytes".
    public var summary: String {
        var files = 0, directories = 0, bytes = 0
        for (_, entry) in entries {
            switch entry {
            case .directory: directories += 1
            case .file(let data): files += 1; bytes += data.count
            }
        }
        return "\(files) file\(files == 1 ? "" : "s"), \(directories) director\(directories == 1 ? "y" : "ies"), \(bytes) bytes"
    }
}
