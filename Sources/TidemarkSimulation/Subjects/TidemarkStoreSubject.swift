import Tidemark
import TidemarkIO
import TidemarkSimulatedDisk

/// The Tidemark store as a subject: each sync mode, any segment size, with or without tiers, and
/// the canaries.
final class TidemarkStoreSubject: ConcurrentSubject {
    static let optionSpecs: [SubjectKind.OptionSpec] = [
        .choice("sync", SyncMode.allCases.map(\.rawValue), "when a commit is acknowledged"),
        .choice("canary", ["none"] + StoreCanary.allCases.map(\.rawValue), "a deliberately broken variant"),
        .integer("segmentBytes", 256...(1 << 30), "log segment size before rotation"),
        .integer("checkpointsKept", 1...5, "checkpoints the manifest keeps"),
        .integer("autoCheckpointBytes", 1024...(1 << 30), "log bytes after which maintenance checkpoints"),
        .integer("sectorAlignment", 0...(1 << 20), "pad each sync to this sector size (0: assume powersafe overwrite)"),
        .choice("tiers", ["on", "off"], "hot tier in memory over a SQLite cold tier"),
        .integer("hotMemoryBytes", 0...(1 << 30), "hot tier memory budget; unflushed records flush to the cold tier before passing it (tiers on)"),
        .integer("hotToColdAgeSeconds", 0...86_400, "idle time after which maintenance flushes a record to the cold tier (tiers on)"),
        .integer("syncedRecordSeconds", 0...86_400, "how often at most a log sync also records its LSN in SYNCED (0: every sync)"),
    ]

    let fileSystem: any FileSystem
    let clock: any Clock
    let random: any RandomSource
    let options: StoreOptions
    let directory = "/store"
    private var store: Store?
    private(set) var inFlightCommitRecord: CommitRecord?
    /// Set for concurrent runs: each open gets a monitor of its own from it.
    private var scheduler: DeterministicScheduler?

    init(options values: [String: String], fileSystem: any FileSystem, clock: any Clock, random: any RandomSource) throws {
        self.fileSystem = fileSystem
        self.clock = clock
        self.random = random
        var options = StoreOptions(syncMode: SyncMode(rawValue: values["sync"] ?? "group") ?? .group)
        if let canary = values["canary"], canary != "none" { options.canary = StoreCanary(rawValue: canary) }
        if let bytes = values["segmentBytes"].flatMap(Int64.init) { options.segmentSizeLimit = bytes }
        if let kept = values["checkpointsKept"].flatMap(Int.init) { options.checkpointsKept = kept }
        if let bytes = values["autoCheckpointBytes"].flatMap(Int64.init) { options.autoCheckpointLogBytes = bytes }
        if let bytes = values["sectorAlignment"].flatMap(Int.init) { options.sectorAlignment = bytes }
        if let seconds = values["syncedRecordSeconds"].flatMap(Int64.init) {
            options.syncedLSNRecordIntervalNanoseconds = seconds * 1_000_000_000
        }
        if values["tiers"] == "on" {
            var tiers = TierOptions()
            if let bytes = values["hotMemoryBytes"].flatMap(Int.init) { tiers.hotMemoryBytes = bytes }
            if let seconds = values["hotToColdAgeSeconds"].flatMap(Double.init) { tiers.hotToColdAge = seconds }
            options.tiers = tiers
        }
        self.options = options
    }

    var acknowledgementsAreDurable: Bool { options.syncMode != .async }

    func schedule(with scheduler: DeterministicScheduler) { self.scheduler = scheduler }

    func open() throws(SubjectError) -> RecoveryInfo {
        do {
            let store = try Store.open(
                at: directory, fileSystem: fileSystem, clock: clock, random: random, options: options,
                monitor: scheduler?.makeMonitor() ?? ConditionMonitor())
            store.commitFrameWritten = { [unowned self] path, end in inFlightCommitRecord = CommitRecord(path: path, end: end) }
            self.store = store
            return Self.describe(store.recovery)
        } catch {
            throw classify(error)
        }
    }

    static func describe(_ report: RecoveryReport) -> RecoveryInfo {
        var paths: [String] = []
        if !report.skippedCheckpoints.isEmpty { paths.append("checkpoint fallback") }
        if report.checkpointFile != nil { paths.append("checkpoint loaded") }
        if report.framesReplayed > 0 { paths.append("log replayed") }
        if !report.truncations.isEmpty { paths.append("torn tail truncated") }
        if !report.lost.isEmpty { paths.append("salvaged with loss") }
        if !report.removedFiles.isEmpty { paths.append("leftovers removed") }
        if paths.isEmpty { paths.append("clean open") }
        let detail = "checkpoint \(report.checkpointLSN.map(String.init) ?? "none"), \(report.framesReplayed) frames replayed, \(report.bytesTruncated) bytes truncated"
        return RecoveryInfo(paths: paths, detail: detail, reportedPossibleLoss: report.reportsPossibleLoss)
    }

