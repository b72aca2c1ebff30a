import TidemarkIO

/// What a store directory holds, and how each segment's scan is to be read: the rules recovery
/// (`Recovery`) and the offline check (`Verification`) share, written once. Pure: it sorts names
/// and reads scans it is given; the callers decide which files to read and when.
struct StoreInventory {
    /// One log segment file, in LSN order.
    struct Segment {
        var name: String
        /// The first LSN, from the file name.
        var firstLSN: UInt64
        /// The next segment's first LSN; nil for the last segment, the only one that may end in
        /// a torn tail of never-acknowledged bytes.
        var nextFirstLSN: UInt64?
        var isLast: Bool { nextFirstLSN == nil }
    }

    /// What one segment's bytes say.
    enum SegmentFinding {
        /// The last segment, created but never finished (its header is synced before any frame
        /// is written to it): nothing in it was ever acknowledged; open removes it.
        case unfinished
        /// The header does not decode: damage (the whole file is unusable).
        case badHeader(FormatError)
        /// The header decoded. `headerMatchesName`: its first LSN is the one the file name
        /// says (otherwise the file is damaged or misplaced).
        case scanned(SegmentScan, verdict: SegmentScan.Verdict, headerMatchesName: Bool)
    }

    /// Leftovers of interrupted atomic replacements (`writeFileAtomically`); open removes them.
    let temporaryFiles: [String]
    let hasManifest: Bool
    /// `SYNCED` (`SyncedLSNRecord`) is present.
    let hasSyncedLSNRecord: Bool
    /// `POSSIBLE-LOSS` (`PossibleLossRecord`) is present.
    let hasPossibleLossRecord: Bool
    /// Every checkpoint file present, named or not by the manifest.
    let checkpointFiles: [String]
    let segments: [Segment]

    init(names: [String]) {
        temporaryFiles = names.filter { $0.hasSuffix(".tmp") }
        hasManifest = names.contains(StoreFiles.manifest)
        hasSyncedLSNRecord = names.contains(SyncedLSNRecord.fileName)
        hasPossibleLossRecord = names.contains(PossibleLossRecord.fileName)
        checkpointFiles = names.filter { StoreFiles.checkpointLSN($0) != nil }
        let segmentLSNs = names.compactMap(StoreFiles.segmentFirstLSN).sorted()
        segments = segmentLSNs.indices.map { index in
            Segment(
                name: StoreFiles.segmentName(firstLSN: segmentLSNs[index]), firstLSN: segmentLSNs[index],
                nextFirstLSN: index + 1 < segmentLSNs.count ? segmentLSNs[index + 1] : nil)
        }
    }

    /// Checkpoint files that are not in `kept` (names): orphans of an interrupted checkpoint, or
    /// ones the manifest dropped. Open removes them.
    func checkpointFiles(notIn kept: Set<String>) -> [String] {
        checkpointFiles.filter { !kept.contains($0) }
    }

    /// The segment a checkpoint at `checkpointLSN` left the log continuing in: the checkpoint
    /// starts it (header synced, directory synced) before the manifest names the checkpoint, and
    /// recovery never removes it (the writer restarts it in place), so while that manifest
    /// stands the file exists. Missing, it was lost, and with it every commit after the checkpoint.
    static func segmentStarted(byCheckpointAt checkpointLSN: UInt64) -> String {
        StoreFiles.segmentName(firstLSN: checkpointLSN + 1)
    }

    /// Reads a segment's scan (`SegmentScan.scan`: the file's size and the walk over it).
    static func finding(
        for segment: Segment, scanned: (bytes: Int, result: Result<SegmentScan, FormatError>), sectorAlignment: Int
    ) -> SegmentFinding {
        switch scanned.result {
        case .failure(let error):
            if segment.isLast, SegmentHeader.isUnfinished(fileSize: scanned.bytes, sectorAlignment: sectorAlignment) {
                return .unfinished
            }
            return .badHeader(error)
        case .success(let scan):
            return .scanned(
                scan, verdict: scan.verdict(nextFirstLSN: segment.nextFirstLSN),
                headerMatchesName: scan.header.firstLSN == segment.firstLSN)
        }
    }

    /// The message for a header whose first LSN is not the file name's.
    static func misnamedMessage(_ scan: SegmentScan, _ segment: Segment) -> String {
        "segment header says first LSN \(scan.header.firstLSN), the file name \(segment.firstLSN)"
    }
}

/// The highest LSN the store's own files prove was durable in the log, and the file that says
/// so: the manifest (a clean close's last LSN, or its newest checkpoint) or `SYNCED` (the last
/// log sync it recorded). A log that ends below it lost synced frames: a loss, never a torn
/// tail. Recovery and `verify` both judge the log's end by it.
struct DurableEnd {
    var lsn: UInt64
    var recordedBy: String

    init(manifest: Manifest, synced: SyncedLSNRecord?) {
        let (fromManifest, fromSynced) = (manifest.provenDurableLSN, synced?.lsn ?? 0)
        (lsn, recordedBy) = fromSynced > fromManifest ? (fromSynced, SyncedLSNRecord.fileName) : (fromManifest, StoreFiles.manifest)
    }

    /// Whether a log ending at `logEnd` lost frames this end proves synced.
    func isLost(logEnd: UInt64) -> Bool { logEnd < lsn }

    func lossMessage(logEnd: UInt64) -> String {
        "the log ends at LSN \(logEnd), but \(recordedBy) records LSN \(lsn) as durable: LSNs \(logEnd + 1)...\(lsn) were lost from a log cut short or removed after they were synced"
    }
}
