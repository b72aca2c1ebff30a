import PropertyBased
import Testing
import TidemarkIO

struct CRC32CTests {
    @Test func standardCheckValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
    }

    @Test func portablePathMatchesCheckValue() {
        let bytes = Array("123456789".utf8)
        #expect(bytes.withUnsafeBytes { CRC32C.portable($0) } == 0xE306_9283)
    }

    @Test func knownVectors() {
        // RFC 3720 (iSCSI) appendix B.4 test vectors.
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum([UInt8]()) == 0)
    }

    @Test func continuingEqualsWhole() async {
        await propertyCheck(input: Gen<UInt8>.uint8().array(of: 0...300), Gen<Int>.int(in: 0...300)) { bytes, cut in
            let split = min(cut, bytes.count)
            let first = CRC32C.checksum(bytes[..<split])
            #expect(CRC32C.checksum(bytes[split...], continuing: first) == CRC32C.checksum(bytes))
        }
    }

    @Test(.enabled(if: CRC32C.hardwareAvailable, "needs SSE4.2"))
    func hardwareEqualsPortable() async {
        await propertyCheck(count: 300, input: Gen<UInt8>.uint8().array(of: 0...600), Gen<UInt32>.uint32()) { bytes, seed in
            let hardware = bytes.withUnsafeBytes { CRC32C.hardware($0, continuing: seed) }
            let portable = bytes.withUnsafeBytes { CRC32C.portable($0, continuing: seed) }
            #expect(hardware == portable)
        }
    }

    /// Buffers long enough for the three-way interleaved blocks (3 × 256 and 3 × 8192 bytes),
    /// at lengths around each boundary and at unaligned starts, against the portable tables.
    @Test(.enabled(if: CRC32C.hardwareAvailable, "needs SSE4.2"))
    func interleavedBlocksEqualPortable() {
        var random = SplitMix(seed: 12)
        let bytes = (0..<100_003).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        let lengths = [767, 768, 769, 1_000, 24_575, 24_576, 24_577, 49_152 + 768 + 5, 100_000]
        bytes.withUnsafeBytes { all in
            for start in 0..<3 {
                for length in lengths {
                    let slice = UnsafeRawBufferPointer(rebasing: all[start..<start + length])
                    let seed = UInt32(truncatingIfNeeded: random.next())
                    #expect(CRC32C.hardware(slice, continuing: seed) == CRC32C.portable(slice, continuing: seed), "length \(length) at \(start)")
                }
            }
        }
    }

    private struct SplitMix {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test func everySingleBitFlipChangesTheChecksum() {
        var bytes = Array("tidemark frame payload".utf8)
        let original = CRC32C.checksum(bytes)
        for index in bytes.indices {
            for bit in 0..<8 {
                bytes[index] ^= 1 << bit
                #expect(CRC32C.checksum(bytes) != original)
                bytes[index] ^= 1 << bit
            }
        }
    }
}
