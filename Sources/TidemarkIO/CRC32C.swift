import CCRC32C

/// CRC32C (Castagnoli, polynomial 0x1EDC6F41, reflected 0x82F63B78), the checksum of iSCSI,
/// ext4 and most storage engines. `checksum("123456789") == 0xE3069283`.
///
/// Uses the SSE4.2 `crc32` instruction when the CPU has it (three interleaved streams on buffers
/// of 768 bytes and more, see `Sources/CCRC32C`), and a portable slicing-by-8 table otherwise. Both are always available to call directly so tests can hold them equal.
public enum CRC32C {
    /// Whether `checksum` uses the hardware instruction on this machine.
    public static let hardwareAvailable: Bool = tidemark_crc32c_hw_available() == 1

    /// The CRC32C of `bytes`, continuing from `previous` (the checksum of the bytes before them).
    @inlinable
    public static func checksum<Bytes: Sequence<UInt8>>(_ bytes: Bytes, continuing previous: UInt32 = 0) -> UInt32 {
        if let result = bytes.withContiguousStorageIfAvailable({ checksum(UnsafeRawBufferPointer($0), continuing: previous) }) {
            return result
        }
        let copy = Array(bytes)
        return copy.withUnsafeBytes { checksum($0, continuing: previous) }
    }

    public static func checksum(_ buffer: UnsafeRawBufferPointer, continuing previous: UInt32 = 0) -> UInt32 {
        hardwareAvailable ? hardware(buffer, continuing: previous) : portable(buffer, continuing: previous)
    }

    /// The SSE4.2 path. Precondition: `hardwareAvailable`.
    public static func hardware(_ buffer: UnsafeRawBufferPointer, continuing previous: UInt32 = 0) -> UInt32 {
        precondition(hardwareAvailable, "CRC32C hardware path called without SSE4.2")
        guard let base = buffer.baseAddress, buffer.count > 0 else { return previous }
        return ~tidemark_crc32c_hw_update(~previous, base.assumingMemoryBound(to: UInt8.self), buffer.count)
    }

    /// The portable slicing-by-8 path.
    public static func portable(_ buffer: UnsafeRawBufferPointer, continuing previous: UInt32 = 0) -> UInt32 {
        var crc = ~previous
        var index = 0
        let count = buffer.count
        let t = tables
        while count - index >= 8 {
            let one = crc ^ (UInt32(buffer[index]) | UInt32(buffer[index + 1]) << 8
                | UInt32(buffer[index + 2]) << 16 | UInt32(buffer[index + 3]) << 24)
            crc = t[7 * 256 + Int(one & 0xFF)] ^ t[6 * 256 + Int((one >> 8) & 0xFF)]
                ^ t[5 * 256 + Int((one >> 16) & 0xFF)] ^ t[4 * 256 + Int(one >> 24)]
                ^ t[3 * 256 + Int(buffer[index + 4])] ^ t[2 * 256 + Int(buffer[index + 5])]
                ^ t[1 * 256 + Int(buffer[index + 6])] ^ t[Int(buffer[index + 7])]
            index += 8
        }
        while index < count {
            crc = t[Int((crc ^ UInt32(buffer[index])) & 0xFF)] ^ (crc >> 8)
            index += 1
        }
        return ~crc
    }

    /// Eight 256-entry tables, flattened: table k maps a byte k positions back.
    private static let tables: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 8 * 256)
        for n in 0..<256 {
            var crc = UInt32(n)
            for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
            table[n] = crc
        }
        for n in 0..<256 {
            var crc = table[n]
            for k in 1..<8 {
                crc = table[Int(crc & 0xFF)] ^ (crc >> 8)
                table[k * 256 + n] = crc
            }
        }
        return table
    }()
}
