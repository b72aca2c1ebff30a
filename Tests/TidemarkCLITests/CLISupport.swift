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
    try run(tidemarkExecutable, arguments, input: input)
}

/// Runs any program and waits for it; with `deadline` (seconds) it is terminated if still
/// running then, so a hang fails a test instead of stalling it.
@discardableResult
func run(_ executable: String, _ arguments: [String], input: String? = nil, deadline: Double? = nil) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
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
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        Thread {
            self.data = handle.readDataToEndOfFile()
            self.done.signal()
        }.start()
    }

    func finish() -> Data {
        done.wait()
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
