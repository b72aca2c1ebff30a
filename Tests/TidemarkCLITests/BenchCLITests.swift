import Foundation
import Testing

/// `tidemark bench` on tiny counts: the JSON's shape only (every workload, ratio and target
/// present with positive figures). Timing is never asserted; that is what the bench is for.
struct BenchCLITests {
    private func benchJSON(_ arguments: [String], in directory: TemporaryDirectory) throws -> [String: Any] {
        let result = try tidemark(["bench", "--quick", "--json", "--dir", directory.path] + arguments)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("bench  ["), "no progress line on stderr: \(result.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
        return try #require(object as? [String: Any])
    }

    @Test func quickRunReportsEveryWorkloadWithPositiveFigures() throws {
        let directory = TemporaryDirectory()
        let report = try benchJSON(
            ["--records", "16", "--reads", "50", "--search-records", "20,40", "--queries", "2", "--dimensions", "8",
             "--threads", "1,2", "--simulator-rounds", "400"], in: directory)
        let results = try #require(report["results"] as? [String: [String: Any]])
        let expected = [
            "raw-fdatasync", "raw-fdatasync-overwrite", "store-immediate-1", "store-group-1", "store-group-2", "store-async-1", "store-get",
            "store-search-20", "store-search-40", "store-recovery-log", "store-checkpoint", "store-recovery-checkpoint",
            "sqlite-wal-full-1", "sqlite-wal-full-2", "sqlite-wal-normal-1", "sqlite-wal-normal-2", "sqlite-get",
            "sqlite-search-20", "sqlite-search-40", "simulator-trace", "simulator-no-trace",
        ]
        #expect(Set(results.keys) == Set(expected))
        for (name, figures) in results {
            for key in ["operations", "seconds", "operationsPerSecond", "millisecondsPerOperation"] {
                let value = (figures[key] as? NSNumber)?.doubleValue ?? 0
                #expect(value > 0, "\(name).\(key) is \(value)")
            }
        }
        #expect((results["store-recovery-log"]?["megabytesPerSecond"] as? NSNumber)?.doubleValue ?? 0 > 0)
        #expect((results["raw-fdatasync"]?["operations"] as? NSNumber)?.intValue == 16)
        let ratios = try #require(report["ratios"] as? [String: Double])
        for name in ["store-immediate-1 / raw-fdatasync", "store-group-2 / sqlite-wal-full-2", "store-async-1 / sqlite-wal-normal-1",
                     "store-get / sqlite-get", "store-search-40 / sqlite-search-40"] {
            #expect((ratios[name] ?? 0) > 0, "ratio \(name) missing")
        }
        let targets = try #require(report["targets"] as? [String: [String: Any]])
        #expect(targets["immediate vs raw fdatasync"]?["met"] is Bool)
        #expect(((report["peakResidentBytes"] as? NSNumber)?.intValue ?? 0) > 0)
        // Everything the bench created in --dir is gone.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }

    @Test func scaleRunsOnlyWhenNamedAndTimesFreshCLIProcesses() throws {
        let directory = TemporaryDirectory()
        let report = try benchJSON(["--only", "scale", "--scale-records", "300", "--dimensions", "8"], in: directory)
        let results = try #require(report["results"] as? [String: [String: Any]])
        #expect(
            Set(results.keys) == [
                "scale-import", "scale-import-cpu", "scale-cli-get", "scale-cli-stats", "scale-cli-search", "scale-cli-index-build",
                "scale-cli-search-approx", "scale-search-approx", "scale-search-approx-cpu",
            ])
        #expect((results["scale-import"]?["operations"] as? NSNumber)?.intValue == 300)
        // (A few searches of 300 vectors may cost less CPU than the kernel's accounting tick.)
        for (name, figures) in results where name != "scale-search-approx-cpu" {
            #expect(((figures["seconds"] as? NSNumber)?.doubleValue ?? 0) > 0, "\(name)")
        }
        let targets = try #require(report["targets"] as? [String: [String: Any]])
        for name in [
            "import async records/s", "import peak RSS - hot budget MiB", "CLI get ms", "CLI stats ms", "CLI search k=10 ms",
            "approximate search k=10 ms", "approximate recall@10",
        ] {
            #expect(targets["300 " + name]?["met"] is Bool, "target \(name) missing: \(targets.keys.sorted())")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }

    @Test func onlyRunsTheNamedWorkloadsAndBadListsExitTwo() throws {
        let directory = TemporaryDirectory()
        let report = try benchJSON(["--records", "8", "--only", "raw-fdatasync-overwrite,store-immediate"], in: directory)
        let results = try #require(report["results"] as? [String: Any])
        #expect(Set(results.keys) == ["raw-fdatasync-overwrite", "store-immediate-1"])
        // Any of the recovery trio runs all three (the checkpoint opened from needs writing first).
        let recovery = try benchJSON(["--search-records", "30", "--dimensions", "4", "--only", "store-recovery-checkpoint"], in: directory)
        let recovered = try #require(recovery["results"] as? [String: Any])
        #expect(Set(recovered.keys) == ["store-recovery-log", "store-checkpoint", "store-recovery-checkpoint"])
        let bad = try tidemark(["bench", "--quick", "--threads", "1,0", "--dir", directory.path])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("--threads"))
    }
}
