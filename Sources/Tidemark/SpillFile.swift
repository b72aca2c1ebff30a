import TidemarkIO

/// One record the hot tier moved out of memory: a cache file, never synced, removed at open and
/// never read after a crash (the log and checkpoints hold the record durably).
///
/// magic "TMSPILL1" | version u32 | payload length u32 | CRC32C u32 over the 16 bytes before it
/// and the payload (seeded with the file name, so a file renamed or copied over another does not
/// validate) | payload: the record in `RecordCoding` layout.
enum SpillFile {
    static let magic: [UInt8] = Array("TMSPILL1".utf8)
    static let version: UInt32 = 1
    static let headerSize = 20
    /// The subdirectory of the store directory holding spill files.
    static let directoryName = "spill"
    private static let prefix = "spill-"

    /// The name of spill file number `number`: "spill-" and 16 lowercase hex digits. Names never
    /// derive from record ids, so no id can steer a path.
    static func name(number: UInt64) -> String {
        prefix + Hex.digits16(number)
    }

    /// Whether `name` is exactly a name `name(number:)` produces (so joining it to the spill
    /// directory cannot leave it: no separators, no "..", nothing else).
    static func isValidName(_ name: String) -> Bool {
        guard name.hasPrefix(prefix) else { return false }
        let digits = name.utf8.dropFirst(prefix.utf8.count)
        return digits.count == 16 && digits.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    static func encode(_ record: Record, name: String) -> [UInt8] {
        var payload = ByteWriter()
        RecordCoding.encode(record, into: &payload)
        var writer = ByteWriter()
        writer.raw(magic)
        writer.u32(version)
        writer.u32(UInt32(payload.bytes.count))
        writer.u32(checksum(header: writer.bytes[...], payload: payload.bytes[...], name: name))
        writer.raw(payload.bytes)
        return writer.bytes
    }

    /// Decodes and checks a spill file read back from `path`; `expectedID` must match the record.
    static func decode(_ bytes: [UInt8], name: String, path: String, expectedID: String) throws -> Record {
        func corrupt(_ message: String, _ offset: Int) -> StoreError {
            .corruption("spill file: " + message, path: path, offset: Int64(offset))
        }
        guard bytes.count >= headerSize else { throw corrupt("file is \(bytes.count) bytes, shorter than its header", 0) }
        guard bytes.prefix(8).elementsEqual(magic) else { throw corrupt("bad magic", 0) }
        var header = ByteReader(bytes[8..<headerSize])
        let version = try header.u32()
        let length = try header.u32()
        let stored = try header.u32()
        guard version == Self.version else { throw corrupt("unsupported version \(version)", 8) }
        guard Int(length) == bytes.count - headerSize else {
            throw corrupt("length field says \(length) payload bytes, the file has \(bytes.count - headerSize)", 12)
        }
        let payload = bytes[headerSize...]
        guard stored == checksum(header: bytes[0..<16], payload: payload, name: name) else {
            throw corrupt("checksum mismatch", 16)
        }
        var reader = ByteReader(payload)
        do {
            let record = try RecordCoding.decode(from: &reader)
            guard reader.isAtEnd else { throw FormatError(message: "trailing bytes", offset: reader.offset) }
            guard record.id == expectedID else { throw FormatError(message: "holds record '\(record.id)', expected '\(expectedID)'", offset: 0) }
            return record
        } catch let error as FormatError {
            throw corrupt(error.message, headerSize + error.offset)
        }
    }

    private static func checksum(header: ArraySlice<UInt8>, payload: ArraySlice<UInt8>, name: String) -> UInt32 {
        let seeded = CRC32C.checksum(Array(name.utf8)[...])
        return CRC32C.checksum(payload, continuing: CRC32C.checksum(header, continuing: seeded))
    }
}
