import Foundation
import TidemarkIO

/// The host side of "the store runs no threads": one plain thread that calls
/// `Store.runMaintenance()` every `interval` (async-mode flush, automatic checkpoints), waiting
/// with `Clock.sleep` (`nanosleep(2)` for `SystemClock`, so it works under libfaketime, unlike
/// Dispatch timers and `Task.sleep`). For real-disk use; simulations call `runMaintenance()`
/// themselves.
public final class MaintenanceRunner: @unchecked Sendable {
    private let store: Store
    private let clock: any Clock
    private let intervalNanoseconds: Int64
    private let condition = NSCondition()
    private var stopping = false
    private var stopped = false
    private var lastError: StoreError?

    /// Starts the thread at once.
    public init(store: Store, clock: any Clock, intervalNanoseconds: Int64 = 50_000_000) {
        self.store = store
        self.clock = clock
        self.intervalNanoseconds = intervalNanoseconds
        Thread { [self] in loop() }.start()
    }

    /// The failure that ended the loop (the store fail-stopped or was closed), if any.
    public var error: StoreError? { condition.withLock { lastError } }

    /// Stops the thread and waits for it to finish its current pass.
    public func stop() {
        condition.withLock {
            stopping = true
            while !stopped { condition.wait() }
        }
    }

    private func loop() {
        while !condition.withLock({ stopping }) {
            do {
                try store.runMaintenance()
            } catch let error as StoreError {
                condition.withLock { lastError = error }
                break
            } catch {
                break
            }
            clock.sleep(nanoseconds: intervalNanoseconds)
        }
        condition.withLock {
            stopped = true
            condition.broadcast()
        }
    }
}
