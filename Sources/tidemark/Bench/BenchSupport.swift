import Foundation
import TidemarkIO

/// One measured workload: `operations` done in `seconds`, moving `bytes` (when a byte rate means
/// something: log replayed, records appended).
struct BenchMeasurement: Codable, Sendable {
    var operations: Int
    var seconds: Double
    var bytes: Int64

    var operationsPerSecond: Double { seconds > 0 ? Double(operations) / seconds : 0 }
    var megabytesPerSecond: Double { seconds > 0 ? Double(bytes) / 1e6 / seconds : 0 }
    var millisecondsPerOperation: Double { operations > 0 ? seconds * 1e3 / Double(operations) : 0 }

    enum CodingKeys: String, CodingKey {
        case operations, seconds, bytes, operationsPerSecond, megabytesPerSecond, millisecondsPerOperation
    }

    init(operations: Int, seconds: Double, bytes: Int64 = 0) {
        (self.operations, self.seconds, self.bytes) = (operations, seconds, bytes)
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        operations = try container.decode(Int.self, forKey: .operations)
        seconds = try container.decode(Double.self, forKey: .seconds)
        bytes = try container.decode(Int64.self, forKey: .bytes)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(operations, forKey: .operations)
        try container.encode(seconds, forKey: .seconds)
        try container.encode(bytes, forKey: .bytes)
        try container.encode(operationsPerSecond, forKey: .operationsPerSecond)
        try container.encode(megabytesPerSecond, forKey: .megabytesPerSecond)
        try container.encode(millisecondsPerOperation, forKey: .millisecondsPerOperation)
    }
}

/// Monotonic wall time of `body`, in seconds.
func measureSeconds(_ body: () throws -> Void) rethrows -> Double {
    let clock = SystemClock()
    let start = clock.monotonicNanoseconds()
    try body()
    return Double(clock.monotonicNanoseconds() - start) / 1e9
}

/// Runs `body(thread)` on `count` plain threads at once and waits for all of them; rethrows the
/// first error any thread hit. The clock starts before the first thread and stops after the last.
func runOnThreads(_ count: Int, _ body: @escaping @Sendable (Int) throws -> Void) throws -> Double {
    let errors = ErrorBox()
    let group = DispatchGroup()
    let gate = DispatchSemaphore(value: 0)
    var threads: [Thread] = []
    for index in 0..<count {
        group.enter()
        let thread = Thread {
            gate.wait()
            do { try body(index) } catch { errors.record(error) }
            group.leave()
        }
        thread.stackSize = 1 << 20
        threads.append(thread)
        thread.start()
    }
    let seconds = measureSeconds {
        for _ in 0..<count { gate.signal() }
        group.wait()
    }
    if let error = errors.first { throw error }
    return seconds
}

/// The first error thrown by any bench thread.
final class ErrorBox: @unchecked Sendable {
    private let lock = NSLock()
    private var error: (any Error)?
    func record(_ error: any Error) { lock.withLock { if self.error == nil { self.error = error } } }
    var first: (any Error)? { lock.withLock { error } }
}

/// Peak resident set size of this process so far (`getrusage`, kilobytes on Linux), in bytes.
func peakResidentBytes() -> Int64 {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Int64(usage.ru_maxrss) * 1024
}

/// Total size of the regular files under `path` (one level of subdirectories deep is enough for
/// a store or an SQLite database).
func bytesOnDisk(_ path: String) -> Int64 {
    guard let enumerator = FileManager.default.enumerator(atPath: path) else { return 0 }
    var total: Int64 = 0
    while let name = enumerator.nextObject() as? String {
        var info = stat()
        if stat(FilePaths.join(path, name), &info) == 0, (info.st_mode & S_IFMT) == S_IFREG { total += Int64(info.st_size) }
    }
    return total
}

/// Deterministic bench data: ids, content of `valueSize` bytes, embeddings of `dimensions`
/// pseudo-random floats in [-1, 1) (SplitMix64 from the record number, so the store and SQLite
/// hold the same vectors).
struct BenchData: Sendable {
    let valueSize: Int
    let dimensions: Int
    let content: String

    init(valueSize: Int, dimensions: Int) {
        self.valueSize = valueSize
        self.dimensions = dimensions
        content = String(repeating: "v", count: valueSize)
    }

    func id(_ number: Int) -> String { "key-\(number)" }

    func embedding(_ number: Int) -> [Float] {
        var generator = SplitMix64(seed: UInt64(number) &+ 0x9E37_79B9)
        return (0..<dimensions).map { _ in Float(Double(generator.next() >> 11) * 0x1.0p-52 - 1) }
    }

    /// An embedding drawn around one of `clusters` centres (uniform in [-1, 1)) with uniform
    /// noise of ±0.6 per dimension, as the scale workloads store: real embeddings cluster, and an
    /// index of uniform noise would measure nothing. Deterministic in `number`.
    func clusteredEmbedding(_ number: Int, clusters: Int = 1_000) -> [Float] {
        var generator = SplitMix64(seed: UInt64(number) &+ 0x5CA1_AB1E)
        var centre = SplitMix64(seed: 0xC3A7_7E25 &+ generator.next() % UInt64(clusters))
        return (0..<dimensions).map { _ in
            Float(Double(centre.next() >> 11) * 0x1.0p-52 - 1 + Double(generator.next() >> 11) * 0x1.0p-53 * 1.2 - 0.6)
        }
    }

    /// The embedding as little-endian float bytes, for an SQLite blob.
    func embeddingBytes(_ number: Int) -> [UInt8] {
        embedding(number).withUnsafeBytes { Array($0) }
    }
}

/// The bench's progress on stderr: one line per workload, rewritten in place on a terminal.
final class BenchProgress {
    private let isTerminal = isatty(2) == 1
    private let clock = SystemClock()
    private let start: Int64
    private var step = 0
    let total: Int

    init(total: Int) {
        self.total = total
        start = clock.monotonicNanoseconds()
    }

    func begin(_ name: String) {
        step += 1
        let elapsed = Double(clock.monotonicNanoseconds() - start) / 1e9
        let text = "bench  [\(step)/\(total)] \(name)  \(formatSeconds(elapsed)) elapsed"
        write(isTerminal ? "\r\u{1B}[2K" + text : text + "\n")
    }

    func finish() {
        if isTerminal { write("\r\u{1B}[2K") }
    }

    private func write(_ text: String) { FileHandle.standardError.write(Data(text.utf8)) }
}
