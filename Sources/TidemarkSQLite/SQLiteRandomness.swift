import CSQLite

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Deterministic use of SQLite's one process-wide PRNG (rollback-journal nonces, WAL salts).
///
/// `withSeed(seed) { ... }` seeds that PRNG (`SQLITE_TESTCTRL_PRNG_SEED`), runs the body, and
/// puts SQLite back on its default randomness, holding a process-wide recursive lock throughout so
/// no other `withSeed` caller draws from the PRNG meanwhile. Wrap every call that may write a
/// journal header or start a WAL (open, write transactions, close) with a seed drawn from the
/// run's `RandomSource`, and the bytes SQLite writes follow the seed. SQLite users outside
/// `withSeed` are not excluded: their draws are merely not deterministic.
public enum SQLiteRandomness {
    nonisolated(unsafe) private static let lock: UnsafeMutablePointer<pthread_mutex_t> = {
        let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        var attributes = pthread_mutexattr_t()
        pthread_mutexattr_init(&attributes)
        pthread_mutexattr_settype(&attributes, Int32(PTHREAD_MUTEX_RECURSIVE))
        pthread_mutex_init(mutex, &attributes)
        pthread_mutexattr_destroy(&attributes)
        return mutex
    }()
    nonisolated(unsafe) private static var depth = 0

    /// Runs `body` with SQLite's PRNG seeded from `seed` (0 is replaced by 1: 0 means "unseeded").
    /// Nested calls keep the outer seed.
    public static func withSeed<T>(_ seed: UInt32, _ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        depth += 1
        if depth == 1 { _ = tm_sqlite_seed_prng(Int32(bitPattern: seed == 0 ? 1 : seed)) }
        defer {
            depth -= 1
            if depth == 0 { _ = tm_sqlite_seed_prng(0) }
        }
        return try body()
    }
}
