import Foundation
import Testing

/// Segments and manifests whose checksums are right but whose LSNs are 0 or UInt64.max (crafted;
/// kept in Fuzz/crashes/) once trapped `verify` and recovery on an arithmetic overflow. Each must
/// now be a problem naming the file, with exit 1.
struct CraftedLSNTests {
    static let crashes = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz/crashes").path

    @Test(arguments: [
        ("log-segment/first-lsn-zero-then-damage", "wal-0000000000000001.log", "first LSN 0 is out of range"),
        ("log-segment/first-lsn-max", "wal-0000000000000001.log", "first LSN 18446744073709551615 is out of range"),
        // The frame with LSN UInt64.max after the damage no longer counts as valid: a torn end.
        ("log-segment/resumes-at-lsn-max", "wal-0000000000000001.log", "torn tail"),
        ("manifest/checkpoint-lsn-max", "MANIFEST", "checkpoint 0 has LSN 18446744073709551615, out of range"),
    ])
    func verifyAndOpenReportInsteadOfTrapping(input: String, name: String, message: String) throws {
        let directory = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory.store, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "\(Self.crashes)/\(input)", toPath: "\(directory.store)/\(name)")
        if name.hasPrefix("wal-") {
            // A second segment after it (its header does not match its name: a problem, exit 1),
            // so the first is read as a finished segment, the path that trapped.
            try FileManager.default.copyItem(
                atPath: "\(Self.crashes)/log-segment/resumes-at-lsn-max", toPath: "\(directory.store)/wal-0000000000000002.log")
        }
        let verify = try tidemark(["db", directory.store, "verify"])
        #expect(verify.status == 1, "\(verify.stdout)\(verify.stderr)")
        #expect(verify.stdout.contains(name) && verify.stdout.contains(message), "\(verify.stdout)")
        let stats = try tidemark(["db", directory.store, "stats"])
        #expect(stats.status == 1 || stats.status == 0, "trapped: \(stats.status) \(stats.stderr)")
    }
}
