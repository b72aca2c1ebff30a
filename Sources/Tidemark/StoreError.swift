import TidemarkIO

/// The one error type the store throws.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// A record, query or argument is not acceptable. Nothing was written.
        public static let invalidInput = Code("invalidInput")
        /// The id is not in the store.
        public static let notFound = Code("notFound")
        /// The disk is full; the operation was rejected and will never be replayed.
        public static let noSpace = Code("noSpace")
        /// A read or write or sync of the underlying files failed.
        public static let io = Code("io")
        /// The store stopped after an earlier I/O failure; reopen it.
        public static let failStopped = Code("failStopped")
        /// The store was closed.
        public static let closed = Code("closed")
        /// Another process holds the store's `LOCK`: a second writer, or a reader while a writer
        /// works. The message names the holder. Nothing was done.
        public static let locked = Code("locked")
        /// Stored bytes do not match their checksums or structure; `path` and `offset` say where.
        public static let corruption = Code("corruption")
        public var description: String { name }
    }

    /// What the caller can conclude about the operation that threw.
    public enum Outcome: String, Sendable, Hashable {
        /// Not applied, and never will be (validation, a handled ENOSPC, a fail-stopped store).
        case rejected
        /// An I/O failure: it may or may not have been applied. The store is now fail-stopped.
        case ambiguous
    }

    public var code: Code
    public var message: String
    public var path: String?
    public var offset: Int64?
    public var outcome: Outcome
    public var cause: FileSystemError?

    public init(
        _ code: Code, _ message: String, path: String? = nil, offset: Int64? = nil,
        outcome: Outcome = .rejected, cause: FileSystemError? = nil
    ) {
        self.code = code
        self.message = message
        self.path = path
        self.offset = offset
        self.outcome = outcome
        self.cause = cause
    }

    public var description: String { "\(code): \(detail)" }

    /// The message with its file, offset and cause, without the code: for a caller that files
    /// the error under its own kind (which would otherwise read `corruption: corruption: …`).
    public var detail: String {
        var text = message
        if let path { text += " (file \(path)" + (offset.map { ", offset \($0)" } ?? "") + ")" }
        if let cause { text += " caused by: \(cause)" }
        return text
    }

    static func corruption(_ message: String, path: String, offset: Int64) -> StoreError {
        StoreError(.corruption, message, path: path, offset: offset)
    }
}
