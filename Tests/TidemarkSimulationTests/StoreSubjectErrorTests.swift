import Foundation
import Testing
import Tidemark
import TidemarkIO
import TidemarkSimulatedDisk
@testable import TidemarkSimulation

/// The store subject files a store error under its own kind once: a recovery that meets
/// damage reads `corruption: <what> (file …, offset …)`, never `corruption: corruption: …`.
@Suite struct StoreSubjectErrorTests {
    @Test func recoveryFailureIsNotDoubled() throws {
        let fileSystem = SimulatedFileSystem(seed: 5)
        let subject = try SubjectKind.tidemark.makeSubject(
            options: [:], fileSystem: fileSystem, clock: ManualClock(), random: SeededRandom(seed: 5))
        _ = try subject.open()
        _ = subject.perform(.put(record: RecordValue(id: "a", content: "x", embedding: [1, 0], metadata: [:])))
        subject.close()
        let manifest = try fileSystem.open("/store/MANIFEST", options: [.read, .write, .create, .truncate])
        try manifest.write(Array("garbage, not a manifest".utf8), at: 0)
        try manifest.close()
        let error = try #require(throws: SubjectError.self) { _ = try subject.open() }
        #expect(error.description.hasPrefix("corruption: manifest:"), "\(error)")
        #expect(!error.description.contains("corruption: corruption"), "\(error)")
        #expect(error.description.contains("/store/MANIFEST"))
    }
}
