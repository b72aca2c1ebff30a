/// FNV-1a, 64-bit: a hash of bytes that is the same in every process and on every platform
/// (Swift's `Hasher` is seeded per process), for anything that must replay: stream labels,
/// trace hashes.
@frozen
public struct FNV1a: Sendable, Hashable {
    @usableFromInline var state: UInt64 = 0xCBF2_9CE4_8422_2325

    @inlinable public init() {}

    @inlinable public var value: UInt64 { state }

    @inlinable
    public mutating func combine(byte: UInt8) {
        state ^= UInt64(byte)
        state &*= 0x0000_0100_0000_01B3
    }

    @inlinable
    public mutating func combine<Bytes: Sequence>(bytes: Bytes) where Bytes.Element == UInt8 {
        for byte in bytes { combine(byte: byte) }
    }
}
