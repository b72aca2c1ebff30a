#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Time as the store sees it. The store never reads the OS clock itself: real-disk mode passes
/// a `SystemClock`, the simulator a `ManualClock` it advances deterministically.
public protocol Clock: AnyObject, Sendable {
    /// Wall-clock time in nanoseconds since the Unix epoch (TTLs, ages that outlive a process).
    func wallNanoseconds() -> Int64
    /// Monotonic nanoseconds from an arbitrary origin (durations within one process).
    func monotonicNanoseconds() -> Int64
    /// Waits `nanoseconds`. A manual clock advances instead of waiting.
    func sleep(nanoseconds: Int64)
}

/// The operating system's clocks: `clock_gettime(2)` with `CLOCK_REALTIME` and
/// `CLOCK_MONOTONIC`, and `nanosleep(2)`. All three honour libfaketime, unlike Dispatch timers
/// and `Task.sleep`, which hang under it.
public final class SystemClock: Clock {
    public init() {}

    public func wallNanoseconds() -> Int64 { read(CLOCK_REALTIME) }
    public func monotonicNanoseconds() -> Int64 { read(CLOCK_MONOTONIC) }

    public func sleep(nanoseconds: Int64) {
        guard nanoseconds > 0 else { return }
        var request = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }

    private func read(_ id: clockid_t) -> Int64 {
        var now = timespec()
        clock_gettime(id, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }
}

/// A clock that moves only when told to. `sleep` advances it, so code that waits never blocks
/// a simulation.
public final class ManualClock: Clock {
    private struct State { var wall: Int64; var monotonic: Int64 }
    private let state: Mutex<State>

    /// Starts at `wallNanoseconds` (default 2024-01-01T00:00:00Z) and monotonic zero.
    public init(wallNanoseconds: Int64 = 1_704_067_200_000_000_000) {
        state = Mutex(State(wall: wallNanoseconds, monotonic: 0))
    }

    public func wallNanoseconds() -> Int64 { state.withLock { $0.wall } }
    public func monotonicNanoseconds() -> Int64 { state.withLock { $0.monotonic } }
    public func sleep(nanoseconds: Int64) { advance(nanoseconds: nanoseconds) }

    /// Moves both clocks forward.
    public func advance(nanoseconds: Int64) {
        precondition(nanoseconds >= 0, "a manual clock does not run backwards")
        state.withLock {
            $0.wall += nanoseconds
            $0.monotonic += nanoseconds
        }
    }

    public func advance(seconds: Double) { advance(nanoseconds: Int64(seconds * 1e9)) }

    /// Steps the wall clock alone, either way, as an NTP step or a restored VM does; the
    /// monotonic clock does not move.
    public func stepWall(by nanoseconds: Int64) {
        state.withLock { $0.wall += nanoseconds }
    }
}
