import Foundation
import Testing
@testable import TidemarkSimulation

struct ScenarioParserTests {
    @Test func minimalScenarioGetsDefaults() throws {
        let scenario = try ScenarioParser.parse("name: tiny\nsubject:\n  kind: tidemark\n", file: "tiny.yaml")
        #expect(scenario.name == "tiny")
        #expect(scenario.subject.kind == .tidemark)
        #expect(scenario.expect == .pass)
        #expect(scenario.workload == WorkloadConfiguration())
    }

    @Test func rangesInEveryForm() throws {
        let yaml = """
            name: ranges
            subject: {kind: tidemark, sync: async}
            workload:
              operationsPerCycle: 5..9
              cycles: [2, 3]
              contentBytes: 7
              mix: {put: 3, get: 1}
            faults:
              dropUnsynced: 0.25
              tornWrite: 0..0.5
              fsyncError: [0.1, 0.2]
              capacityBytes: 1000..2000
              reorder: orderedPrefix
              latentSectorErrors:
                - {path: wal-, offset: 4096, length: 512}
            expect: violation
            expectInvariants: [durability]
            """
        let scenario = try ScenarioParser.parse(yaml, file: "ranges.yaml")
        #expect(scenario.workload.operationsPerCycle == IntRange(5, 9))
        #expect(scenario.workload.cycles == IntRange(2, 3))
        #expect(scenario.workload.contentBytes == IntRange(7))
        #expect(scenario.workload.mix == [.put: 3, .get: 1])
        #expect(scenario.faults.dropUnsynced == DoubleRange(0.25))
        #expect(scenario.faults.tornWrite == DoubleRange(0, 0.5))
        #expect(scenario.faults.fsyncError == DoubleRange(0.1, 0.2))
        #expect(scenario.faults.capacityBytes == IntRange(1000, 2000))
        #expect(scenario.faults.reorder == .orderedPrefix)
        #expect(scenario.faults.latentSectorErrors == [.init(pathContains: "wal-", offset: 4096, length: 512)])
        #expect(scenario.faults.draw(seed: 1).disk.latentSectorErrors.count == 1)
        #expect(scenario.subject.options == ["sync": "async"])
        #expect(scenario.expectInvariants == [.durability])
    }

    @Test func errorReportingShutdownAndHeldSpaceKnobs() throws {
        let yaml = """
            name: knobs
            subject: {kind: tidemark}
            faults:
              fsyncError: 0.1
              fsyncErrorReporting: errseq
              writebackNoSpace: 0.05
              shutdown: 0.5
              readOnlyRemount: 0..1
              capacityBytes: 9000
              holdSpaceUntilUnlinkDurable: true
            """
        let faults = try ScenarioParser.parse(yaml, file: "knobs.yaml").faults
        #expect(faults.fsyncErrorReporting == .errseq && faults.holdSpaceUntilUnlinkDurable)
        #expect(faults.writebackNoSpace == DoubleRange(0.05) && faults.shutdown == DoubleRange(0.5))
        #expect(faults.readOnlyRemount == DoubleRange(0, 1))
        let disk = faults.draw(seed: 3).disk
        #expect(disk.fsyncErrorReporting == .errseq && disk.holdSpaceUntilUnlinkDurable)
        #expect(disk.writebackNoSpaceProbability == 0.05 && disk.shutdownProbability == 0.5)
    }

