import ArgumentParser
import Foundation
import Tidemark
import TidemarkIO

struct Put: DBAction {
    static let configuration = CommandConfiguration(commandName: "put", abstract: "Store a record (replacing one with the same id).")
    @OptionGroup var store: StoreOptionGroup
    @Argument(help: "Record id: non-empty UTF-8, at most 1024 bytes.") var id: String
    @Option(help: "The record's text.") var content: String = ""
    @Option(parsing: .unconditional, help: "Comma-separated finite numbers (a leading minus needs no '='); the dimension must match the store's, and a store with a dimension needs one.")
    var embedding: String?
    @Option(help: "A JSON object.") var metadata: String?
    @Option(help: "Seconds until the record expires.") var ttl: Double?

    func run(directory: String) throws {
        let vector = try embedding.map { try RecordJSON.parseEmbedding($0) } ?? []
        let object = try metadata.map { try JSONValue.parseObject($0) } ?? [:]
        let record = Record(id: id, content: content, embedding: vector, metadata: object)
        try record.validate()  // before opening: bad input never creates a store
        try withStore(store, directory, create: true) { store in
            if vector.isEmpty, let dimension = try store.stats().dimension {
                throw InputError("--embedding is required: this store's records have \(dimension)-dimensional embeddings")
            }
            try store.put(record, ttl: ttl)
        }
    }
}

struct Get: DBAction {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "Print a record; exit 1 when absent.")
    @OptionGroup var store: StoreOptionGroup
    @Argument(help: "Record id.") var id: String
    @Flag(help: "Print {\"id\",\"content\",\"embedding\",\"metadata\"} as one JSON line.") var json = false

    func run(directory: String) throws {
        try Record.validateID(id)
        guard let record = try withStore(store, directory, readOnly: true, { try $0.get(id) }) else {
            throw StoreError(.notFound, "no record with id '\(id)'")
        }
        if json {
            emit(RecordJSON.text(record))
        } else {
            emit("id: \(record.id)\ncontent: \(record.content)\nembedding: \(record.embedding.map { "\($0)" }.joined(separator: ","))\nmetadata: \(record.metadata.jsonText)")
        }
    }
}

struct Delete: DBAction {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Remove a record; exit 1 when absent.")
    @OptionGroup var store: StoreOptionGroup
    @Argument(help: "Record id.") var id: String

    func run(directory: String) throws {
        try Record.validateID(id)
        guard try withStore(store, directory, { try $0.delete(id) }) else {
            throw StoreError(.notFound, "no record with id '\(id)'")
        }
    }
}

struct Search: DBAction {
    static let configuration = CommandConfiguration(
        commandName: "search", abstract: "Nearest-neighbour search: exact, or --approximate through the vector index.")
    @OptionGroup var store: StoreOptionGroup
    @Option(parsing: .unconditional, help: "The query vector, comma-separated (a leading minus needs no '=').") var embedding: String
    @Option(name: .short, parsing: .unconditional, help: "How many results: 1 to 1000000.") var k: Int = 10
    @Option(help: "cosine, dot (higher is nearer) or euclidean (lower is nearer).") var metric: SearchMetric = .cosine
    @Option(help: "key=value: only records whose metadata has this key equal to value (JSON, else a string). Repeatable.")
    var filter: [String] = []
    @Flag(help: "One JSON line per result: the record plus \"score\".") var json = false
    @Flag(help: "Search through the vector index (`index build`); without a fresh one, search exactly and say so on stderr.")
    var approximate = false
    @Option(help: "With --approximate: inverted lists read per query (more: slower, better recall).") var probes: Int = 8

    func run(directory: String) throws {
        guard probes >= 1 else { throw InputError("--probes must be positive, got \(probes)") }
        guard (1...1_000_000).contains(k) else { throw InputError("-k must be from 1 to 1000000, got \(k)") }
        let query = try RecordJSON.parseEmbedding(embedding)
        var conditions: [String: JSONValue] = [:]
        for item in filter {
            guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
                throw InputError("--filter '\(item)': expected key=value")
            }
            let text = String(item[item.index(after: equals)...])
            conditions[String(item[..<equals])] = (try? JSONValue.parse(text)) ?? .string(text)
        }
        let results = try withStore(store, directory, readOnly: true) { store in
            guard approximate else { return try store.search(embedding: query, k: k, metric: metric, filter: conditions) }
            do {
                return try store.search(embedding: query, k: k, metric: metric, filter: conditions, approximate: ApproximateSearch(probes: probes))
            } catch let error as StoreError where (error.code == .notFound || error.code == .corruption) && error.path == store.vectorIndexPath {
                printWarning("\(error.description); searching exactly instead")
                return try store.search(embedding: query, k: k, metric: metric, filter: conditions)
            }
        }
        for result in results {
            if json {
                emit(String(RecordJSON.text(result.record).dropLast()) + ",\"score\":\(result.score)}")
            } else {
                emit("\(result.score)\t\(result.record.id)\t\(result.record.content)")
            }
        }
    }
}

