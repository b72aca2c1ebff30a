import Foundation
import Synchronization
import Testing
import Tidemark
import TidemarkIO

/// `import - --ack` killed with SIGKILL at random moments: every acknowledged record must be
/// there, exactly, after reopening, and the store must verify clean.
struct ProcessKillTests {
    @Test(arguments: [SyncMode.group, .async, .immediate])
    func acknowledgedRecordsSurviveSIGKILL(mode: SyncMode) throws {
        signal(SIGPIPE, SIG_IGN)  // the child dies with our writes in flight
        let directory = TemporaryDirectory()
        let random = SystemRandom()
        var expected: [String: String] = [:]
        for round in 0..<4 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: tidemarkExecutable)
            process.arguments = ["db", directory.store, "import", "-", "--ack", "--sync", mode.rawValue]
            let input = Pipe(), output = Pipe()
            process.standardInput = input
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            let acks = BackgroundReader(output.fileHandleForReading)
            let writer = RecordWriter(descriptor: input.fileHandleForWriting.fileDescriptor, round: round)
            writer.start()
            // Kill at a random moment: in the first round possibly before the first ack; in the
            // others mid-stream, counted from the first ack so a loaded machine (a slow process
            // start) still kills a child that is writing.
            if round > 0 { _ = acks.waitFor("ack ", seconds: 120) }
            usleep(UInt32(random.int(in: 5_000...400_000)))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            writer.stop()
            try? input.fileHandleForWriting.close()
            #expect(process.terminationReason == .uncaughtSignal)

            let lines = String(decoding: acks.finish(), as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            for line in lines.dropLast() where line.hasPrefix("ack ") {  // the last piece may be cut off
                let id = String(line.dropFirst(4))
                expected[id] = RecordWriter.content(of: id)
            }
            guard FileManager.default.fileExists(atPath: directory.store) else {
                #expect(expected.isEmpty, "acknowledged records but no store directory")
                continue  // killed before it created the store
            }
            // Before anything repairs it, the store may only have a torn tail, never a problem.
            let offline = try tidemark(["db", directory.store, "verify"])
            #expect(offline.status == 0, "round \(round): \(offline.stdout)")

            var options = StoreOptions()
            options.tiers = TierOptions()  // the CLI's default
            let store = try Store.open(
                at: directory.store, fileSystem: PosixFileSystem(), clock: SystemClock(), random: SystemRandom(), options: options)
            for (id, content) in expected {
                let record = try store.get(id)
                #expect(record?.content == content, "round \(round): acknowledged \(id) lost or changed")
                #expect(record?.embedding == RecordWriter.embedding(of: id))
            }
            try store.close()
            let verify = try tidemark(["db", directory.store, "verify"])
            #expect(verify.status == 0 && !verify.stdout.contains("warning"), "\(verify.stdout)")
        }
        print("process-kill \(mode): \(expected.count) acknowledged records checked over 4 kills")
        #expect(!expected.isEmpty, "no record was ever acknowledged; the kill test tested nothing")
    }
}

/// Feeds JSONL records into the child's stdin from its own thread until stopped or the pipe breaks.
final class RecordWriter: @unchecked Sendable {
    let descriptor: Int32
    let round: Int
    private let stopped = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    init(descriptor: Int32, round: Int) {
        self.descriptor = descriptor
        self.round = round
    }

    static func content(of id: String) -> String { "content of \(id) " + String(repeating: id, count: 8) }
    static func embedding(of id: String) -> [Float] {
        let number = Float(id.split(separator: "-").last.flatMap { Int($0) } ?? 0)
        return [number, 1, -number / 7]
    }

    func start() {
        Thread {
            var index = 0
            while !self.stopped.load(ordering: .relaxed) && index < 200_000 {
                let id = "r\(self.round)-\(index)"
                let embedding = Self.embedding(of: id).map { "\($0)" }.joined(separator: ",")
                let line = #"{"id":"\#(id)","content":"\#(Self.content(of: id))","embedding":[\#(embedding)],"metadata":{"round":\#(self.round)}}"# + "\n"
                let written = line.utf8CString.withUnsafeBufferPointer { write(self.descriptor, $0.baseAddress, $0.count - 1) }
                if written < 0 { break }  // EPIPE: the child is gone
                index += 1
            }
            self.finished.signal()
        }.start()
    }

    func stop() {
        stopped.store(true, ordering: .relaxed)
        finished.wait()
    }
}
