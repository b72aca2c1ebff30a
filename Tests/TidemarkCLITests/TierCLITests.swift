import Foundation
import Testing
import Tidemark
import TidemarkIO

/// libfaketime's `faketime` wrapper, when installed (`make test` installs faketime/libfaketime).
let faketimeExecutable: String? = ["/usr/bin/faketime", "/usr/local/bin/faketime", "/bin/faketime"]
    .first { FileManager.default.isExecutableFile(atPath: $0) }

/// Runs `tidemark arguments` under `faketime -f spec`.
func tidemarkUnderFaketime(_ spec: String, _ arguments: [String]) throws -> CommandResult {
    try runProcess(faketimeExecutable!, ["-f", spec, tidemarkExecutable] + arguments)
}

private func statsJSON(_ store: String, _ extra: [String] = []) throws -> [String: Any] {
    let result = try tidemark(["db", store, "stats", "--json"] + extra)
    #expect(result.status == 0, "\(result.stderr)")
    return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] ?? [:]
}

private func tierStats(_ store: String, _ extra: [String] = []) throws -> [String: Any] {
    try statsJSON(store, extra)["tiers"] as? [String: Any] ?? [:]
}

/// The tiers end to end through the real binary, with the clock moved by libfaketime.
@Suite(.enabled(if: faketimeExecutable != nil, "faketime is not on PATH: install faketime and libfaketime (make deps) to run the tier clock tests"))
struct TierCLITests {
    @Test func maintainTenMinutesLaterFlushesRecordsToCold() throws {
        let directory = TemporaryDirectory()
        for id in ["a", "b", "c"] {
            #expect(try tidemark(["db", directory.store, "put", id, "--content", "text of \(id)", "--embedding", "1,2,3"]).status == 0)
        }
        let now = try tidemark(["db", directory.store, "maintain", "--json"])
        #expect(now.status == 0, "\(now.stderr)")
        #expect(now.stdout.contains(#""flushed":0"#))
        let later = try tidemarkUnderFaketime("+10m", ["db", directory.store, "maintain", "--json"])
        #expect(later.status == 0, "\(later.stderr)")
        #expect(later.stdout.contains(#""flushed":3"#), "\(later.stdout)")
        let tiers = try tierStats(directory.store)
        #expect(tiers["coldCount"] as? Int == 3)
        #expect(tiers["hotCount"] as? Int == 0)
        #expect(tiers["coldLSN"] as? Int == 3)
        let get = try tidemark(["db", directory.store, "get", "b", "--json"])
        #expect(get.stdout.contains(#""content":"text of b""#))
        let text = try tidemark(["db", directory.store, "stats"])
        #expect(text.stdout.contains("cold: 3 records"))
    }

    /// `search --approximate` without an index searches exactly and says so; `index build`
    /// makes one that later searches use; `index status` follows it to stale after a flush.
    @Test func approximateSearchThroughTheIndex() throws {
        let directory = TemporaryDirectory()
        for (id, embedding) in [("a", "1,0,0"), ("b", "0,1,0"), ("c", "0,0,1"), ("d", "1,1,0")] {
            #expect(try tidemark(["db", directory.store, "put", id, "--embedding", embedding]).status == 0)
        }
        #expect(try tidemark(["db", directory.store, "checkpoint"]).status == 0)
        #expect(try tidemark(["db", directory.store, "index", "status"]).stdout == "vector index missing\n")
        let fallback = try tidemark(["db", directory.store, "search", "--approximate", "--embedding", "0.9,0.1,0", "-k", "1"])
        #expect(fallback.status == 0)
        #expect(fallback.stdout.contains("\ta\t"))
        #expect(fallback.stderr.contains("vector index is missing") && fallback.stderr.contains("searching exactly instead"), "\(fallback.stderr)")
        let build = try tidemark(["db", directory.store, "index", "build", "--lists", "2"])
        #expect(build.status == 0, "\(build.stderr)")
        #expect(build.stdout == "vector index fresh: 4 vectors in 2 lists\n")
        let search = try tidemark(["db", directory.store, "search", "--approximate", "--probes", "2", "--embedding", "0.9,0.1,0", "-k", "1"])
        #expect(search.status == 0 && search.stderr.isEmpty, "\(search.stderr)")
        #expect(search.stdout.contains("\ta\t"))
        #expect(try tidemark(["db", directory.store, "put", "e", "--embedding", "1,0,1"]).status == 0)
        #expect(try tidemark(["db", directory.store, "checkpoint"]).status == 0)
        #expect(try tidemark(["db", directory.store, "index", "status"]).stdout.hasPrefix("vector index stale: built at cold-tier LSN 4"))
        #expect(try tidemark(["db", directory.store, "index", "rebuild"]).status == 2)
        #expect(try tidemark(["db", directory.store, "search", "--approximate", "--probes", "0", "--embedding", "1,0,0"]).status == 2)
    }

