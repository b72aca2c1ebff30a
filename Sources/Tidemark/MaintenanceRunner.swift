import Foundation
import TidemarkIO

/// The host side of "the store runs no threads": one plain thread that calls
/// `Store.runMaintenance()` every `interval` (async-mode flush, automatic checkpoints, and with
/// tiers the hot→cold migration and TTL expiry), waiting with `Clock.sleep` (`nanosleep(2)` for
/// `SystemClock`, so it works under libfaketime, unlike Dispatch timers and `Task.sleep`) in
/// slices of at most 20 ms, so `stop()` returns within a slice rather than a whole interval.
/// For real-disk use; simulations call `runMaintenance()` themselves.
///
/// The runner holds its store weakly (a store may own its runner: `Store.startMaintenanceRunner`);
/// the loop ends when the store is gone, closed or fail-stopped.
public final class MaintenanceRunner: @unchecked Sendable {
    private weak var store: Store?
    private let clock: any Clock
    private let intervalNanoseconds: Int64
    private let onPass: (@Sendable (Result<MaintenanceReport, StoreError>) -> Void)?
    private let condition = NSCondition()
    private var stopping = false
    private var stopped = false
    private var lastError: StoreError?

    /// Starts the thread at once; it runs a pass, then one every `intervalNanoseconds`, and
    /// reports each to `onPass` (on the runner's thread).
    public init(
        store: Store, clock: any Clock, intervalNanoseconds: Int64 = 50_000_000,
        onPass: (@Sendable (Result<MaintenanceReport, StoreError>) -> Void)? = nil
    ) {
        self.store = store
        self.clock = clock
        self.intervalNanoseconds = max(intervalNanoseconds, 1)
        self.onPass = onPass
        Thread { [self] in loop() }.start()
    }

    /// The failure that ended the loop (the store fail-stopped or was closed), if any.
    public var error: StoreError? { condition.withLock { lastError } }

    /// Stops the thread and waits for it to finish its current pass. Idempotent; must not be
    /// called from `onPass`.
    public func stop() {
        condition.withLock {
            stopping = true
            while !stopped { condition.wait() }
        }
    }

    private var isStopping: Bool { condition.withLock { stopping } }

    private func loop() {
        while !isStopping {
            guard let store else { break }
            do {
                let report = try store.runMaintenance()
                onPass?(.success(report))
            } catch {
                let failure = error as? StoreError ?? StoreError(.io, "maintenance failed: \(error)")
                condition.withLock { lastError = failure }
                onPass?(.failure(failure))
                break
            }
            var waited: Int64 = 0
            while waited < intervalNanoseconds && !isStopping {
                let slice = min(20_000_000, intervalNanoseconds - waited)
                clock.sleep(nanoseconds: slice)
                waited += slice
            }
        }
        condition.withLock {
            stopped = true
            condition.broadcast()
        }
    }
}
