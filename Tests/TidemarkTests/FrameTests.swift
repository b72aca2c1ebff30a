import PropertyBased
import Testing
import TidemarkIO

@testable import Tidemark

struct FrameTests {
    static let payloads = Gen<UInt8>.value(in: 0...255).array(of: 0...300)

    @Test func decodeOfEncodeIsIdentity() async {
        await propertyCheck(input: Self.payloads, Gen<UInt64>.value(in: 1...UInt64.max), Gen<UInt64>.value()) { payload, lsn, segmentID in
            let bytes = Frame.encode(kind: .commit, lsn: lsn, syncedThrough: 32, payload: payload, segmentID: segmentID)
            let frame = try Frame.decode(bytes, at: 0, segmentID: segmentID, maxPayload: 1 << 20).get()
            #expect(frame.lsn == lsn)
            #expect(Array(frame.payload) == payload)
            #expect(frame.syncedThrough == 32)
            #expect(frame.encodedSize == bytes.count)
        }
    }

    @Test func anySingleFlippedBitIsDetected() async {
        await propertyCheck(input: Self.payloads, Gen<Int>.int(in: 0...Int.max), Gen<UInt8>.value(in: 0...7)) { payload, position, bit in
            var bytes = Frame.encode(kind: .commit, lsn: 7, syncedThrough: 32, payload: payload, segmentID: 42)
            bytes[position % bytes.count] ^= 1 << bit
            #expect(throws: FormatError.self) { try Frame.decode(bytes, at: 0, segmentID: 42, maxPayload: 1 << 20).get() }
        }
    }

    @Test func anyTruncationIsDetected() async {
        await propertyCheck(input: Self.payloads, Gen<Int>.int(in: 0...Int.max)) { payload, cut in
            let bytes = Frame.encode(kind: .commit, lsn: 7, syncedThrough: 32, payload: payload, segmentID: 42)
            let truncated = Array(bytes.prefix(cut % bytes.count))
            #expect(throws: FormatError.self) { try Frame.decode(truncated, at: 0, segmentID: 42, maxPayload: 1 << 20).get() }
        }
    }

    @Test func frameFromAnotherSegmentIncarnationIsRejected() throws {
        let bytes = Frame.encode(kind: .commit, lsn: 3, syncedThrough: 32, payload: [1, 2, 3], segmentID: 1)
        #expect(throws: FormatError.self) { try Frame.decode(bytes, at: 0, segmentID: 2, maxPayload: 1 << 20).get() }
    }

    @Test func lengthFieldIsBoundedBeforeReadingThePayload() throws {
        var bytes = Frame.encode(kind: .commit, lsn: 3, syncedThrough: 32, payload: [1, 2, 3], segmentID: 1)
        bytes.replaceSubrange(16..<20, with: [0xFF, 0xFF, 0xFF, 0x7F])
        let error = try #require(throws: FormatError.self) { try Frame.decode(bytes, at: 0, segmentID: 1, maxPayload: 1 << 20).get() }
        #expect(error.message.contains("exceeds the limit"))
    }

    @Test func operationsRoundTrip() throws {
        let operations: [LogOperation] = [
            .put(Record(id: "a", content: "hello ✓", embedding: [0.5, -1], metadata: ["k": .array([.number(1.5), .null, .bool(true)])], expiresAt: 99)),
            .delete(id: "b"),
            .put(Record(id: "c")),
        ]
        #expect(try RecordCoding.decodeOperations(RecordCoding.encode(operations)[...]) == operations)
    }
}
