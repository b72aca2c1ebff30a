import Foundation

/// `tidemark trace record`: runs a command under strace and writes its trace of one directory.
public struct Recorder {
    public var directory: String
    public var command: [String]
    /// strace's `-s`: the most bytes of one write it prints. A longer write fails the recording
    /// (never silently cut).
    public var maximumWriteBytes = 16 << 20
    public var strace = "strace"

    public init(directory: String, command: [String]) {
        self.directory = directory
        self.command = command
    }

    public struct Recording {
        public var trace: TraceFile
        /// Everything the command wrote to its standard output.
        public var output: Data
    }

    public func record() throws -> Recording {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw TraceError("--dir \(directory): no such directory (create it first; its contents are the starting state)")
        }
        guard !command.isEmpty else { throw TraceError("no command to record (give it after --)") }
        let root = URL(fileURLWithPath: directory).resolvingSymlinksInPath().path
        let snapshot = try Self.snapshot(root)
        let version = try Self.straceVersion(strace)

        let scratch = manager.temporaryDirectory.appendingPathComponent("tidemark-record-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try manager.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? manager.removeItem(at: scratch) }
        let straceOutput = scratch.appendingPathComponent("strace.out").path

        let output = Pipe()
        var status = stat()
        fstat(output.fileHandleForWriting.fileDescriptor, &status)
        let pipeName = "pipe:[\(status.st_ino)]"

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [strace, "-f", "-qq", "-y", "-xx", "-s", "\(maximumWriteBytes)", "-o", straceOutput,
                             "-e", "trace=" + StraceTranslator.tracedCalls.joined(separator: ","), "--"] + command
        process.standardOutput = output
        let started = Date()
        try process.run()
        try? output.fileHandleForWriting.close()
        let printed = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let wall = Date().timeIntervalSince(started)
        let exitStatus = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus

        guard let text = try? String(contentsOfFile: straceOutput, encoding: .utf8) else {
            throw TraceError("strace wrote no trace (exit status \(exitStatus)); is strace allowed to ptrace here?")
        }
        var translator = StraceTranslator(directory: root, outputPipe: pipeName, workingDirectory: manager.currentDirectoryPath)
        try translator.translate(text)
        let header = TraceHeader(directory: root, command: command, strace: version, exitStatus: exitStatus, wallSeconds: wall)
        return Recording(trace: TraceFile(header: header, operations: snapshot + translator.operations), output: printed)
    }

    /// The directory's contents as snapshot operations, parents before children, names sorted.
    static func snapshot(_ root: String) throws -> [TraceOperation] {
        let manager = FileManager.default
        var operations: [TraceOperation] = []
        var queue = [""]
        while !queue.isEmpty {
            let relative = queue.removeFirst()
            let absolute = relative.isEmpty ? root : root + "/" + relative
            for name in try manager.contentsOfDirectory(atPath: absolute).sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                let child = relative.isEmpty ? name : relative + "/" + name
                let attributes = try manager.attributesOfItem(atPath: root + "/" + child)
                switch attributes[.type] as? FileAttributeType {
                case .typeDirectory?:
                    operations.append(TraceOperation(.snapshotDirectory, path: child))
                    queue.append(child)
                case .typeRegular?:
                    guard let data = manager.contents(atPath: root + "/" + child) else { throw TraceError("cannot read \(root)/\(child)") }
                    operations.append(TraceOperation(.snapshotFile, path: child, data: data))
                default:
                    throw TraceError("\(root)/\(child): only regular files and directories can be snapshotted (the simulated disk has no links or devices)")
                }
            }
        }
        return operations
    }

    static func straceVersion(_ strace: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [strace, "-V"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { throw TraceError("cannot run \(strace): \(error) (install it: apt-get install strace)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TraceError("\(strace) not found (install it: apt-get install strace, or make deps)") }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? "strace"
    }
}
