import Foundation
import TidemarkIO
@testable import TidemarkSimulation

/// A deliberately tiny subject for testing the checker: the whole state is one file (a CRC32C of
/// the JSON, then the JSON), replaced atomically on every mutation. Each `Bug` breaks exactly one invariant, so a test can
/// show the verifier catches it, and the bug-free toy shows the checker raises no false alarms.
final class ToySubject: Subject {
    struct Bugs: OptionSet, Sendable {
        let rawValue: Int
        /// Overwrite the state file in place, with no sync (breaks durability).
        static let ackWithoutSync = Bugs(rawValue: 1 << 0)
        /// After an I/O error, keep acknowledging (breaks fail-stop).
        static let keepGoingAfterFailure = Bugs(rawValue: 1 << 1)
        /// `get` answers from the state before the last mutation (breaks reads-match-model).
        static let staleReads = Bugs(rawValue: 1 << 2)
        /// Keep a mutation in memory after ENOSPC rejected it (breaks rejected-means-absent).
        static let applyRejected = Bugs(rawValue: 1 << 3)
        /// Recovery deletes the state file, then rewrites it (breaks idempotent recovery).
        static let destructiveRecovery = Bugs(rawValue: 1 << 4)
        /// Leave a temp file behind (breaks hygiene).
        static let leaveTempFile = Bugs(rawValue: 1 << 5)
        /// Persist a batch one mutation at a time (breaks prefix consistency / atomicity).
        static let nonAtomicBatches = Bugs(rawValue: 1 << 6)
        /// Acknowledge without durability, and make `sync` a no-op (breaks sync durability).
        static let fakeSync = Bugs(rawValue: 1 << 7)
        /// Trust whatever decodes, ignoring the checksum (breaks no-silent-corruption).
        static let ignoreChecksum = Bugs(rawValue: 1 << 8)
        /// On a checksum mismatch, open empty and report a possible loss: far more than the last
        /// frame (breaks the bound on the possible-loss excuse).
        static let salvageEverything = Bugs(rawValue: 1 << 9)
        /// `search` returns the record as it was before the last mutation (breaks the search
        /// content check).
        static let staleSearchRecords = Bugs(rawValue: 1 << 10)
        /// `search` ignores the metadata filter (breaks the search filter check).
        static let ignoreSearchFilter = Bugs(rawValue: 1 << 11)
        /// `search` reports scores off by 0.01 (breaks the search score check).
        static let skewedSearchScores = Bugs(rawValue: 1 << 12)
        /// TTL puts are stored without their expiry (breaks reads of expired records).
        static let ignoreTTL = Bugs(rawValue: 1 << 13)
        /// Recovery removes the state file and writes it back without a sync: the next power
        /// loss takes everything (caught only by the crash after the last recovery).
        static let unsyncedRecoveryRewrite = Bugs(rawValue: 1 << 14)
        /// A reopen refuses with a corruption error whenever corruption is merely configured
        /// (breaks: a refusal needs damage that really fired).
        static let refuseSpuriously = Bugs(rawValue: 1 << 15)
        /// Persist by overwriting the state file in place with one write (a length, then the
        /// checksummed state), then syncing: trusts a write to be all or nothing when the process
        /// is killed (breaks when a SIGKILL lands inside the write: new pages over old ones).
        static let overwriteInPlace = Bugs(rawValue: 1 << 16)
        /// Retry a failed fsync of the new state once and trust the retry (fsyncgate): the pages
        /// the failure marked clean are only in the page cache, so the state reads right until
        /// the page cache forgets them (breaks durability without any power loss).
        static let retryFailedSync = Bugs(rawValue: 1 << 17)
        /// Write the new state through one descriptor, close it, and fsync through a fresh one
        /// (as PostgreSQL's checkpointer did): a background writeback error that struck before
        /// the fresh descriptor was opened is never reported to it (breaks durability).
        static let syncThroughFreshDescriptor = Bugs(rawValue: 1 << 18)
        /// Take ENOSPC from fsync for a transient full disk and retry the fsync, trusting the
        /// retry: delayed allocation dropped the pages already (breaks durability).
        static let retrySyncAfterNoSpace = Bugs(rawValue: 1 << 19)
        /// After a failed fsync, rewrite the state and fsync again (right on Linux), but ignore
        /// an error from that second fsync, believing an error is reported once per file
        /// (breaks durability once the next fsync may fail again: errseq).
        static let trustSyncAfterRewrite = Bugs(rawValue: 1 << 20)
        /// Take EROFS for a permissions quirk: keep the new state in memory and acknowledge
        /// (breaks durability once the file system remounts read-only after an error).
        static let acknowledgeOnReadOnly = Bugs(rawValue: 1 << 21)
        /// Replace the state by deleting the old file and writing the new one under its name
        /// (directory synced once, at the end), ignoring ENOSPC when the new state is no larger
        /// than the old: "its space was just freed". True only where an unlink frees space at
        /// once (breaks when space is held until the unlink is durable).
        static let deleteThenRewrite = Bugs(rawValue: 1 << 22)
    }

