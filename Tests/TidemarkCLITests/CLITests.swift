import Foundation
import Testing
import Tidemark
import TidemarkIO

/// End-to-end: the built `tidemark` binary in child processes, on the real disk.
struct CLITests {
    @Test func putThenGetJSONRoundTrips() throws {
        let directory = TemporaryDirectory()
        // Reads of a store that does not exist say so and create nothing.
        for action in [["get", "x"], ["export"], ["stats"], ["verify"]] {
            #expect(try tidemark(["db", directory.store] + action).status == 1)
        }
        #expect(!FileManager.default.fileExists(atPath: directory.store))
        let put = try tidemark(["db", directory.store, "put", "doc-1", "--content", "hello \"world\"", "--embedding", "0.5,-1,2",
                                "--metadata", #"{"lang":"en","n":3,"tags":["a","b"]}"#])
        #expect(put.status == 0, "\(put.stderr)")
        let get = try tidemark(["db", directory.store, "get", "doc-1", "--json"])
        #expect(get.status == 0)
        #expect(get.stdout == #"{"id":"doc-1","content":"hello \"world\"","embedding":[0.5,-1.0,2.0],"metadata":{"lang":"en","n":3,"tags":["a","b"]}}"# + "\n")
        let missing = try tidemark(["db", directory.store, "get", "nope"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("nope"))
        #expect(try tidemark(["db", directory.store, "delete", "doc-1"]).status == 0)
        #expect(try tidemark(["db", directory.store, "delete", "doc-1"]).status == 1)
    }

    @Test func badInputExitsTwoAndWritesNothing() throws {
        let directory = TemporaryDirectory()
        // Bad input to a store that does not exist yet does not create it.
        let first = try tidemark(["db", directory.store, "put", "x", "--embedding", "1,nan"])
        #expect(first.status == 2)
        #expect(!FileManager.default.fileExists(atPath: directory.store))
        #expect(try tidemark(["db", directory.store, "put", "ok", "--embedding", "1,2,3"]).status == 0)
        let cases: [([String], String)] = [
            (["put", "a", "--embedding", "1,2,inf"], "embedding[2]"),
            (["put", "a", "--embedding", "1,2"], "dimension 2"),
            (["put", "a", "--embedding", "1,two,3"], "item 2"),
            (["put", ""], "empty"),
            (["put", String(repeating: "x", count: 1025)], "1025 bytes"),
            (["put", "a", "--metadata", "[1,2]"], "JSON object"),
            (["put", "a", "--metadata", "{oops"], "not valid JSON"),
            (["put", "a", "--ttl", "-5"], "ttl"),
            (["search", "--embedding", "1,2"], "dimension 2"),
            (["search", "--embedding", "1,2,3", "--metric", "manhattan"], "manhattan"),
            (["put"], "id"),
            (["frobnicate"], "frobnicate"),
        ]
        for (arguments, expected) in cases {
            let result = try tidemark(["db", directory.store] + arguments)
            #expect(result.status == 2, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains(expected), "\(arguments): \(result.stderr)")
        }
        let export = try tidemark(["db", directory.store, "export"])
        #expect(export.stdout == #"{"id":"ok","content":"","embedding":[1.0,2.0,3.0],"metadata":{}}"# + "\n")
        let stats = try tidemark(["db", directory.store, "stats", "--json"])
        #expect(stats.stdout.contains(#""lastAssignedLSN":1"#))
    }

    @Test func importStopsAtTheFirstBadLineKeepingEarlierOnes() throws {
        let directory = TemporaryDirectory()
        let lines = [
            #"{"id":"a","content":"one","embedding":[1,0]}"#,
            "",
            #"{"id":"b","content":"two","embedding":[0,1],"metadata":{"k":"v"}}"#,
            #"{"id":"c","embedding":[1,0],"metadata":"not an object"}"#,
            #"{"id":"d","embedding":[1,0]}"#,
        ]
        let result = try tidemark(["db", directory.store, "import", "-"], input: lines.joined(separator: "\n") + "\n")
        #expect(result.status == 2)
        #expect(result.stderr.contains("-:4:"), "\(result.stderr)")
        #expect(result.stderr.contains("metadata"))
        let export = try tidemark(["db", directory.store, "export"])
        #expect(export.stdout.split(separator: "\n").count == 2)
        for (line, expected) in [(#"{"id":"x","embedding":[1,2,3]}"#, "dimension 3"), (#"{"id":"x","embedding":[1e39,0]}"#, "embedding"),
                                 (#"{"id":"","embedding":[1,0]}"#, "empty"), (#"{"id":"x","colour":1}"#, "colour"), ("[1]", "object")] {
            let bad = try tidemark(["db", directory.store, "import", "-"], input: line + "\n")
            #expect(bad.status == 2, "\(line)")
            #expect(bad.stderr.contains("-:1:") && bad.stderr.contains(expected), "\(line): \(bad.stderr)")
        }
        #expect(try tidemark(["db", directory.store, "stats", "--json"]).stdout.contains(#""recordCount":2"#))
    }

    @Test func exportImportRoundTripAndSearch() throws {
        let directory = TemporaryDirectory()
        var lines: [String] = []
        for index in 0..<30 {
            lines.append(#"{"id":"r\#(index)","content":"text \#(index)","embedding":[\#(Float(index)),1],"metadata":{"even":\#(index % 2 == 0)}}"#)
        }
        let file = directory.file("in.jsonl")
        try lines.joined(separator: "\n").write(toFile: file, atomically: false, encoding: .utf8)
        #expect(try tidemark(["db", directory.store, "import", file, "--sync", "async"]).status == 0)
        let exported = directory.file("out.jsonl")
        #expect(try tidemark(["db", directory.store, "export", exported]).status == 0)
        let copy = directory.file("copy")
        #expect(try tidemark(["db", copy, "import", exported]).status == 0)
        #expect(try tidemark(["db", copy, "export"]).stdout == String(contentsOfFile: exported, encoding: .utf8))

        let search = try tidemark(["db", copy, "search", "--embedding", "29,1", "-k", "3", "--metric", "euclidean", "--filter", "even=false"])
        #expect(search.status == 0)
        #expect(search.stdout.split(separator: "\n").map { $0.split(separator: "\t")[1] } == ["r29", "r27", "r25"])
    }

    @Test func flippedByteIsFoundByVerifyRefusedAtOpenAndSalvaged() throws {
        let directory = TemporaryDirectory()
        for index in 0..<5 {
            #expect(try tidemark(["db", directory.store, "put", "r\(index)", "--content", "payload \(index)", "--sync", "immediate"]).status == 0)
        }
        let segment = try PosixFileSystem().listDirectory(directory.store).first { $0.hasPrefix("wal-") }!
        let path = FilePaths.join(directory.store, segment)
        var bytes = try PosixFileSystem().readFile(path)
        let offset = bytes.count / 2
        bytes[offset] ^= 0x10
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let verify = try tidemark(["db", directory.store, "verify"])
        #expect(verify.status == 1)
        #expect(verify.stdout.contains("problem: \(segment) @ "), "\(verify.stdout)")

        let get = try tidemark(["db", directory.store, "get", "r0"])
        #expect(get.status == 1)
        #expect(get.stderr.contains("corruption") && get.stderr.contains(segment) && get.stderr.contains("offset"))

        let salvage = try tidemark(["db", directory.store, "recover", "--salvage"])
        #expect(salvage.status == 0, "\(salvage.stderr)")
        #expect(salvage.stdout.contains("lost: \(segment) @ "), "\(salvage.stdout)")
        #expect(salvage.stdout.contains("are missing"))
        #expect(try tidemark(["db", directory.store, "verify"]).status == 0)
        let survivors = try tidemark(["db", directory.store, "export"]).stdout.split(separator: "\n").count
        #expect(survivors == 4)
    }

    @Test func truncatedSyncedTailIsALossNotATornTail() throws {
        let directory = TemporaryDirectory()
        for index in 0..<3 { #expect(try tidemark(["db", directory.store, "put", "r\(index)"]).status == 0) }
        let segment = try PosixFileSystem().listDirectory(directory.store).first { $0.hasPrefix("wal-") }!
        let path = FilePaths.join(directory.store, segment)
        // 3 bytes off the last commit (a 32-byte close marker follows it): a clean close proved
        // it durable, so no torn write can explain the cut.
        #expect(truncate(path, off_t(try PosixFileSystem().status(path).size - 32 - 3)) == 0)
        let verify = try tidemark(["db", directory.store, "verify"])
        #expect(verify.status == 1)
        #expect(verify.stdout.contains("problem: \(segment) @ "), "\(verify.stdout)")
        #expect(verify.stdout.contains("LSNs 3...3"), "\(verify.stdout)")
        let recover = try tidemark(["db", directory.store, "recover"])
        #expect(recover.status == 1)
        #expect(recover.stderr.contains(segment), "\(recover.stderr)")
        let salvage = try tidemark(["db", directory.store, "recover", "--salvage"])
        #expect(salvage.status == 0)
        #expect(salvage.stdout.contains("lost: \(segment) @ "), "\(salvage.stdout)")
        #expect(try tidemark(["db", directory.store, "export"]).stdout.split(separator: "\n").count == 2)
    }

    @Test func everyActionHasHelp() throws {
        for action in ["put", "get", "delete", "search", "import", "export", "checkpoint", "stats", "verify", "recover"] {
            let help = try tidemark(["db", "/nonexistent", action, "--help"])
            #expect(help.status == 0)
            #expect(help.stdout.contains("OVERVIEW"), "\(action)")
        }
        let top = try tidemark(["db", "--help"])
        #expect(top.stdout.contains("Exit codes"))
    }
}
