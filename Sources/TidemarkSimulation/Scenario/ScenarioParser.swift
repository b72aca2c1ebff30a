import Foundation
import Yams
import TidemarkSimulatedDisk

/// Reads scenario YAML. Every error names the file, line and column, and unknown keys are
/// errors (a misspelt fault knob would otherwise silently test nothing).
public enum ScenarioParser {
    public static func load(file path: String) throws -> Scenario {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ScenarioError(file: path, line: nil, column: nil, message: "cannot read file: \(error.localizedDescription)")
        }
        return try parse(text, file: path)
    }

    public static func parse(_ yaml: String, file: String) throws -> Scenario {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: yaml) else {
                throw ScenarioError(file: file, line: 1, column: 1, message: "the file is empty")
            }
            root = node
        } catch let error as ScenarioError {
            throw error
        } catch let error as YamlError {
            throw ScenarioError(file: file, yamlError: error)
        }
        var reader = Reader(file: file)
        return try reader.scenario(root)
    }
}

/// A bad scenario: what and where.
public struct ScenarioError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var column: Int?
    public var message: String

    public init(file: String, line: Int?, column: Int?, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    init(file: String, yamlError: YamlError) {
        switch yamlError {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            self.init(file: file, line: mark.line, column: mark.column, message: "invalid YAML: \(problem)")
        default:
            self.init(file: file, line: nil, column: nil, message: "invalid YAML: \(yamlError)")
        }
    }

    public var description: String {
        switch (line, column) {
        case (let line?, let column?): "\(file):\(line):\(column): \(message)"
        case (let line?, nil): "\(file):\(line): \(message)"
        default: "\(file): \(message)"
        }
    }
}

/// Walks the YAML tree with the schema in hand.
private struct Reader {
    let file: String

    func error(_ node: Node?, _ message: String) -> ScenarioError {
        ScenarioError(file: file, line: node?.mark?.line, column: node?.mark?.column, message: message)
    }

    /// The pairs of a mapping, rejecting keys outside `allowed`.
    func mapping(_ node: Node, _ what: String, allowed: [String]) throws -> [String: (key: Node, value: Node)] {
        guard let mapping = node.mapping else { throw error(node, "\(what) must be a mapping") }
        var result: [String: (key: Node, value: Node)] = [:]
        for (key, value) in mapping {
            guard let name = key.string else { throw error(key, "\(what): keys must be strings") }
            guard allowed.contains(name) else {
                let suggestion = allowed.min { editDistance($0, name) < editDistance($1, name) }
                let hint = suggestion.map { editDistance($0, name) <= 3 ? " (did you mean \"\($0)\"?)" : "" } ?? ""
                throw error(key, "unknown key \"\(name)\" in \(what)\(hint); allowed: \(allowed.joined(separator: ", "))")
            }
            if result[name] != nil { throw error(key, "duplicate key \"\(name)\" in \(what)") }
            result[name] = (key, value)
        }
        return result
    }

    func string(_ node: Node, _ what: String) throws -> String {
        guard let scalar = node.scalar else { throw error(node, "\(what) must be a string") }
        return scalar.string
    }

    func int(_ node: Node, _ what: String, min: Int = Int.min, max: Int = Int.max) throws -> Int {
        guard let scalar = node.scalar, let value = Int(scalar.string) else { throw error(node, "\(what) must be an integer") }
        guard value >= min else { throw error(node, "\(what) must be at least \(min), got \(value)") }
        guard value <= max else { throw error(node, tooLarge(what, max, value)) }
        return value
    }

    func double(_ text: String, _ node: Node, _ what: String) throws -> Double {
        guard let value = Double(text.trimmingCharacters(in: .whitespaces)), value.isFinite else {
            throw error(node, "\(what) must be a number, got \"\(text)\"")
        }
        return value
    }

    /// `3`, `2..8`, or `[2, 8]`.
    func intRange(_ node: Node, _ what: String, min: Int = 0, max: Int = Int.max) throws -> IntRange {
        let (low, high) = try rangeParts(node, what)
        guard let lower = Int(low), let upper = Int(high) else { throw error(node, "\(what) must be an integer or a range like 2..8") }
        guard lower >= min else { throw error(node, "\(what) must be at least \(min)") }
        guard upper <= max else { throw error(node, tooLarge(what, max, upper)) }
        guard lower <= upper else { throw error(node, "\(what): the range \(lower)..\(upper) is empty") }
        return IntRange(lower, upper)
    }

    func tooLarge(_ what: String, _ max: Int, _ value: Int) -> String {
        "\(what) must be at most \(max) (sizes are bounded so that one run stays small; use more seeds instead), got \(value)"
    }

