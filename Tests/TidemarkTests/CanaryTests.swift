import Testing

@testable import Tidemark

@Suite struct CanaryTests {
    /// Every protocol step a hook answers, as text, with `retry` succeeding.
    private func steps(_ hooks: ProtocolHooks) -> [String: String] {
        [
            "syncsDirectoryForNewSegment": "\(hooks.syncsDirectoryForNewSegment)",
            "syncsBeforeAcknowledging": "\(hooks.syncsBeforeAcknowledging)",
            "replaysPastDamage": "\(hooks.replaysPastDamage)",
            "forgivesFailedSync": "\(hooks.forgivesFailedSync(retry: { true }))",
            "removesSegmentsBeforeCheckpoint": "\(hooks.removesSegmentsBeforeCheckpoint)",
            "dropsHotBeforeColdCommit": "\(hooks.dropsHotBeforeColdCommit)",
            "coldSynchronous": "\(hooks.coldSynchronous)",
            "creditedLSN": "\(hooks.creditedLSN(target: 3, lastAssigned: 5))",
            "rechecksAfterWakeup": "\(hooks.rechecksAfterWakeup)",
            "cutsLogAtRecordedDurableEnd": "\(hooks.cutsLogAtRecordedDurableEnd)",
            "fallsBackToOlderCheckpoint": "\(hooks.fallsBackToOlderCheckpoint)",
            "expiryFollowsWallClock": "\(hooks.expiryFollowsWallClock)",
        ]
    }

    @Test func eachCanaryBendsExactlyItsOwnProtocolStep() {
        let designed = steps(ProtocolHooks())
        #expect(designed["coldSynchronous"] == "full")
        #expect(designed["creditedLSN"] == "3" && designed["rechecksAfterWakeup"] == "true")
        var bent: Set<String> = []
        for canary in StoreCanary.allCases {
            let changed = Set(steps(ProtocolHooks(canary)).filter { designed[$0.key] != $0.value }.keys)
            #expect(changed.count == 1, "\(canary) bends \(changed.sorted())")
            bent.formUnion(changed)
        }
        #expect(bent.count == StoreCanary.allCases.count, "two canaries bend the same step: \(bent.sorted())")
    }

    @Test func withoutACanaryAFailedSyncIsNeverRetried() {
        var retried = false
        #expect(!ProtocolHooks().forgivesFailedSync(retry: { retried = true; return true }))
        #expect(!retried)
        #expect(ProtocolHooks(.retryFailedSync).forgivesFailedSync(retry: { retried = true; return true }))
        #expect(retried)
    }

    @Test func scenarioNamesStillSelectTheCanaries() {
        // Scenario files name canaries by raw value (`canary: retryFailedSync`).
        #expect(StoreCanary(rawValue: "retryFailedSync") == .retryFailedSync)
        #expect(StoreCanary(rawValue: "coldSynchronousOff") == .coldSynchronousOff)
        #expect(StoreOptions(syncMode: .group, canary: .coldSynchronousOff).hooks.coldSynchronous == .off)
    }
}
