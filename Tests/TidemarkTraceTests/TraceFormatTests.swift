import Foundation
import Testing
@testable import TidemarkTrace

@Suite struct TraceFormatTests {
    static let header = TraceHeader(directory: "/d", command: ["prog"], strace: "strace 6.1", exitStatus: 0, wallSeconds: 0.1)

    @Test func roundTrips() throws {
        let trace = TraceFile(header: Self.header, operations: [
            TraceOperation(.snapshotFile, path: "a", data: Data([1, 2])),
            TraceOperation(.open, pid: 5, path: "b", handle: 1, flags: ["write", "create"]),
            TraceOperation(.write, pid: 5, path: "b", handle: 1, offset: nil, data: Data("x".utf8)),
            TraceOperation(.output, text: "ack 1"),
        ])
        let decoded = try TraceFile.decode(try trace.encoded(), name: "t")
        #expect(decoded == trace)
        #expect(decoded.operations[2].offset == nil)
    }

    @Test func badInputNamesTheLine() throws {
        var text = String(decoding: try TraceFile(header: Self.header, operations: []).encoded(), as: UTF8.self)
        text += #"{"kind":"write","handle":1}"# + "\n"
        let error = try #require(throws: TraceError.self) { try TraceFile.decode(Data(text.utf8), name: "t.jsonl") }
        #expect(error.message == #"t.jsonl:2: write needs "data""#)
        var newer = Self.header
        newer.version = 2
        let versionError = try #require(throws: TraceError.self) {
            try TraceFile.decode(try TraceFile(header: newer, operations: []).encoded(), name: "t.jsonl")
        }
        #expect(versionError.message.contains("version 2"))
    }
}
