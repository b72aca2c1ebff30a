/// The canary catalogue: deliberately broken variants of the durability protocol, for the
/// simulator to prove it catches them. Each is one small, local deviation at one protocol step
/// (see `ProtocolHooks`, the only place the store asks about them). Selected by a scenario's
/// `canary: <name>` (the raw value); package access, never selectable from the CLI.
package enum StoreCanary: String, Sendable, Hashable, CaseIterable, Codable {
    /// A new segment's directory entry is never synced. A power loss can drop the whole segment
    /// with the commits it acknowledged: breaks durability (2a/2b).
    case skipDirectorySyncOnNewSegment
    /// `immediate` mode acknowledges a commit without syncing it. A power loss loses acknowledged
    /// writes: breaks durability of acknowledged operations (2b).
    case acknowledgeBeforeSync
    /// Recovery skips frames that fail their checksum and keeps replaying. Bit rot in the middle
    /// of the log yields a state missing an acknowledged operation instead of an error: breaks
    /// prefix consistency (1) or no silent corruption (4).
    case replayPastBadChecksum
    /// A failed sync is retried and treated as a success instead of fail-stopping (fsyncgate:
    /// Linux marked the pages clean, so the retry writes nothing): breaks durability (2a) and
    /// fail-stop (5).
    case retryFailedSync
    /// Segments are deleted before the checkpoint covering them is durable. A power loss leaves
    /// the old checkpoint without the log it needs: breaks durability (2a/2b) or liveness (7).
    case removeSegmentsBeforeCheckpointDurable
    /// Tiers: migration drops records from the hot tier and checkpoints without them before
    /// the cold tier's SQLite transaction that receives them has committed. A crash in between
    /// loses them: breaks durability (2a/2b) and prefix consistency (1).
    case dropHotBeforeColdDurable
    /// Tiers: the cold tier runs with `PRAGMA synchronous=OFF`, so its commits are not durable
    /// when the checkpoint that relies on them is written. A power loss loses migrated records
    /// (recovery refuses to open): breaks liveness (7), durability (2a/2b) or prefix consistency (1).
    case coldSynchronousOff
    /// Recovery takes the durable end the store's files record (`SYNCED`, the manifest) for the
    /// end of the log and cuts every frame after it as a torn tail. A commit whose log sync
    /// completed just before the crash, before `SYNCED` recorded it, is lost without a word.
    /// Nothing acknowledged is lost, so only the rule that an interrupted commit whose frame was
    /// already durable committed (`Subject.inFlightCommitRecord`) sees it: breaks durability (2a).
    case cutLogAtRecordedDurableEnd
    /// Recovery refuses to open when the newest checkpoint is damaged instead of falling back to
    /// an older one the manifest keeps. Nothing is lost or served wrong, so only the rule that a
    /// refusal is wrong while an intact checkpoint and the log after it exist
    /// (`Subject.intactRecoverySource`) sees it: breaks liveness (7).
    case refuseDamagedNewestCheckpoint
    /// Group commit: the leader, relocking after its unlocked sync, credits every frame
    /// assigned by then (`durableLSN = lastAssignedLSN`) instead of the target it captured
    /// before the sync, so commits appended during the sync are acknowledged unsynced. Only
    /// concurrent commits can append meanwhile: breaks durability (2b) or, when an earlier
    /// acknowledged write survives it, prefix consistency (1).
    case creditFramesAppendedDuringSync
    /// Group commit: a follower woken by a leader's broadcast takes it that the sync covered
    /// its frame and returns without checking (`if` instead of `while`), though it appended
    /// after the leader captured its target. Only concurrent commits ever wait: breaks
    /// durability (2b) or prefix consistency (1).
    case followerTrustsWakeup
    /// Expiry is decided by the raw wall clock (`StoreClock` keeps no floor): a clock stepped
    /// back serves a record that had expired, again until the clock catches up. Only a workload
    /// that steps the clock back sees it: breaks read-your-writes of the model (3), whose time
    /// never runs backwards.
    case expiryFollowsWallClock
}

