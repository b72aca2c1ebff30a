import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import TidemarkReports

/// Collects what the JUnit tests check from a parsed document.
final class JUnitCollector: NSObject, XMLParserDelegate {
    var elements: [(name: String, attributes: [String: String])] = []
    var failureParents: [String] = []  // testcase name of each <failure>
    private var currentTestCase = ""

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        elements.append((name, attributes))
        if name == "testcase" { currentTestCase = attributes["name"] ?? "" }
        if name == "failure" { failureParents.append(currentTestCase) }
    }

    func count(_ name: String) -> Int { elements.filter { $0.name == name }.count }
    func first(_ name: String) -> [String: String]? { elements.first { $0.name == name }?.attributes }

    /// Parses `xml`; nil when it is not well-formed.
    static func parse(_ xml: String) -> JUnitCollector? {
        let collector = JUnitCollector()
        let parser = XMLParser(data: Data(xml.utf8))
        parser.delegate = collector
        return parser.parse() ? collector : nil
    }
}

struct JUnitRendererTests {
    @Test func wellFormedWithASuitePerScenario() throws {
        let report = try SampleReports.campaign()
        let parsed = try #require(JUnitCollector.parse(JUnitRenderer.render(report)))
        #expect(parsed.count("testsuites") == 1)
        #expect(parsed.count("testsuite") == report.scenarios.count)
        // One expectation case per scenario plus one per listed failure.
        #expect(parsed.count("testcase") == 4 + 5)
        #expect(parsed.first("testsuites")?["tests"] == "9")
    }

    @Test func countsFailuresAsTheCampaignJudgesThem() throws {
        let report = try SampleReports.campaign()
        let parsed = try #require(JUnitCollector.parse(JUnitRenderer.render(report)))
        // async-says-pass: its unmet expectation and its two unexpected failures. The canaries'
        // failures were expected.
        #expect(parsed.count("failure") == 3)
        #expect(JUnitRenderer.failureCount(report) == 3)
        #expect(parsed.first("testsuites")?["failures"] == "3")
        let suiteFailures = parsed.elements.filter { $0.name == "testsuite" }.map { $0.attributes["failures"] ?? "" }
        #expect(suiteFailures == ["0", "0", "0", "3"])
        #expect(!parsed.failureParents.contains("seed 1: liveness"))
        #expect(parsed.failureParents.contains("seed 2: durability"))
    }

    @Test func passingCampaignHasNoFailures() throws {
        var report = try SampleReports.campaign()
        report.scenarios = [try SampleReports.cleanScenario(), try SampleReports.expectedViolationScenario()]
        let parsed = try #require(JUnitCollector.parse(JUnitRenderer.render(report)))
        #expect(parsed.count("failure") == 0)
        #expect(parsed.first("testsuites")?["failures"] == "0")
    }

    @Test func failureCarriesSeedInvariantMessageAndFile() throws {
        let report = try SampleReports.campaign()
        let xml = JUnitRenderer.render(report)
        let failure = try SampleReports.unexpectedFailureScenario().failures[0]
        #expect(xml.contains("<failure type=\"durability\" message=\"\(failure.message)\">seed: \(failure.seed)\ninvariant: durability\nmessage: \(failure.message)\nfailure file: \(failure.failureFile)\nreplay: tidemark replay \(failure.failureFile)</failure>"))
    }

    @Test func hostileTextStaysWellFormedAndRoundTrips() throws {
        var report = try SampleReports.campaign()
        let hostile = "bad <tag> & \"quotes\" 'apostrophe'\nsecond line\u{01}\u{1B}[31m ]]> done"
        report.name = hostile
        report.scenarios[3].name = hostile
        report.scenarios[3].failures[0].message = hostile
        report.scenarios[3].failures[0].invariant = "<durability>"
        let parsed = try #require(JUnitCollector.parse(JUnitRenderer.render(report)), "JUnit XML is not well-formed")
        let failure = try #require(parsed.elements.first { $0.name == "failure" && $0.attributes["type"] == "<durability>" })
        // Control characters become U+FFFD; everything else, newline included, survives.
        #expect(failure.attributes["message"] == "bad <tag> & \"quotes\" 'apostrophe'\nsecond line\u{FFFD}\u{FFFD}[31m ]]> done")
    }
}
