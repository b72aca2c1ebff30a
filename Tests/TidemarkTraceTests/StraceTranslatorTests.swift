import Foundation
import Testing
@testable import TidemarkTrace

/// strace's text for `text`, hex-escaped as `-xx` prints it.
func hex(_ text: String) -> String { text.utf8.map { String(format: "\\x%02x", $0) }.joined() }

/// A descriptor decorated as `-y` prints it.
func fd(_ number: Int, _ path: String) -> String { "\(number)<\(hex(path))>" }

@Suite struct StraceTranslatorTests {
    func translate(_ lines: [String]) throws -> [TraceOperation] {
        var translator = StraceTranslator(directory: "/d", outputPipe: "pipe:[77]", workingDirectory: "/d")
        try translator.translate(lines.joined(separator: "\n"))
        return translator.operations
    }

    @Test func plainWritesGetOffsetsFromTheDescription() throws {
        let operations = try translate([
            #"1 openat(AT_FDCWD<\#(hex("/d"))>, "\#(hex("a"))", O_RDWR|O_CREAT, 0644) = \#(fd(3, "/d/a"))"#,
            #"1 write(\#(fd(3, "/d/a")), "\#(hex("hello"))", 5) = 5"#,
            #"1 read(\#(fd(3, "/d/a")), "\#(hex("xy"))", 2) = 2"#,
            #"1 write(\#(fd(3, "/d/a")), "\#(hex("!"))", 1) = 1"#,
            #"1 dup(\#(fd(3, "/d/a"))) = \#(fd(4, "/d/a"))"#,
            #"1 lseek(\#(fd(4, "/d/a")), 1, SEEK_SET) = 1"#,
            #"1 write(\#(fd(3, "/d/a")), "\#(hex("Z"))", 1) = 1"#,
            #"1 pwrite64(\#(fd(3, "/d/a")), "\#(hex("P"))", 1, 9) = 1"#,
            #"1 close(\#(fd(3, "/d/a"))) = 0"#,
            #"1 close(\#(fd(4, "/d/a"))) = 0"#,
        ])
        let writes = operations.filter { $0.kind == .write }
        #expect(writes.map(\.offset) == [0, 7, 1, 9])
        #expect(writes.map { String(decoding: $0.data!, as: UTF8.self) } == ["hello", "!", "Z", "P"])
        // The handle closes once, when its last descriptor goes.
        #expect(operations.filter { $0.kind == .close }.count == 1)
        #expect(operations.first?.kind == .open)
        #expect(operations.first?.flags == ["read", "write", "create"])
    }

    @Test func appendWritesHaveNoOffsetAndOutsideCallsAreDropped() throws {
        let operations = try translate([
            #"1 open("\#(hex("/d/log"))", O_WRONLY|O_CREAT|O_APPEND, 0644) = \#(fd(3, "/d/log"))"#,
            #"1 write(\#(fd(3, "/d/log")), "\#(hex("x"))", 1) = 1"#,
            #"1 open("\#(hex("/elsewhere"))", O_WRONLY|O_CREAT, 0644) = \#(fd(4, "/elsewhere"))"#,
            #"1 write(\#(fd(4, "/elsewhere")), "\#(hex("y"))", 1) = 1"#,
            #"1 fsync(\#(fd(4, "/elsewhere"))) = 0"#,
            #"1 fsync(\#(fd(3, "/d/log"))) = 0"#,
        ])
        #expect(operations.map(\.kind) == [.open, .write, .fsync])
        #expect(operations[1].offset == nil)
    }

    @Test func outputLinesInterleaveInOrder() throws {
        let operations = try translate([
            #"1 write(1<\#(hex("pipe:[77]"))>, "\#(hex("ack 1\nack"))", 9) = 9"#,
            #"1 open("\#(hex("/d/a"))", O_WRONLY|O_CREAT, 0644) = \#(fd(3, "/d/a"))"#,
            #"1 write(1<\#(hex("pipe:[77]"))>, "\#(hex(" 2\n"))", 3) = 3"#,
            #"1 write(1<\#(hex("pipe:[78]"))>, "\#(hex("other pipe\n"))", 11) = 11"#,
        ])
        #expect(operations.map(\.kind) == [.output, .open, .output])
        #expect(operations.compactMap(\.text) == ["ack 1", "ack 2"])
    }