/// The protocol steps a canary can bend, each named for the step. `ProtocolHooks()` (no canary)
/// keeps every step exactly as the protocol says; the store, recovery and the cold tier ask
/// these and never look at the canary themselves.
struct ProtocolHooks: Sendable, Hashable {
    let canary: StoreCanary?

    init(_ canary: StoreCanary? = nil) { self.canary = canary }

    /// Segment creation: the directory is synced so the new file's name is durable before any
    /// frame in it is acknowledged. (`skipDirectorySyncOnNewSegment` says no.)
    var syncsDirectoryForNewSegment: Bool { canary != .skipDirectorySyncOnNewSegment }

    /// `immediate` commit: the log is synced before the commit returns.
    /// (`acknowledgeBeforeSync` says no.)
    var syncsBeforeAcknowledging: Bool { canary != .acknowledgeBeforeSync }

    /// Recovery: damage outside a torn tail, or a gap in the LSNs, stops the open with an error
    /// (or is reported by salvage). (`replayPastBadChecksum` replays past it and reports nothing.)
    var replaysPastDamage: Bool { canary == .replayPastBadChecksum }

    /// Log sync failed: the protocol fail-stops (returns false without calling `retry`).
    /// (`retryFailedSync` syncs again and returns true when that "works".)
    func forgivesFailedSync(retry: () -> Bool) -> Bool {
        canary == .retryFailedSync && retry()
    }

    /// Checkpoint: covered segments are removed only once the manifest naming the new checkpoint
    /// is durable. (`removeSegmentsBeforeCheckpointDurable` removes them before writing it.)
    var removesSegmentsBeforeCheckpoint: Bool { canary == .removeSegmentsBeforeCheckpointDurable }

    /// Migration: records leave the hot tier only after the cold commit receiving them.
    /// (`dropHotBeforeColdDurable` drops them and checkpoints first.)
    var dropsHotBeforeColdCommit: Bool { canary == .dropHotBeforeColdDurable }

    /// Group commit: after its sync the leader credits the LSN it captured before unlocking.
    /// (`creditFramesAppendedDuringSync` credits `lastAssigned`, frames appended meanwhile included.)
    func creditedLSN(target: UInt64, lastAssigned: UInt64) -> UInt64 {
        canary == .creditFramesAppendedDuringSync ? lastAssigned : target
    }

    /// Group commit: a woken follower checks again whether a sync covers its frame.
    /// (`followerTrustsWakeup` returns at once, unless the store stopped.)
    var rechecksAfterWakeup: Bool { canary != .followerTrustsWakeup }

    /// The cold tier's `PRAGMA synchronous`: FULL, so a cold commit that returned is durable.
    /// (`coldSynchronousOff` sets OFF.)
    var coldSynchronous: ColdTier.Synchronous { canary == .coldSynchronousOff ? .off : .full }

    /// Recovery: the log ends where its last valid frame ends; the recorded durable end is only a
    /// floor. (`cutLogAtRecordedDurableEnd` cuts the frames after it as a torn tail.)
    var cutsLogAtRecordedDurableEnd: Bool { canary == .cutLogAtRecordedDurableEnd }

    /// Recovery: a damaged checkpoint is skipped for the next older one the manifest keeps.
    /// (`refuseDamagedNewestCheckpoint` refuses instead.)
    var fallsBackToOlderCheckpoint: Bool { canary != .refuseDamagedNewestCheckpoint }

    /// Expiry: the store's time is the latest of the wall clock and every time it used or
    /// recovered (`StoreClock`). (`expiryFollowsWallClock` takes the wall clock as it is.)
    var expiryFollowsWallClock: Bool { canary == .expiryFollowsWallClock }
}

extension StoreOptions {
    /// The protocol as these options run it: every step as designed unless a canary is set.
    var hooks: ProtocolHooks { ProtocolHooks(canary) }
}