    @Test func unknownKeyNamesLineColumnAndSuggestion() {
        let yaml = "name: x\nsubject:\n  kind: tidemark\nfaults:\n  tornWrites: 0.5\n"
        #expect {
            try ScenarioParser.parse(yaml, file: "bad.yaml")
        } throws: { error in
            let text = "\(error)"
            return text.hasPrefix("bad.yaml:5:3:") && text.contains("tornWrites") && text.contains("did you mean \"tornWrite\"")
        }
    }

    @Test func explorationModeBudgetAndModel() throws {
        let yaml = "name: x\nsubject: {kind: tidemark}\nexploration: exhaustive\nstateBudget: 64\npersistenceModel: ext4-ordered\n"
        let scenario = try ScenarioParser.parse(yaml, file: "x.yaml")
        #expect(scenario.exploration == ExplorationSettings(stateBudget: 64, model: .ext4Ordered))
        #expect(try ScenarioParser.parse("name: x\nsubject: {kind: tidemark}\nexploration: random\n", file: "x.yaml").exploration == nil)
        #expect(try ScenarioParser.parse("name: x\nsubject: {kind: tidemark}\nexploration: exhaustive\n", file: "x.yaml").exploration == ExplorationSettings())
        let cases: [(String, String)] = [
            ("name: x\nsubject: {kind: tidemark}\nexploration: thorough\n", "bad.yaml:3:14: exploration must be one of random, exhaustive"),
            ("name: x\nsubject: {kind: tidemark}\nstateBudget: 10\n", "bad.yaml:3:1: stateBudget only makes sense with exploration: exhaustive"),
            ("name: x\nsubject: {kind: tidemark}\nexploration: exhaustive\nstateBudget: 0\n", "bad.yaml:4:14:"),
            ("name: x\nsubject: {kind: tidemark}\nexploration: exhaustive\npersistenceModel: ext3\n", "bad.yaml:4:19:"),
            ("name: x\nsubject: {kind: tidemark}\nexploraton: exhaustive\n", "bad.yaml:3:1: unknown key \"exploraton\" in the scenario (did you mean \"exploration\"?)"),
        ]
        for (yaml, message) in cases {
            #expect {
                try ScenarioParser.parse(yaml, file: "bad.yaml")
            } throws: { error in
                "\(error)".hasPrefix(message)
            }
        }
    }

    @Test func badValuesAreErrorsWithLocation() {
        let cases: [(String, String)] = [
            ("name: x\nsubject: {kind: tidemark}\nfaults:\n  dropUnsynced: 1.5\n", "bad.yaml:4:17:"),
            ("name: x\nsubject: {kind: tidemark}\nworkload:\n  cycles: 3..1\n", "bad.yaml:4:11:"),
            ("name: x\nsubject: {kind: tidemark, sync: sometimes}\n", "bad.yaml:2:33:"),
            ("name: x\nsubject: {kind: postgres}\n", "bad.yaml:2:17:"),
            ("name: x\nsubject: {kind: tidemark}\nexpect: maybe\n", "bad.yaml:3:9:"),
            ("name: x\nsubject: {kind: tidemark}\nfaults:\n  sectorSize: 1000\n", "bad.yaml:4:15:"),
            ("name: x\nsubject: {kind: tidemark}\nseeds: 0\n", "bad.yaml:3:8:"),
            ("name: a b\nsubject: {kind: tidemark}\n", "bad.yaml:1:7:"),
            ("subject: {kind: tidemark}\n", "bad.yaml:1:1:"),
            ("name: [unclosed\n", "bad.yaml:"),
            ("name: x\nsubject: {kind: tidemark}\nfaults:\n  fsyncErrorReporting: perDescriptor\n", "bad.yaml:4:24:"),
            ("name: x\nsubject: {kind: tidemark}\nfaults:\n  holdSpaceUntilUnlinkDurable: yes\n", "bad.yaml:4:32:"),
        ]
        for (yaml, location) in cases {
            #expect {
                try ScenarioParser.parse(yaml, file: "bad.yaml")
            } throws: { error in
                "\(error)".hasPrefix(location)
            }
        }
    }

    @Test func sizesHaveUpperBoundsNamedWithTheirLocation() {
        let cases: [(String, String)] = [
            ("name: x\nsubject: {kind: tidemark}\nworkload:\n  operationsPerCycle: 100000000\n", "bad.yaml:4:23: operationsPerCycle must be at most 10000"),
            ("name: x\nsubject: {kind: tidemark}\nworkload:\n  contentBytes: 10..70000\n", "bad.yaml:4:17: contentBytes must be at most 65536"),
            ("name: x\nsubject: {kind: tidemark}\nworkload:\n  keys: 1000000\n", "bad.yaml:4:9: keys must be at most 100000"),
            ("name: x\nsubject: {kind: tidemark}\nseeds: 20000000\n", "bad.yaml:3:8: seeds must be at most 10000000"),
        ]
        for (yaml, expected) in cases {
            #expect(throws: ScenarioError.self) { try ScenarioParser.parse(yaml, file: "bad.yaml") }
            do {
                _ = try ScenarioParser.parse(yaml, file: "bad.yaml")
            } catch {
                #expect("\(error)".hasPrefix(expected), "\(error)")
            }
        }
    }

    @Test func everyShippedScenarioParses() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Scenarios").standardized
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".yaml") }
        #expect(files.count >= 14)
        for file in files {
            let scenario = try ScenarioParser.load(file: directory.appendingPathComponent(file).path)
            #expect(scenario.name + ".yaml" == file)
            if file.hasPrefix("canary-") {
                #expect(scenario.expect == .violation)
                #expect(scenario.subject.options["canary"] != nil)
            }
        }
    }
}

