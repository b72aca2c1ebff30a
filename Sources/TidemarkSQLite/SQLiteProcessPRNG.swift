import CSQLite
import Synchronization

/// SQLite's own pseudo-random number generator: one per process, outside any VFS's
/// `xRandomness` once seeded. It picks the rollback-journal nonce (`cksumInit`) and the WAL
/// salts, bytes that land in files, so a simulation that must replay bit for bit has to control
/// it.
///
/// `withSeed(_:_:)` holds a process-wide lock and reseeds the PRNG with
/// `sqlite3_test_control(SQLITE_TESTCTRL_PRNG_SEED, seed, NULL)`. In SQLite 3.40 that sets
/// `sqlite3Config.iPrngSeed` and resets the generator; its next draw keys ChaCha20 from the seed
/// (`sqlite3OsRandomness` copies `iPrngSeed` instead of asking the default VFS). On the way out
/// the seed goes back to 0, which resets the PRNG to its normal seeding from the default VFS.
///
/// Every SQLite call whose randomness must be reproducible runs inside `withSeed`, with a seed of
/// its own (two consecutive transactions must not get the same journal nonce). Callers inside the
/// lock see only their own draws; SQLite users in the same process that do not take the lock can
/// still draw between a reseed and its use, so reproducibility holds for processes (like
/// `tidemark run`) whose SQLite work all goes through here.
public enum SQLiteProcessPRNG {
    private static let lock = Mutex(())

    /// Runs `body` holding the process-wide PRNG lock, with SQLite's PRNG reseeded from `seed`
    /// (folded to a non-zero 32-bit value). Not reentrant: `body` must not call `withSeed`.
    public static func withSeed<Result: Sendable, Failure: Error>(
        _ seed: UInt64, _ body: () throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try lock.withLock { _ throws(Failure) -> Result in
            let folded = Int32(truncatingIfNeeded: seed ^ (seed >> 32))
            _ = tm_sqlite_seed_prng(folded == 0 ? 1 : folded)
            defer { _ = tm_sqlite_seed_prng(0) }
            return try body()
        }
    }

    /// `count` bytes from SQLite's PRNG (`sqlite3_randomness`), for tests of the seeding.
    public static func bytes(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { sqlite3_randomness(Int32($0.count), $0.baseAddress) }
        return bytes
    }
}
