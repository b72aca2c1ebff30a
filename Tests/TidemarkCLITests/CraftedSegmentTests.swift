import Foundation
import Testing

/// Segments whose checksums are right but whose LSNs are 0 or UInt64.max (crafted; kept in
/// Fuzz/crashes/log-segment/) once trapped `verify` and recovery on an arithmetic overflow. Each
/// must now be a problem naming the file, with exit 1.
struct CraftedSegmentTests {
    static let crashes = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz/crashes/log-segment").path

    @Test(arguments: [
        ("first-lsn-zero-then-damage", "wal-0000000000000000.log", "first LSN 0 is out of range"),
        ("first-lsn-max", "wal-ffffffffffffffff.log", "out of range"),
        // The frame with LSN UInt64.max after the damage no longer counts as valid: a torn end.
        ("resumes-at-lsn-max", "wal-0000000000000001.log", "torn tail"),
    ])
    func verifyAndOpenReportInsteadOfTrapping(input: String, name: String, message: String) throws {
        let directory = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory.store, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "\(Self.crashes)/\(input)", toPath: "\(directory.store)/\(name)")
        // A second segment after it (its header does not match its name: a problem, exit 1), so
        // the first is read as a finished segment, the path that trapped.
        try FileManager.default.copyItem(
            atPath: "\(Self.crashes)/resumes-at-lsn-max", toPath: "\(directory.store)/wal-0000000000000002.log")
        let verify = try tidemark(["db", directory.store, "verify"])
        #expect(verify.status == 1, "\(verify.stdout)\(verify.stderr)")
        #expect(verify.stdout.contains(name) && verify.stdout.contains(message), "\(verify.stdout)")
        let stats = try tidemark(["db", directory.store, "stats"])
        #expect(stats.status == 1 || stats.status == 0, "trapped: \(stats.status) \(stats.stderr)")
    }
}
