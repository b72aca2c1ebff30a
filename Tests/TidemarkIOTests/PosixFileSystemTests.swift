#if canImport(Glibc)
import Glibc
#endif
import Testing
import TidemarkIO

/// A fresh directory under /tmp, removed when the test ends.
final class TemporaryDirectory {
    let path: String
    init() {
        var template = Array("/tmp/tidemark-io-XXXXXX".utf8CString)
        path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }
    deinit { removeTree(path) }
}

private func removeTree(_ path: String) {
    let fs = PosixFileSystem()
    if let entries = try? fs.listDirectory(path) {
        for entry in entries { removeTree(FilePaths.join(path, entry)) }
    }
    try? fs.remove(path)
}

struct PosixFileSystemTests {
    let fs = PosixFileSystem()

    /// Reading into a buffer gives what a plain read gives (short at end of file, empty past
    /// it, the whole file through `readFile`), and keeps the buffer's storage when it fits.
    @Test func readIntoABufferMatchesAPlainReadAndReusesItsStorage() throws {
        let dir = TemporaryDirectory()
        let path = FilePaths.join(dir.path, "segment")
        let bytes = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        try fs.writeFileAtomically(path, bytes)
        let file = try fs.open(path, options: .read)
        defer { try? file.close() }
        var buffer: [UInt8] = []
        try fs.readFile(path, into: &buffer)
        #expect(buffer == bytes)
        let storage = buffer.withUnsafeBufferPointer { $0.baseAddress }
        for (offset, count) in [(0, 100), (69_990, 100), (70_000, 5), (123, 0), (5, 69_995)] {
            try file.read(at: Int64(offset), count: count, into: &buffer)
            #expect(buffer == (try file.read(at: Int64(offset), count: count)), "\(offset)+\(count)")
            #expect(buffer.withUnsafeBufferPointer { $0.baseAddress } == storage || buffer.isEmpty)
        }
        let empty = FilePaths.join(dir.path, "empty")
        try fs.writeFileAtomically(empty, [])
        try fs.readFile(empty, into: &buffer)
        #expect(buffer.isEmpty)
    }

    @Test func writeReadSizeTruncate() throws {
        let dir = TemporaryDirectory()
        let path = FilePaths.join(dir.path, "a")
        let file = try fs.open(path, options: .createNew)
        try file.write(Array("hello world".utf8), at: 0)
        try file.write(Array("W".utf8), at: 6)
        #expect(try file.read(at: 0, count: 100) == Array("hello World".utf8))  // short read at EOF
        #expect(try file.read(at: 50, count: 4) == [])
        #expect(try file.size() == 11)
        try file.write([1], at: 20)  // writes past the end zero-fill the hole
        #expect(try file.read(at: 11, count: 9) == [UInt8](repeating: 0, count: 9))
        try file.truncate(to: 5)
        try file.sync()
        try file.syncData()
        #expect(try file.readAll() == Array("hello".utf8))
        try file.close()
        #expect(try fs.status(path) == FileStatus(kind: .file, size: 5))
    }

    @Test func errorsAreMappedToCodes() throws {
        let dir = TemporaryDirectory()
        let path = FilePaths.join(dir.path, "f")
        _ = try fs.open(path, options: .createNew)
        #expect(throws: FileSystemError(.exists, "", path: path)) { try fs.open(path, options: .createNew) }
        let missing = FilePaths.join(dir.path, "missing/x")
        #expect(throws: FileSystemError(.notFound, "", path: missing)) { try fs.open(missing, options: [.write, .create]) }
        #expect(throws: FileSystemError(.isDirectory, "", path: dir.path)) { try fs.open(dir.path, options: .read) }
        #expect(throws: FileSystemError(.exists, "", path: dir.path)) { try fs.createDirectory(dir.path) }
        let sub = FilePaths.join(dir.path, "sub")
        try fs.createDirectory(sub)
        _ = try fs.open(FilePaths.join(sub, "g"), options: .createNew)
        #expect(throws: FileSystemError(.notEmpty, "", path: sub)) { try fs.remove(sub) }
        #expect(throws: FileSystemError(.notFound, "", path: "")) { try fs.status("") }
        #expect(throws: FileSystemError(.invalidArgument, "", path: "a\0b")) { try fs.status("a\0b") }
    }

    @Test func badHandleCallsThrowClearErrors() throws {
        let dir = TemporaryDirectory()
        let file = try fs.open(FilePaths.join(dir.path, "h"), options: .createNew)
        #expect(throws: FileSystemError.self) { try file.read(at: -1, count: 1) }
        #expect(throws: FileSystemError.self) { try file.write([1], at: -3) }
        try file.close()
        #expect { try file.read(at: 0, count: 1) } throws: { ($0 as? FileSystemError)?.code == .closed }
        #expect { try file.close() } throws: { ($0 as? FileSystemError)?.code == .closed }
        let readOnly = try fs.open(FilePaths.join(dir.path, "h"), options: .read)
        #expect { try readOnly.write([1], at: 0) } throws: { ($0 as? FileSystemError)?.code == .invalidArgument }
    }

    @Test func directoriesRenameAndAtomicReplace() throws {
        let dir = TemporaryDirectory()
        let nested = FilePaths.join(dir.path, "x/y/z")
        try fs.createDirectories(nested)
        try fs.createDirectories(nested)  // idempotent
        let target = FilePaths.join(nested, "manifest")
        try fs.writeFileAtomically(target, [1, 2, 3])
        try fs.writeFileAtomically(target, [4, 5])
        #expect(try fs.readFile(target) == [4, 5])
        #expect(try fs.listDirectory(nested) == ["manifest"])  // the temp file is gone
        try fs.rename(target, to: FilePaths.join(nested, "renamed"))
        try fs.syncDirectory(nested)
        #expect(!fs.exists(target))
        #expect(try fs.listDirectory(dir.path) == ["x"])
        try fs.remove(FilePaths.join(nested, "renamed"))
        try fs.remove(nested)
        #expect(!fs.exists(nested))
    }

    @Test func pathArithmetic() {
        #expect(FilePaths.join("/a", "b", "c") == "/a/b/c")
        #expect(FilePaths.join("/a/", "b") == "/a/b")
        #expect(FilePaths.parent(of: "/a/b") == "/a")
        #expect(FilePaths.parent(of: "/a") == "/")
        #expect(FilePaths.parent(of: "a") == ".")
        #expect(FilePaths.name(of: "/a/b/") == "b")
        #expect(Hex.digits16(0x2a) == "000000000000002a")
        #expect(Hex.digits16(.max) == "ffffffffffffffff")
    }
}
