import Synchronization
import TidemarkIO

/// The store's time: the wall clock, except that it never runs backwards. Expiry is decided by
/// comparing a record's `expiresAt` with this time, so a wall clock stepped back (NTP, a VM
/// restored, a wrong RTC at boot) must not make an expired record live again.
///
/// It is the latest of the wall clock and every time the store has used: within a process the
/// largest value handed out, and at open the floor recovery restores (`Recovery`: the time each
/// replayed commit recorded, and the manifest's time). Every use of the wall clock in the store
/// goes through `now()`.
final class StoreClock: Sendable {
    let wall: any Clock
    private let latest: Mutex<Int64>
    /// The canary `expiryFollowsWallClock`: the raw wall clock, no floor.
    private let followsWallClock: Bool

    /// The floor recovery restored: the latest time the store's files recorded when it opened.
    let recoveredFloor: Int64

    init(wall: any Clock, floor: Int64, hooks: ProtocolHooks) {
        self.wall = wall
        recoveredFloor = floor
        // Opening is a use: the time the store opened at is a floor too.
        latest = Mutex(max(floor, wall.wallNanoseconds()))
        followsWallClock = hooks.expiryFollowsWallClock
    }

    /// The store's time now: never less than any value returned before, nor the recovered floor.
    func now() -> Int64 {
        let wallNow = wall.wallNanoseconds()
        if followsWallClock { return wallNow }
        return latest.withLock { latest in
            latest = max(latest, wallNow)
            return latest
        }
    }
}
