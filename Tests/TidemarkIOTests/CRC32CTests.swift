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
