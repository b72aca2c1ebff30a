import Foundation
import Synchronization

/// Runs `body` for indices `0..<count` on `jobs` threads and returns the results in index order,
/// so a campaign's outcome never depends on the job count or on scheduling. `progress` sees each
/// result as it finishes (from worker threads) with the number finished so far.
func forEachSeed<T: Sendable>(
    count: Int, jobs: Int, _ body: @escaping @Sendable (Int) -> T, progress: @escaping @Sendable (Int, T) -> Void
) -> [T] {
    let slots = Mutex([T?](repeating: nil, count: count))
    let next = Atomic<Int>(0)
    let finished = Atomic<Int>(0)
    let worker: @Sendable () -> Void = {
        while true {
            let index = next.add(1, ordering: .relaxed).oldValue
            if index >= count { return }
            let value = body(index)
            slots.withLock { $0[index] = value }
            progress(finished.add(1, ordering: .relaxed).newValue, value)
        }
    }
    runOnThreads(max(1, min(jobs, count)), worker)
    return slots.withLock { $0.compactMap { $0 } }
}


/// Runs `worker` on `count` threads at once (on the caller's thread when one), each with an
/// 8 MiB stack for the deep recursion of recovery and SQLite, and returns when all have.
func runOnThreads(_ count: Int, _ worker: @escaping @Sendable () -> Void) {
    if count <= 1 {
        worker()
        return
    }
    let group = DispatchGroup()
    for _ in 0..<count {
        group.enter()
        let thread = Thread {
            worker()
            group.leave()
        }
        thread.stackSize = 8 << 20
        thread.start()
    }
    group.wait()
}
