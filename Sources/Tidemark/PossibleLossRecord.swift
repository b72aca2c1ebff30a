import Foundation
import TidemarkIO

/// `POSSIBLE-LOSS`: the possible losses (`RecoveryReport.Truncation`s whose frame header was
/// intact) that a recovery found and is about to cut, kept until an open that reported them
/// succeeds. The cut destroys the only evidence; an open that fails after it (a read EIO in the
/// cold tier, a failed checkpoint) would leave the next open a clean log and a loss in silence
/// (`tiers-bit-rot` seed 1066). So recovery writes this file (atomically, synced) before it
/// cuts, every recovery and `verify` read it back into what they report, and only the end of a
/// successful writable open, whose report carries them to the caller, removes it.
///
/// The format is the truncations as JSON (sorted keys): the one representation of a loss
/// recovery cut, stored as it is reported.
enum PossibleLossRecord {
    static let fileName = "POSSIBLE-LOSS"

    static func path(in directory: String) -> String { FilePaths.join(directory, fileName) }

    /// The recorded truncations (the caller knows the file exists: `StoreInventory`). A record
    /// that does not decode is still a possible loss whose details are gone: reported as one
    /// naming the file.
    static func read(directory: String, fileSystem: any FileSystem) throws -> [RecoveryReport.Truncation] {
        let bytes = try fileSystem.readFile(path(in: directory))
        if let truncations = try? JSONDecoder().decode([RecoveryReport.Truncation].self, from: Data(bytes)) {
            return truncations
        }
        return [RecoveryReport.Truncation(
            file: fileName, offset: 0, bytes: Int64(bytes.count),
            reason: "\(fileName) does not decode: an earlier recovery recorded a possible loss whose details are unreadable",
            frameHeaderIntact: true)]
    }

    static func write(_ truncations: [RecoveryReport.Truncation], directory: String, fileSystem: any FileSystem) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(truncations)) ?? Data("[]".utf8)
        try fileSystem.writeFileAtomically(path(in: directory), Array(data))
    }

    /// Removes the record durably (a successful open has reported it).
    static func clear(directory: String, fileSystem: any FileSystem) throws {
        let path = path(in: directory)
        do {
            try fileSystem.remove(path)
            try fileSystem.syncDirectory(directory)
        } catch let error as FileSystemError {
            throw StoreError(.io, "cannot remove \(fileName) after reporting it", path: path, outcome: .ambiguous, cause: error)
        }
    }
}
