import Foundation
import Tidemark
import TidemarkIO

/// The `scale` workloads (issue 9 §4), run only when `--only` names them: a tiered store as the
/// CLI makes it (default hot budget) loaded with `--scale-records` records generated in-process,
/// one `put` each in `async` mode (maintenance every 1,000 and a closing checkpoint, as
/// `tidemark db import` does), then one fresh `tidemark db` process each for `get`, `stats`,
/// an exact `search -k 10`, `index build` and `search --approximate -k 10`, timed from spawn to
/// exit; then, in this process, `--queries` approximate searches (fresh vectors from the same
/// clusters), their mean latency and their recall@10 against a brute-force scan of the generated
/// vectors. The embeddings are clustered (`BenchData.clusteredEmbedding`). (Their peak RSS is not reported: after a
/// `posix_spawn` Linux's `ru_maxrss` for the child still counts the parent's pages.)
extension BenchRunner {
    static let scaleNames = [
        "scale-import", "scale-import-cpu", "scale-cli-get", "scale-cli-stats", "scale-cli-search", "scale-cli-index-build",
        "scale-cli-search-approx", "scale-search-approx", "scale-search-approx-cpu",
    ]

    func scale() throws {
        let directory = try workDirectory("scale")
        let count = settings.scaleRecords
        let budget = TierOptions().hotMemoryBytes
        progress.begin("scale-import")
        var options = StoreOptions(syncMode: .async)
        options.tiers = TierOptions()
        let store = try Store.open(
            at: directory, fileSystem: PosixFileSystem(), clock: SystemClock(), random: SystemRandom(), options: options)
        let cpuBefore = cpuSeconds()
        let seconds = try measureSeconds {
            for number in 0..<count {
                try store.put(Record(id: data.id(number), content: data.content, embedding: data.clusteredEmbedding(number)))
                if (number + 1) % 1_000 == 0 { try store.runMaintenance() }
            }
            try store.checkpoint()
            try store.close()
        }
        let rss = peakResidentBytes()
        results["scale-import"] = BenchMeasurement(operations: count, seconds: seconds, bytes: Int64(count * recordBytes))
        // The same import in CPU seconds (user + system): what it costs when the machine is shared.
        results["scale-import-cpu"] = BenchMeasurement(operations: count, seconds: cpuSeconds() - cpuBefore, bytes: Int64(count * recordBytes))
        scalePeakResidentBytes = rss
        scaleBudgetBytes = budget

        let query = data.clusteredEmbedding(count / 2).map { String($0) }.joined(separator: ",")
        let (getID, searchID) = (data.id(count / 3), data.id(count / 2))
        let commands: [(name: String, arguments: [String], check: (String) -> Bool)] = [
            ("scale-cli-get", ["get", getID], { $0.contains(getID) }),
            ("scale-cli-stats", ["stats"], { $0.contains("records: \(count)") }),
            ("scale-cli-search", ["search", "--embedding=\(query)", "-k", "10"], { $0.contains(searchID) }),
            ("scale-cli-index-build", ["index", "build"], { $0.contains("fresh") }),
            ("scale-cli-search-approx", ["search", "--approximate", "--embedding=\(query)", "-k", "10"], { $0.contains(searchID) }),
        ]
        for (name, arguments, check) in commands where wants(name) {
            progress.begin(name)
            let run = try runCLI(["db", directory] + arguments)
            guard run.status == 0, check(run.stdout) else {
                throw BenchError("\(name): tidemark db \(arguments.prefix(2).joined(separator: " ")) exited \(run.status): \(run.stdout.prefix(300)) \(run.stderr.prefix(300))")
            }
            results[name] = BenchMeasurement(operations: 1, seconds: run.seconds)
        }
        if wants("scale-search-approx") { try approximateSearches(directory) }
    }

    /// `--queries` approximate searches on the store read-only (the index built above), timed
    /// one by one, and their recall@10 against brute force over the generated vectors.
    private func approximateSearches(_ directory: String) throws {
        progress.begin("scale-search-approx")
        let count = settings.scaleRecords
        let queries = (0..<settings.queries).map { data.clusteredEmbedding(count + $0) }
        var options = StoreOptions(syncMode: .async)
        options.tiers = TierOptions()
        options.readOnly = true
        let store = try Store.open(at: directory, fileSystem: PosixFileSystem(), clock: SystemClock(), random: SystemRandom(), options: options)
        defer { try? store.close() }
        var found: [[String]] = []
        let cpuBefore = cpuSeconds()
        let seconds = try measureSeconds {
            for query in queries { found.append(try store.search(embedding: query, k: 10, approximate: ApproximateSearch()).map(\.record.id)) }
        }
        results["scale-search-approx"] = BenchMeasurement(operations: queries.count, seconds: seconds)
        results["scale-search-approx-cpu"] = BenchMeasurement(operations: queries.count, seconds: cpuSeconds() - cpuBefore)
        let exact = bruteForceNearest(queries, k: 10)
        let hits = zip(found, exact).reduce(0) { $0 + Set($1.0).intersection($1.1).count }
        scaleRecall = Double(hits) / Double(max(1, exact.reduce(0) { $0 + $1.count }))
    }

