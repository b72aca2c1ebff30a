import ArgumentParser
import Foundation
import Tidemark

struct Import: DBAction {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Store records from JSON lines (a file, or - for stdin).",
        discussion: """
            One JSON object per line: {"id":…,"content":…,"embedding":[…],"metadata":{…}} with optional \
            "ttl" (seconds) or "expiresAt" (Unix nanoseconds); blank lines are skipped. Each line is its \
            own commit. The first malformed line stops the import with its line number and exit 2; the \
            lines before it stay stored.
            With --ack, "ack <id>" is printed (and flushed) once that record is durable: in immediate and \
            group mode after its commit returns; in async mode after the sync that covers it, taken \
            whenever no further input is waiting (so a slow writer still gets its acks).
            """)
    @OptionGroup var store: StoreOptionGroup
    @Argument(help: "A JSONL file, or - to read standard input.") var file: String
    @Flag(help: "Print \"ack <id>\" once each record is durable.") var ack = false

    func run(directory: String) throws {
        let descriptor: Int32 = file == "-" ? STDIN_FILENO : open(file, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw InputError("cannot open \(file): \(String(cString: strerror(errno)))") }
        defer { if descriptor != STDIN_FILENO { close(descriptor) } }
        var reader = LineReader(descriptor: descriptor)
        try withStore(store, directory, create: true) { store in
            var unacknowledged: [String] = []
            func acknowledge() throws {
                guard !unacknowledged.isEmpty else { return }
                try store.sync()
                for id in unacknowledged { emit("ack \(id)") }
                unacknowledged.removeAll()
            }
            var lineNumber = 0
            var imported = 0
            while true {
                if ack, !reader.hasBufferedLine { try acknowledge() }  // about to wait for input
                guard let bytes = try reader.nextLine() else { break }
                lineNumber += 1
                guard let line = String(validating: bytes, as: UTF8.self) else {
                    try acknowledge()
                    throw InputError("\(file):\(lineNumber): not valid UTF-8")
                }
                if line.allSatisfy(\.isWhitespace) { continue }
                do {
                    let (record, ttl) = try RecordJSON.parse(line)
                    try store.put(record, ttl: ttl)
                } catch let error as InputError {
                    try acknowledge()
                    throw InputError("\(file):\(lineNumber): \(error.message)")
                } catch let error as StoreError where error.code == .invalidInput {
                    try acknowledge()
                    throw InputError("\(file):\(lineNumber): \(error.message)")
                }
                imported += 1
                if ack {
                    if store.options.syncMode == .async {
                        unacknowledged.append(lineID(line))
                        if unacknowledged.count >= 1_000 { try acknowledge() }
                    } else {
                        emit("ack \(lineID(line))")
                    }
                }
                if imported % 1_000 == 0 { try store.runMaintenance() }
            }
            try acknowledge()
            // With tiers, end with a flush, so the next open replays no log.
            if store.options.tiers != nil { try store.checkpoint() }
            if !ack { FileHandle.standardError.write(Data("imported \(imported) records\n".utf8)) }
        }
    }

    /// The id of a line already known to parse.
    private func lineID(_ line: String) -> String { (try? RecordJSON.parse(line).record.id) ?? "" }
}

/// Reads lines from a file descriptor with its own buffer, so it can tell whether a whole line
/// is already available without blocking.
struct LineReader {
    let descriptor: Int32
    private var buffer: [UInt8] = []
    private var start = 0
    private var atEnd = false

    init(descriptor: Int32) { self.descriptor = descriptor }

    var hasBufferedLine: Bool { atEnd || buffer[start...].contains(UInt8(ascii: "\n")) }

    /// The next line without its newline, or nil at end of input.
    mutating func nextLine() throws -> ArraySlice<UInt8>? {
        while true {
            if let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                defer { start = newline + 1 }
                return buffer[start..<newline]
            }
            if atEnd {
                guard start < buffer.count else { return nil }
                defer { start = buffer.count }
                return buffer[start...]
            }
            if start > 0 {
                buffer.removeFirst(start)
                start = 0
            }
            var chunk = [UInt8](repeating: 0, count: 64 * 1024)
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw InputError("reading input failed: \(String(cString: strerror(errno)))")
            }
            if count == 0 { atEnd = true } else { buffer.append(contentsOf: chunk[..<count]) }
        }
    }
}
