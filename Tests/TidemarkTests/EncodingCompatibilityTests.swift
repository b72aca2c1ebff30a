import Foundation
import Testing
import TidemarkIO

@testable import Tidemark

/// The fast encoder and decoder (bulk float copies, the hand-written JSON parser) against bytes
/// written by the previous ones: a segment made by the build before them with
/// `tidemark db fx import --sync immediate --no-tiers` of six records (unicode, escapes, nested
/// metadata, extreme floats, an expiry, an overwrite), then `delete epsilon`.
@Suite struct EncodingCompatibilityTests {
    static let segmentName = "wal-0000000000000001.log"
    static let segment = [UInt8](Data(base64Encoded: "VE1TRUdNTlQBAAAAF3PQMjiwlSIBAAAAAAAAADRyODpUTUZSAQEAAAEAAAAAAAAAyAAAACAAAAAAAAAApEah8gEAAAABBQAAAGFscGhhCgAAAHBsYWluIHRleHQLAAAAAAAAPwAAoL+CqPs3+QIVUAAAAIDNzMw9zcxMPpqZmT7NzMw+AAAAP5qZGT93AAAAeyJiaWciOjEuNWUrMzAwLCJmbGFnIjp0cnVlLCJraW5kIjoibm90ZSIsIm4iOjQyLCJuZWciOi03LCJub25lIjpudWxsLCJvZmYiOmZhbHNlLCJwaSI6My4xNDE1OTI2NTM1ODk3OTMsInRpbnkiOjFlLTMwMH0AVE1GUgEBAAACAAAAAAAAAN4AAAAIAQAAAAAAAJYLVzUBAAAAAQkAAADOsmV0YSDinJMwAAAAdW5pY29kZTogw6kgw7wg8J+YgCAicXVvdGVkIiBcIGJhY2sKbmV3IGxpbmUJdGFiCwAAAAAAgD8AAABAAABAQAAAgEAAAKBAAADAQAAA4EAAAABBAAAQQQAAIEEAADBBYwAAAHsiZXNjIjoiYVwiYlxcY1x1MDAwMWRcdTAwMWYiLCJuZXN0ZWQiOnsiZW1wdHkiOnt9LCJlbXB0eUxpc3QiOltdLCJsaXN0IjpbMSwidHdvIixbM10seyJmb3VyIjo0fV19fQBUTUZSAQEAAAMAAAAAAAAAHQAAAAYCAAAAAAAARh+bAwEAAAABBQAAAGdhbW1hAAAAAAAAAAACAAAAe30AVE1GUgEBAAAEAAAAAAAAAG8AAABDAgAAAAAAAKGmLUEBAAAAAQUAAABkZWx0YRAAAABleHBpcmVzIGZhciBhd2F5CwAAAP//f////39/AACAAAEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAIA/EAAAAHsid2hlbiI6ImxhdGVyIn0BAACmVs/P7jhUTUZSAQEAAAUAAAAAAAAAlQAAANICAAAAAAAAPVuKLQEAAAABBQAAAGFscGhhCwAAAG92ZXJ3cml0dGVuCwAAAAAAEEEAAABBAADgQAAAwEAAAKBAAACAQAAAQEAAAABAAACAPwAAAAAAAIC/QwAAAHsiZnJhYyI6MC4zMDAwMDAwMDAwMDAwMDAwNCwiaW50NTMiOjkwMDcxOTkyNTQ3NDA5OTIuMCwidmVyc2lvbiI6Mn0AVE1GUgEBAAAGAAAAAAAAAFgAAACHAwAAAAAAAL/YEsMBAAAAAQcAAABlcHNpbG9uDQAAAHRvIGJlIGRlbGV0ZWQLAAAAAACAPgAAgD4AAIA+AACAPgAAgD4AAIA+AACAPgAAgD4AAIA+AACAPgAAgD4CAAAAe30AVE1GUgEBAAAHAAAAAAAAABAAAAD/AwAAAAAAAGw3Cx4BAAAAAgcAAABlcHNpbG9uVE1GUgECAAAIAAAAAAAAAAAAAAAvBAAAAAAAAIw47kk=")!)

    static let expected: [Record] = [
        Record(
            id: "alpha", content: "overwritten", embedding: [9, 8, 7, 6, 5, 4, 3, 2, 1, 0, -1],
            metadata: ["frac": .number(0.30000000000000004), "int53": .number(9_007_199_254_740_992), "version": .number(2)]),
        Record(
            id: "delta", content: "expires far away",
            embedding: [-3.4028235e38, 3.4028235e38, 1.17549435e-38, 1.4e-45, 0, 0, 0, 0, 0, 0, 1],
            metadata: ["when": .string("later")], expiresAt: 4_102_444_800_000_000_000),
        Record(id: "gamma"),
        Record(
            id: "βeta ✓", content: "unicode: é ü 😀 \"quoted\" \\ back\nnew line\ttab",
            embedding: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
            metadata: [
                "esc": .string("a\"b\\c\u{01}d\u{1f}"),
                "nested": .object([
                    "empty": .object([:]), "emptyList": .array([]),
                    "list": .array([.number(1), .string("two"), .array([.number(3)]), .object(["four": .number(4)])]),
                ]),
            ]),
    ]

