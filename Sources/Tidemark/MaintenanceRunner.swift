import Synchronization
import TidemarkIO

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A plain thread that calls `Store.runMaintenance()` every `interval` seconds until stopped
/// (`Store.close()` stops it). Waits with `Clock.sleep` (`nanosleep(2)` for `SystemClock`) in
/// short slices, so it honours libfaketime (Dispatch timers and `Task.sleep` hang under it) and
/// stops within a slice. Real-disk mode only: the simulator calls `runMaintenance()` itself.
///
/// A failing pass (for example after the store fail-stopped) ends the thread; its error is kept.
final class MaintenanceRunner: @unchecked Sendable {
    private let stopRequested = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)
    private let passes = Atomic<Int>(0)
    private var thread: pthread_t?

    /// The thread holds the store weakly: a store dropped without `close()` ends the thread.
    init(store: Store, interval: Double, clock: any Clock) {
        let intervalNanoseconds = Int64(max(interval, 0.001) * 1e9)
        let box = Unmanaged.passRetained(Context(runner: self, store: store, clock: clock, interval: intervalNanoseconds))
        var handle = pthread_t()
        let rc = pthread_create(&handle, nil, { raw in
            let context = Unmanaged<Context>.fromOpaque(raw!).takeRetainedValue()
            context.run()
            return nil
        }, box.toOpaque())
        if rc == 0 { thread = handle } else { box.release() }
    }

    /// How many passes completed.
    var completedPasses: Int { passes.load(ordering: .acquiring) }

    /// Asks the thread to stop and waits for it (`pthread_join`). Idempotent.
    func stop() {
        stopRequested.store(true, ordering: .releasing)
        guard let thread else { return }
        self.thread = nil
        pthread_join(thread, nil)
    }

    private final class Context {
        weak var runner: MaintenanceRunner?
        weak var store: Store?
        let clock: any Clock
        let interval: Int64
        let stopRequested: () -> Bool

        init(runner: MaintenanceRunner, store: Store, clock: any Clock, interval: Int64) {
            self.runner = runner
            self.store = store
            self.clock = clock
            self.interval = interval
            stopRequested = { [weak runner] in runner?.stopRequested.load(ordering: .acquiring) ?? true }
        }

        func run() {
            let slice: Int64 = 20_000_000  // 20 ms: how quickly stop() is noticed
            while !stopRequested() {
                var waited: Int64 = 0
                while waited < interval && !stopRequested() {
                    let step = min(slice, interval - waited)
                    clock.sleep(nanoseconds: step)
                    waited += step
                }
                if stopRequested() { break }
                guard let store else { break }
                do { try store.runMaintenance() } catch { break }
                runner?.passes.add(1, ordering: .releasing)
            }
            runner?.finished.store(true, ordering: .releasing)
        }
    }
}
