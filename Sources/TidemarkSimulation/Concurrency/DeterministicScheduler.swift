import Foundation
import TidemarkIO

/// Owns the concurrency of a simulated run, as FoundationDB's and TigerBeetle's simulators do:
/// `run` starts real threads, but exactly one runs at a time (it holds the baton), and it hands
/// the baton on only at a yield point: every call of the simulated disk
/// (`SimulatedFileSystem.yieldBeforeEachCall`) and every `lock`, `unlock`, `wait` and
/// `broadcast` of a `ScheduledMonitor`. Which runnable thread goes next is drawn from the
/// seed's own `scheduler` stream, so the same seed and build give the same interleaving, and a
/// run with no concurrent step never draws from it.
///
/// A wait with no runnable thread left is a deadlock: `run` reports each thread and where it
/// waits, and leaves those threads parked for good (nothing can wake them). After a crash (the
/// disk halted) the waiters are woken instead, as a spurious wakeup may (callers loop on their
/// condition), so every thread runs on to the error its next call throws.
public final class DeterministicScheduler: @unchecked Sendable {
    /// How a scheduled run ended.
    public enum Outcome: Sendable, Equatable {
        case finished
        /// Every unfinished thread waits; the description names each and where.
        case deadlocked(String)
    }

    enum ThreadState {
        case runnable
        case blockedOnLock(ScheduledMonitor, String)
        case waiting(ScheduledMonitor, String)
        case finished
    }

    struct SimulatedThread {
        var name: String
        var state: ThreadState = .runnable
        /// The last yield point it passed (a file-system call or a monitor call).
        var lastPoint = "not started"
    }

    /// Guards everything below and passes the baton.
    let baton = NSCondition()
    private let random: SeededRandom
    private var threads: [SimulatedThread] = []
    /// The thread holding the baton; nil between runs (the driver's thread runs alone).
    private(set) var running: Int?
    private var outcome: Outcome?
    private var isHalted: () -> Bool = { false }
    /// Wakeups handed out after a crash, bounded so a thread that never gets past its wait ends
    /// the run as a deadlock.
    private var spuriousWakeups = 0
    /// Baton hand-overs in all runs so far (a test checks interleaving really happens).
    public private(set) var switches = 0

    public init(seed: UInt64) {
        random = SeededRandom(seed: seed).stream("scheduler")
    }

    /// A monitor whose calls are this scheduler's yield points.
    public func makeMonitor() -> ScheduledMonitor { ScheduledMonitor(scheduler: self) }

    /// Runs each body on a thread of its own, one at a time as the seed decides, and returns when
    /// all have finished or a deadlock left no runnable thread. `isHalted` says whether the
    /// process has been killed (then waiters are woken rather than reported).
    public func run(_ bodies: [(name: String, body: @Sendable () -> Void)], isHalted: @escaping () -> Bool) -> Outcome {
        guard !bodies.isEmpty else { return .finished }
        baton.lock()
        precondition(running == nil, "a scheduled run is already under way")
        threads = bodies.map { SimulatedThread(name: $0.name) }
        outcome = nil
        spuriousWakeups = 0
        self.isHalted = isHalted
        baton.unlock()
        for (id, entry) in bodies.enumerated() {
            let thread = Thread { [self] in
                baton.lock()
                while running != id { baton.wait() }
                baton.unlock()
                entry.body()
                baton.lock()
                threads[id].state = .finished
                handOn(from: id)
                baton.unlock()
            }
            thread.stackSize = 8 << 20  // recovery and SQLite recurse deeply
            thread.start()
        }
        baton.lock()
        defer { baton.unlock() }
        running = pick(among: runnableThreads())
        switches += 1
        baton.broadcast()
        while outcome == nil { baton.wait() }
        threads = []
        return outcome!
    }

    // MARK: Yield points (the caller holds `baton`)

    /// The running thread's id, or nil on the driver's thread outside a run.
    func currentThread() -> Int? { running }

    /// A yield point of thread `me`: the baton goes to a runnable thread drawn from the seed
    /// (perhaps `me` again); returns once `me` holds it again and is runnable.
    func yield(_ me: Int, at point: String) {
        threads[me].lastPoint = point
        handOn(from: me)
        while running != me { baton.wait() }
    }

    /// Marks `me` blocked on `monitor`'s lock and yields; returns when it may try again.
    func block(_ me: Int, on monitor: ScheduledMonitor, at point: String) {
        threads[me].state = .blockedOnLock(monitor, point)
        yield(me, at: point)
    }

    /// Marks `me` waiting on `monitor`'s condition and yields; returns once woken.
    func waitOnCondition(_ me: Int, on monitor: ScheduledMonitor, at point: String) {
        threads[me].state = .waiting(monitor, point)
        yield(me, at: point)
    }

    /// Threads blocked on `monitor`'s lock may try again.
    func lockReleased(_ monitor: ScheduledMonitor) {
        for id in threads.indices {
            if case .blockedOnLock(let other, _) = threads[id].state, other === monitor { threads[id].state = .runnable }
        }
    }

    /// Threads waiting on `monitor`'s condition wake (and then contend for its lock).
    func wakeWaiters(of monitor: ScheduledMonitor) {
        for id in threads.indices {
            if case .waiting(let other, _) = threads[id].state, other === monitor { threads[id].state = .runnable }
        }
    }

    // MARK: Choosing the next thread

    private func runnableThreads() -> [Int] {
        threads.indices.filter { if case .runnable = threads[$0].state { true } else { false } }
    }

    private func pick(among runnable: [Int]) -> Int {
        runnable.count == 1 ? runnable[0] : runnable[Int(random.next(below: UInt64(runnable.count)))]
    }

    /// Gives the baton to a runnable thread (drawn from the seed), or ends the run when none is.
    private func handOn(from me: Int) {
        var runnable = runnableThreads()
        if runnable.isEmpty, isHalted(), spuriousWakeups < 1_000, threads.contains(where: \.isWaiting) {
            spuriousWakeups += 1
            for id in threads.indices where threads[id].isWaiting { threads[id].state = .runnable }
            runnable = runnableThreads()
        }
        guard !runnable.isEmpty else {
            running = nil
            outcome = threads.allSatisfy(\.isFinished) ? .finished : .deadlocked(deadlockReport())
            baton.broadcast()
            return
        }
        let next = pick(among: runnable)
        if next != me { switches += 1 }
        running = next
        baton.broadcast()
    }

    private func deadlockReport() -> String {
        threads.filter { !$0.isFinished }.map { thread in
            switch thread.state {
            case .blockedOnLock(_, let point): "\(thread.name) is blocked on the lock at \(point)"
            case .waiting(_, let point): "\(thread.name) waits on the condition at \(point)"
            case .runnable, .finished: "\(thread.name) at \(thread.lastPoint)"
            }
        }.joined(separator: "; ")
    }
}

extension DeterministicScheduler.SimulatedThread {
    var isFinished: Bool { if case .finished = state { true } else { false } }
    var isWaiting: Bool { if case .waiting = state { true } else { false } }
}

import TidemarkSimulatedDisk

extension DeterministicScheduler {
    /// The simulated disk's yield point (install with `attach(to:)`): before each call.
    func fileSystemCall(_ operation: FileOperation, _ path: String) {
        baton.lock()
        defer { baton.unlock() }
        guard let me = running else { return }
        yield(me, at: "\(operation.rawValue) \(path)")
    }

    /// Makes every call of `disk` a yield point of this scheduler's runs.
    public func attach(to disk: SimulatedFileSystem) {
        disk.yieldBeforeEachCall = { [unowned self] operation, path in fileSystemCall(operation, path) }
    }
}
