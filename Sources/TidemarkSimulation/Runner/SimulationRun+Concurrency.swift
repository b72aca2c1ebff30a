import TidemarkSimulatedDisk

/// What the threads of a concurrent step answered, in the order they finished. Written by the
/// step's threads, one at a time (the scheduler's baton orders them), read once they are done.
private final class ConcurrentAnswers: @unchecked Sendable {
    var finished: [(member: Int, response: Response)] = []
}

/// The subject, handed to the step's threads; only one of them runs at a time.
private struct ScheduledSubject: @unchecked Sendable {
    let subject: any Subject
}

extension Execution {
    /// A concurrent step: each member on a simulated thread of its own, interleaved at the
    /// scheduler's yield points (the seed picks who runs next), and one more thread closing
    /// the store when `closes` (then it is opened again and checked, as after `reopen`).
    /// Acknowledged members must survive like any acknowledgement (in the order they were
    /// acknowledged); refused ones must not show; the rest (ambiguous, or cut short by a
    /// crash) may or may not, each on its own. A deadlock is a liveness violation.
    mutating func performConcurrent(
        _ operation: WorkloadOperation, members: [WorkloadOperation], closes: Bool, at index: Int, killAfterCalls: Int?,
        crash: CrashSpec
    ) {
        guard let subject, let scheduler else { return }
        if let killAfterCalls { fileSystem.killPoint = KillPoint(afterCalls: fileSystem.callCount + killAfterCalls) }
        let start = fileSystem.callCount
        let answers = ConcurrentAnswers()
        let shared = ScheduledSubject(subject: subject)
        var threads: [(name: String, body: @Sendable () -> Void)] = members.enumerated().map { member, operation in
            ("thread \(member + 1) (\(operation.label))", { answers.finished.append((member, shared.subject.perform(operation))) })
        }
        if closes { threads.append(("thread \(members.count + 1) (close)", { shared.subject.close() })) }
        let fileSystem = fileSystem
        let outcome = scheduler.run(threads, isHalted: { fileSystem.isHalted })
        fileSystem.killPoint = nil
        if case .deadlocked(let report) = outcome {
            event(index, .operation, operation.label, .note("deadlock"), from: start)
            fail(Violation(.liveness, "deadlock in \(operation.label): \(report)", stepIndex: index))
            return
        }
        let crashed = fileSystem.isHalted
        // An ambiguous member stops the store, but a member whose sync had already succeeded
        // may still return its acknowledgement afterwards: only an earlier step's failure counts.
        let failStoppedBefore = mustFailStop
        for (member, response) in answers.finished {
            record(response, of: members[member], at: index, crashed: crashed, failStoppedBefore: failStoppedBefore, from: start)
            if result.violation != nil || stopped { return }
        }
        if crashed {
            crashAndRecover(crash, at: index, during: "during concurrent")
        } else if closes {
            reopen(at: index)
        }
    }

    /// One member's answer, into the timeline and the model.
    private mutating func record(
        _ response: Response, of member: WorkloadOperation, at index: Int, crashed: Bool, failStoppedBefore: Bool, from start: Int
    ) {
        switch response {
        case .acknowledged(let durable):
            event(index, .operation, member.label, .acknowledged, from: start)
            if failStoppedBefore {
                fail(Violation(.failStop, "\(member.label) was acknowledged after an earlier I/O failure, before any reopen", stepIndex: index))
                return
            }
            model.acknowledged(stepIndex: index, operation: member, durable: durable)
        case .rejected, .failStopped:
            // Refused before its frame was written (a clean error, a closed or stopped store).
            event(index, .operation, member.label, crashed ? .inFlight : .rejected, from: start)
            if crashed { model.uncertainConcurrent(stepIndex: index, operation: member) } else { model.rejected(stepIndex: index, operation: member) }
        case .ambiguous:
            event(index, .operation, member.label, crashed ? .inFlight : .ambiguous, from: start)
            model.uncertainConcurrent(stepIndex: index, operation: member)
            if !crashed { mustFailStop = true }
        case .corruptionDetected(let message):
            event(index, .operation, member.label, .corruptionDetected, from: start)
            if damage.corruptionFired || damage.ioErrorFired {
                stop("\(member.label) detected corruption: \(message)")
            } else {
                fail(Violation(.liveness, "\(member.label) reported corruption though none was injected: \(message)", stepIndex: index))
            }
        case .done where member.kind == .checkpoint:
            // Its sync adds nothing the model needs: acknowledged members are durable already
            // (group and immediate modes), and which of the others it covered is unknown.
            event(index, .checkpoint, member.label, .ok, from: start)
        case .done, .value, .searchResults:
            fail(Violation(.liveness, "\(member.label) answered \(response), not a write's outcome", stepIndex: index))
        }
    }
}
