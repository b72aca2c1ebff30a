import TidemarkIO

/// A `Monitor` for the store under a `DeterministicScheduler`: every call is a yield point, and
/// the lock and condition are bookkeeping the scheduler honours when it picks the next thread
/// (a thread blocked on the lock or waiting on the condition is not runnable).
///
/// On the driver's thread, outside a scheduled run, it is a plain single-threaded lock: a
/// sequential run makes no yields and draws nothing, so its trace stays what it was. A
/// thread a deadlock left parked may still own the lock then; it never runs again, so the
/// driver takes the lock over.
public final class ScheduledMonitor: Monitor, @unchecked Sendable {
    private unowned let scheduler: DeterministicScheduler
    /// The thread holding the lock (the driver's is -1). Guarded by the scheduler's baton.
    private var owner: Int?

    init(scheduler: DeterministicScheduler) { self.scheduler = scheduler }

    public func lock(file: StaticString, line: UInt) {
        withBaton { me in
            guard let me else {
                owner = -1
                return
            }
            let point = "lock (\(file):\(line))"
            scheduler.yield(me, at: point)
            acquire(me, at: point)
        }
    }

    public func unlock(file: StaticString, line: UInt) {
        withBaton { me in
            owner = nil
            guard let me else { return }
            scheduler.lockReleased(self)
            scheduler.yield(me, at: "unlock (\(file):\(line))")
        }
    }

    public func wait(file: StaticString, line: UInt) {
        withBaton { me in
            guard let me else {
                preconditionFailure("wait at \(file):\(line) with no other thread to wake it: only a scheduled run can wait")
            }
            let point = "wait (\(file):\(line))"
            owner = nil
            scheduler.lockReleased(self)
            scheduler.waitOnCondition(me, on: self, at: point)
            acquire(me, at: point)
        }
    }

    public func broadcast(file: StaticString, line: UInt) {
        withBaton { me in
            guard let me else { return }
            scheduler.wakeWaiters(of: self)
            scheduler.yield(me, at: "broadcast (\(file):\(line))")
        }
    }

    /// Takes the lock for `me`, blocking (not runnable) while it is held (by `me` too: not recursive).
    private func acquire(_ me: Int, at point: String) {
        while owner != nil { scheduler.block(me, on: self, at: point) }
        owner = me
    }

    private func withBaton(_ body: (Int?) -> Void) {
        scheduler.baton.lock()
        defer { scheduler.baton.unlock() }
        body(scheduler.currentThread())
    }
}