    @Test func recordsWithATTLAreGoneTwoHoursLater() throws {
        let directory = TemporaryDirectory()
        #expect(try tidemark(["db", directory.store, "put", "brief", "--ttl", "3600"]).status == 0)
        #expect(try tidemark(["db", directory.store, "put", "lasting"]).status == 0)
        #expect(try tidemark(["db", directory.store, "get", "brief"]).status == 0)
        #expect(try tidemarkUnderFaketime("+2h", ["db", directory.store, "get", "brief"]).status == 1)
        let maintain = try tidemarkUnderFaketime("+2h", ["db", directory.store, "maintain", "--json"])
        #expect(maintain.status == 0, "\(maintain.stderr)")
        #expect(maintain.stdout.contains(#""expired":1"#), "\(maintain.stdout)")
        #expect(maintain.stdout.contains(#""flushed":1"#), "\(maintain.stdout)")
        // Gone for good: not even the real clock brings it back.
        #expect(try tidemark(["db", directory.store, "get", "brief"]).status == 1)
        #expect(try tidemark(["db", directory.store, "get", "lasting"]).status == 0)
    }

    /// A clock that ran two hours ahead (the store wrote then) and was set right: the record
    /// that expired by the store's time stays expired, as its last commit recorded that time.
    @Test func anExpiredRecordStaysExpiredWhenTheClockIsSetBack() throws {
        let directory = TemporaryDirectory()
        #expect(try tidemark(["db", directory.store, "put", "brief", "--ttl", "3600"]).status == 0)
        #expect(try tidemarkUnderFaketime("+2h", ["db", directory.store, "put", "lasting"]).status == 0)
        #expect(try tidemarkUnderFaketime("+2h", ["db", directory.store, "get", "brief"]).status == 1)
        #expect(try tidemark(["db", directory.store, "get", "brief"]).status == 1)
        #expect(try tidemark(["db", directory.store, "get", "lasting"]).status == 0)
        #expect(try tidemark(["db", directory.store, "export"]).stdout.contains("brief") == false)
    }

    @Test func runtimeThreadMigratesWithinSecondsAtSixtyTimesSpeed() throws {
        let directory = TemporaryDirectory()
        for id in ["a", "b", "c", "d"] { #expect(try tidemark(["db", directory.store, "put", id]).status == 0) }
        // 240 fake seconds at 60x are about 4 real seconds; records idle for 120 s move.
        let watch = try tidemarkUnderFaketime(
            "+0 x60", ["db", directory.store, "maintain", "--watch", "240", "--interval", "10", "--hot-to-cold-age", "120"])
        #expect(watch.status == 0, "\(watch.stderr)")
        #expect(watch.stdout.contains("flushed 4"), "\(watch.stdout)")
        #expect(try tierStats(directory.store)["coldCount"] as? Int == 4)
    }
}

/// Bad tier arguments are rejected with exit 2, never a crash.
struct TierArgumentCLITests {
    @Test func badTierArgumentsExitTwo() throws {
        let directory = TemporaryDirectory()
        #expect(try tidemark(["db", directory.store, "put", "a"]).status == 0)
        for (arguments, fragment) in [
            (["maintain", "--watch=-1"], "--watch"), (["maintain", "--watch", "1e300"], "--watch"),
            (["maintain", "--watch", "1", "--interval", "0"], "--interval"),
            (["stats", "--hot-to-cold-age", "1e300"], "hotToColdAge"), (["stats", "--hot-memory-bytes=-5"], "hotMemoryBytes"),
        ] {
            let result = try tidemark(["db", directory.store] + arguments)
            #expect(result.status == 2, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains(fragment), "\(arguments): \(result.stderr)")
        }
        // A store with a cold tier refuses --no-tiers rather than hiding its cold records.
        let untiered = try tidemark(["db", directory.store, "get", "a", "--no-tiers"])
        #expect(untiered.status == 2)
        #expect(untiered.stderr.contains("open it with tiers enabled"))
    }
}

/// The tiers through the CLI: importing ten times the hot budget.
struct TierMemoryCLITests {
    @Test func hotMemoryStaysWithinBudgetImportingTenTimesIt() throws {
        let directory = TemporaryDirectory()
        let budget = 64 << 10
        var lines = ""
        var index = 0
        while lines.utf8.count < 10 * budget {
            lines += #"{"id":"doc-\#(index)","content":"\#(String(repeating: "x", count: 500 + index % 300))","embedding":[\#(index % 7),1,2]}"# + "\n"
            index += 1
        }
        try Data(lines.utf8).write(to: URL(fileURLWithPath: directory.file("in.jsonl")))
        let budgetArguments = ["--hot-memory-bytes", String(budget)]
        let imported = try tidemark(["db", directory.store, "import", directory.file("in.jsonl")] + budgetArguments)
        #expect(imported.status == 0, "\(imported.stderr)")
        // The import ended with a flush: a fresh process loads nothing into memory at open, and
        // its counts come from the cold tier's metadata.
        let tiers = try tierStats(directory.store, budgetArguments)
        #expect(tiers["hotPeakBytes"] as? Int == 0)
        #expect(tiers["dirtyCount"] as? Int == 0)
        #expect(tiers["coldCount"] as? Int == index)
        #expect(try statsJSON(directory.store, budgetArguments)["recordCount"] as? Int == index)
        #expect(try tidemark(["db", directory.store, "get", "doc-\(index - 1)"] + budgetArguments).status == 0)
    }
}
