import Foundation
import TidemarkIO
import TidemarkSimulatedDisk

/// Everything needed to reproduce a failing run bit for bit: the scenario (embedded, so the YAML
/// file may change or vanish), the seed, the exact plan, the suppressed fault decisions, and what
/// was seen (verdict and trace hash) to compare a replay against.
public struct FailureFile: Codable, Sendable {
    public static let currentFormat = "tidemark-failure/1"

    public var format: String
    public var build: String
    /// `BuildInfo.digest` of the build that wrote it (absent from older files).
    public var buildDigest: String?
    public var scenarioFile: String
    public var scenario: Scenario
    public var seed: UInt64
    public var plan: Plan
    public var suppressedDecisions: [Int]
    public var invariant: Invariant
    public var message: String
    public var traceHash: String
    /// Fault decisions the run took (index, kind, outcome): what shrinking can suppress.
    public var decisions: [FaultDecision]
    /// Set by crash exploration: the one crash state to check, at its point (the run stops
    /// there; `traceHash` is the hash at the point). Absent in files of random runs.
    public var crash: PinnedCrash?

    public init(scenarioFile: String, scenario: Scenario, run: SimulationRun, result: RunResult) {
        format = Self.currentFormat
        build = BuildInfo.identity
        buildDigest = BuildInfo.digest
        self.scenarioFile = scenarioFile
        self.scenario = scenario
        seed = run.seed
        plan = run.plan
        suppressedDecisions = run.suppressedDecisions.sorted()
        invariant = result.violation?.invariant ?? .liveness
        message = result.violation?.message ?? ""
        traceHash = Hex.digits16(result.traceHash)
        decisions = result.decisions
        crash = result.pinnedCrash
    }

    public var run: SimulationRun {
        var run = SimulationRun(scenario: scenario, seed: seed, plan: plan, suppressedDecisions: Set(suppressedDecisions))
        if let crash { run.explorer = CrashExplorer(mode: .pinned(crash), makeSubject: CrashExplorer.subjects(of: scenario)) }
        return run
    }

    /// Pins the crash state of an exploration finding: replaying checks exactly that state.
    public mutating func pin(_ finding: CrashExplorer.Finding) {
        crash = finding.crash
        invariant = finding.violation.invariant
        message = finding.violation.message
        traceHash = Hex.digits16(finding.traceHash)
    }

    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: URL(fileURLWithPath: path))
    }

    /// Whether the running build wrote this file.
    public var isFromThisBuild: Bool { build == BuildInfo.identity && (buildDigest ?? BuildInfo.digest) == BuildInfo.digest }

    public static func load(from path: String) throws -> FailureFile {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            let inside = [FilePaths.join(path, "failures"), path].lazy.compactMap { directory in
                (try? FileManager.default.contentsOfDirectory(atPath: directory))?.sorted().first { $0.hasSuffix(".json") && $0 != "report.json" }
                    .map { FilePaths.join(directory, $0) }
            }.first
            throw VerifierError("\(path) is a directory, not a failure file; give one of the failure files a run writes under <out>/failures/\(inside.map { ", e.g. \($0)" } ?? "")")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw VerifierError("cannot read failure file \(path): \(error.localizedDescription)")
        }
        return try decode(data, path: path)
    }

    /// Decodes the bytes of a failure file read from `path` (named in every error).
    public static func decode(_ data: Data, path: String) throws -> FailureFile {
        do {
            let file = try JSONDecoder().decode(FailureFile.self, from: data)
            guard file.format == currentFormat else {
                throw VerifierError("\(path): unsupported format \"\(file.format)\" (this build reads \(currentFormat))")
            }
            return file
        } catch let error as VerifierError {
            throw error
        } catch let DecodingError.dataCorrupted(context) {
            throw VerifierError("\(path): not a failure file: \(context.debugDescription) at \(codingPath(context.codingPath))")
        } catch let DecodingError.keyNotFound(key, context) {
            throw VerifierError("\(path): missing \"\(key.stringValue)\" at \(codingPath(context.codingPath))")
        } catch let DecodingError.typeMismatch(_, context) {
            throw VerifierError("\(path): wrong type at \(codingPath(context.codingPath)): \(context.debugDescription)")
        } catch {
            throw VerifierError("\(path): not a failure file: \(error)")
        }
    }
}

private func codingPath(_ path: [any CodingKey]) -> String {
    path.isEmpty ? "the top level" : path.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
}
