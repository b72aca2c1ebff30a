import Foundation
import Testing
import TidemarkReports

/// End-to-end tests of `tidemark explore` on the built binary.
struct ExploreCLITests {
    @Test func aCanaryIsCaughtUnderEveryModelAndEachVulnerabilityReplays() throws {
        let directory = TemporaryDirectory()
        let result = try tidemark([
            "explore", "\(VerifierCLITests.scenarios)/canary-ack-before-sync.yaml", "--seed", "1", "--model", "all",
            "--budget", "64", "--jobs", "1", "--json", "--out", directory.file("out"),
        ])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        // --json prints the campaign report model, the one report.json holds.
        let report = try ReportWriter.decode(Data(result.stdout.utf8), path: "stdout")
        #expect(report.expectationsMet)
        let scenario = try #require(report.scenarios.first)
        let figures = try #require(scenario.exploration)
        #expect(figures.models == ["weakest", "ext4-ordered", "no-powersafe-overwrite"])
        #expect(figures.statesChecked > 0 && figures.statesChecked <= figures.statesEnumerated ?? 0)
        let acknowledged = try #require(scenario.vulnerabilities?.first { $0.invariant == "durability" })
        #expect(acknowledged.cause == "durability: append to /store/wal-….log was still pending")
        #expect(acknowledged.brokenUnder.count == 3 && acknowledged.safeUnder.isEmpty)
        #expect(acknowledged.expected && acknowledged.seeds == [1])
        // The four report files, the vulnerability list first in the Markdown and HTML.
        let written = try ReportWriter.load(from: directory.file("out"))
        #expect(written.scenarios == report.scenarios)
        let markdown = try String(contentsOfFile: directory.file("out/summary.md"), encoding: .utf8)
        let vulnerabilities = try #require(markdown.range(of: "## Vulnerabilities"))
        #expect(vulnerabilities.lowerBound < markdown.range(of: "## Scenarios")!.lowerBound)
        #expect(markdown.contains("```sh\n\(acknowledged.reproduce)\n```"))
        let html = try String(contentsOfFile: directory.file("out/index.html"), encoding: .utf8)
        #expect(html.range(of: "id=\"vulnerabilities-heading\"")!.lowerBound < html.range(of: "id=\"scenarios-heading\"")!.lowerBound)
        let junit = try String(contentsOfFile: directory.file("out/junit.xml"), encoding: .utf8)
        #expect(junit.contains("name=\"vulnerability: durability: append to /store/wal-….log was still pending\""))

        #expect(acknowledged.reproduce.hasPrefix("tidemark replay "))
        let replay = try tidemark(["replay", String(acknowledged.reproduce.dropFirst("tidemark replay ".count)), "--json"])
        #expect(replay.status == 0, "stderr: \(replay.stderr)")
        #expect(replay.stdout.contains("\"invariant\":\"durability\"") && replay.stdout.contains("\"reproduced\":true"))
    }

    /// `tidemark run` on an `exploration: exhaustive` canary writes the same report, vulnerability
    /// list first, each vulnerability pinned in a failure file that replays.
    @Test func aCampaignOfAnExhaustiveScenarioListsItsVulnerabilities() throws {
        let directory = TemporaryDirectory()
        let canary = try String(contentsOfFile: "\(VerifierCLITests.scenarios)/canary-no-directory-sync.yaml", encoding: .utf8)
        try (canary + "exploration: exhaustive\nstateBudget: 32\n").write(toFile: directory.file("explored.yaml"), atomically: true, encoding: .utf8)
        let result = try tidemark(["run", directory.file("explored.yaml"), "--seeds", "1", "--jobs", "1", "--json", "--out", directory.file("out")])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let summary = try JSONDecoder().decode(CampaignSummary.self, from: Data(result.stdout.utf8))
        let vulnerabilities = try #require(summary.scenarios.first?.vulnerabilities)
        #expect(vulnerabilities.contains { $0.cause == "durability: create /store/wal-….log was still pending" }, "\(vulnerabilities.map(\.cause))")
        #expect(vulnerabilities.allSatisfy { $0.seeds == [1] && $0.reproduce.hasPrefix("tidemark replay ") })
        let markdown = try String(contentsOfFile: directory.file("out/summary.md"), encoding: .utf8)
        #expect(markdown.range(of: "## Vulnerabilities")!.lowerBound < markdown.range(of: "## Scenarios")!.lowerBound)
        #expect(markdown.contains("### 1. "))
        let first = vulnerabilities[0]
        let replay = try tidemark(["replay", String(first.reproduce.dropFirst("tidemark replay ".count)), "--json"])
        #expect(replay.status == 0 && replay.stdout.contains("\"reproduced\":true"), "stderr: \(replay.stderr)")
    }

    @Test func exitCodes() throws {
        let directory = TemporaryDirectory()
        // A safe scenario, clean: 0; bad usage or input: 2.
        let smoke = try tidemark(["explore", "\(VerifierCLITests.scenarios)/smoke.yaml", "--seed", "1", "--jobs", "1", "--out", directory.file("a")])
        #expect(smoke.status == 0, "stderr: \(smoke.stderr)")
        #expect(smoke.stdout.contains("No vulnerabilities."))
        // A scenario that expects to pass but has a vulnerability: 1.
        let canary = try String(contentsOfFile: "\(VerifierCLITests.scenarios)/canary-ack-before-sync.yaml", encoding: .utf8)
        let passing = canary.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("expectInvariants:") }.joined(separator: "\n")
        try passing.replacingOccurrences(of: "expect: violation", with: "expect: pass").write(toFile: directory.file("wrong.yaml"), atomically: true, encoding: .utf8)
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
