import Foundation
import Testing

/// End-to-end tests of `tidemark explore` on the built binary.
struct ExploreCLITests {
    struct Summary: Decodable {
        struct Scenario: Decodable {
            var name: String
            var model: String
            var expectationMet: Bool
            var statesChecked: Int
            var statesEnumerated: Int
        }
        struct Merged: Decodable {
            struct Vulnerability: Decodable {
                var cause: String
                var invariant: String
                var failureFile: String?
            }
            var vulnerability: Vulnerability
            var brokenUnder: [String]
            var safeUnder: [String]
        }
        var expectationsMet: Bool
        var scenarios: [Scenario]
        var vulnerabilities: [Merged]
    }

    @Test func aCanaryIsCaughtUnderEveryModelAndEachVulnerabilityReplays() throws {
        let directory = TemporaryDirectory()
        let result = try tidemark([
            "explore", "\(VerifierCLITests.scenarios)/canary-ack-before-sync.yaml", "--seed", "1", "--model", "all",
            "--budget", "64", "--jobs", "1", "--json", "--out", directory.file("out"),
        ])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let summary = try JSONDecoder().decode(Summary.self, from: Data(result.stdout.utf8))
        #expect(summary.expectationsMet)
        #expect(summary.scenarios.map(\.model) == ["weakest", "ext4-ordered", "no-powersafe-overwrite"])
        #expect(summary.scenarios.allSatisfy { $0.statesChecked > 0 && $0.statesChecked <= $0.statesEnumerated })
        let acknowledged = try #require(summary.vulnerabilities.first { $0.vulnerability.invariant == "durability" })
        #expect(acknowledged.vulnerability.cause == "durability: append to /store/wal-….log was still pending")
        #expect(acknowledged.brokenUnder.count == 3 && acknowledged.safeUnder.isEmpty)
        #expect(FileManager.default.fileExists(atPath: directory.file("out/exploration.json")))

        let replay = try tidemark(["replay", try #require(acknowledged.vulnerability.failureFile), "--json"])
        #expect(replay.status == 0, "stderr: \(replay.stderr)")
        #expect(replay.stdout.contains("\"invariant\":\"durability\"") && replay.stdout.contains("\"reproduced\":true"))
    }

    @Test func exitCodes() throws {
        let directory = TemporaryDirectory()
        // A safe scenario, clean: 0; bad usage or input: 2.
        let smoke = try tidemark(["explore", "\(VerifierCLITests.scenarios)/smoke.yaml", "--seed", "1", "--jobs", "1", "--out", directory.file("a")])
        #expect(smoke.status == 0, "stderr: \(smoke.stderr)")
        #expect(smoke.stdout.contains("No vulnerabilities."))
        // A scenario that expects to pass but has a vulnerability: 1.
        let canary = try String(contentsOfFile: "\(VerifierCLITests.scenarios)/canary-ack-before-sync.yaml", encoding: .utf8)
        try canary.replacingOccurrences(of: "expect: violation", with: "expect: pass").write(toFile: directory.file("wrong.yaml"), atomically: true, encoding: .utf8)
        let wrong = try tidemark(["explore", directory.file("wrong.yaml"), "--seed", "1", "--budget", "32", "--jobs", "1", "--out", directory.file("b")])
        #expect(wrong.status == 1 && wrong.stdout.contains("NOT MET"))
        let badModel = try tidemark(["explore", "\(VerifierCLITests.scenarios)/smoke.yaml", "--seed", "1", "--model", "ext3"])
        #expect(badModel.status == 2 && badModel.stderr.contains("--model must be one of"))
        let both = try tidemark(["explore", "\(VerifierCLITests.scenarios)/smoke.yaml", "--seed", "1", "--seeds", "3"])
        #expect(both.status == 2)
        let missing = try tidemark(["explore", directory.file("nope.yaml"), "--seed", "1"])
        #expect(missing.status == 2 && missing.stderr.contains("nope.yaml"))
    }
}
