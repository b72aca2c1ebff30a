import Foundation
import TidemarkIO
import TidemarkReports
import TidemarkSimulatedDisk

/// Where crash states are explored: just before each persistence point (fsync, fdatasync,
/// sync), where the most changes are pending, and at the end of the trace. The lines the
/// command printed before the point go to the checker.
public struct CrashPoint: Sendable, Codable, Hashable {
    /// The trace operation the crash strikes before (`operations.count` for the end).
    public var operation: Int
    /// "before #12 fsync wal-1.log", "at the end".
    public var label: String
    public var outputLines: [String]

    public static func all(in trace: TraceFile) -> [CrashPoint] {
        var points: [CrashPoint] = []
        var lines: [String] = []
        for (index, operation) in trace.operations.enumerated() {
            if operation.isPersistencePoint {
                let target = operation.path.map { $0.isEmpty ? "." : $0 } ?? ""
                points.append(CrashPoint(operation: index, label: "before #\(index) \(operation.kind.rawValue) \(target)", outputLines: lines))
            }
            if operation.kind == .output, let text = operation.text { lines.append(text) }
        }
        points.append(CrashPoint(operation: trace.operations.count, label: "at the end", outputLines: lines))
        return points
    }
}

/// One crash state: where, what it lost, its image.
public struct ExploredState: Sendable {
    /// "<operation>.<n>": the point's operation and the state's position in the enumerator's
    /// list there (stable: `tidemark trace materialize --state` takes it).
    public var id: String
    public var point: CrashPoint
    public var kept: [PendingChange]
    public var lost: [PendingChange]
    public var image: DiskImage
    /// Every pending change at the point (issue order), its fate here, and the bounded-family
    /// members this state is (for `CauseFinder`).
    public var changes: [PendingChange]
    public var fates: [CauseFinder.Fate]
    public var family: [FamilyMember]
}

/// The crash states of a trace, point by point, through a `CrashStateSource`.
public struct TraceStates {
    public let trace: TraceFile
    public let source: any CrashStateSource

    public init(trace: TraceFile, source: any CrashStateSource) {
        self.trace = trace
        self.source = source
    }

    /// The states at one point, in the source's order.
    public func states(at point: CrashPoint) throws -> [ExploredState] {
        let candidates = try source.crashStates {
            let replay = try TraceReplay(trace)
            try replay.advance(to: point.operation)
            return replay.disk
        }
        return try candidates.enumerated().map { index, candidate in
            ExploredState(id: "\(point.operation).\(index)", point: point, kept: candidate.kept, lost: candidate.lost,
                          image: try DiskImage.read(candidate.disk), changes: candidate.changes, fates: candidate.fates,
                          family: candidate.family)
        }
    }

    /// The state named `id` ("<operation>.<n>").
    public func state(_ id: String) throws -> ExploredState {
        let parts = id.split(separator: ".")
        guard parts.count == 2, let operation = Int(parts[0]), let number = Int(parts[1]) else {
            throw TraceError("state id \"\(id)\" is not <operation>.<n> (as explore prints them)")
        }
        guard let point = CrashPoint.all(in: trace).first(where: { $0.operation == operation }) else {
            throw TraceError("state \(id): operation \(operation) is not a crash point of this trace")
        }
        let states = try states(at: point)
        guard number < states.count else {
            throw TraceError("state \(id): the point has \(states.count) states (0..<\(states.count))")
        }
        return states[number]
    }

    /// Which trace operation issued each simulated call (for naming changes by operation).
    public func operationIndex() throws -> (Int) -> Int? {
        let replay = try TraceReplay(trace)
        _ = try replay.all()
        let starts = replay.firstCall.sorted { $0.key < $1.key }
        return { call in starts.last { $0.value <= call }?.key }
    }
}
