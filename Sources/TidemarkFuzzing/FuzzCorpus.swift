import Foundation

/// The inputs kept in the repository: `Fuzz/corpus/<target>/` (seeds and what libFuzzer added,
/// minimised with `-merge=1`) and `Fuzz/crashes/<target>/` (every input that once crashed a
/// decoder, kept as a regression input).
public enum FuzzCorpus {
    /// The regular files named, and those directly inside the directories named, sorted.
    public static func files(in paths: [String]) throws -> [String] {
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
            if isDirectory.boolValue {
                files += try FileManager.default.contentsOfDirectory(atPath: path)
                    .filter { !$0.hasPrefix(".") }.sorted().map { path + "/" + $0 }
            } else {
                files.append(path)
            }
        }
        return files
    }

    public static func read(_ file: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: file)))
    }
}