struct ExpectationTests {
    static func outcome(_ scenario: Scenario, _ violations: [Invariant?], refusals: Int = 0) throws -> ScenarioOutcome {
        var results = violations.enumerated().map { index, invariant in
            RunResult(seed: UInt64(index + 1), violation: invariant.map { Violation($0, "planted") }, traceHash: 0, fsCalls: 0)
        }
        for index in 0..<refusals { results[index].stoppedEarly = "refused" }
        var progress = ScenarioProgress(file: "x.yaml", scenario: scenario, seedsPerRound: results.count)
        for (position, result) in results.enumerated() { progress.record(result, position: position) }
        return try ScenarioOutcome(progress, options: Campaign.Options(failureDirectory: "/tmp/tidemark-expectation-tests"), final: false)
    }

    @Test func aCanaryCaughtForTheWrongReasonDoesNotCount() throws {
        let canary = Scenario(name: "canary", subject: SubjectConfiguration(kind: .tidemark), expect: .violation, expectInvariants: [.durability])
        #expect(try Self.outcome(canary, [.durability, nil]).expectation.met)
        #expect(try Self.outcome(canary, [.durability, nil]).caught == 1)
        #expect(try !Self.outcome(canary, [.liveness, nil]).expectation.met)
        #expect(try !Self.outcome(canary, [nil, nil]).expectation.met)
    }

    @Test func refusalsBeyondTheBoundFailTheScenario() throws {
        var scenario = Scenario(name: "rot", subject: SubjectConfiguration(kind: .tidemark), refusalsAtMost: 0.25)
        #expect(try Self.outcome(scenario, [nil, nil, nil, nil], refusals: 1).expectation.met)
        #expect(try !Self.outcome(scenario, [nil, nil, nil, nil], refusals: 2).expectation.met)
        scenario.refusalsAtMost = nil
        #expect(try Self.outcome(scenario, [nil, nil, nil, nil], refusals: 4).expectation.met)
    }

    @Test func aViolationScenarioMustNameItsInvariantsAndRefusalBoundsAreShares() {
        let base = "name: c\nsubject: {kind: tidemark}\n"
        #expect(throws: (any Error).self) { try ScenarioParser.parse(base + "expect: violation\n", file: "c.yaml") }
        #expect(throws: (any Error).self) { try ScenarioParser.parse(base + "refusalsAtMost: 2\n", file: "c.yaml") }
        #expect((try? ScenarioParser.parse(base + "refusalsAtMost: 0.1\n", file: "c.yaml"))?.refusalsAtMost == 0.1)
    }
}
