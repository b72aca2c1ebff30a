import Foundation
import Testing
import TidemarkFuzzing

/// Every kept fuzz input (`Fuzz/corpus/<target>/`, `Fuzz/crashes/<target>/`) through its decoder
/// without the sanitizer: a decoder may throw but never trap. Some inputs of each target must
/// decode, or the target would not reach the decoder behind its checks.
struct FuzzCorpusReplayTests {
    static let fuzzDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz").path

    @Test(arguments: FuzzTarget.allCases)
    func corpusReplaysWithoutTrapping(target: FuzzTarget) throws {
        let files = try FuzzCorpus.files(in: [
            "\(Self.fuzzDirectory)/corpus/\(target.rawValue)", "\(Self.fuzzDirectory)/crashes/\(target.rawValue)",
        ])
        #expect(files.count >= 2, "no corpus for \(target.rawValue)")
        var decoded = 0
        for file in files {
            do {
                try target.decode(try FuzzCorpus.read(file))
                decoded += 1
            } catch {}
        }
        #expect(decoded > 0, "no input of \(files.count) decoded: the target never reaches its decoder")
    }

    @Test func seedCorpusInputsDecode() throws {
        let directory = NSTemporaryDirectory() + "/tidemark-seeds-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let scenarios = URL(fileURLWithPath: Self.fuzzDirectory).deletingLastPathComponent().appendingPathComponent("Scenarios").path
        try SeedCorpus.write(to: directory, scenarios: scenarios)
        for target in FuzzTarget.allCases where target != .failureFile {
            let files = try FuzzCorpus.files(in: ["\(directory)/\(target.rawValue)"])
            #expect(!files.isEmpty, "\(target.rawValue)")
            for file in files {
                #expect(throws: Never.self, "\(file)") { try target.decode(try FuzzCorpus.read(file)) }
            }
        }
    }
}
