import Synchronization
import TidemarkIO

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A plain POSIX thread that runs a maintenance pass every `interval` until stopped
/// (`Store.close()` stops the store's). Waits with `Clock.sleep` (`nanosleep(2)` for
/// `SystemClock`) in 20 ms slices, so it honours libfaketime (Dispatch timers and `Task.sleep`
/// hang under it) and notices `stop()` within a slice. Real-disk mode only: the simulator calls
/// `Store.runMaintenance()` itself.
final class MaintenanceRunner: Sendable {
    private let loop: Loop
    private let thread = Mutex<pthread_t?>(nil)

    /// Starts the thread. `pass` runs once per interval; returning false ends the thread.
    init(interval: Double, clock: any Clock, pass: @escaping @Sendable () -> Bool) throws {
        loop = Loop(clock: clock, interval: Int64(max(interval, 0.001) * 1e9), pass: pass)
        let box = Unmanaged.passRetained(loop)
        var handle = pthread_t()
        let rc = pthread_create(&handle, nil, { raw in
            Unmanaged<Loop>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, box.toOpaque())
        guard rc == 0 else {
            box.release()
            throw StoreError(.io, "cannot start the maintenance thread (pthread_create: \(rc))")
        }
        thread.withLock { $0 = handle }
    }

    /// Asks the thread to stop and waits for it to end (`pthread_join`). Idempotent; must not be
    /// called from the thread's own pass.
    func stop() {
        loop.stopRequested.store(true, ordering: .releasing)
        let handle = thread.withLock { value -> pthread_t? in
            defer { value = nil }
            return value
        }
        if let handle { pthread_join(handle, nil) }
    }

    private final class Loop: Sendable {
        let stopRequested = Atomic<Bool>(false)
        let clock: any Clock
        let interval: Int64
        let pass: @Sendable () -> Bool

        init(clock: any Clock, interval: Int64, pass: @escaping @Sendable () -> Bool) {
            self.clock = clock
            self.interval = interval
            self.pass = pass
        }

        var stopping: Bool { stopRequested.load(ordering: .acquiring) }

        func run() {
            let slice: Int64 = 20_000_000
            while !stopping {
                var waited: Int64 = 0
                while waited < interval && !stopping {
                    let step = min(slice, interval - waited)
                    clock.sleep(nanoseconds: step)
                    waited += step
                }
                if stopping || !pass() { return }
            }
        }
    }
}
