#ifndef TIDEMARK_CSQLITE_SHIM_H
#define TIDEMARK_CSQLITE_SHIM_H

#include <sqlite3.h>

/// The per-file object SQLite allocates (szOsFile bytes) for every file our VFS opens.
/// SQLite only knows the `base` (whose pMethods it calls); `owner` is a retained pointer to the
/// Swift object that holds the `FileHandleProtocol`, released in xClose.
typedef struct TidemarkSQLiteFile {
    sqlite3_file base;
    void *owner;
} TidemarkSQLiteFile;

// Extended result codes are macros built with `|` and `<<`, which Swift does not import.
// Re-exported as constants, one per name.
static const int TM_SQLITE_IOERR_READ = SQLITE_IOERR_READ;
static const int TM_SQLITE_IOERR_SHORT_READ = SQLITE_IOERR_SHORT_READ;
static const int TM_SQLITE_IOERR_WRITE = SQLITE_IOERR_WRITE;
static const int TM_SQLITE_IOERR_FSYNC = SQLITE_IOERR_FSYNC;
static const int TM_SQLITE_IOERR_DIR_FSYNC = SQLITE_IOERR_DIR_FSYNC;
static const int TM_SQLITE_IOERR_TRUNCATE = SQLITE_IOERR_TRUNCATE;
static const int TM_SQLITE_IOERR_FSTAT = SQLITE_IOERR_FSTAT;
static const int TM_SQLITE_IOERR_UNLOCK = SQLITE_IOERR_UNLOCK;
static const int TM_SQLITE_IOERR_RDLOCK = SQLITE_IOERR_RDLOCK;
static const int TM_SQLITE_IOERR_DELETE = SQLITE_IOERR_DELETE;
static const int TM_SQLITE_IOERR_ACCESS = SQLITE_IOERR_ACCESS;
static const int TM_SQLITE_IOERR_LOCK = SQLITE_IOERR_LOCK;
static const int TM_SQLITE_IOERR_CLOSE = SQLITE_IOERR_CLOSE;
static const int TM_SQLITE_IOERR_DELETE_NOENT = SQLITE_IOERR_DELETE_NOENT;
static const int TM_SQLITE_IOERR_DATA = SQLITE_IOERR_DATA;
static const int TM_SQLITE_CANTOPEN_ISDIR = SQLITE_CANTOPEN_ISDIR;
static const int TM_SQLITE_CANTOPEN_FULLPATH = SQLITE_CANTOPEN_FULLPATH;
static const int TM_SQLITE_FULL = SQLITE_FULL;
static const int TM_SQLITE_IOERR = SQLITE_IOERR;
static const int TM_SQLITE_CANTOPEN = SQLITE_CANTOPEN;
static const int TM_SQLITE_NOTFOUND = SQLITE_NOTFOUND;

/// SQLITE_TRANSIENT: SQLite copies the bound bytes before the bind call returns.
static inline sqlite3_destructor_type tm_sqlite_transient(void) { return SQLITE_TRANSIENT; }
/// SQLITE_STATIC: the bound bytes outlive the statement; SQLite does not copy them.
static inline sqlite3_destructor_type tm_sqlite_static(void) { return SQLITE_STATIC; }

/// `sqlite3_test_control(SQLITE_TESTCTRL_PRNG_SEED, seed, NULL)` (the call is variadic, which
/// Swift cannot import): reseeds SQLite's process-wide PRNG from `seed` (0 restores seeding from
/// the default VFS's xRandomness) and resets it, so the next `sqlite3_randomness` starts over.
static inline int tm_sqlite_seed_prng(int seed) {
    return sqlite3_test_control(SQLITE_TESTCTRL_PRNG_SEED, seed, (sqlite3 *)0);
}

#endif