    @Test func renamesUnlinksAndRelativePaths() throws {
        let operations = try translate([
            #"1 chdir("\#(hex("/d/sub"))") = 0"#,
            #"1 rename("\#(hex("x.tmp"))", "\#(hex("x"))") = 0"#,
            #"1 renameat2(AT_FDCWD<\#(hex("/d/sub"))>, "\#(hex("x"))", AT_FDCWD<\#(hex("/d/sub"))>, "\#(hex("/tmp/out"))", 0) = 0"#,
            #"1 unlinkat(AT_FDCWD<\#(hex("/d/sub"))>, "\#(hex("../gone"))", 0) = 0"#,
            #"1 unlinkat(AT_FDCWD<\#(hex("/d/sub"))>, "\#(hex("empty"))", AT_REMOVEDIR) = 0"#,
            #"1 mkdir("\#(hex("/d/new"))", 0755) = 0"#,
            #"1 unlink("\#(hex("/d/missing"))") = -1 ENOENT (No such file or directory)"#,
        ])
        #expect(operations.map(\.kind) == [.rename, .unlink, .unlink, .rmdir, .mkdir])
        #expect(operations[0].path == "sub/x.tmp" && operations[0].destination == "sub/x")
        #expect(operations[1].path == "sub/x")  // renamed out of the directory: gone
        #expect(operations[2].path == "gone")
    }

    @Test func forkCopiesTheTableAndThreadsShareIt() throws {
        let operations = try translate([
            #"1 openat(AT_FDCWD<\#(hex("/d"))>, "\#(hex("a"))", O_WRONLY|O_CREAT, 0644) = \#(fd(3, "/d/a"))"#,
            "1 clone(child_stack=NULL, flags=CLONE_CHILD_SETTID|SIGCHLD) = 2",
            "1 clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD, exit_signal=0} => {parent_tid=[3]}, 88) = 3",
            #"2 write(\#(fd(3, "/d/a")), "\#(hex("ab"))", 2) = 2"#,
            #"3 write(\#(fd(3, "/d/a")), "\#(hex("c"))", 1) = 1"#,
            #"1 write(\#(fd(3, "/d/a")), "\#(hex("d"))", 1) = 1"#,
        ])
        // The forked child shares the description (the offset moves for everyone), as the kernel does.
        #expect(operations.filter { $0.kind == .write }.map(\.offset) == [0, 2, 3])
    }

    @Test func unmodellableCallsAreListedNotDropped() throws {
        let operations = try translate([
            #"1 openat(AT_FDCWD<\#(hex("/d"))>, "\#(hex("m"))", O_RDWR|O_CREAT|O_DIRECT, 0644) = \#(fd(3, "/d/m"))"#,
            "1 mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, \(fd(3, "/d/m")), 0) = 0x7f0000000000",
            "1 mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, \(fd(3, "/d/m")), 0) = 0x7f0000001000",
            "1 fallocate(\(fd(3, "/d/m")), FALLOC_FL_KEEP_SIZE, 0, 8192) = 0",
            "1 fallocate(\(fd(3, "/d/m")), 0, 0, 8192) = 0",
            "1 copy_file_range(\(fd(5, "/src")), NULL, \(fd(3, "/d/m")), NULL, 10, 0) = 10",
            "1 io_uring_setup(8, {flags=0}) = 6",
            #"1 link("\#(hex("/d/m"))", "\#(hex("/d/m2"))") = 0"#,
            #"1 write(\#(fd(9, "/d/inherited")), "\#(hex("q"))", 1) = 1"#,
        ])
        let unmodelled = operations.filter { $0.kind == .unmodelled }
        #expect(unmodelled.compactMap(\.call) == ["openat", "mmap", "fallocate", "copy_file_range", "io_uring_setup", "link", "write"])
        #expect(operations.contains { $0.kind == .fallocate && $0.size == 8192 })
    }

    @Test func cutWritesFailTheRecording() {
        #expect(throws: TraceError.self) {
            _ = try translate([
                #"1 openat(AT_FDCWD<\#(hex("/d"))>, "\#(hex("a"))", O_WRONLY|O_CREAT, 0644) = \#(fd(3, "/d/a"))"#,
                #"1 write(\#(fd(3, "/d/a")), "\#(hex("ab"))"..., 100) = 100"#,
            ])
        }
    }
}
