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
        var value = value
        value.withUTF8 { utf8 in
            u32(UInt32(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    /// Each value's bit pattern as a little-endian u32, in one copy.
    mutating func floats(_ values: [Float]) {
        #if _endian(little)
            values.withUnsafeBytes { bytes.append(contentsOf: $0) }
        #else
            for value in values { u32(value.bitPattern) }
        #endif
    }

    private mutating func append<T: FixedWidthInteger>(_ value: T) {
        // One append of a fixed-size buffer: a byte-wise loop costs a capacity check per byte.
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// Overwrites a 32-bit value at `offset` (for checksums filled in last).
    mutating func patchU32(_ value: UInt32, at offset: Int) {
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt32.self) }
    }
}

/// Why bytes could not be decoded, and where (relative to the start of what was decoded).
struct FormatError: Error {
    var message: String
    var offset: Int
    /// A frame whose header was written: its magic is intact (any later field, the payload's
    /// length or its checksum fails), or the magic alone fails with the rest of the header
    /// plausible and the whole frame present. A torn write, or bit rot in a frame written whole.
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
        let decoded = slice.withUnsafeBufferPointer { utf8 in
            // ASCII (ids, most content) is valid as it stands; `String(validating:)` is generic
            // and looked up its type metadata at every call (6% of replay).
            utf8.allSatisfy { $0 < 0x80 } ? String(decoding: utf8, as: UTF8.self) : String(validating: utf8, as: UTF8.self)
        }
        guard let text = decoded else {
            throw FormatError(message: "string is not valid UTF-8", offset: start)
        }
        return text
    }

    /// `count` little-endian u32 bit patterns as floats, in one copy.
    mutating func floats(_ count: Int) throws -> [Float] {
        guard count >= 0, count <= remaining / 4 else {
            throw FormatError(message: "\(count) floats run past the end (\(remaining) bytes left)", offset: offset)
        }
        let start = position - bytes.startIndex
        defer { position += 4 * count }
        return bytes.withUnsafeBytes { source in
            [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                let target = UnsafeMutableRawBufferPointer(buffer)
                target.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[start..<start + 4 * count]))
                #if _endian(big)
                    for index in 0..<count { buffer[index] = Float(bitPattern: UInt32(littleEndian: buffer[index].bitPattern)) }
                #endif
                initialized = count
            }
        }
    }

    private mutating func fixed<T: FixedWidthInteger>() throws -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else {
            throw FormatError(message: "needs \(size) bytes, \(remaining) left", offset: offset)
        }
        let start = position - bytes.startIndex
        position += size
        return T(littleEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: start, as: T.self) })
    }
}
