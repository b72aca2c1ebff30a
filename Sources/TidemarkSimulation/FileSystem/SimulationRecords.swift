/// The kinds of random fault decision the simulator takes.
public enum FaultKind: String, Codable, Sendable, Hashable, CaseIterable {
    /// A pending write or truncate did not reach the disk whole at a power loss.
    case writeLost
    /// A pending directory operation was lost at a power loss.
    case directoryOperationLost
    /// Sectors a torn write did not land hold random bytes.
    case garbage
    /// An append that did not survive whole still grew the file.
    case unsafeAppend
    /// A write became durable before any sync.
    case earlyWriteback
    /// `sync`/`syncData`/`syncDirectory` failed with `.io`.
    case fsyncError
    /// A write failed with `.io` after a prefix.
    case writeError
    /// A read failed with `.io`.
    case readError
    /// A write was stored at another offset of its file.
    case misdirectedWrite
    /// A durable bit flipped at a power loss.
    case bitRot
}

/// One random fault the simulator decided to inject (a benign outcome is not recorded).
///
/// `index` is the position in `SimulatedFileSystem.decisions`. Putting it in
/// `suppressedDecisions` makes the same draw take the benign outcome next run (the decision is
/// still recorded, with `suppressed == true`, so later indices stay put): that is how a shrinker
/// removes faults one at a time.
public struct FaultDecision: Codable, Sendable, Hashable {
    public var index: Int
    public var kind: FaultKind
    public var path: String
    /// The file-system call it happened in (for crash decisions: the call count at the crash).
    public var callIndex: Int
    /// Human-readable outcome, e.g. "torn: kept sectors [3]" or "eio after 100 of 4096 bytes".
    public var outcome: String
    /// True when `suppressedDecisions` forced the benign outcome instead.
    public var suppressed: Bool
    /// The byte offset the fault hit, when it hit one place (not a whole-file sync or a
    /// directory entry). Report data only: not part of the trace hash.
    public var offset: Int64?

    public init(
        index: Int, kind: FaultKind, path: String, callIndex: Int, outcome: String, suppressed: Bool, offset: Int64? = nil
    ) {
        self.index = index
        self.kind = kind
        self.path = path
        self.callIndex = callIndex
        self.outcome = outcome
        self.suppressed = suppressed
        self.offset = offset
    }
}

/// An error the fault configuration injects without a random draw: a full disk, a latent sector
/// error. Not a `FaultDecision` (nothing to suppress, no index to keep stable); kept for reports
/// only and not hashed: the trace already records each call's error.
public struct ConfiguredFault: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable { case diskFull, latentSectorError }
    public var kind: Kind
    public var path: String
    public var callIndex: Int
    public var offset: Int64
    /// Human-readable, e.g. "enospc after 100 of 4096 bytes at 8192".
    public var outcome: String
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

/// The outcome of one traced call.
public enum TraceResult: Codable, Sendable, Hashable {
    case ok
    /// Failed with this `FileSystemError.Code` (its description, e.g. "notFound").
    case error(String)
    /// A kill point fired: the call was not performed.
    case killed
}

/// One file-system call as the simulator saw it.
public struct TraceEvent: Codable, Sendable, Hashable {
    public var callIndex: Int
    public var operation: FileOperation
    public var path: String
    /// Rename target.
    public var destination: String?
    public var offset: Int64?
    /// Bytes asked for (read) or written (write).
    public var length: Int?
    /// CRC32C of the bytes written or read.
    public var dataChecksum: UInt32?
    public var result: TraceResult
    /// Indices into `decisions` taken during this call.
    public var decisions: [Int]
}

/// FNV-1a (64-bit) over a canonical byte encoding: stable across processes and platforms,
/// unlike Swift's per-process seeded `Hasher`.
struct StableHasher: Sendable {
    private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

    mutating func combine(byte: UInt8) {
        value ^= UInt64(byte)
        value &*= 0x0000_0100_0000_01B3
    }

    mutating func combine(_ integer: UInt64) {
        var word = integer
        for _ in 0..<8 {
            combine(byte: UInt8(truncatingIfNeeded: word))
            word >>= 8
        }
    }

    mutating func combine(_ integer: Int64) { combine(UInt64(bitPattern: integer)) }
    mutating func combine(_ integer: Int) { combine(UInt64(bitPattern: Int64(integer))) }
    mutating func combine(_ flag: Bool) { combine(byte: flag ? 1 : 0) }

    /// Length-prefixed, so ("ab","c") and ("a","bc") differ.
    mutating func combine(_ string: String) {
        combine(string.utf8.count)
        for byte in string.utf8 { combine(byte: byte) }
    }

    mutating func combine(_ string: String?) {
        if let string { combine(byte: 1); combine(string) } else { combine(byte: 0) }
    }

    mutating func combine(_ event: TraceEvent) {
        combine(byte: 0xE1)
        combine(event.callIndex)
        combine(event.operation.rawValue)
        combine(event.path)
        combine(event.destination)
        combine(event.offset ?? -1)
        combine(event.length ?? -1)
        combine(UInt64(event.dataChecksum ?? 0) | (event.dataChecksum == nil ? 1 << 40 : 0))
        switch event.result {
        case .ok: combine(byte: 0)
        case .error(let code): combine(byte: 1); combine(code)
        case .killed: combine(byte: 2)
        }
        combine(event.decisions.count)
        for index in event.decisions { combine(index) }
    }

    mutating func combine(_ decision: FaultDecision) {
        combine(byte: 0xD1)
        combine(decision.index)
        combine(decision.kind.rawValue)
        combine(decision.path)
        combine(decision.callIndex)
        combine(decision.outcome)
        combine(decision.suppressed)
    }

    mutating func combine(_ report: CrashReport) {
        combine(byte: 0xC1)
        combine(report.kind.rawValue)
        combine(report.callIndex)
        combine(report.keptEverything)
        combine(report.writes.count)
        for write in report.writes {
            combine(write.path); combine(write.offset); combine(write.length); combine(write.fate.rawValue)
            combine(write.keptSectors.count)
            for sector in write.keptSectors { combine(sector) }
            combine(write.garbageSectors.count)
            for sector in write.garbageSectors { combine(sector) }
            combine(write.unsafeAppendFill?.rawValue)
            combine(write.misdirectedTo ?? -1)
        }
        combine(report.directoryOperations.count)
        for operation in report.directoryOperations {
            combine(operation.kind.rawValue); combine(operation.path); combine(operation.destination)
            combine(operation.survived)
        }
        combine(report.bitFlips.count)
        for flip in report.bitFlips { combine(flip.path); combine(flip.offset); combine(flip.bit) }
    }
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
