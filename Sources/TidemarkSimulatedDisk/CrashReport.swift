/// How the simulated machine goes down.
public enum CrashKind: String, Codable, Sendable, Hashable, CaseIterable {
    /// The power fails: only durable bytes and entries remain, subject to the fault model.
    case powerLoss
    /// The process dies: the OS keeps every volatile byte and entry; only handles are lost.
    case processKill
}

/// What a crash did: the fate of everything pending, files that vanished or came back, bit rot.
/// Plain data, so a report can render it.
public struct CrashReport: Codable, Sendable, Hashable {
    /// What happened to one pending write or truncate.
    public enum Fate: String, Codable, Sendable, Hashable {
        /// Reached the disk whole.
        case survived
        /// Lost entirely.
        case dropped
        /// Some of its sectors landed (`keptSectors`), the others did not.
        case torn
        /// A failed fsync marked it clean before the crash: it was readable but never durable.
        case lostToFsyncError
    }

    /// What the lost tail of an unsafe append reads as.
    public enum AppendFill: String, Codable, Sendable, Hashable { case zeros, garbage }

    public struct WriteFate: Codable, Sendable, Hashable {
        public var path: String
        /// Write offset, or the new size of a truncate.
        public var offset: Int64
        /// Bytes written; 0 for a truncate.
        public var length: Int
        public var isTruncate: Bool
        /// The call that issued it.
        public var callIndex: Int
        public var fate: Fate
        /// Absolute sector numbers (offset / sectorSize) of a torn write that landed.
        public var keptSectors: [Int64]
        /// Absolute sector numbers left holding random bytes.
        public var garbageSectors: [Int64]
        /// Set when the size grew although the data did not all land.
        public var unsafeAppendFill: AppendFill?
        /// Where a misdirected write landed on disk instead of `offset`.
        public var misdirectedTo: Int64?
    }

    public enum DirectoryOperationKind: String, Codable, Sendable, Hashable {
        case createFile, createDirectory, rename, remove
    }

    public struct DirectoryOperationFate: Codable, Sendable, Hashable {
        public var kind: DirectoryOperationKind
        public var path: String
        /// Rename target.
        public var destination: String?
        public var callIndex: Int
        public var survived: Bool
    }

    public struct BitFlip: Codable, Sendable, Hashable {
        public var path: String
        public var offset: Int64
        /// Bit number 0...7 within the byte.
        public var bit: Int
    }

    public var kind: CrashKind
    /// `callCount` when the crash happened.
    public var callIndex: Int
    /// 1 for the first crash of this file system, and so on.
    public var crashNumber: Int
    /// True when `keepAllProbability` fired: everything pending survived.
    public var keptEverything: Bool
    public var handlesInvalidated: Int
    public var writes: [WriteFate]
    public var directoryOperations: [DirectoryOperationFate]
    /// Files (and directories) reads saw before the crash that no longer exist.
    public var vanishedFiles: [String]
    public var vanishedDirectories: [String]
    /// Paths that had been removed or renamed away but exist again (the removal was lost).
    public var reappeared: [String]
    public var bitFlips: [BitFlip]
}

extension CrashReport {
    /// A few lines a person can read: what was pending and what became of it.
    public var summary: String {
        var lines = ["\(kind.rawValue) #\(crashNumber) at call \(callIndex)"
            + (keptEverything ? ": kept everything" : "") + ", \(handlesInvalidated) handles invalidated"]
        for write in writes {
            let what = write.isTruncate
                ? "truncate \(write.path) to \(write.offset)"
                : "write \(write.path) [\(write.offset), +\(write.length)) from call \(write.callIndex)"
            var fate = write.fate.rawValue
            if write.fate == .torn { fate += " (kept sectors \(write.keptSectors.map(String.init).joined(separator: ",")))" }
            if !write.garbageSectors.isEmpty { fate += ", garbage in sectors \(write.garbageSectors.map(String.init).joined(separator: ","))" }
            if let fill = write.unsafeAppendFill { fate += ", size grew anyway (\(fill.rawValue))" }
            if let landed = write.misdirectedTo { fate += ", misdirected to \(landed)" }
            lines.append("  \(what): \(fate)")
        }
        for operation in directoryOperations {
            let target = operation.destination.map { " -> \($0)" } ?? ""
            lines.append("  \(operation.kind.rawValue) \(operation.path)\(target) from call \(operation.callIndex): "
                + (operation.survived ? "survived" : "lost"))
        }
        if !vanishedFiles.isEmpty { lines.append("  vanished files: \(vanishedFiles.joined(separator: ", "))") }
        if !vanishedDirectories.isEmpty { lines.append("  vanished directories: \(vanishedDirectories.joined(separator: ", "))") }
        if !reappeared.isEmpty { lines.append("  reappeared: \(reappeared.joined(separator: ", "))") }
        for flip in bitFlips { lines.append("  bit rot: \(flip.path) byte \(flip.offset) bit \(flip.bit)") }
        return lines.joined(separator: "\n")
    }
}
