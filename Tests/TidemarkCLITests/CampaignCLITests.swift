import Foundation
import Testing
import TidemarkIO
import TidemarkReports

/// Campaigns past one process: shards and merge through the deploy/ recipes' own command lines,
/// a campaign killed with SIGKILL and resumed, long runs, and the verifier's own bad input.
struct CampaignCLITests {
    static let root = FilePaths.parent(of: FilePaths.parent(of: FilePaths.parent(of: #filePath)))
    /// Relative to `root`, where every process here runs: report paths come out the same.
    static let scenarios = ["Scenarios/smoke.yaml", "Scenarios/canary-ack-before-sync.yaml"]

    /// report.json without what differs between two runs of the same campaign: the timing fields
    /// (created, name, duration, rates), the job count, and the --out directory in paths.
    static func comparable(_ directory: String) throws -> String {
        var report = try ReportWriter.load(from: directory)
        report.name = ""
        report.createdAt = ""
        report.durationSeconds = 0
        report.jobs = 0
        for index in report.scenarios.indices {
            report.scenarios[index].runsPerSecond = 0
            report.scenarios[index].fsCallsPerSecond = 0
        }
        let text = String(decoding: try ReportWriter.encode(report), as: UTF8.self)
        return text.replacingOccurrences(of: directory, with: "<out>")
    }

    static func files(in directory: String) throws -> [String: Data] {
        var files: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
            files[name] = FileManager.default.contents(atPath: FilePaths.join(directory, name))
        }
        return files
    }

    /// The shard and merge command lines of deploy/campaign.sh, run as the recipes run them.
    static func campaignScript(_ step: String, _ environment: [String: String]) throws -> CommandResult {
        try runProcess("/bin/sh", ["deploy/campaign.sh", step], environment: environment, directory: root)
    }

    @Test func threeShardsMergeIntoTheWholeCampaignUsingTheDeployRecipes() throws {
        let directory = TemporaryDirectory()
        let whole = try runProcess(tidemarkExecutable, ["run"] + Self.scenarios + ["--seeds", "12", "--out", directory.file("whole")], directory: Self.root)
        #expect(whole.status == 0, "stderr: \(whole.stderr)")

        let sharded = directory.file("sharded")
        let environment = [
            "SHARDS": "3", "OUT": sharded, "SEEDS": "12", "SCENARIOS": Self.scenarios.joined(separator: " "), "TIDEMARK": tidemarkExecutable,
        ]
        for index in 0..<3 {
            // Kubernetes sets JOB_COMPLETION_INDEX, Slurm SLURM_ARRAY_TASK_ID: both 0-based.
            let variables = index == 2 ? ["JOB_COMPLETION_INDEX": "", "SLURM_ARRAY_TASK_ID": "\(index)"] : ["JOB_COMPLETION_INDEX": "\(index)"]
            let shard = try Self.campaignScript("shard", environment.merging(variables) { $1 })
            #expect(shard.status == 0, "shard \(index): \(shard.stderr)")
        }
        let merge = try Self.campaignScript("merge", environment)
        #expect(merge.status == 0, "merge: \(merge.stderr)")
        let merged = FilePaths.join(sharded, "merged")

        // Each shard ran only its seeds; together, every seed once.
        let shardRuns = try (0..<3).map { try ReportWriter.load(from: FilePaths.join(sharded, "shard-\($0)")).scenarios.map(\.runs) }
        #expect(shardRuns == [[4, 4], [4, 4], [4, 4]])

        let wholeReport = try Self.comparable(directory.file("whole"))
        #expect(try Self.comparable(merged) == wholeReport)
        #expect(wholeReport.contains("\"failed\" : 12"), "the canary's failures take part in the comparison")
        let wholeFailures = try Self.files(in: directory.file("whole/failures"))
        #expect(!wholeFailures.isEmpty)
        #expect(try Self.files(in: FilePaths.join(merged, "failures")) == wholeFailures)
        // The other files are renderings of the merged report.json.
        let report = try ReportWriter.load(from: merged)
        let rendered = [
            "summary.md": MarkdownRenderer.render(report), "index.html": HTMLRenderer.render(report), "junit.xml": JUnitRenderer.render(report),
        ]
        for (name, text) in rendered {
            #expect(FileManager.default.contents(atPath: FilePaths.join(merged, name)) == Data(text.utf8), "\(name)")
        }

        // What merge refuses, exit 2 with the reason.
        func refused(_ shards: [String], _ reason: String) throws {
            let result = try tidemark(["merge"] + shards + ["--out", directory.file("refused")])
            #expect(result.status == 2 && result.stderr.contains(reason), "\(shards): \(result.stderr)")
        }
        let shard = { (index: Int) in FilePaths.join(sharded, "shard-\(index)") }
        try refused([shard(0), shard(1)], "missing shard 3/3")
        try refused([shard(0), shard(1), shard(1), shard(2)], "shard 2/3 given more than once")
        let other = try tidemark(["run", "Scenarios/smoke.yaml", "--seeds", "3", "--shard", "3/3", "--out", directory.file("other")])
        #expect(other.status == 0, "\(other.stderr)")
        try refused([shard(0), shard(1), directory.file("other")], "not shards of one campaign: different scenario files")
        for (name, from, to, reason) in [
            ("unfinished", "\"finished\":true", "\"finished\":false", "did not finish"),
            ("rebuilt", "\"buildDigest\":\"", "\"buildDigest\":\"0", "different builds"),
        ] {
            let copy = directory.file(name)
            try FileManager.default.copyItem(atPath: shard(2), toPath: copy)
            let state = FilePaths.join(copy, "campaign-state.json")
            let text = try String(contentsOfFile: state, encoding: .utf8)
            #expect(text.contains(from))
            try text.replacingOccurrences(of: from, with: to).write(toFile: state, atomically: true, encoding: .utf8)
            try refused([shard(0), shard(1), copy], reason)
        }
    }

    /// The recipes run exactly the command lines the test above runs.
    @Test func theDeployRecipesRunTheTestedCommandLines() throws {
        func recipe(_ name: String) throws -> String { try String(contentsOfFile: FilePaths.join(Self.root, "deploy", name), encoding: .utf8) }
        let kubernetes = try recipe("kubernetes.yaml")
        #expect(kubernetes.contains("command: [\"campaign.sh\", \"shard\"]") && kubernetes.contains("command: [\"campaign.sh\", \"merge\"]"))
        #expect(kubernetes.contains("completionMode: Indexed"))
        let slurm = try recipe("slurm.sbatch")
        #expect(slurm.contains("exec deploy/campaign.sh shard") && slurm.contains("\"deploy/campaign.sh merge\"") && slurm.contains("#SBATCH --array=0-"))
        let container = try recipe("Containerfile")
        #expect(container.contains("COPY deploy/campaign.sh /usr/local/bin/campaign.sh") && container.contains("FROM swift:"))
        let script = try recipe("campaign.sh")
        #expect(script.contains("\"$TIDEMARK\" run $SCENARIOS ${SEEDS:+--seeds \"$SEEDS\"} --shard-from-env \"$SHARDS\" --out \"$OUT/shard-$index\""))
        #expect(script.contains("exec \"$TIDEMARK\" merge \"$OUT\"/shard-* --out \"$OUT/merged\""))
    }

    @Test func aCampaignKilledMidwayResumesToTheSameReport() throws {
        let directory = TemporaryDirectory()
        let arguments = ["run", "Scenarios/smoke.yaml", "--seeds", "60", "--jobs", "1"]
        let straight = try runProcess(tidemarkExecutable, arguments + ["--out", directory.file("straight")], directory: Self.root)
        #expect(straight.status == 0, "\(straight.stderr)")

        let killed = directory.file("killed")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tidemarkExecutable)
        process.arguments = arguments + ["--out", killed, "--save-every", "0"]
        process.currentDirectoryURL = URL(fileURLWithPath: Self.root)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let statePath = FilePaths.join(killed, "campaign-state.json")
        func savedRuns() -> Int {
            guard let data = FileManager.default.contents(atPath: statePath),
                  let state = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let scenarios = state["scenarios"] as? [[String: Any]] else { return 0 }
            return scenarios.compactMap { ($0["tally"] as? [String: Any])?["runs"] as? Int }.reduce(0, +)
        }
        while process.isRunning && savedRuns() < 10 { usleep(5_000) }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal, "the campaign ended before it could be killed")
        let atKill = savedRuns()
        #expect(atKill >= 10 && atKill < 60)
        // The interim report says how far it got.
        let interim = try ReportWriter.load(from: killed)
        #expect(interim.inProgress && interim.scenarios[0].runs >= atKill - 1)  // saved just before or after the state

        let again = try runProcess(tidemarkExecutable, arguments + ["--out", killed], directory: Self.root)
        #expect(again.status == 2 && again.stderr.contains("pass --resume"), "\(again.stderr)")
        let resumed = try runProcess(tidemarkExecutable, arguments + ["--out", killed, "--resume"], directory: Self.root)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try Self.comparable(killed) == Self.comparable(directory.file("straight")))
        let differently = try runProcess(tidemarkExecutable, ["run", "Scenarios/smoke.yaml", "--seeds", "61", "--out", killed, "--resume"], directory: Self.root)
        #expect(differently.status == 2 && differently.stderr.contains("different seeds"), "\(differently.stderr)")
    }

    @Test func durationKeepsDrawingSeedsAndUntilFailureStopsAtTheFirst() throws {
        let directory = TemporaryDirectory()
        let timed = try runProcess(
            tidemarkExecutable, ["run", "Scenarios/smoke.yaml", "--seeds", "4", "--jobs", "1", "--duration", "2s", "--out", directory.file("timed"), "--json"],
            directory: Self.root)
        #expect(timed.status == 0, "\(timed.stderr)")
        let timedReport = try ReportWriter.load(from: directory.file("timed"))
        #expect(timedReport.scenarios[0].runs > 4, "more rounds than one")
        #expect(timedReport.durationSeconds >= 2 && timedReport.durationSeconds < 10)

        let untilFailure = try runProcess(
            tidemarkExecutable,
            ["run", "Tests/TidemarkReportsTests/Fixtures/async-says-pass.yaml", "--jobs", "1", "--until-failure", "--out", directory.file("until"), "--json"],
            directory: Self.root)
        #expect(untilFailure.status == 1, "\(untilFailure.stderr)")
        let scenario = try #require(try ReportWriter.load(from: directory.file("until")).scenarios.first)
        #expect(scenario.failed == 1 && scenario.runs >= 1)
        #expect(scenario.failures.count == 1 && FileManager.default.fileExists(atPath: scenario.failures[0].failureFile))
    }

    @Test func oneFailureFilePerDistinctViolationUpToTheCap() throws {
        let directory = TemporaryDirectory()
        let result = try runProcess(
            tidemarkExecutable, ["run", "Scenarios/async-mode.yaml", "--seeds", "30", "--failure-files", "3", "--timelines", "1", "--out", directory.file("out")],
            directory: Self.root)
        #expect(result.status == 0, "\(result.stderr)")
        let scenario = try #require(try ReportWriter.load(from: directory.file("out")).scenarios.first)
        #expect(scenario.failed > scenario.distinctViolations && scenario.distinctViolations > 3, "the seeds give more distinct violations than the cap")
        #expect(scenario.failures.count == 3)
        #expect(scenario.failures.map(\.similarRuns).reduce(0, +) <= scenario.failed)
        #expect(scenario.failures.filter { !$0.timeline.events.isEmpty }.count == 1)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.file("out/failures")).sorted()
        #expect(files == scenario.failures.map { FilePaths.name(of: $0.failureFile) }.sorted())
    }

    @Test func badShardsAreRefusedNamingTheProblem() throws {
        let directory = TemporaryDirectory()
        let cases: [([String], [String: String], String)] = [
            (["--shard", "4/3"], [:], "--shard 4/3: expected K/N with 1 <= K <= N"),
            (["--shard", "1/3", "--shard-from-env", "3"], [:], "give --shard or --shard-from-env, not both"),
            (["--shard-from-env", "3"], ["JOB_COMPLETION_INDEX": "3"], "JOB_COMPLETION_INDEX=3 is not a 0-based index below 3"),
            (["--shard-from-env", "3"], ["JOB_COMPLETION_INDEX": "", "SLURM_ARRAY_TASK_ID": "x"], "SLURM_ARRAY_TASK_ID=x is not a 0-based index below 3"),
        ]
        for (arguments, environment, message) in cases {
            let result = try runProcess(
                tidemarkExecutable, ["run", "Scenarios/smoke.yaml", "--seeds", "3", "--out", directory.file("out")] + arguments,
                environment: environment, directory: Self.root)
            #expect(result.status == 2 && result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
    }

    // MARK: The verifier's own input

    @Test func anOutThatCannotBeWrittenFailsBeforeRunning() throws {
        let directory = TemporaryDirectory()
        try Data("a file".utf8).write(to: URL(fileURLWithPath: directory.file("file")))
        let result = try runProcess(tidemarkExecutable, ["run", "Scenarios/smoke.yaml", "--seeds", "300", "--out", directory.file("file/report")], directory: Self.root)
        #expect(result.status == 2)
        #expect(result.stderr.contains("cannot write to --out \(directory.file("file/report"))"), "\(result.stderr)")
        #expect(!result.stderr.contains("runs/s"), "nothing ran")
    }

    @Test func replayTellsAChangedVerdictFromAChangedHashAndRefusesADirectory() throws {
        let directory = TemporaryDirectory()
        let run = try runProcess(tidemarkExecutable, ["run", "Scenarios/canary-ack-before-sync.yaml", "--seeds", "1", "--out", directory.file("out")], directory: Self.root)
        #expect(run.status == 0, "\(run.stderr)")
        let failure = directory.file("out/failures/canary-ack-before-sync-seed1.json")
        let original = try String(contentsOfFile: failure, encoding: .utf8)
        let recorded = try #require(try JSONSerialization.jsonObject(with: Data(original.utf8)) as? [String: Any])
        let hash = try #require(recorded["traceHash"] as? String)
        let build = try #require(recorded["build"] as? String)

        func replay(_ edits: [(String, String)]) throws -> CommandResult {
            var text = original
            for (from, to) in edits {
                #expect(text.contains(from), "\(from)")
                text = text.replacingOccurrences(of: from, with: to)
            }
            let path = directory.file("edited.json")
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return try tidemark(["replay", path])
        }
        let otherBuild = [("\"build\" : \"\(build)\"", "\"build\" : \"tidemark 0.0.1 (release)\""), ("\"traceHash\" : \"\(hash)\"", "\"traceHash\" : \"0000000000000000\"")]
        let sameVerdict = try replay(otherBuild)
        #expect(sameVerdict.status == 0 && sameVerdict.stderr.contains("warning: same verdict, different trace hash"), "\(sameVerdict.stderr)")
        #expect(!sameVerdict.stderr.contains("error"))

        let changedVerdict = try replay(otherBuild + [("\"invariant\" : \"durability\"", "\"invariant\" : \"liveness\"")])
        #expect(changedVerdict.status == 1)
        #expect(changedVerdict.stderr.contains("error: the verdict changed: recorded a violation of liveness, this replay gives a violation of durability"), "\(changedVerdict.stderr)")

        let nondeterministic = try replay([("\"traceHash\" : \"\(hash)\"", "\"traceHash\" : \"0000000000000000\"")])
        #expect(nondeterministic.status == 1 && nondeterministic.stderr.contains("not deterministic"), "\(nondeterministic.stderr)")

        let folder = try tidemark(["replay", directory.file("out")])
        #expect(folder.status == 2)
        #expect(folder.stderr.contains("is a directory, not a failure file") && folder.stderr.contains("canary-ack-before-sync-seed1.json"), "\(folder.stderr)")
        #expect(!folder.stderr.contains("NSCocoaErrorDomain"))
    }
}
