import Foundation
import TidemarkIO

/// Every call goes through `performCall`: halt and kill-point checks, counting, tracing, and
/// folding the call and the faults it took into the trace hash.
extension SimulatedFileSystem {
    // MARK: Calls, tracing, decisions

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    /// Runs one file-system call: halt and kill-point checks, counting, tracing, hashing.
    /// `body` gets the call index and the trace event to fill in.
    func performCall<T>(
        _ operation: FileOperation, _ path: String, _ destination: String? = nil,
        offset: Int64? = nil, length: Int? = nil,
        whenKilled: ((Int) -> Void)? = nil,
        _ body: (Int, inout TraceEvent) throws -> T
    ) throws -> T {
        lock.lock()
        if let yieldPoint {
            lock.unlock()
            yieldPoint(operation, path)
            lock.lock()
        }
        if let observer = callObserver, !halted {
            lock.unlock()
            observer(operation, path)
            lock.lock()
        }
        defer { lock.unlock() }
        if halted, let haltError { throw haltError }
        let index = calls
        var event = TraceEvent(
            callIndex: index, operation: operation, path: path, destination: destination,
            offset: offset, length: length, dataChecksum: nil, result: .ok, decisions: [])
        if let point = armedKillPoint,
            point.isEligible(callIndex: index, operation: operation, paths: [path] + (destination.map { [$0] } ?? []))
        {
            killPointMatches += 1
            if killPointMatches >= point.occurrence {
                armedKillPoint = nil
                halted = true
                let error = FileSystemError(
                    .io, "simulated crash at call \(index) (\(operation.rawValue) \(path))", path: path, errno: EIO)
                haltError = error
                injector.beginCall()
                whenKilled?(index)
                event.decisions = injector.currentCallDecisions
                event.result = .killed
                record(event)
                throw error
            }
        }
        calls += 1
        injector.beginCall()
        do {
            try refuseWhenUnmounted(operation, path: path, callIndex: index)
            let result = try body(index, &event)
            event.decisions = injector.currentCallDecisions
            record(event)
            return result
        } catch let error as FileSystemError {
            event.result = .error(error.code.description)
            event.decisions = injector.currentCallDecisions
            record(event)
            throw error
        }
    }

    func record(_ event: TraceEvent) {
        if hashesTrace { hasher.combine(event) }
        if recordTrace { traceEvents.append(event) }
    }

    /// Records a fault the simulator drew and folds it into the trace hash. Returns whether to
    /// inject it: false when its index is suppressed (the caller then takes the benign outcome).
    func takeFault(_ kind: FaultKind, path: String, callIndex: Int, outcome: String, offset: Int64? = nil) -> Bool {
        let decision = injector.record(kind, path: path, callIndex: callIndex, outcome: outcome, offset: offset)
        hasher.combine(decision)
        return !decision.suppressed
    }
}
