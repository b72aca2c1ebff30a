import Testing
@testable import TidemarkTrace

@Suite struct StraceLineTests {
    @Test func hexStringsAndDecorationsParse() throws {
        var reader = StraceLineReader()
        let call = try #require(try reader.call(from: #"25802 openat(AT_FDCWD<\x2f\x74>, "\x64\x2f\x61", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 3<\x2f\x74\x2f\x64\x2f\x61>"#))
        #expect(call.pid == 25802)
        #expect(call.name == "openat")
        #expect(call.arguments.count == 4)
        #expect(call.result == 3)
        #expect(call.resultPath == "/t/d/a")
        #expect(try StraceArgument.string(call.arguments[1]).bytes == Array("d/a".utf8))
        #expect(try StraceArgument.descriptor(call.arguments[0]).path == "/t")
    }

    @Test func unfinishedAndResumedHalvesJoin() throws {
        var reader = StraceLineReader()
        #expect(try reader.call(from: #"7 write(1<\x70>, "\x61\x0a", 2 <unfinished ...>"#) == nil)
        #expect(try reader.call(from: "8 +++ exited with 0 +++") == nil)
        let call = try #require(try reader.call(from: "7 <... write resumed>) = 2"))
        #expect(call.name == "write")
        #expect(call.arguments.count == 3)
        #expect(call.result == 2)
    }

    @Test func failedCallsAndClone3Results() throws {
        var reader = StraceLineReader()
        let failed = try #require(try reader.call(from: #"5 unlink("\x61") = -1 ENOENT (No such file or directory)"#))
        #expect(!failed.succeeded)
        let clone = try #require(try reader.call(from: "5 clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES, exit_signal=0, stack=0x7f, stack_size=0x7fff00} => {parent_tid=[6]}, 88) = 6"))
        #expect(clone.result == 6)
        #expect(clone.arguments.count == 2)
        #expect(clone.arguments[0].contains("CLONE_FILES"))
    }

    @Test func deletedSuffixAndIoVectors() throws {
        #expect(try StraceArgument.descriptor(#"4<\x2f\x61\x20\x28\x64\x65\x6c\x65\x74\x65\x64\x29>"#).path == "/a")
        let (bytes, cut) = try StraceArgument.ioVector(#"[{iov_base="\x61\x62", iov_len=2}, {iov_base="\x63", iov_len=1}]"#)
        #expect(bytes == Array("abc".utf8))
        #expect(!cut)
        #expect(try StraceArgument.string(#""\x61"..."#).truncated)
    }
}
