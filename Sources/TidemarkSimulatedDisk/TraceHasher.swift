import TidemarkIO

/// The trace hash: `FNV1a` over a canonical byte encoding of every call, fault decision and
/// crash, so the same seed on the same build gives the same value in every process.
struct TraceHasher: Sendable {
    private var fnv = FNV1a()

    var value: UInt64 { fnv.value }

    mutating func combine(byte: UInt8) { fnv.combine(byte: byte) }

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
        var string = string
        string.withUTF8 { utf8 in  // contiguous: no per-byte index arithmetic of String.UTF8View
            combine(utf8.count)
            for byte in utf8 { combine(byte: byte) }
        }
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
