/// Little-endian encoding of the store's on-disk structures.
struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func u16(_ value: UInt16) { append(value) }
    mutating func u32(_ value: UInt32) { append(value) }
    mutating func u64(_ value: UInt64) { append(value) }
    mutating func i64(_ value: Int64) { append(UInt64(bitPattern: value)) }
    mutating func raw(_ value: [UInt8]) { bytes.append(contentsOf: value) }
    /// A string with a 32-bit byte count in front.
    mutating func string(_ value: String) {
        u32(UInt32(value.utf8.count))
        bytes.append(contentsOf: value.utf8)
    }

    private mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// Overwrites a 32-bit value at `offset` (for checksums filled in last).
    mutating func patchU32(_ value: UInt32, at offset: Int) {
        withUnsafeBytes(of: value.littleEndian) { raw in
            for (index, byte) in raw.enumerated() { bytes[offset + index] = byte }
        }
    }
}

/// Why bytes could not be decoded, and where (relative to the start of what was decoded).
struct FormatError: Error {
    var message: String
    var offset: Int
    /// A frame header that checks out (version, type, a length within the limit; the magic, or
    /// failing that the whole frame present) whose payload runs past the end of the file or whose
    /// checksum or magic fails: a torn write, or bit rot in a frame that was written whole.
    var frameHeaderIntact = false
}

/// Reads what `ByteWriter` wrote, checking every length against what is left before
/// allocating anything.
struct ByteReader {
    let bytes: ArraySlice<UInt8>
    private(set) var position: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        position = bytes.startIndex
    }

    var remaining: Int { bytes.endIndex - position }
    var isAtEnd: Bool { position == bytes.endIndex }
    /// Position relative to the start of the slice.
    var offset: Int { position - bytes.startIndex }

    mutating func u8() throws -> UInt8 { try fixed() }
    mutating func u16() throws -> UInt16 { try fixed() }
    mutating func u32() throws -> UInt32 { try fixed() }
    mutating func u64() throws -> UInt64 { try fixed() }
    mutating func i64() throws -> Int64 { Int64(bitPattern: try fixed() as UInt64) }

    mutating func raw(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count >= 0, count <= remaining else {
            throw FormatError(message: "length \(count) runs past the end (\(remaining) bytes left)", offset: offset)
        }
        defer { position += count }
        return bytes[position..<position + count]
    }

    mutating func string() throws -> String {
        let count = Int(try u32())
        let start = offset
        let slice = try raw(count)
        guard let text = String(validating: slice, as: UTF8.self) else {
            throw FormatError(message: "string is not valid UTF-8", offset: start)
        }
        return text
    }

    private mutating func fixed<T: FixedWidthInteger>() throws -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else {
            throw FormatError(message: "needs \(size) bytes, \(remaining) left", offset: offset)
        }
        var value: T = 0
        for index in 0..<size { value |= T(bytes[position + index]) << (8 * index) }
        position += size
        return value
    }
}

extension UInt64 {
    var littleEndianBytes: [UInt8] { withUnsafeBytes(of: littleEndian) { Array($0) } }
}
