import Foundation
import TidemarkIO
import TidemarkReports

/// `tidemark trace explore`: every crash state of a trace, deduplicated, materialised into a
/// fresh directory each and judged by the user's checker; inconsistent states grouped into
/// vulnerabilities.
public struct Explorer {
    public struct Options: Sendable {
        /// A shell command; `{dir}` becomes the state's directory. Exit 0 means consistent.
        public var check: String
        public var jobs: Int = 1
        /// Stop starting checkers after this many seconds (nil: no limit).
        public var budgetSeconds: Double?
        /// Check each distinct (image, output lines) once.
        public var dedupe = true
        /// Where states are materialised (each in its own new subdirectory, removed after).
        public var workDirectory: String
        /// Called with (done, total, inconsistent) as checkers finish.
        public var progress: (@Sendable (Int, Int, Int) -> Void)?

        public init(check: String, workDirectory: String) {
            self.check = check
            self.workDirectory = workDirectory
        }
    }

    public enum Verdict: String, Codable, Sendable {
        case consistent, inconsistent
        /// The time budget ran out first.
        case unchecked
        /// Same image and output lines as `duplicateOf`.
        case duplicate
    }

    public struct StateResult: Codable, Sendable {
        public var id: String
        public var point: String
        public var lost: [String]
        public var keptCount: Int
        public var image: String
        public var imageHash: String
        public var verdict: Verdict
        public var duplicateOf: String?
        public var exitStatus: Int32?
        /// The checker's first lines of output (stdout and stderr).
        public var checkerOutput: [String]?
    }

    /// A group of inconsistent states with the same cause (`CauseFinder`, the grouping the
    /// in-process explorer uses).
    public struct Vulnerability: Codable, Sendable {
        /// "durability": the checker needed a change the program's output relied on (it printed
        /// before the change was durable); "ordering": a later change reached the disk without
        /// an earlier one the checker needed first; "atomicity": a write landed in part.
        public var kind: String
        /// The cause: "ordering: rename /….dbtmp → /CURRENT must persist before remove /MANIFEST-…".
        public var cause: String
        public var states: [String]
        public var example: String
        public var checkerOutput: [String]
    }

    public struct Result: Codable, Sendable {
        public var trace: String
        public var enumerator: String
        public var points: Int
        public var statesEnumerated: Int
        public var statesDistinct: Int
        public var statesChecked: Int
        public var inconsistent: Int
        public var complete: Bool
        public var seconds: Double
        public var enumerationSeconds: Double
        public var unmodelled: [String]
        public var vulnerabilities: [Vulnerability]
        public var states: [StateResult]
    }

    public let states: TraceStates
    public let options: Options

    public init(states: TraceStates, options: Options) {
        self.states = states
        self.options = options
    }

    public func run(traceName: String) throws -> Result {
        guard options.check.contains("{dir}") else {
            throw TraceError("--check \"\(options.check)\" has no {dir}: the checker must be told where the state is")
        }
        let start = Date()
        signal(SIGPIPE, SIG_IGN)  // a checker that never reads its stdin must not kill us
        let operationOf = try states.operationIndex()
        var results: [StateResult] = []
        var explored: [ExploredState] = []
        var firstSeen: [String: Int] = [:]
        var toCheck: [Int] = []
        let points = CrashPoint.all(in: states.trace)
        for point in points {
            for state in try states.states(at: point) {
                var lines = FNV1a()
                for line in point.outputLines { lines.combine(bytes: line.utf8); lines.combine(byte: 0x0A) }
                let key = "\(state.image.fingerprint)/\(lines.value)"
                let duplicate = options.dedupe ? firstSeen[key] : nil
                if duplicate == nil { firstSeen[key] = results.count; toCheck.append(results.count) }
                results.append(StateResult(
                    id: state.id, point: point.label,
                    lost: state.lost.map { Self.name($0, operationOf) }, keptCount: state.kept.count,
                    image: state.image.summary, imageHash: String(state.image.fingerprint, radix: 16),
                    verdict: duplicate == nil ? .unchecked : .duplicate,
                    duplicateOf: duplicate.map { results[$0].id }))
                explored.append(state)
            }
        }
        let enumerationSeconds = Date().timeIntervalSince(start)
        try FileManager.default.createDirectory(atPath: options.workDirectory, withIntermediateDirectories: true)

        let queue = CheckQueue(results: results, order: toCheck)
        let jobs = max(1, min(options.jobs, toCheck.count))
        let options = options
        let snapshot = explored
        let total = toCheck.count
        DispatchQueue.concurrentPerform(iterations: jobs) { _ in
            while let index = queue.take(budget: options.budgetSeconds, since: start) {
                do {
                    let outcome = try Self.check(snapshot[index], options: options)
                    let (done, inconsistent) = queue.finish(index, outcome)
                    options.progress?(done, total, inconsistent)
                } catch {
                    queue.fail(error)
                }
            }
        }
        if let error = queue.error { throw error }
        results = queue.results
        // A duplicate shares its original's verdict.
        for index in results.indices {
            guard let original = results[index].duplicateOf, let source = results.first(where: { $0.id == original }) else { continue }
            if source.verdict == .inconsistent { results[index].verdict = .inconsistent }
        }
        let vulnerabilities = Self.group(explored: explored, results: results, operationOf: operationOf)
        return Result(
            trace: traceName, enumerator: states.source.name, points: points.count,
            statesEnumerated: results.count, statesDistinct: toCheck.count,
            statesChecked: results.filter { $0.verdict == .consistent || ($0.verdict == .inconsistent && $0.duplicateOf == nil) }.count,
            inconsistent: results.filter { $0.verdict == .inconsistent }.count,
            complete: !results.contains { $0.verdict == .unchecked },
            seconds: Date().timeIntervalSince(start), enumerationSeconds: enumerationSeconds,
            unmodelled: states.trace.operations.enumerated().filter { $0.element.kind == .unmodelled }.map {
                "#\($0.offset) \($0.element.call ?? "") \($0.element.path ?? ""): \($0.element.reason ?? "")"
            },
            vulnerabilities: vulnerabilities, states: results)
    }

