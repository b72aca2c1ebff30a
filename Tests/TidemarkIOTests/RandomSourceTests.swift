import Testing
import TidemarkIO

struct RandomSourceTests {
    @Test func sameSeedSameStream() {
        let a = SeededRandom(seed: 42), b = SeededRandom(seed: 42)
        #expect((0..<100).map { _ in a.next() } == (0..<100).map { _ in b.next() })
    }

    @Test func differentSeedsDiffer() {
        let a = SeededRandom(seed: 1), b = SeededRandom(seed: 2)
        #expect((0..<10).map { _ in a.next() } != (0..<10).map { _ in b.next() })
    }

    @Test func streamsDependOnSeedAndLabelOnly() {
        let parent = SeededRandom(seed: 7)
        let before = parent.stream("workload").next()
        _ = (0..<50).map { _ in parent.next() }  // draws on the parent do not shift a stream
        #expect(parent.stream("workload").next() == before)
        #expect(parent.stream("faults").next() != before)
        #expect(SeededRandom.derive(seed: 7, label: "workload") == SeededRandom.derive(seed: 7, label: "workload"))
    }

    @Test func knownXoshiroOutputIsStable() {
        // Pinned so a change to the generator (which would silently change every replay) fails here.
        var generator = Xoshiro256StarStar(seed: 0)
        let first = (0..<3).map { _ in generator.next() }
        var again = Xoshiro256StarStar(seed: 0)
        #expect(first == (0..<3).map { _ in again.next() })
        var mixer = SplitMix64(seed: 0)
        #expect(mixer.next() == 0xE220_A839_7B1D_CDAF)
    }

    @Test func boundedDrawsStayInRange() {
        let random = SeededRandom(seed: 3)
        for bound in [1, 2, 3, 7, 1000] as [UInt64] {
            for _ in 0..<200 { #expect(random.next(below: bound) < bound) }
        }
        for _ in 0..<200 {
            #expect((-5...5).contains(random.int(in: -5...5)))
            let unit = random.unitDouble()
            #expect(unit >= 0 && unit < 1)
        }
        #expect(random.bytes(13).count == 13)
        #expect(random.element(of: [Int]()) == nil)
    }

    @Test func chanceExtremes() {
        let random = SeededRandom(seed: 9)
        #expect((0..<100).allSatisfy { _ in !random.chance(0) })
        #expect((0..<100).allSatisfy { _ in random.chance(1) })
    }
}

struct ClockTests {
    @Test func manualClockMovesOnlyWhenTold() {
        let clock = ManualClock(wallNanoseconds: 1_000)
        #expect(clock.wallNanoseconds() == 1_000)
        #expect(clock.monotonicNanoseconds() == 0)
        clock.advance(nanoseconds: 500)
        clock.sleep(nanoseconds: 250)
        #expect(clock.wallNanoseconds() == 1_750)
        #expect(clock.monotonicNanoseconds() == 750)
    }

    @Test func systemClockIsMonotonicAndSleeps() {
        let clock = SystemClock()
        let start = clock.monotonicNanoseconds()
        clock.sleep(nanoseconds: 2_000_000)
        #expect(clock.monotonicNanoseconds() - start >= 2_000_000)
        #expect(clock.wallNanoseconds() > 1_600_000_000_000_000_000)
    }
}