    /// The `k` ids of highest cosine similarity per query over every generated record (ties to
    /// the smaller id), in one pass over the records.
    private func bruteForceNearest(_ queries: [[Float]], k: Int) -> [[String]] {
        func dot(_ a: [Float], _ b: [Float]) -> Double {
            var lanes = SIMD8<Double>()
            var offset = 0
            while offset + 8 <= a.count {
                for lane in 0..<8 { lanes[lane] += Double(a[offset + lane]) * Double(b[offset + lane]) }
                offset += 8
            }
            return lanes.sum() + (offset..<a.count).reduce(0.0) { $0 + Double(a[$1]) * Double(b[$1]) }
        }
        let norms = queries.map { dot($0, $0).squareRoot() }
        var best = [[(score: Double, number: Int)]](repeating: [], count: queries.count)
        for number in 0..<settings.scaleRecords {
            let vector = data.clusteredEmbedding(number)
            let norm = dot(vector, vector).squareRoot()
            for (index, query) in queries.enumerated() {
                let score = norm * norms[index] == 0 ? 0 : dot(query, vector) / (norm * norms[index])
                if best[index].count == k, let worst = best[index].last, worst.score >= score { continue }
                best[index].append((score, number))
                best[index].sort { $0.score != $1.score ? $0.score > $1.score : data.id($0.number) < data.id($1.number) }
                if best[index].count > k { best[index].removeLast() }
            }
        }
        return best.map { $0.map { data.id($0.number) } }
    }

    /// User plus system CPU seconds this process has used (`getrusage`).
    private func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// Runs this executable with `arguments`, timing it from spawn to exit.
    private func runCLI(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String, seconds: Double) {
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let output = FilePaths.join(root, "cli-stdout"), errors = FilePaths.join(root, "cli-stderr")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errors, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        var status: Int32 = 0
        let started = DispatchTime.now().uptimeNanoseconds
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard spawned == 0 else { throw BenchError("cannot start \(executable): \(String(cString: strerror(spawned)))") }
        guard waitpid(pid, &status, 0) == pid else { throw BenchError("waitpid failed: \(String(cString: strerror(errno)))") }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        let exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        let stdout = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
        return (exitStatus, stdout, stderr, seconds)
    }

    /// Issue 9's targets for the scale workloads that ran.
    func scaleTargets() -> [String: BenchTarget] {
        var targets: [String: BenchTarget] = [:]
        let count = settings.scaleRecords
        let size = count >= 1_000_000 ? "\(count / 1_000_000)M" : count >= 1_000 ? "\(count / 1_000)K" : "\(count)"
        if let result = results["scale-import"] {
            let value = result.operationsPerSecond
            targets["\(size) import async records/s"] = BenchTarget(measured: value, target: ">= 20000", met: value >= 20_000)
            let overBudget = Double(scalePeakResidentBytes - Int64(scaleBudgetBytes)) / 1_048_576
            targets["\(size) import peak RSS - hot budget MiB"] = BenchTarget(measured: overBudget, target: "<= 256 MiB", met: overBudget <= 256)
        }
        for (name, label, limit) in [
            ("scale-cli-get", "CLI get ms", 100.0), ("scale-cli-stats", "CLI stats ms", 200), ("scale-cli-search", "CLI search k=10 ms", 2000),
            ("scale-search-approx", "approximate search k=10 ms", 50),
        ] {
            guard let result = results[name] else { continue }
            let value = result.millisecondsPerOperation
            targets["\(size) \(label)"] = BenchTarget(measured: value, target: "< \(Int(limit)) ms", met: value < limit)
        }
        if let recall = scaleRecall {
            targets["\(size) approximate recall@10"] = BenchTarget(measured: recall, target: ">= 0.95", met: recall >= 0.95)
        }
        return targets
    }
}
