import Foundation
import TidemarkIO

/// The built `tidemark` executable: next to the test bundle, or in the package's .build/debug.
let tidemarkExecutable: String = {
    var candidates: [String] = []
    if let executable = Bundle.main.executablePath {
        var directory = FilePaths.parent(of: executable)
        // The test binary may sit inside a bundle directory (…/X.xctest/…); climb to the build dir.
        for _ in 0..<4 {
            candidates.append(FilePaths.join(directory, "tidemark"))
            directory = FilePaths.parent(of: directory)
        }
    }
    let packageRoot = FilePaths.parent(of: FilePaths.parent(of: FilePaths.parent(of: #filePath)))
    candidates.append(FilePaths.join(packageRoot, ".build/debug/tidemark"))
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates.last!
}()

struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
    /// `.uncaughtSignal` when it died of a signal (or was stopped at its deadline).
    var reason: Process.TerminationReason = .exit
}

/// Runs `tidemark` with `arguments`, feeding `input` to its stdin, and waits for it.
@discardableResult
func tidemark(_ arguments: [String], input: String? = nil) throws -> CommandResult {
    try runProcess(tidemarkExecutable, arguments, input: input)
}

/// Runs `executable` with `arguments` (in `directory`, with `environment` added to this
/// process's), feeding `input` to its stdin, and waits for it; with `deadline` (seconds) it is
/// terminated if still running then, so a hang fails a test instead of stalling it.
@discardableResult
func runProcess(
    _ executable: String, _ arguments: [String], input: String? = nil, environment: [String: String] = [:], directory: String? = nil,
    deadline: Double? = nil
) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let stdout = Pipe(), stderr = Pipe(), stdin = Pipe()
    process.standardOutput = stdout
    process.standardError = stderr
    process.standardInput = stdin
    try process.run()
    if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
    try stdin.fileHandleForWriting.close()
    let stopper = DispatchWorkItem { if process.isRunning { process.terminate() } }
    if let deadline { DispatchQueue.global().asyncAfter(deadline: .now() + deadline, execute: stopper) }
    // Read both pipes before waiting so a chatty child cannot block on a full pipe.
    let errorReader = BackgroundReader(stderr.fileHandleForReading)
    let output = stdout.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    stopper.cancel()
    return CommandResult(
        status: process.terminationStatus, stdout: String(decoding: output, as: UTF8.self),
        stderr: String(decoding: errorReader.finish(), as: UTF8.self), reason: process.terminationReason)
}

/// Reads a pipe to its end on its own thread.
final class BackgroundReader: @unchecked Sendable {
    private var data = Data()
    private var ended = false
    private let condition = NSCondition()

    init(_ handle: FileHandle) {
        Thread {
            while true {
                let chunk = handle.availableData  // blocks until bytes or end of file
                self.condition.lock()
                if chunk.isEmpty { self.ended = true } else { self.data.append(chunk) }
                self.condition.broadcast()
                self.condition.unlock()
                if chunk.isEmpty { return }
            }
        }.start()
    }

    /// Waits until the output contains `text` (true) or ends or `seconds` pass without it (false).
    func waitFor(_ text: String, seconds: Double) -> Bool {
        let needle = Data(text.utf8)
        let deadline = Date(timeIntervalSinceNow: seconds)
        condition.lock()
        defer { condition.unlock() }
        while data.range(of: needle) == nil {
            if ended || !condition.wait(until: deadline) { return data.range(of: needle) != nil }
        }
        return true
    }

    func finish() -> Data {
        condition.lock()
        defer { condition.unlock() }
        while !ended { condition.wait() }
        return data
    }
}

/// A fresh directory under /tmp, removed at deinit; `store` is a not-yet-created store path in it.
final class TemporaryDirectory {
    let path: String

    init() {
        var template = Array("/tmp/tidemark-cli-XXXXXX".utf8CString)
        let result = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(result != nil, "mkdtemp failed")
        path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    var store: String { FilePaths.join(path, "store") }
    func file(_ name: String) -> String { FilePaths.join(path, name) }
}
