import Foundation
import TidemarkIO

/// Where `recover --salvage` keeps what it cannot use instead of deleting it:
/// `quarantine/<n>/` in the store directory (n counts salvages: 1, 2, ...), holding each damaged
/// or unused file under its own name beside `report.json`, which says what each file held and
/// why it is here. Files recovery still reads from (a segment with a damaged region, a
/// checkpoint with a damaged record) are copied before the salvage rewrites the store; files
/// nothing reads (a segment whose header is gone, a cold tier SQLite cannot open) are moved.
/// Every file and the report are synced, and the directories too, before anything relies on it.
struct Quarantine {
    /// One kept file, as `report.json` lists it.
    struct Entry: Codable, Hashable, Sendable {
        var file: String
        var bytes: Int64
        /// What the file held, as far as recovery could tell.
        var held: String
        var reason: String
    }

    let directory: String
    let fileSystem: any FileSystem
    /// The folder, relative to the store directory, once something is kept.
    private(set) var folder: String?
    private(set) var entries: [Entry] = []

    init(directory: String, fileSystem: any FileSystem) {
        (self.directory, self.fileSystem) = (directory, fileSystem)
    }

    /// Keeps the store file `name` (moved, or copied when `copy`), then rewrites the report.
    /// A name already kept is not kept twice.
    mutating func keep(_ name: String, held: String, reason: String, copy: Bool) throws {
        guard !entries.contains(where: { $0.file == name }) else { return }
        let source = FilePaths.join(directory, name)
        do {
            let folder = try makeFolder()
            let target = FilePaths.join(directory, folder, name)
            let size = (try? fileSystem.status(source).size) ?? 0
            if copy {
                try fileSystem.writeFileAtomically(target, try fileSystem.readFile(source))
            } else {
                try fileSystem.rename(source, to: target)
                try fileSystem.syncDirectory(FilePaths.join(directory, folder))
                try fileSystem.syncDirectory(directory)
            }
            entries.append(Entry(file: name, bytes: size, held: held, reason: reason))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let report = try encoder.encode(entries)
            try fileSystem.writeFileAtomically(FilePaths.join(directory, folder, "report.json"), Array(report) + [10])
        } catch let error as FileSystemError {
            throw StoreError(.io, "salvage could not keep \(name) in quarantine", path: source, outcome: .ambiguous, cause: error)
        } catch {
            throw StoreError(.io, "salvage could not write the quarantine report: \(error)", path: source)
        }
    }

    /// `quarantine/<n>/`, created (and made durable) on first use.
    private mutating func makeFolder() throws -> String {
        if let folder { return folder }
        let parent = FilePaths.join(directory, StoreFiles.quarantine)
        if !fileSystem.exists(parent) {
            try fileSystem.createDirectory(parent)
            try fileSystem.syncDirectory(directory)
        }
        let used = try fileSystem.listDirectory(parent).compactMap(Int.init)
        let name = String((used.max() ?? 0) + 1)
        try fileSystem.createDirectory(FilePaths.join(parent, name))
        try fileSystem.syncDirectory(parent)
        folder = FilePaths.join(StoreFiles.quarantine, name)
        return folder!
    }
}
