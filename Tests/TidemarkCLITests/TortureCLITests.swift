import Foundation
import Testing

/// `tidemark torture`: 20 rounds of SIGKILL against a writing store with tiers and the
/// maintenance thread, every acknowledged write checked; and the checker's self-test, a child
/// that acknowledges writes it never made, which must fail naming what was lost.
struct TortureCLITests {
    @Test func twentyRoundsLoseNothing() throws {
        let directory = TemporaryDirectory()
        let result = try tidemark(["torture", directory.store, "--rounds", "20", "--max-kill-ms", "500", "--seed", "20261130", "--json"])
        #expect(result.status == 0, "\(result.stderr)\n\(result.stdout)")
        let summary = try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(summary["verdict"] as? String == "pass")
        #expect(summary["rounds"] as? Int == 20)
        let operations = try #require(summary["operations"] as? [String: Any])
        #expect((operations["acknowledged"] as? Int ?? 0) > 100, "too few acknowledged writes to test anything")
        #expect((summary["maxColdRecords"] as? Int ?? 0) > 0, "no record ever reached the cold tier: migration never ran")
        #expect(result.stderr.contains("round 20/20"))
    }

    @Test func acknowledgedButUnwrittenOperationsAreReported() throws {
        let directory = TemporaryDirectory()
        let result = try tidemark(["torture", directory.store, "--rounds", "6", "--max-kill-ms", "500", "--seed", "7", "--skip-every", "5"])
        #expect(result.status == 1, "\(result.stderr)\n\(result.stdout)")
        #expect(result.stdout.contains("torture fail"), "\(result.stdout)")
        #expect(result.stdout.contains(": expected written by r"), "\(result.stdout)")
    }

    @Test func refusesADirectoryThatIsNotEmpty() throws {
        let directory = TemporaryDirectory()
        #expect(try tidemark(["db", directory.store, "put", "x"]).status == 0)
        let result = try tidemark(["torture", directory.store, "--rounds", "1"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("not empty"), "\(result.stderr)")
    }
}