    func perform(_ operation: WorkloadOperation) -> Response {
        guard let store else { return .failStopped("the store is not open") }
        inFlightCommitRecord = nil
        let acknowledged = Response.acknowledged(durable: acknowledgementsAreDurable)
        do {
            switch operation {
            case .put(let record):
                try store.put(Self.record(record))
                return acknowledged
            case .putWithTTL(let record, let ttlSeconds):
                try store.put(Self.record(record), ttl: Double(ttlSeconds))
                return acknowledged
            case .delete(let id):
                _ = try store.delete(id)
                return acknowledged
            case .batch(let mutations):
                try store.batch { batch in
                    for mutation in mutations {
                        switch mutation {
                        case .put(let record): try batch.put(Self.record(record))
                        case .delete(let id): try batch.delete(id)
                        }
                    }
                }
                return acknowledged
            case .transaction(let mutations, let rollback):
                do {
                    try store.transaction { transaction in
                        for mutation in mutations {
                            switch mutation {
                            case .put(let record): try transaction.put(Self.record(record))
                            case .delete(let id): try transaction.delete(id)
                            }
                        }
                        if rollback { throw RollbackRequested() }
                    }
                } catch is RollbackRequested {}
                return acknowledged
            case .get(let id):
                return .value(try store.get(id).map(Self.recordValue))
            case .search(let embedding, let k, let metric, let filter):
                let results = try store.search(
                    embedding: embedding, k: k, metric: metric, filter: (filter ?? [:]).mapValues { .string($0) })
                return .searchResults(results.map { result in
                    SearchHit(record: Self.recordValue(result.record), score: metric == .euclidean ? -result.score : result.score)
                })
            case .sync:
                try store.sync()
                return .done
            case .checkpoint:
                try store.checkpoint()
                return .done
            case .maintenance:
                try store.runMaintenance()
                return .done
            case .advanceClock, .reopen:
                return .done
            case .concurrent:
                return .rejected("concurrent steps are run by the simulation, one member per thread")
            }
        } catch let error as StoreError {
            if error.code == .corruption { return .corruptionDetected(error.description) }
            if error.code == .failStopped || error.code == .closed { return .failStopped(error.description) }
            return error.outcome == .ambiguous ? .ambiguous(error.description) : .rejected(error.description)
        } catch {
            return .ambiguous("\(error)")
        }
    }

    func readAll() throws(SubjectError) -> [String: RecordValue] {
        guard let store else { throw SubjectError(.other, "the store is not open") }
        do {
            var state: [String: RecordValue] = [:]
            for record in try store.allRecords() { state[record.id] = Self.recordValue(record) }
            return state
        } catch {
            throw classify(error)
        }
    }

    func abandon() { store = nil }

    var storeTime: Int64? { store?.currentTime }

    func close() {
        try? store?.close()
        store = nil
    }

    /// What the offline check (`verify`) finds or warns about (temp files, checkpoints the
    /// manifest does not name, unfinished segments, torn tails), spill files no record owns,
    /// SQLite journals beside the cold tier, and a log that does not shrink: after one write
    /// and one checkpoint per kept checkpoint, at most one segment per kept checkpoint may remain.
    /// Corruption that struck only files recovery from an intact checkpoint can do without
    /// (`IntactCheckpoint.isDispensable`) leaves everything it needs: a checkpoint the manifest
    /// names whose file still has the checksum the manifest recorded, the manifest, and the log
    /// from the segment that checkpoint started.
    func intactRecoverySource(corruptedFiles: Set<String>, contents: (String) -> [UInt8]?) -> String? {
        guard let intact = IntactCheckpoint.newest(in: directory, contents: contents),
            contents(FilePaths.join(directory, IntactCheckpoint.segmentStarted(byCheckpointAt: intact.lsn))) != nil,
            corruptedFiles.allSatisfy({
                FilePaths.parent(of: $0) == directory && IntactCheckpoint.isDispensable(FilePaths.name(of: $0), recoveringFrom: intact.lsn)
            })
        else { return nil }
        return "\(intact.fileName) (LSN \(intact.lsn)) still matches the checksum MANIFEST records, and corruption struck only \(corruptedFiles.sorted().joined(separator: ", ")), which recovery from it does not need"
    }

    func hygieneProblems() -> [String] {
        guard let store else { return ["the store is not open"] }
        var problems: [String] = []
        do {
            for round in 0..<options.checkpointsKept {
                try store.put(Record(id: "hygiene-\(round)", embedding: store.stats().dimension.map { Array(repeating: 0.25, count: $0) } ?? []))
                try store.checkpoint()
            }
            let stats = try store.stats()
            if stats.segmentCount > options.checkpointsKept {
                problems.append("\(stats.segmentCount) log segments remain after \(options.checkpointsKept) write+checkpoint rounds (at most \(options.checkpointsKept) expected)")
            }
        } catch {
            problems.append("write+checkpoint after recovery failed: \(error)")
        }
        let names = (try? fileSystem.listDirectory(directory)) ?? []
        for name in names where name.hasSuffix(".tmp") { problems.append("temp file \(name) left behind") }
        do {
            let report = try store.verify()
            for problem in report.problems + report.warnings { problems.append("verify: \(problem)") }
        } catch {
            problems.append("verify failed: \(error)")
        }
        if names.contains("spill") { problems.append("a spill directory in a store that never spills") }
        for name in names where name.hasSuffix("-journal") || name.hasSuffix("-shm") {
            problems.append("SQLite file \(name) left beside the cold tier")
        }
        return problems
    }

    private func classify(_ error: any Error) -> SubjectError {
        if fileSystem.hasHaltedProcess {
            return SubjectError(.crashed, "\(error)")
        }
        guard let error = error as? StoreError else { return SubjectError(.other, "\(error)") }
        switch error.code {
        case .corruption: return SubjectError(.corruption, error.detail)
        case .io, .noSpace, .failStopped: return SubjectError(.io, error.detail)
        default: return SubjectError(.other, error.description)
        }
    }

    static func record(_ value: RecordValue) -> Record {
        Record(
            id: value.id, content: value.content, embedding: value.embedding, metadata: value.metadata.mapValues { .string($0) },
            expiresAt: value.expiresAt)
    }

    static func recordValue(_ record: Record) -> RecordValue {
        RecordValue(
            id: record.id, content: record.content, embedding: record.embedding,
            metadata: record.metadata.mapValues { value in
                if case .string(let text) = value { return text }
                return value.jsonText
            },
            expiresAt: record.expiresAt)
    }
}

private struct RollbackRequested: Error {}
