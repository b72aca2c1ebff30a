import Foundation
import Testing
import TidemarkReports

/// End-to-end tests of `tidemark run | replay | shrink | report` on the built binary.
struct VerifierCLITests {
    static let scenarios: String = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent("Scenarios").path
    }()

    func run(_ arguments: [String]) throws -> (CommandResult, CampaignSummary?) {
        let result = try tidemark(["run"] + arguments + ["--json"])
        return (result, try? JSONDecoder().decode(CampaignSummary.self, from: Data(result.stdout.utf8)))
    }

    @Test func aCanaryIsCaughtAndItsFailureReplaysAndShrinks() throws {
        let directory = TemporaryDirectory()
        let (result, json) = try run(["\(Self.scenarios)/canary-ack-before-sync.yaml", "--seeds", "6", "--out", directory.file("report")])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let scenario = try #require(json?.scenarios.first)
        #expect(scenario.expect == .violation && scenario.expectationMet && scenario.failed > 0)
        #expect(scenario.failures.allSatisfy { $0.invariant == "durability" })
        #expect(scenario.fsCallsPerSecond > 0 && scenario.runsPerSecond > 0)
        for file in ["report.json", "summary.md", "index.html", "junit.xml"] {
            #expect(FileManager.default.fileExists(atPath: directory.file("report/\(file)")), "\(file) missing")
        }

        // Replay: same trace hash and verdict, twice.
        let failure = try #require(scenario.failures.first)
        for _ in 0..<2 {
            let replay = try tidemark(["replay", failure.failureFile, "--json"])
            #expect(replay.status == 0, "stderr: \(replay.stderr)")
            let verdict = try JSONDecoder().decode([String: AnyDecodable].self, from: Data(replay.stdout.utf8))
            #expect(verdict["traceHash"]?.string == failure.traceHash)
            #expect(verdict["invariant"]?.string == "durability")
            #expect(verdict["verdict"]?.string == "violation")
        }
        let timeline = try tidemark(["replay", failure.failureFile, "--trace"])
        #expect(timeline.stdout.contains("power loss") && timeline.stdout.contains("reproduced"))

        // Shrink: smaller, same invariant, and the shrunk file replays.
        let shrunkPath = directory.file("shrunk.json")
        let shrink = try tidemark(["shrink", failure.failureFile, "--out", shrunkPath, "--json"])
        #expect(shrink.status == 0, "stderr: \(shrink.stderr)")
        let sizes = try JSONDecoder().decode(ShrinkJSON.self, from: Data(shrink.stdout.utf8))
        #expect(sizes.after.operations < sizes.before.operations)
        #expect(sizes.invariant == "durability" && sizes.file == shrunkPath)
        let shrunkReplay = try tidemark(["replay", shrunkPath, "--json"])
        #expect(shrunkReplay.status == 0)
        #expect(shrunkReplay.stdout.contains("\"invariant\":\"durability\""))

        // Report: re-render from report.json.
        try FileManager.default.removeItem(atPath: directory.file("report/index.html"))
        let report = try tidemark(["report", directory.file("report")])
        #expect(report.status == 0)
        #expect(FileManager.default.fileExists(atPath: directory.file("report/index.html")))
    }

    /// Swift seeds its dictionary hashing per process, so a renderer that walks a dictionary
    /// unsorted renders the same report differently in two processes (never twice in one).
    /// `tidemark run` renders once, two `tidemark report` processes render again: same bytes.
    @Test func reportRenderingIsTheSameInEveryProcess() throws {
        let directory = TemporaryDirectory()
        let report = directory.file("report")
        let (result, _) = try run([
            "\(Self.scenarios)/power-loss.yaml", "\(Self.scenarios)/canary-ack-before-sync.yaml", "--seeds", "4", "--out", report,
        ])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        var renders: [Data] = [try Data(contentsOf: URL(fileURLWithPath: "\(report)/index.html"))]
        for _ in 0..<2 {
            let rerender = try tidemark(["report", report])
            #expect(rerender.status == 0, "stderr: \(rerender.stderr)")
            renders.append(try Data(contentsOf: URL(fileURLWithPath: "\(report)/index.html")))
        }
        #expect(renders[0].count > 10_000)
        #expect(renders[1] == renders[0])
        #expect(renders[2] == renders[0])
    }

    struct ShrinkJSON: Decodable {
        struct Size: Decodable { var operations: Int }
        var before: Size
        var after: Size
        var file: String
        var invariant: String
    }

    @Test func resultsDoNotDependOnTheJobCount() throws {
        let directory = TemporaryDirectory()
        var answers: [[String]] = []
        for jobs in ["1", "2"] {
            let (result, json) = try run([
                "\(Self.scenarios)/power-loss.yaml", "\(Self.scenarios)/async-mode.yaml", "--seeds", "12",
                "--jobs", jobs, "--out", directory.file("jobs\(jobs)"),
            ])
            // power-loss must pass and async-mode must find its violation: both expectations met.
            #expect(result.status == 0, "stderr: \(result.stderr)")
            #expect(json?.expectationsMet == true)
            let scenarios = try #require(json?.scenarios)
            answers.append(scenarios.map { scenario in
                "\(scenario.name) \(scenario.failed) \(scenario.crashes) \(scenario.recoveries) \(scenario.faults.sorted { $0.key < $1.key })"
                    + scenario.failures.map { "\($0.seed):\($0.invariant):\($0.traceHash)" }.joined(separator: ",")
            })
        }
        #expect(answers[0] == answers[1])
        #expect(answers[0].contains { $0.hasPrefix("async-mode") && !$0.hasPrefix("async-mode 0 ") })
    }

    @Test func badScenariosExitTwoNamingFileLineAndColumn() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("bad.yaml")
        try "name: bad\nsubject:\n  kind: tidemark\n  sync: sometimes\n".write(toFile: path, atomically: true, encoding: .utf8)
        let result = try tidemark(["run", path, "--out", directory.file("out")])
        #expect(result.status == 2)
        #expect(result.stderr.contains("\(path):4:9:"), "stderr: \(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory.file("out")))
        let missing = try tidemark(["run", directory.file("nope.yaml")])
        #expect(missing.status == 2 && missing.stderr.contains("nope.yaml"))
        let badFlag = try tidemark(["run", path, "--seeds", "0"])
        #expect(badFlag.status == 2)
        let badFailure = try tidemark(["replay", path])
        #expect(badFailure.status == 2 && badFailure.stderr.contains("bad.yaml"))
    }

    @Test func anUnmetExpectationExitsOne() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("async-says-pass.yaml")
        try "name: async-says-pass\nsubject: {kind: tidemark, sync: async}\nseeds: 8\nfaults: {dropUnsynced: 1}\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let (result, json) = try run([path, "--out", directory.file("out")])
        #expect(result.status == 1)
        #expect(json?.expectationsMet == false)
        #expect(json?.scenarios.first?.failures.first?.invariant == "durability")
    }
}

/// Just enough JSON to read string fields of a flat object.
struct AnyDecodable: Decodable {
    var string: String?
    init(from decoder: any Decoder) throws {
        string = try? decoder.singleValueContainer().decode(String.self)
    }
}