    let fileSystem: any FileSystem
    let clock: any Clock
    let bugs: Bugs
    private var opens = 0
    private var state: [String: RecordValue]?
    private var previous: [String: RecordValue] = [:]
    private var failed = false
    private let directory = "/toy"
    private var statePath: String { directory + "/state" }

    init(fileSystem: any FileSystem, clock: any Clock = ManualClock(), bugs: Bugs = []) {
        self.fileSystem = fileSystem
        self.clock = clock
        self.bugs = bugs
    }

    var acknowledgementsAreDurable: Bool { !bugs.contains(.fakeSync) }

    func open() throws(SubjectError) -> RecoveryInfo {
        do {
            if !fileSystem.exists(directory) {
                try fileSystem.createDirectory(directory)
                try fileSystem.syncDirectory("/")
            }
            opens += 1
            if bugs.contains(.refuseSpuriously) && opens > 1 { throw SubjectError(.corruption, "refusing to open") }
            var loaded: [String: RecordValue] = [:]
            var possibleLoss = false
            if fileSystem.exists(statePath) {
                do {
                    loaded = try decode(fileSystem.readFile(statePath))
                } catch let error as SubjectError where error.kind == .corruption && bugs.contains(.salvageEverything) {
                    possibleLoss = true
                }
                if bugs.contains(.destructiveRecovery) || bugs.contains(.unsyncedRecoveryRewrite) {
                    try fileSystem.remove(statePath)
                    try fileSystem.syncDirectory(directory)
                }
                if bugs.contains(.unsyncedRecoveryRewrite) {
                    try write(loaded, synced: false)
                } else {
                    // What was read may sit only in the page cache (a sync failed before a
                    // reopen): make the recovered state durable before serving it.
                    try persist(loaded)
                }
            }
            state = loaded
            previous = loaded
            failed = false
            if bugs.contains(.leaveTempFile) {
                let junk = try fileSystem.open(directory + "/junk.tmp", options: [.write, .create])
                try junk.close()
            }
            return RecoveryInfo(paths: ["clean open"], reportedPossibleLoss: possibleLoss)
        } catch let error as SubjectError {
            throw error
        } catch {
            throw SubjectError(error is FileSystemError && "\(error)".contains("simulated crash") ? .crashed : .io, "\(error)")
        }
    }

