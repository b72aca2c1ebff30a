import Tidemark

/// The store's rule for time (`StoreClock`): it never runs backwards. Within a process the
/// model keeps it exactly (`now` is the max of every wall-clock reading). Across a crash the
/// store restores a floor from its files: at least the time of the last commit that survived,
/// at most the latest time it used. Which it holds in between is not knowable from outside, so
/// the model reads the subject's time after recovery, checks it lies in that window and takes
/// it: records expiring inside the window may be served or not, consistently with that time,
/// and every other record has one right answer.
extension Model {
    /// Checks the subject's time after a recovery (`subjectTime`, the wall clock `wall`) and
    /// adopts it as `now`. Invariant 8: its time decides what every read returns.
    mutating func adoptSubjectTime(
        _ subjectTime: Int64, wall: Int64, acknowledgementsAreDurable: Bool, corruptionInjected: Bool, stepIndex: Int
    ) -> Violation? {
        let latestUsed = max(now, wall)
        if subjectTime > latestUsed {
            return Violation(
                .readsMatchModel, "after recovery the subject's time is \(subjectTime), later than any time it used (\(latestUsed))",
                stepIndex: stepIndex)
        }
        let (floor, step) = survivingCommit(acknowledgementsAreDurable: acknowledgementsAreDurable)
        // Salvage may drop the commits that recorded the time along with their records.
        if !corruptionInjected, subjectTime < max(wall, floor) {
            let source = step.map { "the commit of step \($0), which had to survive," } ?? "a commit that survived an earlier check"
            return Violation(
                .readsMatchModel,
                "after recovery the subject's time is \(subjectTime), \((floor - subjectTime) / 1_000_000_000) s before \(source) at \(floor): the clock stepped back and records that had expired may be served again",
                stepIndex: stepIndex)
        }
        survivingCommitTime = floor
        now = subjectTime
        return nil
    }

    /// The latest time recorded by a commit that must have survived: an earlier check's, or
    /// that of a put (a put always writes a commit; a delete of an absent id writes none)
    /// acknowledged as durable or covered by a successful sync. With its step, when from now.
    private func survivingCommit(acknowledgementsAreDurable: Bool) -> (time: Int64, step: Int?) {
        let mustSurvive = acknowledgementsAreDurable ? max(syncedCount, acknowledgedCount) : syncedCount
        var latest: (time: Int64, step: Int?) = (survivingCommitTime, nil)
        for entry in history.prefix(mustSurvive) where entry.status != .uncertain && entry.time > latest.time {
            guard entry.mutations.contains(where: { if case .put = $0 { true } else { false } }) else { continue }
            latest = (entry.time, entry.stepIndex)
        }
        return latest
    }
}
