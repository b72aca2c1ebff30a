import Foundation

/// A monitor: one mutual-exclusion lock with one condition, the store's only synchronisation.
/// `lock`/`unlock` stand for `pthread_mutex_lock`/`pthread_mutex_unlock`, `wait` for
/// `pthread_cond_wait` (releases the lock while waiting, holds it again on return; may return
/// spuriously, so callers loop on their condition) and `broadcast` for
/// `pthread_cond_broadcast`, as `NSCondition` wraps them. A real store gets `ConditionMonitor`;
/// the simulator hands in one whose every call is a point where its scheduler may switch
/// threads. `file` and `line` say where the caller stands, for a deadlock report.
public protocol Monitor: AnyObject, Sendable {
    func lock(file: StaticString, line: UInt)
    func unlock(file: StaticString, line: UInt)
    func wait(file: StaticString, line: UInt)
    func broadcast(file: StaticString, line: UInt)
}

extension Monitor {
    public func lock(_ file: StaticString = #fileID, _ line: UInt = #line) { lock(file: file, line: line) }
    public func unlock(_ file: StaticString = #fileID, _ line: UInt = #line) { unlock(file: file, line: line) }
    public func wait(_ file: StaticString = #fileID, _ line: UInt = #line) { wait(file: file, line: line) }
    public func broadcast(_ file: StaticString = #fileID, _ line: UInt = #line) { broadcast(file: file, line: line) }
}

/// The real monitor: an `NSCondition` (a pthread mutex and condition variable).
public final class ConditionMonitor: Monitor, @unchecked Sendable {
    private let condition = NSCondition()

    public init() {}

    public func lock(file: StaticString, line: UInt) { condition.lock() }
    public func unlock(file: StaticString, line: UInt) { condition.unlock() }
    public func wait(file: StaticString, line: UInt) { condition.wait() }
    public func broadcast(file: StaticString, line: UInt) { condition.broadcast() }
}
