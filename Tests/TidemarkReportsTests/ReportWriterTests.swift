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
        let report = try SampleReports.campaign()
        try ReportWriter.write(report, to: directory)
        for name in [ReportWriter.jsonFileName, ReportWriter.markdownFileName, ReportWriter.htmlFileName, ReportWriter.junitFileName] {
            #expect(FileManager.default.fileExists(atPath: directory + "/" + name), "\(name) missing")
        }
        #expect(try ReportWriter.load(from: directory) == report)
    }
}

extension ReportWriterTests {
    /// Writes `text` as report.json in a fresh directory and returns the directory.
    static func directoryWithReportJSON(_ text: String) throws -> String {
        let directory = temporaryDirectory("load")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: directory + "/report.json"))
        return directory
    }

    /// The sample report as a JSON object, to break on purpose.
    static func sampleJSONObject() throws -> [String: Any] {
        let data = try ReportWriter.encode(try SampleReports.campaign())
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    static func text(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }

    @Test func loadOfMissingReportNamesTheFile() throws {
        let directory = Self.temporaryDirectory("missing")
        let error = #expect(throws: ReportError.self) { try ReportWriter.load(from: directory) }
        #expect(error?.reason == .missing)
        #expect(error?.description.contains(directory + "/report.json") == true)
    }

    @Test func loadOfMalformedJSONNamesTheFile() throws {
        let directory = try Self.directoryWithReportJSON("{\"name\": \"run\", \"jobs\": ")
        let error = #expect(throws: ReportError.self) { try ReportWriter.load(from: directory) }
        let description = error?.description ?? ""
        #expect(description.contains(directory + "/report.json"))
        #expect(description.contains("malformed report"))
    }

    @Test func loadOfAWrongTypeNamesTheCodingPath() throws {
        var object = try Self.sampleJSONObject()
        var scenarios = object["scenarios"] as! [[String: Any]]
        scenarios[0]["runs"] = "many"
        object["scenarios"] = scenarios
        let directory = try Self.directoryWithReportJSON(try Self.text(object))
        let error = #expect(throws: ReportError.self) { try ReportWriter.load(from: directory) }
        let description = error?.description ?? ""
        #expect(description.contains("report.json"))
        #expect(description.contains("at scenarios[0].runs"), "\(description)")
    }

    @Test func loadOfAMissingKeyNamesTheCodingPath() throws {
        var object = try Self.sampleJSONObject()
        var scenarios = object["scenarios"] as! [[String: Any]]
        var failures = scenarios[1]["failures"] as! [[String: Any]]
        failures[1]["seed"] = nil
        scenarios[1]["failures"] = failures
        object["scenarios"] = scenarios
        let directory = try Self.directoryWithReportJSON(try Self.text(object))
        let error = #expect(throws: ReportError.self) { try ReportWriter.load(from: directory) }
        #expect(error?.reason == .malformed(codingPath: "scenarios[1].failures[1].seed", detail: "missing key \"seed\""))
    }

    @Test func writeBelowARegularFileFailsNamingThePath() throws {
        let blocker = Self.temporaryDirectory("blocker")
        try Data("not a directory".utf8).write(to: URL(fileURLWithPath: blocker))
        let target = blocker + "/report"
        let error = #expect(throws: ReportError.self) {
            try ReportWriter.write(try SampleReports.campaign(), to: target)
        }
        #expect(error?.description.hasPrefix(target) == true)
    }

    @Test func rewritingReplacesEveryFile() throws {
        let directory = Self.temporaryDirectory("rewrite")
        var report = try SampleReports.campaign()
        try ReportWriter.write(report, to: directory)
        report.name = "renamed-run"
        try ReportWriter.write(report, to: directory)
        #expect(try ReportWriter.load(from: directory).name == "renamed-run")
        let markdown = try String(contentsOfFile: directory + "/summary.md", encoding: .utf8)
        #expect(markdown.hasPrefix("# Tidemark campaign report: renamed-run"))
        let html = try String(contentsOfFile: directory + "/index.html", encoding: .utf8)
        #expect(html == HTMLRenderer.render(report))
    }
}