    func perform(_ operation: WorkloadOperation) -> Response {
        guard let current = state else { return .failStopped("not open") }
        let now = clock.wallNanoseconds()
        if failed && !bugs.contains(.keepGoingAfterFailure) { return .failStopped("an earlier I/O error") }
        switch operation {
        case .put, .putWithTTL, .delete, .batch, .transaction:
            var next = current
            var mutations = operation.mutations(at: now)
            if bugs.contains(.ignoreTTL), case .putWithTTL(let record, _) = operation { mutations = [.put(record: record)] }
            do {
                if bugs.contains(.nonAtomicBatches) {
                    for mutation in mutations {
                        Model.apply([mutation], to: &next)
                        try persist(next)
                    }
                } else {
                    Model.apply(mutations, to: &next)
                    try persist(next)
                }
            } catch let error as FileSystemError where error.code == .noSpace {
                if bugs.contains(.applyRejected) { state = next }
                return .rejected("\(error)")
            } catch let error as FileSystemError where error.code == .permissionDenied && bugs.contains(.acknowledgeOnReadOnly) {
                // The bug: carries on in memory only.
            } catch {
                failed = true
                return .ambiguous("\(error)")
            }
            previous = current
            state = next
            return .acknowledged(durable: !bugs.contains(.fakeSync))
        case .get(let id):
            return .value((bugs.contains(.staleReads) ? previous[id] : current[id]).flatMap { $0.isLive(at: now) ? $0 : nil })
        case .search(let query, let k, let metric, let filter):
            let admitted = current.values.filter { record in
                record.isLive(at: now)
                    && (bugs.contains(.ignoreSearchFilter) || (filter ?? [:]).allSatisfy { record.metadata[$0.key] == $0.value })
            }
            let ranked = admitted.sorted {
                (Model.similarity(query, $0.embedding, metric: metric), $1.id) > (Model.similarity(query, $1.embedding, metric: metric), $0.id)
            }
            return .searchResults(ranked.prefix(k).map { record in
                let returned = bugs.contains(.staleSearchRecords) ? previous[record.id] ?? record : record
                let skew = bugs.contains(.skewedSearchScores) ? 0.01 : 0
                return SearchHit(record: returned, score: Model.similarity(query, record.embedding, metric: metric) + skew)
            })
        case .sync, .checkpoint, .maintenance, .advanceClock, .reopen:
            return .done
        case .concurrent:
            return .rejected("concurrent steps are run by the simulation, one member per thread")
        }
    }

    /// An empty file is an empty state (a crash between truncate and write leaves one).
    private func decode(_ file: [UInt8]) throws(SubjectError) -> [String: RecordValue] {
        let bytes = try unframed(file)
        if bytes.isEmpty { return [:] }
        guard bytes.count >= 4 else { throw SubjectError(.corruption, "state file of \(bytes.count) bytes has no checksum") }
        let json = bytes[4...]
        let stored = bytes[..<4].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        if !bugs.contains(.ignoreChecksum) && stored != CRC32C.checksum(json) {
            throw SubjectError(.corruption, "state file checksum mismatch")
        }
        guard let decoded = try? JSONDecoder().decode([String: RecordValue].self, from: Data(json)) else {
            throw SubjectError(.corruption, "state file does not decode")
        }
        return decoded
    }

