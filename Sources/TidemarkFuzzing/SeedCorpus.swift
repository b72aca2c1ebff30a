import Foundation
import Tidemark
import TidemarkIO
import TidemarkTrace

/// Writes the seed inputs of every target: segment, checkpoint and manifest files of a real store
/// written through `PosixFileSystem` (with sector padding, so padding frames are in the seeds),
/// cold rows and commit payloads of the same records, and the shipped scenarios.
/// Failure-file seeds come from a campaign (`make fuzz-seeds`), not from here.
public enum SeedCorpus {
    public static func write(to root: String, scenarios: String = "Scenarios") throws {
        let files = FileManager.default
        for target in FuzzTarget.allCases {
            try files.createDirectory(atPath: root + "/" + target.rawValue, withIntermediateDirectories: true)
        }
        let records = sampleRecords()
        let store = NSTemporaryDirectory() + "/tidemark-seed-corpus-\(UUID().uuidString)"
        defer { try? files.removeItem(atPath: store) }
        try writeStore(at: store, records: records)
        for name in try files.contentsOfDirectory(atPath: store).sorted() {
            let target: FuzzTarget? =
                name.hasPrefix("wal-") ? .logSegment : name.hasPrefix("checkpoint-") ? .checkpoint : name == "MANIFEST" ? .manifest
                : name == "SYNCED" ? .syncedRecord : nil
            guard let target else { continue }
            try files.copyItem(atPath: store + "/" + name, toPath: "\(root)/\(target.rawValue)/\(name)")
        }
        func save(_ target: FuzzTarget, _ name: String, _ bytes: [UInt8]) throws {
            try Data(bytes).write(to: URL(fileURLWithPath: "\(root)/\(target.rawValue)/\(name)"))
        }
        for (index, record) in records.enumerated() {
            try save(.coldRow, "record-\(index)", FuzzTarget.coldRowInput(record))
        }
        try save(.logPayload, "puts", StoreFileDecoding.encodeCommitPayload(puts: records, deletes: []))
        try save(.logPayload, "put-delete", StoreFileDecoding.encodeCommitPayload(puts: [records[1]], deletes: ["r0", "gone"]))
        try save(.trace, "write-rename-fsync", [UInt8](try sampleTrace().encoded()))
        for name in try files.contentsOfDirectory(atPath: scenarios).sorted() where name.hasSuffix(".yaml") {
            try files.copyItem(atPath: scenarios + "/" + name, toPath: "\(root)/\(FuzzTarget.scenario.rawValue)/\(name)")
        }
    }

    /// Records that use every field and every JSON value kind.
    static func sampleRecords() -> [Record] {
        [
            Record(id: "r0", content: "the tide is high", embedding: [0.1, 0.9, 0], metadata: ["lang": .string("en")]),
            Record(id: "r1", content: "", embedding: [], metadata: [:]),
            Record(id: "r2", content: "ünïcödé ✓", embedding: [-1, 2.5, 1e-30], metadata: [
                "n": .number(3), "ok": .bool(true), "none": .null, "tags": .array([.string("a"), .number(-0.5)]),
                "nested": .object(["k": .array([])]),
            ], expiresAt: 1_900_000_000_000_000_000),
        ]
    }

    private static func writeStore(at directory: String, records: [Record]) throws {
        let options = StoreOptions(syncMode: .immediate, segmentSizeLimit: 1024, sectorAlignment: 512)
        let store = try Store.open(
            at: directory, fileSystem: PosixFileSystem(), clock: SystemClock(), random: SystemRandom(), options: options)
        for record in records { try store.put(record) }
        try store.batch { batch in
            try batch.put(Record(id: "b1", content: "batch", embedding: [1, 1, 1]))
            try batch.delete("r1")
        }
        try store.checkpoint()
        try store.transaction { transaction in
            try transaction.put(Record(id: "t1", content: "in a transaction", embedding: [0, 0, 1]))
            try transaction.delete("b1")
        }
        _ = try store.delete("r0")
        try store.close()
    }

    /// A trace of the write-to-temp, fsync, rename, directory-fsync pattern with output lines: the
    /// shape `tidemark trace record` writes (format version 1).
    static func sampleTrace() -> TraceFile {
        TraceFile(
            header: TraceHeader(directory: "/tmp/d", command: ["sh", "-c", "save"], strace: "strace -- version 6.1", exitStatus: 0, wallSeconds: 0.1),
            operations: [
                TraceOperation(.snapshotDirectory, path: "sub"),
                TraceOperation(.snapshotFile, path: "data", data: Data("old".utf8)),
                TraceOperation(.open, pid: 1, path: "data.tmp", handle: 1, flags: ["write", "create", "truncate"]),
                TraceOperation(.write, pid: 1, path: "data.tmp", handle: 1, offset: 0, data: Data("new contents".utf8)),
                TraceOperation(.fsync, pid: 1, path: "data.tmp", handle: 1),
                TraceOperation(.close, pid: 1, path: "data.tmp", handle: 1),
                TraceOperation(.rename, pid: 1, path: "data.tmp", destination: "data"),
                TraceOperation(.output, pid: 1, text: "saved"),
            ])
    }
}