struct IndexAction: DBAction {
    static let configuration = CommandConfiguration(
        commandName: "index", abstract: "Build the approximate vector index (IVF) of the cold tier, or show its status.")
    @OptionGroup var store: StoreOptionGroup
    @Argument(help: "build or status.") var verb: String
    @Option(help: "Inverted lists (default: about the square root of the number of vectors).") var lists: Int?
    @Option(help: "Vectors the centroids are trained on.") var sample: Int = VectorIndexOptions().sampleSize
    @Option(help: "k-means iterations.") var iterations: Int = VectorIndexOptions().iterations
    @Option(help: "Seed of the sample and the initial centroids (same seed, same store: same index).") var seed: UInt64 = VectorIndexOptions().seed

    func run(directory: String) throws {
        switch verb {
        case "build":
            let options = VectorIndexOptions(lists: lists, sampleSize: sample, iterations: iterations, seed: seed)
            let status = try withStore(store, directory) { try $0.buildVectorIndex(options) }
            emit("vector index \(status)")
        case "status":
            let status = try withStore(store, directory, readOnly: true) { try $0.vectorIndexStatus() }
            emit("vector index \(status)")
        default:
            throw InputError("index: expected build or status, got '\(verb)'")
        }
    }
}

struct Export: DBAction {
    static let configuration = CommandConfiguration(commandName: "export", abstract: "Write every record as JSON lines, sorted by id.")
    @OptionGroup var store: StoreOptionGroup
    @Argument(help: "Output file (default: stdout).") var file: String?

    func run(directory: String) throws {
        let records = try withStore(store, directory, readOnly: true) { try $0.allRecords() }
        let text = records.map { RecordJSON.text($0) + "\n" }.joined()
        if let file {
            do {
                try PosixFileSystem().writeFileAtomically(file, Array(text.utf8))
            } catch let error as FileSystemError {
                throw StoreError(.io, "cannot write the export", path: file, cause: error)
            }
        } else {
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }
}

struct Checkpoint: DBAction {
    static let configuration = CommandConfiguration(commandName: "checkpoint", abstract: "Write a checkpoint and drop the log it covers.")
    @OptionGroup var store: StoreOptionGroup

    func run(directory: String) throws {
        let stats = try withStore(store, directory) { store in
            try store.checkpoint()
            return try store.stats()
        }
        emit("checkpoint at LSN \(stats.checkpointLSN.map(String.init) ?? "none"); \(stats.segmentCount) segment(s), \(stats.logBytes) log bytes")
    }
}

struct Stats: DBAction {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Print record count, LSNs, segments, checkpoints and the tiers.")
    @OptionGroup var store: StoreOptionGroup
    @Flag(help: "Print as JSON.") var json = false

    func run(directory: String) throws {
        let stats = try withStore(store, directory, readOnly: true) { try $0.stats() }
        if json {
            emit(try jsonText(stats))
        } else {
            emit("""
                records: \(stats.recordCount)
                dimension: \(stats.dimension.map(String.init) ?? "none")
                last LSN: \(stats.lastAssignedLSN) (durable \(stats.lastDurableLSN))
                segments: \(stats.segmentCount) (\(stats.logBytes) bytes)
                checkpoint LSN: \(stats.checkpointLSN.map(String.init) ?? "none") (\(stats.checkpointCount) kept)
                """)
            if let tiers = stats.tiers {
                emit("""
                    hot: \(tiers.hotCount) records in memory (\(tiers.hotBytes) of \(tiers.hotBudgetBytes) budget bytes; peak \(tiers.hotPeakBytes))
                    dirty: \(tiers.dirtyCount) records (\(tiers.dirtyBytes) bytes) not yet flushed to the cold tier
                    cold: \(tiers.coldCount) records (\(tiers.coldBytes) bytes), cold LSN \(tiers.coldLSN)
                    tombstones: \(tiers.tombstones)
                    """)
            } else {
                emit("tiers: off")
            }
        }
    }
}

struct Verify: DBAction {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every file without changing anything; exit 1 when there are problems.",
        discussion: "Each problem is listed with its file and byte offset. Warnings (a torn tail, leftover temp files) are what opening the store repairs by itself; they do not make verify fail.")
    @OptionGroup var store: StoreOptionGroup
    @Flag(help: "Print the report as JSON.") var json = false

    func run(directory: String) throws {
        guard PosixFileSystem().exists(directory) else { throw StoreError(.notFound, "no store at \(directory)") }
        let report = try Store.verify(at: directory, fileSystem: PosixFileSystem())
        if json {
            emit(try jsonText(report))
        } else {
            for problem in report.problems { emit("problem: \(problem)") }
            for warning in report.warnings { emit("warning: \(warning)") }
            emit("\(report.filesChecked) files, \(report.checkpointsChecked) checkpoints, \(report.framesChecked) frames, \(report.coldPagesChecked) cold-tier pages checked: \(report.isClean ? "clean" : "\(report.problems.count) problem(s)")")
        }
        if !report.isClean { Foundation.exit(CLIExit.problem.rawValue) }
    }
}