    /// `0.3`, `0..0.5`, or `[0, 0.5]`, within 0...1.
    func probability(_ node: Node, _ what: String) throws -> DoubleRange {
        let (low, high) = try rangeParts(node, what)
        let lower = try double(low, node, what), upper = try double(high, node, what)
        guard (0...1).contains(lower), (0...1).contains(upper) else { throw error(node, "\(what) is a probability: it must lie within 0...1") }
        guard lower <= upper else { throw error(node, "\(what): the range \(lower)..\(upper) is empty") }
        return DoubleRange(lower, upper)
    }

    func rangeParts(_ node: Node, _ what: String) throws -> (String, String) {
        if let sequence = node.sequence {
            guard sequence.count == 2, let low = sequence[0].scalar?.string, let high = sequence[1].scalar?.string else {
                throw error(node, "\(what): a range list must have exactly two numbers")
            }
            return (low, high)
        }
        guard let text = node.scalar?.string else { throw error(node, "\(what) must be a number or a range") }
        if let separator = text.range(of: "..") {
            return (String(text[..<separator.lowerBound]), String(text[separator.upperBound...]))
        }
        return (text, text)
    }

    func choice<T: RawRepresentable & CaseIterable>(_ node: Node, _ what: String, _: T.Type) throws -> T where T.RawValue == String {
        let text = try string(node, what)
        guard let value = T(rawValue: text) else {
            throw error(node, "\(what) must be one of \(T.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(text)\"")
        }
        return value
    }

