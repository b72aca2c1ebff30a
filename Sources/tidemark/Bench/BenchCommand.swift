import ArgumentParser
import Foundation
import Tidemark
import TidemarkIO

/// `tidemark bench`: the store beside a raw fdatasync loop and SQLite, on one disk, in one run
/// (in the spirit of LevelDB's and RocksDB's db_bench).
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure the store against the disk's fdatasync limit and SQLite, in one process and one run.",
        discussion: """
            Workloads: raw-fdatasync (append one record + fdatasync, the limit for durable commits), \
            raw-fdatasync-overwrite (the same over a preallocated file: data-only syncs); \
            store-immediate-1, store-group-N (N writer threads), store-async-1 (puts, then one sync); \
            store-get; store-search-N (exact cosine k=10 over N records); store-recovery-log (open \
            replaying the whole log), store-checkpoint, store-recovery-checkpoint; sqlite-wal-full-N \
            and sqlite-wal-normal-N (system libsqlite3, unix VFS, one connection per writer thread); \
            sqlite-get; sqlite-search-N (brute force over a blob column); simulator-trace and \
            simulator-no-trace (simulated file-system calls/s). Only when --only names them: \
            scale-import (a tiered store as the CLI makes it, --scale-records puts in async mode), \
            scale-import-cpu (its CPU seconds), scale-cli-get, scale-cli-stats, scale-cli-search, \
            scale-cli-index-build, scale-cli-search-approx (one fresh `tidemark db` process each, timed \
            from spawn to exit), scale-search-approx and its -cpu (--queries approximate searches in \
            this process; their recall@10 against brute force), against issue 9's targets. Prints absolute figures, ratios and \
            the targets of issue 12; `--json` prints one sorted-key JSON object instead. Progress goes \
            to stderr.
            """)

    @Option(help: "Directory (on the disk to measure) to work in: the bench makes a fresh directory inside it, removed afterwards (default: the current directory).")
    var dir: String?

    @Option(help: "Puts per write workload, split over its writer threads (default 2000; --quick 100).")
    var records: Int?

    @Option(help: "Gets in the read workloads (default 100000; --quick 1000).")
    var reads: Int?

    @Option(name: .customLong("search-records"), help: "Comma-separated store sizes to search (default 10000,100000; --quick 200,1000).")
    var searchRecords: String?

    @Option(help: "Queries per search size (default 10; --quick 3).")
    var queries: Int?

    @Option(name: .customLong("value-size"), help: "Bytes of content per record.")
    var valueSize = 100

    @Option(help: "Embedding dimensions per record.")
    var dimensions = 384

    @Option(help: "Comma-separated writer thread counts for the group and SQLite workloads.")
    var threads = "1,4,16"

    @Option(help: "Comma-separated filters: run only workloads whose name contains one (e.g. raw,store-group,sqlite).")
    var only: String?

    @Option(name: .customLong("simulator-rounds"), help: "Write rounds of the simulator workload (default 200000; --quick 2000).")
    var simulatorRounds: Int?

    @Option(name: .customLong("scale-records"), help: "Records the scale workloads load (default 200000; --quick 2000).")
    var scaleRecords: Int?

    @Flag(help: "Keep the stores the workloads made (their directory is printed on stderr), e.g. to time `tidemark db` on the scale store by hand.")
    var keep = false

    @Flag(help: "Print the result as JSON on stdout instead of a table.")
    var json = false

    @Flag(help: "Small counts (a few seconds), for a smoke run; explicit counts still win.")
    var quick = false

    func run() throws {
        let settings = try BenchSettings(
            records: records ?? (quick ? 100 : 2000), reads: reads ?? (quick ? 1000 : 100_000),
            searchRecords: try positiveList(searchRecords ?? (quick ? "200,1000" : "10000,100000"), "--search-records"),
            queries: queries ?? (quick ? 3 : 10), valueSize: valueSize, dimensions: dimensions,
            threads: try positiveList(threads, "--threads"),
            only: only.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } } ?? [],
            simulatorRounds: simulatorRounds ?? (quick ? 2000 : 200_000), scaleRecords: scaleRecords ?? (quick ? 2000 : 200_000))
        // Always a fresh directory of our own (inside --dir when given), so nothing the bench
        // removes afterwards was there before it ran.
        let parent = dir.map { $0.hasPrefix("/") ? $0 : FilePaths.join(FileManager.default.currentDirectoryPath, $0) }
        let createdParent = parent.map { !FileManager.default.fileExists(atPath: $0) } ?? false
        if let parent { try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true) }
        let root = try makeTemporaryDirectory(in: parent ?? FileManager.default.currentDirectoryPath)
        let runner = BenchRunner(settings: settings, root: root)
        defer {
            if keep {
                FileHandle.standardError.write(Data("tidemark bench: kept the stores under \(root)\n".utf8))
            } else {
                runner.removeWorkDirectories()
                try? FileManager.default.removeItem(atPath: root)
                if createdParent, let parent { try? FileManager.default.removeItem(atPath: parent) }
            }
        }
        do {
            try runner.runAll()
        } catch {
            runner.progress.finish()
            FileHandle.standardError.write(Data("tidemark bench: \(error)\n".utf8))
            throw ExitCode(error is BenchError ? CLIExit.problem.rawValue : CLIExit.ioFailure.rawValue)
        }
        let report = runner.report()
        print(json ? try jsonText(report) : report.table(order: runner.workloadOrder))
    }

    private func positiveList(_ text: String, _ flag: String) throws -> [Int] {
        let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else {
            throw ValidationError("\(flag) takes comma-separated positive integers, got '\(text)'")
        }
        return values.compactMap { $0 }
    }

    func validate() throws {
        for (flag, value) in [
            ("--records", records), ("--reads", reads), ("--queries", queries), ("--simulator-rounds", simulatorRounds),
            ("--scale-records", scaleRecords),
        ] {
            if let value, value <= 0 { throw ValidationError("\(flag) must be positive, got \(value)") }
        }
        if valueSize < 0 { throw ValidationError("--value-size must not be negative, got \(valueSize)") }
        if dimensions <= 0 { throw ValidationError("--dimensions must be positive, got \(dimensions)") }
    }

    private func makeTemporaryDirectory(in parent: String) throws -> String {
        var template = Array(FilePaths.join(parent, "tidemark-bench-XXXXXX").utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw BenchError("cannot create a temporary directory in \(parent): \(String(cString: strerror(errno)))")
        }
        return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

struct BenchSettings: Codable, Sendable {
    var records: Int
    var reads: Int
    var searchRecords: [Int]
    var queries: Int
    var valueSize: Int
    var dimensions: Int
    var threads: [Int]
    var only: [String]
    var simulatorRounds: Int
    var scaleRecords: Int

    init(
        records: Int, reads: Int, searchRecords: [Int], queries: Int, valueSize: Int, dimensions: Int, threads: [Int],
        only: [String], simulatorRounds: Int, scaleRecords: Int
    ) throws {
        self.scaleRecords = scaleRecords
        (self.records, self.reads, self.queries, self.valueSize, self.dimensions) = (records, reads, queries, valueSize, dimensions)
        self.searchRecords = Array(Set(searchRecords)).sorted()
        self.threads = Array(Set(threads)).sorted()
        (self.only, self.simulatorRounds) = (only, simulatorRounds)
    }
}

/// Runs the workloads in order, keeping each one's measurement by name.
final class BenchRunner: @unchecked Sendable {
    let settings: BenchSettings
    let data: BenchData
    let root: String
    private(set) var progress: BenchProgress
    var results: [String: BenchMeasurement] = [:]
    /// Bytes one record takes in the store's log; the raw loop appends this much per commit.
    private(set) var recordBytes = 0
    private var storePeakResidentBytes: Int64 = 0
    /// The scale workloads' figures: peak RSS after the import and the hot budget it ran with.
    var scalePeakResidentBytes: Int64 = 0
    var scaleBudgetBytes = 0
    /// Mean recall@10 of the approximate searches against brute force (`scale-search-approx`).
    var scaleRecall: Double?
    private var workDirectories: [String] = []
    /// Every workload name in the order the table lists them (store, then SQLite, then simulator).
    private(set) var workloadOrder: [String] = []

    init(settings: BenchSettings, root: String) {
        self.settings = settings
        self.root = root
        data = BenchData(valueSize: settings.valueSize, dimensions: settings.dimensions)
        progress = BenchProgress(total: 0)
    }

    /// The workloads this run measures: those matching `--only`, where the recovery trio
    /// (open replaying the log, checkpoint, open from it) runs whole if any of it is asked for.
    private var selected: Set<String> = []

    func wants(_ name: String) -> Bool { selected.contains(name) }

    private func select(_ all: [String]) {
        selected = Set(all.filter { name in settings.only.isEmpty || settings.only.contains { name.contains($0) } })
        if settings.only.isEmpty { selected.subtract(Self.scaleNames) }  // minutes of work: only when asked for
        let recovery: Set = ["store-recovery-log", "store-checkpoint", "store-recovery-checkpoint"]
        if !selected.isDisjoint(with: recovery) { selected.formUnion(recovery) }
    }

    /// A fresh directory for one workload, removed at the end of the run.
    func workDirectory(_ name: String) throws -> String {
        let path = FilePaths.join(root, "bench-\(name)")
        if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        workDirectories.append(path)
        return path
    }

    func removeWorkDirectories() {
        for path in workDirectories { try? FileManager.default.removeItem(atPath: path) }
    }

    private var writeWorkloads: [(name: String, run: () throws -> BenchMeasurement)] {
        var list: [(String, () throws -> BenchMeasurement)] = [
            ("raw-fdatasync", { try self.rawSyncLoop(overwrite: false) }),
            ("raw-fdatasync-overwrite", { try self.rawSyncLoop(overwrite: true) }),
        ]
        list.append(("store-immediate-1", { try self.storePuts(mode: .immediate, threads: 1) }))
        for threads in settings.threads {
            list.append(("store-group-\(threads)", { try self.storePuts(mode: .group, threads: threads) }))
        }
        list.append(("store-async-1", { try self.storePuts(mode: .async, threads: 1) }))
        return list
    }

    private var sqliteWorkloads: [(name: String, run: () throws -> BenchMeasurement)] {
        var list: [(String, () throws -> BenchMeasurement)] = []
        for synchronous in ["FULL", "NORMAL"] {
            for threads in settings.threads {
                list.append(("sqlite-wal-\(synchronous.lowercased())-\(threads)", { try self.sqlitePuts(threads: threads, synchronous: synchronous) }))
            }
        }
        return list
    }

    func runAll() throws {
        let searchNames = settings.searchRecords.map { "search-\($0)" }
        let storeSearchNames = ["store-get", "store-recovery-log", "store-checkpoint", "store-recovery-checkpoint"] + searchNames.map { "store-" + $0 }
        let sqliteSearchNames = ["sqlite-get"] + searchNames.map { "sqlite-" + $0 }
        let simulatorNames = ["simulator-trace", "simulator-no-trace"]
        let all = writeWorkloads.map(\.name) + storeSearchNames + sqliteWorkloads.map(\.name) + sqliteSearchNames + simulatorNames
            + Self.scaleNames
        workloadOrder = all
        select(all)
        progress = BenchProgress(total: selected.count)

        recordBytes = try measureRecordBytes()
        for workload in writeWorkloads where wants(workload.name) {
            progress.begin(workload.name)
            results[workload.name] = try workload.run()
        }
        if storeSearchNames.contains(where: wants) { try storeSearchAndRecovery() }
        storePeakResidentBytes = peakResidentBytes()
        for workload in sqliteWorkloads where wants(workload.name) {
            progress.begin(workload.name)
            results[workload.name] = try workload.run()
        }
        if sqliteSearchNames.contains(where: wants) { try sqliteSearch() }
        for (name, trace) in zip(simulatorNames, [true, false]) where wants(name) {
            progress.begin(name)
            results[name] = try simulatorCalls(recordTrace: trace)
        }
        if Self.scaleNames.contains(where: wants) { try scale() }
        progress.finish()
    }

    func report() -> BenchReport {
        var ratios: [String: Double] = [:]
        func speed(_ name: String) -> Double? {
            guard let result = results[name], result.seconds > 0 else { return nil }
            return result.operationsPerSecond
        }
        func ratio(_ numerator: String, _ denominator: String) {
            if let a = speed(numerator), let b = speed(denominator), b > 0 { ratios["\(numerator) / \(denominator)"] = a / b }
        }
        ratio("store-immediate-1", "raw-fdatasync")
        ratio("store-immediate-1", "raw-fdatasync-overwrite")
        ratio("raw-fdatasync-overwrite", "raw-fdatasync")
        ratio("sqlite-wal-full-1", "raw-fdatasync")
        for threads in settings.threads {
            ratio("store-group-\(threads)", "raw-fdatasync")
            ratio("store-group-\(threads)", "sqlite-wal-full-\(threads)")
        }
        ratio("store-async-1", "sqlite-wal-normal-1")
        ratio("store-get", "sqlite-get")
        for size in settings.searchRecords { ratio("store-search-\(size)", "sqlite-search-\(size)") }

        var targets: [String: BenchTarget] = [:]
        if let value = ratios["store-immediate-1 / raw-fdatasync"] {
            targets["immediate vs raw fdatasync"] = BenchTarget(measured: value, target: ">= 0.95x", met: value >= 0.95)
        }
        if let value = ratios["store-group-16 / sqlite-wal-full-16"] {
            targets["group16 vs sqlite WAL/FULL 16"] = BenchTarget(measured: value, target: ">= 5x", met: value >= 5)
        }
        if let value = ratios["store-async-1 / sqlite-wal-normal-1"] {
            targets["async vs sqlite WAL/NORMAL"] = BenchTarget(measured: value, target: ">= 2x", met: value >= 2)
        }
        if let value = results["store-recovery-log"]?.megabytesPerSecond {
            targets["recovery MB/s of log"] = BenchTarget(measured: value, target: ">= 500 MB/s", met: value >= 500)
        }
        if settings.dimensions == 384, let value = results["store-search-100000"]?.millisecondsPerOperation {
            targets["exact search 100K x 384 k=10 ms"] = BenchTarget(measured: value, target: "< 50 ms", met: value < 50)
        }
        targets.merge(scaleTargets()) { first, _ in first }
        return BenchReport(
            settings: settings, recordBytes: recordBytes, results: results, ratios: ratios, targets: targets,
            storePeakResidentBytes: storePeakResidentBytes, peakResidentBytes: peakResidentBytes())
    }
}

struct BenchTarget: Codable {
    var measured: Double
    var target: String
    var met: Bool
}

/// Everything one run measured; `--json` prints it as is.
struct BenchReport: Codable {
    var settings: BenchSettings
    var recordBytes: Int
    var results: [String: BenchMeasurement]
    /// "a / b": a's operations per second over b's (above 1: a is faster).
    var ratios: [String: Double]
    var targets: [String: BenchTarget]
    /// Peak RSS after the store's workloads, before SQLite's; and at the end of the run.
    var storePeakResidentBytes: Int64
    var peakResidentBytes: Int64

    func table(order: [String]) -> String {
        func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
            let padding = String(repeating: " ", count: max(0, width - text.count))
            return left ? text + padding : padding + text
        }
        func number(_ value: Double, _ decimals: Int) -> String { String(format: "%.\(decimals)f", value) }
        var lines = [
            "records of \(recordBytes) bytes in the log (\(settings.valueSize)-byte content, \(settings.dimensions) dimensions)",
            "",
            pad("workload", 28, left: true) + pad("ops", 9) + pad("seconds", 10) + pad("ops/s", 12) + pad("MB/s", 10) + pad("ms/op", 10),
        ]
        let rank = Dictionary(order.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        for (name, result) in results.sorted(by: { (rank[$0.key] ?? .max, $0.key) < (rank[$1.key] ?? .max, $1.key) }) {
            lines.append(
                pad(name, 28, left: true) + pad("\(result.operations)", 9) + pad(number(result.seconds, 3), 10)
                    + pad(number(result.operationsPerSecond, 0), 12)
                    + pad(result.bytes > 0 ? number(result.megabytesPerSecond, 1) : "-", 10)
                    + pad(number(result.millisecondsPerOperation, 3), 10))
        }
        if !ratios.isEmpty {
            lines += ["", pad("ratio (ops/s over ops/s)", 52, left: true) + pad("value", 10)]
            for (name, value) in ratios.sorted(by: { $0.key < $1.key }) {
                lines.append(pad(name, 52, left: true) + pad(number(value, 2), 10))
            }
        }
        if !targets.isEmpty {
            lines += ["", pad("target (issue 12; scale: issue 9)", 40, left: true) + pad("measured", 10) + pad("target", 14) + "  met"]
            for (name, target) in targets.sorted(by: { $0.key < $1.key }) {
                lines.append(
                    pad(name, 40, left: true) + pad(number(target.measured, 2), 10) + pad(target.target, 14)
                        + (target.met ? "  yes" : "  NO"))
            }
        }
        lines += [
            "",
            "peak RSS: \(peakResidentBytes / 1_000_000) MB (after the store's workloads: \(storePeakResidentBytes / 1_000_000) MB)",
        ]

        return lines.joined(separator: "\n")
    }
}