struct Recover: DBAction {
    static let configuration = CommandConfiguration(
        commandName: "recover",
        abstract: "Open the store (running recovery) and report what recovery did.",
        discussion: "Without --salvage, a store with corruption before its tail is refused (exit 1). With --salvage, damaged regions are skipped, every loss is listed (file, offset, LSNs), and the store is rewritten clean.")
    @OptionGroup var store: StoreOptionGroup
    @Flag(help: "Skip damage, report exactly what was lost, and rewrite the store without it.") var salvage = false
    @Flag(help: "Print the report as JSON.") var json = false

    func run(directory: String) throws {
        let report = try withStore(store, directory, salvage: salvage) { $0.recovery }
        if json {
            emit(try jsonText(report))
            return
        }
        emit("checkpoint: \(report.checkpointFile.map { "\($0) (LSN \(report.checkpointLSN!))" } ?? "none")")
        for skipped in report.skippedCheckpoints { emit("skipped damaged checkpoint: \(skipped)") }
        emit("frames replayed: \(report.framesReplayed), last LSN \(report.lastLSN)")
        for cut in report.truncations {
            emit("truncated torn tail: \(cut.file) @ \(cut.offset): \(cut.bytes) bytes (\(cut.reason))")
            if let warning = cut.possibleLossWarning { emit("warning: " + warning) }
        }
        for lost in report.lost { emit("lost: \(lost)") }
        if !report.coldRecordsCopied.isEmpty {
            emit("copied out of the damaged cold tier into a new one: \(report.coldRecordsCopied.count) records (`--json` lists them)")
        }
        for removed in report.removedFiles { emit("removed: \(removed)") }
        if let folder = report.quarantineFolder {
            emit("quarantined in \(folder) (see \(folder)/report.json): \(report.quarantinedFiles.joined(separator: ", "))")
        }
        emit("took \(Double(report.durationNanoseconds) / 1e6) ms")
    }
}

struct Maintain: DBAction {
    static let configuration = CommandConfiguration(
        commandName: "maintain",
        abstract: "Run maintenance now: move idle records to the cold tier, expire TTLs, checkpoint.",
        discussion: """
            One pass by default, printing what it did. With --watch SECONDS, a background thread \
            (a plain thread sleeping with nanosleep, so it works under libfaketime) runs a pass \
            every --interval seconds until SECONDS have passed by the wall clock, printing each \
            pass that changed something, then the totals.
            """)
    @OptionGroup var store: StoreOptionGroup
    @Option(help: "Keep running maintenance in the background for this many seconds.") var watch: Double?
    @Option(help: "Seconds between passes with --watch.") var interval: Double = 10
    @Flag(help: "Print each pass as one JSON line.") var json = false

    func run(directory: String) throws {
        if let watch, !(watch.isFinite && watch > 0 && watch <= 1e9) {
            throw InputError("--watch must be a positive number of seconds up to 1e9, got \(watch)")
        }
        guard interval.isFinite, interval > 0, interval <= 1e9 else {
            throw InputError("--interval must be a positive number of seconds up to 1e9, got \(interval)")
        }
        let passes = try withStore(store, directory) { store -> [MaintenanceReport] in
            guard let watch else { return [try store.runMaintenance()] }
            let collected = Collected()
            try store.startMaintenanceRunner(interval: interval) { result in
                if case .success(let report) = result, report.flushed + report.expired + report.deleted + report.evicted > 0 {
                    collected.append(report)
                    emitPass(report)
                }
            }
            let clock = SystemClock()
            let end = clock.wallNanoseconds() + Int64(watch * 1e9)
            while clock.wallNanoseconds() < end { clock.sleep(nanoseconds: min(50_000_000, end - clock.wallNanoseconds())) }
            return collected.reports
        }
        if watch == nil {
            emitPass(passes[0])
        } else if !json {
            let flushed = passes.reduce(0) { $0 + $1.flushed }, expired = passes.reduce(0) { $0 + $1.expired }
            emit("watched \(watch!) s: \(passes.count) pass(es) changed something; flushed \(flushed), expired \(expired)")
        }
    }

    private func emitPass(_ report: MaintenanceReport) {
        if json {
            emit((try? jsonText(report)) ?? "{}")
        } else {
            emit("flushed \(report.flushed) to cold, expired \(report.expired), deleted \(report.deleted) cold rows, evicted \(report.evicted) from memory\(report.checkpointed ? ", checkpointed" : ""); cold LSN \(report.coldLSN.map(String.init) ?? "none (tiers off)")")
        }
    }

    /// Reports from the runner thread.
    private final class Collected: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [MaintenanceReport] = []
        func append(_ report: MaintenanceReport) { lock.withLock { items.append(report) } }
        var reports: [MaintenanceReport] { lock.withLock { items } }
    }
}

/// One line of sorted-key JSON (slashes unescaped: paths stay readable), for every `--json`.
func jsonText<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}
