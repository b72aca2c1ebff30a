import ArgumentParser
import Foundation
import Tidemark
import TidemarkIO

/// The process `tidemark torture` kills: opens the store with tiers and the maintenance thread,
/// prints "ready", then runs `TortureWorkload.writers` writer threads, each printing "ack WRITER INDEX" (one
/// unbuffered write) once its operation returned, until SIGKILL. A store error prints
/// "error WRITER INDEX: message" and exits 3: on a healthy real disk no write may fail.
struct TortureChild: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "torture-child", abstract: "The writer process `tidemark torture` kills.", shouldDisplay: false)

    @Argument var directory: String
    @Option var seed: UInt64
    @Option var round: Int
    @Option var sync: SyncMode
    /// Self-test of the checker: acknowledge every N-th operation without performing it.
    @Option(name: .customLong("skip-every")) var skipEvery: Int?

    func run() throws {
        let store = try Store.open(
            at: directory, fileSystem: PosixFileSystem(), clock: SystemClock(), random: SystemRandom(),
            options: TortureWorkload.storeOptions(syncMode: sync))
        try store.startMaintenanceRunner(interval: 0.02) { result in
            if case .failure(let error) = result { Self.emit("error maintenance: \(error)"); Foundation.exit(3) }
        }
        Self.emit("ready")
        Self.exitWhenOrphaned()
        let workload = TortureWorkload(seed: seed)
        let round = round, skipEvery = skipEvery
        for writer in 0..<TortureWorkload.writers {
            Thread {
                var index = 0
                while true {
                    do {
                        let skipped = skipEvery.map { index % $0 == $0 - 1 } ?? false
                        if !skipped {
                            try TortureWorkload.perform(workload.operation(round: round, writer: writer, index: index), on: store)
                        }
                    } catch {
                        Self.emit("error \(writer) \(index): \(error)")
                        Foundation.exit(3)
                    }
                    Self.emit("ack \(writer) \(index)")
                    index += 1
                }
            }.start()
        }
        while true { sleep(60) }  // until the parent's SIGKILL
    }

    /// A parent that died (killed itself) never sends the SIGKILL: stop writing then.
    static func exitWhenOrphaned() {
        let parent = getppid()
        Thread {
            while getppid() == parent { usleep(100_000) }
            Foundation.exit(4)
        }.start()
    }

    /// One `write(2)` per line (shorter than PIPE_BUF, so lines of two threads never interleave).
    static func emit(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBufferPointer { write(1, $0.baseAddress, $0.count) }
    }
}
