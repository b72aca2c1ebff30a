import Foundation
import Testing
@testable import TidemarkReports

struct ReportWriterTests {
    /// A fresh directory under the system temp dir, unique per call.
    static func temporaryDirectory(_ name: String) -> String {
        let path = NSTemporaryDirectory() + "tidemark-reports-\(name)-\(UUID().uuidString)"
        return path
    }

    @Test func sampleReportRoundTrips() throws {
        // TIDEMARK_SAMPLE_REPORT_DIR keeps the sample somewhere to open or screenshot.
        let directory = ProcessInfo.processInfo.environment["TIDEMARK_SAMPLE_REPORT_DIR"]
            ?? Self.temporaryDirectory("sample")
        let report = SampleReports.campaign()
        try ReportWriter.write(report, to: directory)
        for name in [ReportWriter.jsonFileName, ReportWriter.markdownFileName, ReportWriter.htmlFileName, ReportWriter.junitFileName] {
            #expect(FileManager.default.fileExists(atPath: directory + "/" + name), "\(name) missing")
        }
        #expect(try ReportWriter.load(from: directory) == report)
    }
}