    mutating func scenario(_ root: Node) throws -> Scenario {
        let keys = try mapping(root, "the scenario", allowed: ["name", "description", "subject", "workload", "faults", "seeds", "expect", "expectInvariants", "refusalsAtMost", "exploration", "stateBudget", "persistenceModel"])
        guard let nameNode = keys["name"] else { throw error(root, "the scenario needs a \"name\"") }
        let name = try string(nameNode.value, "name")
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw error(nameNode.value, "name must be non-empty letters, digits, '-' or '_' (it names report files)")
        }
        guard let subjectNode = keys["subject"] else { throw error(root, "the scenario needs a \"subject\"") }
        var scenario = Scenario(name: name, subject: try subject(subjectNode.value))
        if let node = keys["description"] { scenario.description = try string(node.value, "description") }
        if let node = keys["workload"] { scenario.workload = try workload(node.value) }
        if let node = keys["faults"] { scenario.faults = try faults(node.value) }
        if let node = keys["seeds"] { scenario.seeds = try int(node.value, "seeds", min: 1, max: 10_000_000) }
        if let node = keys["expect"] { scenario.expect = try choice(node.value, "expect", Scenario.Expectation.self) }
        if let node = keys["expectInvariants"] {
            guard let list = node.value.sequence else { throw error(node.value, "expectInvariants must be a list of invariant names") }
            scenario.expectInvariants = try list.map { try choice($0, "expectInvariants entry", Invariant.self) }
            if scenario.expect == .pass && !scenario.expectInvariants.isEmpty {
                throw error(node.key, "expectInvariants only makes sense with expect: violation")
            }
        }
        if scenario.expect == .violation && scenario.expectInvariants.isEmpty {
            throw error(keys["expect"]!.value, "expect: violation needs expectInvariants, the invariants the scenario must break")
        }
        if let node = keys["refusalsAtMost"] {
            guard let share = Double(try string(node.value, "refusalsAtMost")), (0...1).contains(share) else {
                throw error(node.value, "refusalsAtMost must be a share of runs between 0 and 1")
            }
            scenario.refusalsAtMost = share
        }
        scenario.exploration = try exploration(keys)
        if scenario.workload.concurrency != nil, let node = keys["workload"] {
            if scenario.subject.kind != .tidemark {
                throw error(node.key, "concurrency: only the tidemark store can run concurrent steps, not \(scenario.subject.kind.rawValue)")
            }
            if scenario.exploration != nil {
                throw error(node.key, "concurrency cannot be combined with exploration: exhaustive (crash states are explored one thread at a time)")
            }
        }
        return scenario
    }

    /// `exploration: random|exhaustive`, with `stateBudget` and `persistenceModel` only beside
    /// `exhaustive`.
    func exploration(_ keys: [String: (key: Node, value: Node)]) throws -> ExplorationSettings? {
        let mode = try keys["exploration"].map { try choice($0.value, "exploration", ExplorationMode.self) } ?? .random
        guard mode == .exhaustive else {
            if let extra = keys["stateBudget"] ?? keys["persistenceModel"] {
                throw error(extra.key, "\(extra.key.string ?? "this key") only makes sense with exploration: exhaustive")
            }
            return nil
        }
        var settings = ExplorationSettings()
        if let entry = keys["stateBudget"] { settings.stateBudget = try int(entry.value, "stateBudget", min: 1) }
        if let entry = keys["persistenceModel"] { settings.model = try choice(entry.value, "persistenceModel", PersistenceModel.self) }
        return settings
    }

    enum ExplorationMode: String, CaseIterable { case random, exhaustive }

    func subject(_ node: Node) throws -> SubjectConfiguration {
        guard let mapping = node.mapping else { throw error(node, "subject must be a mapping with a \"kind\"") }
        guard let kindNode = mapping["kind"] else { throw error(node, "subject needs a \"kind\" (one of \(SubjectKind.allCases.map(\.rawValue).joined(separator: ", ")))") }
        let kind = try choice(kindNode, "subject kind", SubjectKind.self)
        let specs = kind.optionSpecs
        let keys = try self.mapping(node, "subject (\(kind.rawValue))", allowed: ["kind"] + specs.map(\.name))
        var options: [String: String] = [:]
        for spec in specs {
            guard let (_, value) = keys[spec.name] else { continue }
            let text = try string(value, spec.name)
            if let problem = spec.validate(text) { throw error(value, "subject option \(spec.name): \(problem)") }
            options[spec.name] = text
        }
        return SubjectConfiguration(kind: kind, options: options)
    }

    func workload(_ node: Node) throws -> WorkloadConfiguration {
        let keys = try mapping(node, "workload", allowed: ["operationsPerCycle", "cycles", "keys", "distribution", "contentBytes", "embeddingDimensions", "batchSize", "mix", "concurrency"])
        var workload = WorkloadConfiguration()
        if let entry = keys["operationsPerCycle"] { workload.operationsPerCycle = try intRange(entry.value, "operationsPerCycle", max: 10_000) }
        if let entry = keys["cycles"] { workload.cycles = try intRange(entry.value, "cycles", min: 1, max: 100) }
        if let entry = keys["keys"] { workload.keys = try int(entry.value, "keys", min: 1, max: 100_000) }
        if let entry = keys["distribution"] { workload.distribution = try choice(entry.value, "distribution", WorkloadConfiguration.KeyDistribution.self) }
        if let entry = keys["contentBytes"] { workload.contentBytes = try intRange(entry.value, "contentBytes", max: 65_536) }
        if let entry = keys["embeddingDimensions"] { workload.embeddingDimensions = try int(entry.value, "embeddingDimensions", min: 1, max: 1_024) }
        if let entry = keys["batchSize"] { workload.batchSize = try intRange(entry.value, "batchSize", min: 1, max: 1_000) }
        if let entry = keys["mix"] {
            let weights = try mapping(entry.value, "workload mix", allowed: OperationKind.allCases.map(\.rawValue))
            var mix: [OperationKind: Double] = [:]
            for (name, pair) in weights {
                let weight = try double(try string(pair.value, name), pair.value, "weight of \(name)")
                guard weight >= 0 else { throw error(pair.value, "weight of \(name) must not be negative") }
                mix[OperationKind(rawValue: name)!] = weight
            }
            guard mix.values.contains(where: { $0 > 0 }) else { throw error(entry.value, "the mix needs at least one positive weight") }
            workload.mix = mix
        }
        if let entry = keys["concurrency"] { workload.concurrency = try concurrency(entry.value) }
        let concurrentWeight = workload.mix[.concurrent] ?? 0
        if concurrentWeight > 0, workload.concurrency == nil {
            throw error(keys["mix"]?.value ?? node, "the mix weighs concurrent steps, but workload has no \"concurrency\" block saying how many writers")
        }
        if let entry = keys["concurrency"], concurrentWeight == 0 {
            throw error(entry.key, "concurrency needs a positive \"concurrent\" weight in the workload mix, or no step is concurrent")
        }
        return workload
    }

    /// `concurrency: {writers: 2..4, closeChance: 0.2, checkpointChance: 0}`.
    func concurrency(_ node: Node) throws -> ConcurrencyConfiguration {
        let keys = try mapping(node, "concurrency", allowed: ["writers", "closeChance", "checkpointChance"])
        var concurrency = ConcurrencyConfiguration()
        if let entry = keys["writers"] { concurrency.writers = try intRange(entry.value, "concurrency writers", min: 2, max: 16) }
        func chance(_ name: String) throws -> Double? {
            guard let entry = keys[name] else { return nil }
            let chance = try double(try string(entry.value, name), entry.value, name)
            guard (0...1).contains(chance) else { throw error(entry.value, "\(name) is a probability: it must lie within 0...1, got \(chance)") }
            return chance
        }
        concurrency.closeChance = try chance("closeChance") ?? concurrency.closeChance
        concurrency.checkpointChance = try chance("checkpointChance") ?? concurrency.checkpointChance
        return concurrency
    }

    func faults(_ node: Node) throws -> FaultRanges {
        let probabilities: [(String, WritableKeyPath<FaultRanges, DoubleRange>)] = [
            ("powerLoss", \.powerLoss), ("killInOperation", \.killInOperation), ("killDuringRecovery", \.killDuringRecovery),
            ("dropUnsynced", \.dropUnsynced), ("tornWrite", \.tornWrite), ("garbage", \.garbage),
            ("unsafeAppend", \.unsafeAppend), ("keepAll", \.keepAll), ("dropDirectoryOperation", \.dropDirectoryOperation),
            ("earlyWriteback", \.earlyWriteback), ("fsyncError", \.fsyncError), ("writeError", \.writeError),
            ("readError", \.readError), ("misdirectedWrite", \.misdirectedWrite), ("bitRot", \.bitRot),
            ("sectorGarble", \.sectorGarble), ("killMidWrite", \.killMidWrite),
            ("evictCleanPages", \.evictCleanPages), ("writebackError", \.writebackError),
            ("syncNoSpace", \.syncNoSpace), ("writebackNoSpace", \.writebackNoSpace), ("shutdown", \.shutdown),
            ("readOnlyRemount", \.readOnlyRemount), ("bitRotPerFile", \.bitRotPerFile),
        ]
        let keys = try mapping(node, "faults", allowed: probabilities.map(\.0) + [
            "reorder", "sectorSize", "capacityBytes", "latentSectorErrors", "enumeratedCrashStates", "fsyncErrorReporting",
            "holdSpaceUntilUnlinkDurable",
        ])
        var faults = FaultRanges()
        for (name, path) in probabilities {
            if let entry = keys[name] { faults[keyPath: path] = try probability(entry.value, name) }
        }
        if let entry = keys["reorder"] { faults.reorder = try choice(entry.value, "reorder", FaultConfiguration.ReorderMode.self) }
        if let entry = keys["fsyncErrorReporting"] {
            faults.fsyncErrorReporting = try choice(entry.value, "fsyncErrorReporting", FaultConfiguration.FsyncErrorReporting.self)
        }
        if let entry = keys["holdSpaceUntilUnlinkDurable"] {
            let text = try string(entry.value, "holdSpaceUntilUnlinkDurable")
            guard let value = Bool(text) else { throw error(entry.value, "holdSpaceUntilUnlinkDurable must be true or false, got \(text)") }
            faults.holdSpaceUntilUnlinkDurable = value
        }
        if let entry = keys["enumeratedCrashStates"] {
            faults.enumeratedCrashStates = try choice(entry.value, "enumeratedCrashStates", PersistenceModel.self)
        }
        if let entry = keys["sectorSize"] {
            let size = try int(entry.value, "sectorSize")
            guard size == 512 || size == 4096 else { throw error(entry.value, "sectorSize must be 512 or 4096") }
            faults.sectorSize = size
        }
        if let entry = keys["capacityBytes"] { faults.capacityBytes = try intRange(entry.value, "capacityBytes", min: 1, max: 1 << 30) }
        if let entry = keys["latentSectorErrors"] {
            guard let list = entry.value.sequence else { throw error(entry.value, "latentSectorErrors must be a list of {path, offset, length}") }
            faults.latentSectorErrors = try list.map { item in
                let fields = try mapping(item, "a latent sector error", allowed: ["path", "offset", "length"])
                guard let path = fields["path"], let offset = fields["offset"], let length = fields["length"] else {
                    throw error(item, "a latent sector error needs path (a substring of the file path), offset and length")
                }
                return FaultConfiguration.LatentSectorError(
                    pathContains: try string(path.value, "path"), offset: Int64(try int(offset.value, "offset", min: 0)),
                    length: Int64(try int(length.value, "length", min: 1)))
            }
        }
        return faults
    }
}

/// Levenshtein distance, for "did you mean" hints.
private func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.lowercased()), b = Array(b.lowercased())
    if a.isEmpty { return b.count }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var row = [i] + Array(repeating: 0, count: b.count)
        for j in stride(from: 1, through: b.count, by: 1) {
            row[j] = Swift.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = row
    }
    return previous[b.count]
}
