import Foundation
import Testing
import Tidemark
import TidemarkIO

/// Issue 13 §5: for every kind of file in a store directory, five kinds of damage; then the store
/// is opened (`stats`), checked (`verify`) and salvaged (`recover --salvage`) through the CLI.
/// Each command ends with a documented exit code (0, or 1 naming the damaged file), never a
/// signal or a hang; salvage always succeeds, and every record not held by the damaged file is
/// still there afterwards (a record of the damaged file that is gone is listed as lost).
@Suite struct CorruptFileMatrixTests {
    enum Damage: String, CaseIterable {
        case flipBit, truncate, zeroFill, appendGarbage, delete
    }

    /// Which records each file kind holds alone. With tiers the checkpoint file holds no records
    /// (the cold tier is the checkpoint); the cold tier's WAL holds pages of its database, so a
    /// database SQLite refuses takes the WAL's records with it.
    static let holders: [String: Set<String>] = [
        "segment": Set((1...5).map { "l\($0)" }),
        "checkpoint": [],
        "cold.sqlite": Set((1...5).flatMap { ["c\($0)", "k\($0)"] }),
        "cold.sqlite-wal": Set((1...5).map { "k\($0)" }),
        "MANIFEST": [],
        "LOCK": [],
        "SYNCED": [],
    ]

    /// c1-5 flushed to the cold tier's database (a clean close folds its WAL in), k1-5 flushed by
    /// the (one kept) checkpoint into the cold tier's WAL, l1-5 only in the last segment; the
    /// writer died without closing, so the cold tier's WAL is there.
    static func buildStore(at path: String) throws {
        var options = StoreOptions(syncMode: .group)
        options.checkpointsKept = 1
        options.tiers = TierOptions(hotToColdAge: 0)
        func open() throws -> Store {
            try Store.open(at: path, fileSystem: PosixFileSystem(), clock: ManualClock(), random: SeededRandom(seed: 7), options: options)
        }
        func put(_ store: Store, _ id: String) throws {
            try store.put(Record(id: id, content: "content of \(id)", embedding: [1, Float(id.count)]))
        }
        let first = try open()
        for index in 1...5 { try put(first, "c\(index)") }
        #expect(try first.runMaintenance().flushed == 5)
        try first.close()
        var store: Store? = try open()
        for index in 1...5 { try put(store!, "k\(index)") }
        try store!.checkpoint()
        for index in 1...5 { try put(store!, "l\(index)") }
        store = nil  // the process died: no close marker, and the cold tier's WAL stays
    }

    func file(ofKind kind: String, in store: String) throws -> String? {
        let names = try FileManager.default.contentsOfDirectory(atPath: store).sorted()
        switch kind {
        case "segment": return names.last { $0.hasPrefix("wal-") }
        case "checkpoint": return names.last { $0.hasPrefix("checkpoint-") }
        default: return names.contains(kind) ? kind : nil
        }
    }

    func damage(_ path: String, _ damage: Damage) throws {
        var bytes = [UInt8](FileManager.default.contents(atPath: path) ?? Data())
        switch damage {
        case .flipBit: if !bytes.isEmpty { bytes[bytes.count / 2] ^= 0x10 }
        case .truncate: bytes.removeLast(bytes.count / 2)
        case .zeroFill: bytes = [UInt8](repeating: 0, count: bytes.count)
        case .appendGarbage: bytes += (0..<61).map { UInt8(truncatingIfNeeded: $0 &* 73 &+ 41) }
        case .delete:
            try FileManager.default.removeItem(atPath: path)
            return
        }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    @Test func everyFileKindEveryDamage() throws {
        let base = TemporaryDirectory()
        let pristine = base.file("pristine")
        try Self.buildStore(at: pristine)
        let all = Set((1...5).flatMap { ["c\($0)", "k\($0)", "l\($0)"] })
        for kind in Self.holders.keys.sorted() {
            for damage in Damage.allCases {
                let directory = TemporaryDirectory()
                let store = directory.file("S")
                try FileManager.default.copyItem(atPath: pristine, toPath: store)
                guard let name = try file(ofKind: kind, in: store) else {
                    Issue.record("the store has no \(kind) to damage")
                    continue
                }
                try self.damage(store + "/" + name, damage)
                let label = "\(kind) \(damage)"

                for arguments in [["stats"], ["verify"]] {
                    let result = try runProcess(tidemarkExecutable, ["db", store] + arguments, deadline: 60)
                    #expect(result.reason == .exit, "\(label) \(arguments): killed by a signal or hung")
                    #expect([0, 1].contains(result.status), "\(label) \(arguments): exit \(result.status)\n\(result.stderr)")
                    let text = result.stdout + result.stderr
                    if result.status == 1 {
                        #expect(text.contains(name) || damage == .delete, "\(label) \(arguments) does not name \(name):\n\(text)")
                        #expect(text.contains(" @ ") || text.contains(", offset "), "\(label) \(arguments) names no offset:\n\(text)")
                    }
                }
                let salvaged = try runProcess(tidemarkExecutable, ["db", store, "recover", "--salvage"], deadline: 60)
                #expect(salvaged.reason == .exit && salvaged.status == 0, "\(label) salvage: \(salvaged.status)\n\(salvaged.stdout)\(salvaged.stderr)")
                let exported = try runProcess(tidemarkExecutable, ["db", store, "export"], deadline: 60)
                #expect(exported.status == 0, "\(label) export after salvage: \(exported.stderr)")
                let ids = Set(exported.stdout.split(separator: "\n").compactMap { line in
                    (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["id"] as? String
                })
                let missing = all.subtracting(ids)
                let heldByDamaged = Self.holders[kind]!
                #expect(missing.isSubset(of: heldByDamaged), "\(label): lost records held elsewhere: \(missing.subtracting(heldByDamaged).sorted())")
                if !missing.isEmpty {
                    // A loss, or (the writer died, so nothing proves the tail synced) a torn tail.
                    #expect(
                        salvaged.stdout.contains("lost: ") || salvaged.stdout.contains("truncated torn tail: "),
                        "\(label): \(missing.sorted()) gone without a loss listed:\n\(salvaged.stdout)")
                }
                let verified = try runProcess(tidemarkExecutable, ["db", store, "verify"], deadline: 60)
                #expect(verified.status == 0, "\(label): verify after salvage:\n\(verified.stdout)")
            }
        }
    }
}
