import Synchronization

/// Randomness as the store and the simulator see it. Never global: each component is handed
/// one, so a simulation run is a function of its seed.
public protocol RandomSource: AnyObject, Sendable {
    /// 64 uniformly random bits.
    func next() -> UInt64
}

extension RandomSource {
    /// Uniform in `0..<bound` (unbiased: Lemire's multiply-and-reject).
    public func next(below bound: UInt64) -> UInt64 {
        precondition(bound > 0, "bound must be positive")
        var product = next().multipliedFullWidth(by: bound)
        if product.low < bound {
            let threshold = (0 &- bound) % bound
            while product.low < threshold { product = next().multipliedFullWidth(by: bound) }
        }
        return product.high
    }

    /// Uniform in `range`.
    public func int(in range: ClosedRange<Int>) -> Int {
        let span = UInt64(bitPattern: Int64(range.upperBound &- range.lowerBound)) &+ 1
        if span == 0 { return Int(bitPattern: UInt(next())) }
        return range.lowerBound &+ Int(next(below: span))
    }

    /// Uniform in `[0, 1)` with 53 bits of precision.
    public func unitDouble() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// True with probability `probability` (clamped to 0...1). Always draws, so the stream does
    /// not shift when a probability changes between 0 and non-zero.
    public func chance(_ probability: Double) -> Bool { unitDouble() < probability }

    /// `count` random bytes.
    public func bytes(_ count: Int) -> [UInt8] {
        var result = [UInt8]()
        result.reserveCapacity(count)
        while result.count < count {
            var word = next()
            for _ in 0..<min(8, count - result.count) {
                result.append(UInt8(truncatingIfNeeded: word))
                word >>= 8
            }
        }
        return result
    }

    /// A random element, or nil for an empty collection.
    public func element<C: Collection>(of collection: C) -> C.Element? {
        guard !collection.isEmpty else { return nil }
        let offset = Int(next(below: UInt64(collection.count)))
        return collection[collection.index(collection.startIndex, offsetBy: offset)]
    }
}

/// SplitMix64: turns one 64-bit seed into a stream of well-mixed words. Used to seed xoshiro
/// and to derive sub-stream seeds.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// xoshiro256** (Blackman and Vigna): fast, 256 bits of state, good statistical quality.
/// A value type for hot loops that own their generator.
public struct Xoshiro256StarStar: RandomNumberGenerator, Sendable {
    private var s0, s1, s2, s3: UInt64

    public init(seed: UInt64) {
        var mixer = SplitMix64(seed: seed)
        s0 = mixer.next(); s1 = mixer.next(); s2 = mixer.next(); s3 = mixer.next()
    }

    public mutating func next() -> UInt64 {
        let result = rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        return result
    }

    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}

/// A seeded, splittable `RandomSource`.
///
/// `stream(_:)` derives an independent generator from the *seed* and a label, not from the
/// draws made so far: adding a fault decision in one stream never shifts the workload's choices
/// in another. Thread-safe (a lock around the state), though simulations use it from one thread.
public final class SeededRandom: RandomSource {
    public let seed: UInt64
    private let generator: Mutex<Xoshiro256StarStar>

    public init(seed: UInt64) {
        self.seed = seed
        generator = Mutex(Xoshiro256StarStar(seed: seed))
    }

    public func next() -> UInt64 { generator.withLock { $0.next() } }

    /// An independent generator named `label`, a pure function of `(seed, label)`.
    public func stream(_ label: String) -> SeededRandom {
        SeededRandom(seed: Self.derive(seed: seed, label: label))
    }

    /// Mixes a label into a seed with FNV-1a then SplitMix64. (Swift's `Hasher` is seeded per
    /// process, so it cannot be used for anything that must replay.)
    public static func derive(seed: UInt64, label: String) -> UInt64 {
        var hash = FNV1a()
        hash.combine(bytes: label.utf8)
        var mixer = SplitMix64(seed: seed ^ hash.value)
        return mixer.next()
    }
}

/// The operating system's randomness (`getrandom(2)` via the standard library), for real-disk
/// use where nothing needs to replay.
public final class SystemRandom: RandomSource {
    public init() {}
    public func next() -> UInt64 {
        var generator = SystemRandomNumberGenerator()
        return generator.next()
    }
}
