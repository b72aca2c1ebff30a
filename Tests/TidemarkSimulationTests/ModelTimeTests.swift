import Testing
import Tidemark
@testable import TidemarkSimulation

/// The model's rule for the subject's time across a recovery (`Model.adoptSubjectTime`): at
/// least the time of the last commit that had to survive, at most the latest time used; inside
/// that window either answer for a record expiring there, outside it one.
struct ModelTimeTests {
    let t0: Int64 = 1_704_067_200_000_000_000
    let second: Int64 = 1_000_000_000

    /// "short" (TTL 100 s) put at t0, "later" put at t0 + 60 s, both acknowledged as durable,
    /// then the model read at t0 + 500 s: "short" had expired.
    func model() -> Model {
        var model = Model()
        model.now = t0
        let short = RecordValue(id: "short", content: "s", embedding: [1, 0], metadata: [:])
        model.acknowledged(stepIndex: 0, operation: .putWithTTL(record: short, ttlSeconds: 100), durable: true)
        model.now = t0 + 60 * second
        model.acknowledged(stepIndex: 1, operation: .put(record: RecordValue(id: "later", content: "l", embedding: [0, 1], metadata: [:])), durable: true)
        model.now = t0 + 500 * second
        return model
    }

    func recovered(_ model: Model, short: Bool) -> Model.State {
        var state = Model.State()
        state["later"] = RecordValue(id: "later", content: "l", embedding: [0, 1], metadata: [:])
        if short { state["short"] = RecordValue(id: "short", content: "s", embedding: [1, 0], metadata: [:], expiresAt: t0 + 100 * second) }
        return state
    }

    @Test func aTimeBelowTheLastSurvivingCommitIsAViolation() {
        var model = model()
        let violation = model.adoptSubjectTime(t0 + 30 * second, wall: t0 - 1000 * second, acknowledgementsAreDurable: true, corruptionInjected: false, stepIndex: 2)
        #expect(violation?.invariant == .readsMatchModel)
        #expect(violation?.message.contains("the commit of step 1") == true, "\(violation?.message ?? "")")
    }

    @Test func aTimeLaterThanAnyUsedIsAViolation() {
        var model = model()
        #expect(model.adoptSubjectTime(t0 + 501 * second, wall: t0, acknowledgementsAreDurable: true, corruptionInjected: false, stepIndex: 2)?.invariant == .readsMatchModel)
    }

    /// "short" expires at t0 + 100 s, inside the window [t0 + 60 s, t0 + 500 s]: served or not,
    /// as long as it agrees with the time the subject holds.
    @Test func insideTheWindowEitherAnswerAgreeingWithTheSubjectsTime() {
        for (time, shortLive) in [(t0 + 60 * second, true), (t0 + 500 * second, false)] {
            for served in [true, false] {
                var model = model()
                #expect(model.adoptSubjectTime(time, wall: t0 - 1000 * second, acknowledgementsAreDurable: true, corruptionInjected: false, stepIndex: 2) == nil)
                let violation = model.check(recovered: recovered(model, short: served), acknowledgementsAreDurable: true, corruptionInjected: false, stepIndex: 2)
                #expect((violation == nil) == (served == shortLive), "time +\((time - t0) / second) s, served \(served): \(violation?.description ?? "accepted")")
            }
        }
    }

    /// Once a check accepted the commit at t0 + 60 s, a later recovery may not go below it.
    @Test func theFloorOutlivesTheCheckThatAdoptedIt() {
        var model = model()
        #expect(model.adoptSubjectTime(t0 + 500 * second, wall: t0, acknowledgementsAreDurable: true, corruptionInjected: false, stepIndex: 2) == nil)
        #expect(model.check(recovered: recovered(model, short: false), acknowledgementsAreDurable: true, corruptionInjected: false, stepIndex: 2) == nil)
        #expect(model.adoptSubjectTime(t0 + 59 * second, wall: t0, acknowledgementsAreDurable: true, corruptionInjected: false, stepIndex: 3) != nil)
        #expect(model.adoptSubjectTime(t0 + 60 * second, wall: t0, acknowledgementsAreDurable: true, corruptionInjected: false, stepIndex: 3) == nil)
    }
}