    /// Materialises the state into a new directory, runs the checker with the output lines on
    /// its standard input, removes the directory.
    static func check(_ state: ExploredState, options: Options) throws -> (status: Int32, output: [String]) {
        let directory = options.workDirectory + "/state-\(state.id)"
        try? FileManager.default.removeItem(atPath: directory)
        try state.image.materialize(into: directory)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let input = state.point.outputLines.map { $0 + "\n" }.joined()
        return try Self.runChecker(options.check, directory: directory, input: input)
    }

    public static func runChecker(_ command: String, directory: String, input: String) throws -> (status: Int32, output: [String]) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command.replacingOccurrences(of: "{dir}", with: shellQuoted(directory))]
        let stdin = Pipe(), output = Pipe()
        process.standardInput = stdin
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let writer = Thread {
            // A checker may exit without reading its input: EPIPE, not a crash.
            try? stdin.fileHandleForWriting.write(contentsOf: Data(input.utf8))
            try? stdin.fileHandleForWriting.close()
        }
        writer.start()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").prefix(20).map(String.init)
        return (process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus, lines)
    }

    static func shellQuoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    static func name(_ change: PendingChange, _ operationOf: (Int) -> Int?) -> String {
        "#\(operationOf(change.callIndex).map(String.init) ?? "?") \(change.summary)"
    }

    /// Groups inconsistent states by cause (`CauseFinder`), asking each point's bounded family
    /// for the verdicts the cause needs: the states the source produced for those members.
    static func group(explored: [ExploredState], results: [StateResult], operationOf: (Int) -> Int?) -> [Vulnerability] {
        func verdict(_ index: Int) -> Bool? {
            let result = results[index]
            let original = result.duplicateOf.flatMap { id in results.first { $0.id == id } } ?? result
            switch original.verdict {
            case .inconsistent: return true
            case .consistent: return false
            case .unchecked, .duplicate: return nil
            }
        }
        var finders: [Int: CauseFinder] = [:]
        var groups: [String: Vulnerability] = [:]
        var order: [String] = []
        for (index, state) in explored.enumerated() where results[index].verdict == .inconsistent {
            let point = state.point.operation
            if finders[point] == nil {
                var members: [FamilyMember: Int] = [:]
                for (other, candidate) in explored.enumerated() where candidate.point.operation == point {
                    for member in candidate.family where members[member] == nil { members[member] = other }
                }
                finders[point] = CauseFinder(changes: state.changes.map(\.generic)) { length, dropping in
                    members[FamilyMember(length: length, dropping: dropping)].flatMap(verdict)
                }
            }
            let cause = finders[point]!.cause(fates: state.fates, durabilityInvariant: nil)
            if groups[cause] == nil {
                order.append(cause)
                let reference = results.first { $0.id == results[index].duplicateOf } ?? results[index]
                groups[cause] = Vulnerability(
                    kind: String(cause.prefix { $0 != ":" }), cause: cause, states: [], example: results[index].id,
                    checkerOutput: reference.checkerOutput ?? [])
            }
            groups[cause]!.states.append(results[index].id)
        }
        return order.map { groups[$0]! }.sorted { $0.states.count > $1.states.count }
    }
}

/// The checkers' shared work list and results, behind one lock.
final class CheckQueue: @unchecked Sendable {
    private let lock = NSLock()
    private let order: [Int]
    private var next = 0
    private var done = 0
    private var inconsistent = 0
    private(set) var results: [Explorer.StateResult]
    private(set) var error: (any Error)?

    init(results: [Explorer.StateResult], order: [Int]) {
        self.results = results
        self.order = order
    }

    /// The next state to check, or nil when all are taken, one failed, or the budget is spent.
    func take(budget: Double?, since start: Date) -> Int? {
        lock.withLock {
            guard next < order.count, error == nil, budget.map({ Date().timeIntervalSince(start) < $0 }) ?? true else { return nil }
            defer { next += 1 }
            return order[next]
        }
    }

    func finish(_ index: Int, _ outcome: (status: Int32, output: [String])) -> (done: Int, inconsistent: Int) {
        lock.withLock {
            results[index].verdict = outcome.status == 0 ? .consistent : .inconsistent
            results[index].exitStatus = outcome.status
            results[index].checkerOutput = outcome.output
            done += 1
            if outcome.status != 0 { inconsistent += 1 }
            return (done, inconsistent)
        }
    }

    func fail(_ failure: any Error) {
        lock.withLock { if error == nil { error = failure } }
    }
}