    @Test func oldSegmentOpensToTheSameRecords() throws {
        let directory = TemporaryDirectory()
        try PosixFileSystem().writeFileAtomically(directory.file(Self.segmentName), Self.segment)
        let store = try Store.open(
            at: directory.path, fileSystem: PosixFileSystem(), clock: SystemClock(), random: SystemRandom(),
            options: StoreOptions(syncMode: .async))
        defer { try? store.close() }
        let records = try store.allRecords()
        #expect(records == Self.expected)
        // Bit for bit, not only equal as numbers (-0.0, subnormals).
        for (record, expected) in zip(records, Self.expected) {
            #expect(record.embedding.map(\.bitPattern) == expected.embedding.map(\.bitPattern))
        }
    }

    /// Every frame's payload decodes, and encodes back to the very same bytes.
    @Test func oldFramesReencodeToTheSameBytes() throws {
        let header = try SegmentHeader.decode(Self.segment[...])
        var offset = SegmentHeader.size
        var frames = 0
        while offset < Self.segment.count {
            let frame = try Frame.decode(Self.segment, at: offset, segmentID: header.segmentID, maxPayload: 1 << 20).get()
            if frame.kind == .commit {
                let operations = try RecordCoding.decodeOperations(frame.payload)
                #expect(RecordCoding.encode(operations) == Array(frame.payload))
                let reframed = Frame.encode(
                    kind: .commit, lsn: frame.lsn, syncedThrough: frame.syncedThrough, payload: Array(frame.payload),
                    segmentID: header.segmentID)
                #expect(reframed == Array(Self.segment[offset..<offset + frame.encodedSize]))
                frames += 1
            }
            offset += frame.encodedSize
        }
        #expect(frames == 7)  // six puts and a delete
    }
    /// A checkpoint written by the build before entries were encoded in place (`tidemark db ck
    /// import --no-tiers` of four records: unicode, escapes, nested metadata, extreme floats, -0,
    /// an expiry; then `checkpoint`) decodes and encodes back to the very same bytes.
    static let checkpoint = [UInt8](Data(base64Encoded: "VE1DSEtQVDEBAAAAAAAAAAQAAAAAAAAABAAAAAAAAAADAAAADE9J320AAADkMHePBQAAAGFscGhhCgAAAHBsYWluIHRleHQDAAAAAAAAPwAAoL+CqPs3QQAAAHsia2luZCI6Im5vdGUiLCJuIjo0MiwibmVzdGVkIjp7ImVtcHR5Ijp7fSwibGlzdCI6WzEsInR3byIsWzNdXX19ACsAAADDRoc0BQAAAGRlbHRhBwAAAGV4cGlyZXMDAAAA//9/f///f/8BAAAAAgAAAHt9AEEAAABN8tZ8BQAAAGdhbW1hAAAAAAMAAAAAAAAAAAAAAAAAAIAXAAAAeyJlc2MiOiJhXCJiXFxjXHUwMDAxIn0BAACmVs/P7jhUAAAAwlMR5gkAAADOsmV0YSDinJMsAAAAdW5pY29kZTogw6kgw7wg8J+YgCAicXVvdGVkIiBcIGJhY2sKbmV3IGxpbmUDAAAAAACAPwAAAEAAAEBAAgAAAHt9AFRNQ0tFTkQxBAAAAAAAAABwM/qa")!)

    @Test func oldCheckpointReencodesToTheSameBytes() throws {
        let state = try CheckpointFile.decode(Self.checkpoint, path: "checkpoint-0000000000000004.ckpt", expectedLSN: 4)
        #expect(state.records.count == 4)
        #expect(CheckpointFile.encode(state, lsn: 4) == Self.checkpoint)
    }

    /// The capacity hint recovery reserves from: a commit's declared count, bounded by its bytes.
    @Test func declaredOperationCountIsBoundedByThePayload() throws {
        let header = try SegmentHeader.decode(Self.segment[...])
        let first = try Frame.decode(Self.segment, at: SegmentHeader.size, segmentID: header.segmentID, maxPayload: 1 << 20).get()
        #expect(RecordCoding.declaredOperationCount(first.payload) == 1)
        let bogus: [UInt8] = [0xFF, 0xFF, 0xFF, 0x7F] + [UInt8](repeating: 0, count: 60)
        #expect(RecordCoding.declaredOperationCount(bogus[...]) == 10)
        #expect(RecordCoding.declaredOperationCount([1, 0][...]) == 0)
    }
    /// Strings decode as `String(validating:)` decides, ASCII fast path or not: invalid UTF-8
    /// (truncated, stray continuation, overlong, surrogate, 0xFF) is refused at its offset.
    @Test func stringsDecodeAsTheValidatingInitializerDecides() {
        let cases: [[UInt8]] = [
            [], Array("wal-0000000000000001".utf8), Array("é ü 😀 日本".utf8), Array("a\u{0}b\u{7F}".utf8),
            [0xC3], [0x80], [0x61, 0xC0, 0x80], [0xED, 0xA0, 0x80], [0x61, 0xFF], [0xF4, 0x90, 0x80, 0x80],
        ]
        for bytes in cases {
            var writer = ByteWriter()
            writer.u32(UInt32(bytes.count))
            writer.raw(bytes)
            var reader = ByteReader(writer.bytes[...])
            let expected = String(validating: bytes, as: UTF8.self)
            do {
                let text = try reader.string()
                #expect(text == expected && text.utf8.elementsEqual(bytes), "\(bytes)")
            } catch let error as FormatError {
                #expect(expected == nil && error.offset == 4, "\(bytes)")
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
    }
}