    /// The state bytes of the file: all of it, or with `overwriteInPlace` the length-prefixed
    /// record at its start (stale bytes of a longer older state may follow).
    private func unframed(_ file: [UInt8]) throws(SubjectError) -> [UInt8] {
        guard bugs.contains(.overwriteInPlace), !file.isEmpty else { return file }
        guard file.count >= 4 else { throw SubjectError(.corruption, "state file of \(file.count) bytes has no length") }
        let length = Int(file[..<4].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        guard length <= file.count - 4 else { throw SubjectError(.corruption, "state of \(length) bytes overruns the file") }
        return Array(file[4..<(4 + length)])
    }

    private func persist(_ next: [String: RecordValue]) throws {
        try write(next, synced: !(bugs.contains(.ackWithoutSync) || bugs.contains(.fakeSync)))
    }

    /// Synced: replaced atomically. Otherwise overwritten in place with no sync.
    private func write(_ next: [String: RecordValue], synced: Bool) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = Array(try encoder.encode(next))
        let checksum = CRC32C.checksum(json)
        let bytes = (0..<4).map { UInt8(truncatingIfNeeded: checksum >> (8 * $0)) } + json
        if bugs.contains(.overwriteInPlace) && synced {
            let length = (0..<4).map { UInt8(truncatingIfNeeded: UInt32(bytes.count) >> (8 * $0)) }
            let file = try fileSystem.open(statePath, options: [.write, .create])
            try file.write(length + bytes, at: 0)
            try file.sync()
            try file.close()
            // The entry too: a crash may have left the file created but its entry unsynced.
            try fileSystem.syncDirectory(directory)
        } else if bugs.contains(.syncThroughFreshDescriptor) && synced {
            let temp = statePath + ".tmp"
            let writer = try fileSystem.open(temp, options: [.write, .create, .truncate])
            try writer.write(bytes, at: 0)
            try writer.close()
            let syncer = try fileSystem.open(temp, options: [.read])
            try syncer.sync()
            try syncer.close()
            try fileSystem.rename(temp, to: statePath)
            try fileSystem.syncDirectory(directory)
        } else if bugs.contains(.deleteThenRewrite) && synced {
            try deleteThenRewrite(bytes)
        } else if bugs.contains(.trustSyncAfterRewrite) && synced {
            let temp = statePath + ".tmp"
            let file = try fileSystem.open(temp, options: [.write, .create, .truncate])
            try file.write(bytes, at: 0)
            do { try file.sync() } catch let error as FileSystemError where error.code == .io {
                // The failure dropped every pending change, a truncate of a left-over temp too.
                try file.truncate(to: 0)
                try file.write(bytes, at: 0)
                try? file.sync()
            }
            try file.close()
            try fileSystem.rename(temp, to: statePath)
            try fileSystem.syncDirectory(directory)
        } else if (bugs.contains(.retryFailedSync) || bugs.contains(.retrySyncAfterNoSpace)) && synced {
            let temp = statePath + ".tmp"
            let file = try fileSystem.open(temp, options: [.write, .create, .truncate])
            try file.write(bytes, at: 0)
            do { try file.sync() } catch let error as FileSystemError where bugs.contains(.retryFailedSync) || error.code == .noSpace {
                try file.sync()
            }
            try file.close()
            try fileSystem.rename(temp, to: statePath)
            try fileSystem.syncDirectory(directory)
        } else if !synced {
            let file = try fileSystem.open(statePath, options: [.write, .create, .truncate])
            try file.write(bytes, at: 0)
            try file.close()
        } else {
            try fileSystem.writeFileAtomically(statePath, bytes)
        }
    }

    /// `deleteThenRewrite`: a larger state that does not fit puts the old one back (it fits in
    /// the space it freed) and is rejected; a smaller one is trusted to fit.
    private func deleteThenRewrite(_ bytes: [UInt8]) throws {
        let old = fileSystem.exists(statePath) ? try fileSystem.readFile(statePath) : []
        if fileSystem.exists(statePath) { try fileSystem.remove(statePath) }
        let file = try fileSystem.open(statePath, options: [.write, .create, .truncate])
        defer { try? file.close() }
        do {
            try file.write(bytes, at: 0)
        } catch let error as FileSystemError where error.code == .noSpace && bytes.count > old.count {
            try file.truncate(to: 0)
            try file.write(old, at: 0)
            try file.sync()
            try fileSystem.syncDirectory(directory)
            throw error
        } catch let error as FileSystemError where error.code == .noSpace {
            // The bug: the old file's space was "just freed", so this cannot really be full.
        }
        try file.sync()
        try fileSystem.syncDirectory(directory)
    }

    func readAll() throws(SubjectError) -> [String: RecordValue] {
        guard let state else { throw SubjectError(.other, "not open") }
        let now = clock.wallNanoseconds()
        return state.filter { $0.value.isLive(at: now) }
    }

    func abandon() { state = nil }

    func close() { state = nil }

    func hygieneProblems() -> [String] {
        let names = (try? fileSystem.listDirectory(directory)) ?? []
        return names.filter { $0.hasSuffix(".tmp") }.map { "temp file \($0) left behind" }
    }
}
