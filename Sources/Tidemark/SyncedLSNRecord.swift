import TidemarkIO

/// `SYNCED`: the highest LSN a successful log sync made durable, kept often enough that a log
/// cut back below it after a dirty death (no clean close, no checkpoint since) is a reported
/// loss rather than a torn tail.
///
/// Two slots, superblock style, each at the start of its own 4096-byte block so a torn or
/// garbled write of one never touches the other: magic "TMSYNCD1" | slot u32 | sequence u64 |
/// LSN u64 | CRC32C u32 of the 28 bytes before (32 bytes). An update writes the slot that does
/// not hold the newest sequence, then fdatasyncs; the newest valid slot wins, so a torn update
/// falls back to the other slot, older and so smaller (conservative). A slot that does not validate
/// is rewritten by the next update (with the other's, when neither validates), so `verify`'s
/// warning about it lasts only until then. The slot number is under
/// the checksum, so a slot written to the other's place does not validate there.
///
/// Every LSN written was durable in the log when written, so any slot that survives claims no
/// more than the log held; only salvage lowers it (`reset`), after accepting the loss.
struct SyncedLSNRecord: Hashable {
    static let fileName = "SYNCED"
    static let magic: [UInt8] = Array("TMSYNCD1".utf8)
    static let slotSize = 32
    static let slotStride = 4096

    var slot: Int
    var sequence: UInt64
    var lsn: UInt64

    func encode() -> [UInt8] {
        var writer = ByteWriter()
        writer.raw(Self.magic)
        writer.u32(UInt32(slot))
        writer.u64(sequence)
        writer.u64(lsn)
        writer.u32(CRC32C.checksum(writer.bytes))
        return writer.bytes
    }

    /// What the file's bytes hold: the newest valid slot (nil: no claim), and the slots present
    /// that fail to decode (a torn update, or damage).
    static func decode(_ bytes: [UInt8]) -> (newest: SyncedLSNRecord?, damagedSlots: [Int]) {
        var valid: [SyncedLSNRecord] = []
        var damaged: [Int] = []
        for slot in 0..<2 {
            let start = slot * slotStride
            guard start < bytes.count else { continue }  // never written: absent, not damaged
            if let record = decodeSlot(bytes[start..<min(bytes.count, start + slotSize)], slot: slot) {
                valid.append(record)
            } else {
                damaged.append(slot)
            }
        }
        return (valid.max { $0.sequence < $1.sequence }, damaged)
    }

    private static func decodeSlot(_ bytes: ArraySlice<UInt8>, slot: Int) -> SyncedLSNRecord? {
        guard bytes.count == slotSize, bytes.prefix(8).elementsEqual(magic) else { return nil }
        var reader = ByteReader(bytes.dropFirst(8))
        guard let storedSlot = try? reader.u32(), let sequence = try? reader.u64(), let lsn = try? reader.u64(),
            let checksum = try? reader.u32(), checksum == CRC32C.checksum(bytes.prefix(slotSize - 4)),
            storedSlot == UInt32(slot)
        else { return nil }
        return SyncedLSNRecord(slot: slot, sequence: sequence, lsn: lsn)
    }

    /// Reads the record in `directory`: nil when the file is absent or no slot validates.
    static func read(directory: String, fileSystem: any FileSystem) throws -> (newest: SyncedLSNRecord?, damagedSlots: [Int]) {
        let path = FilePaths.join(directory, fileName)
        guard fileSystem.exists(path) else { return (nil, []) }
        return decode(try fileSystem.readFile(path))
    }
}

/// The log writer's side of `SYNCED`: after a log sync, at most once per
/// `StoreOptions.syncedLSNRecordIntervalNanoseconds` by the store's clock, the newly durable LSN goes into
/// the older slot.
struct SyncedLSNKeeper {
    private let path: String
    private let directory: String
    private let fileSystem: any FileSystem
    private let intervalNanoseconds: Int64
    private var handle: (any FileHandleProtocol)?
    /// The newest slot as last written (or as recovery found it).
    private(set) var newest: SyncedLSNRecord?
    private var lastWrite: Int64?
    /// Slots holding bytes that do not validate (a torn or misplaced update): the next write
    /// repairs them, so `verify` warns about them only until then.
    private var damagedSlots: Set<Int>

    init(
        directory: String, fileSystem: any FileSystem, intervalNanoseconds: Int64, recovered: SyncedLSNRecord?,
        damagedSlots: [Int] = []
    ) {
        (self.directory, self.fileSystem, self.intervalNanoseconds) = (directory, fileSystem, intervalNanoseconds)
        path = FilePaths.join(directory, SyncedLSNRecord.fileName)
        newest = recovered
        self.damagedSlots = Set(damagedSlots)
    }

    /// A log sync made everything up to `lsn` durable. Writes it when the interval has passed
    /// since the last write (the first sync after open writes at once). A failed write only
    /// leaves an older, smaller claim (or the other slot), never a wrong one, so it is not an
    /// error of the commit that triggered it.
    mutating func noteDurable(_ lsn: UInt64, now: Int64) {
        guard lsn > newest?.lsn ?? 0, lastWrite.map({ now - $0 >= intervalNanoseconds }) ?? true else { return }
        lastWrite = now
        try? write(lsn)
    }

    /// Open rewrote the replayed unproven frames through `lsn` into a synced segment: records
    /// that at once, whatever the interval, so that losing those frames later (no checkpoint
    /// covers them now) is a loss with a file to name, not a torn tail.
    mutating func recordRewritten(through lsn: UInt64) throws {
        guard lsn > newest?.lsn ?? 0 else { return }
        do { try write(lsn) } catch let error as FileSystemError {
            throw StoreError(.io, "cannot record the rewritten frames as synced", path: path, outcome: .ambiguous, cause: error)
        }
    }

    /// Salvage accepted a log that ends below the recorded LSN: records `lsn` (lower) as the
    /// newest, durably, so the next open does not report the accepted loss again.
    mutating func reset(to lsn: UInt64) throws {
        do { try write(lsn) } catch let error as FileSystemError {
            throw StoreError(.io, "cannot reset the synced-LSN record after salvage", path: path, outcome: .ambiguous, cause: error)
        }
    }

    private mutating func write(_ lsn: UInt64) throws {
        // Wrapping, not trapping, on a crafted slot at the largest sequence.
        let record = SyncedLSNRecord(slot: newest.map { 1 - $0.slot } ?? 0, sequence: (newest?.sequence ?? 0) &+ 1, lsn: lsn)
        if handle == nil {
            let created = !fileSystem.exists(path)
            let file = try fileSystem.open(path, options: [.read, .write, .create])
            handle = file
            if created { try fileSystem.syncDirectory(directory) }
        }
        // When no slot validates, both may be damaged: the other gets the same LSN under the
        // previous sequence (true, and older), so no damaged slot outlives this write.
        var records = [record]
        if damagedSlots.contains(1 - record.slot) {
            records.append(SyncedLSNRecord(slot: 1 - record.slot, sequence: record.sequence &- 1, lsn: lsn))
        }
        do {
            for record in records { try handle!.write(record.encode(), at: Int64(record.slot * SyncedLSNRecord.slotStride)) }
            try handle!.syncData()
        } catch {
            // Reopened for the next write: this handle may hold an error the next sync would miss.
            try? handle?.close()
            handle = nil
            throw error
        }
        newest = record
        damagedSlots = []
    }

    func close() { try? handle?.close() }
}
