import Foundation

/// Renders a campaign report as JUnit XML for CI systems.
///
/// One `<testsuite>` per scenario holding one `<testcase>` for the scenario's expectation
/// (with a `<failure>` when it was not met), one per vulnerability exploration found (named by
/// its cause) and one per listed failure. A failure the scenario
/// expected (a `violation` scenario breaking an invariant it allows) is a passing test case
/// whose details go to `<system-out>`: the JUnit failure count then agrees with
/// `expectationsMet`, so CI turns red exactly when the campaign did not do what it should.
public enum JUnitRenderer {
    public static func render(_ report: CampaignReport) -> String {
        var suites: [String] = []
        var totalTests = 0
        var totalFailures = 0
        for scenario in report.scenarios {
            let (suite, tests, failures) = testSuite(scenario, report: report)
            suites.append(suite)
            totalTests += tests
            totalFailures += failures
        }
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<testsuites name=\"\(attribute("tidemark " + report.name))\" tests=\"\(totalTests)\""
            + " failures=\"\(totalFailures)\" errors=\"0\"\(time(report.durationSeconds))>\n"
        out += suites.joined()
        out += "</testsuites>\n"
        return out
    }

    /// The number of `<failure>` elements a report renders to: unmet expectations plus
    /// failures the scenario did not expect.
    public static func failureCount(_ report: CampaignReport) -> Int {
        report.scenarios.reduce(0) { sum, scenario in
            sum + (scenario.expectationMet ? 0 : 1)
                + scenario.failures.filter { !scenario.isExpected($0) }.count
                + (scenario.vulnerabilities ?? []).filter { !$0.expected }.count
        }
    }

    private static func testSuite(
        _ scenario: ScenarioReport, report: CampaignReport
    ) -> (xml: String, tests: Int, failures: Int) {
        let className = "tidemark.\(scenario.name)"
        var cases: [String] = []
        var failures = 0

        var expectation = "    <testcase classname=\"\(attribute(className))\" name=\"\(attribute("expectation: \(scenario.expect.rawValue)"))\">\n"
        let summary = "\(scenario.expectationMessage)\nsubject: \(scenario.subject) (\(ReportFormat.configuration(scenario.configuration)))\nruns: \(scenario.runs), passed: \(scenario.passed), failed: \(scenario.failed)"
        if scenario.expectationMet {
            expectation += "      <system-out>\(text(summary))</system-out>\n"
        } else {
            failures += 1
            expectation += "      <failure type=\"expectation\" message=\"\(attribute(scenario.expectationMessage.isEmpty ? "expectation not met" : scenario.expectationMessage))\">\(text(summary))</failure>\n"
        }
        expectation += "    </testcase>\n"
        cases.append(expectation)

        for vulnerability in scenario.vulnerabilities ?? [] {
            let (testCase, failed) = vulnerabilityCase(vulnerability, className: className)
            cases.append(testCase)
            if failed { failures += 1 }
        }

        for failure in scenario.failures {
            let details = """
                seed: \(failure.seed)
                invariant: \(failure.invariant)
                message: \(failure.message)
                failure file: \(failure.failureFile)
                replay: \(failure.replayCommand)
                """
            var testCase = "    <testcase classname=\"\(attribute(className))\" name=\"\(attribute("seed \(failure.seed): \(failure.invariant)"))\">\n"
            if scenario.isExpected(failure) {
                testCase += "      <system-out>\(text("expected violation\n" + details))</system-out>\n"
            } else {
                failures += 1
                testCase += "      <failure type=\"\(attribute(failure.invariant))\" message=\"\(attribute(failure.message))\">\(text(details))</failure>\n"
            }
            testCase += "    </testcase>\n"
            cases.append(testCase)
        }

        let tests = cases.count
        let suiteTime = scenario.runsPerSecond > 0 ? Double(scenario.runs) / scenario.runsPerSecond : .nan
        var xml = "  <testsuite name=\"\(attribute(scenario.name))\" tests=\"\(tests)\" failures=\"\(failures)\" errors=\"0\" skipped=\"0\"\(time(suiteTime))"
        xml += " timestamp=\"\(attribute(report.createdAt))\">\n"
        xml += "    <properties>\n"
        var properties = [("subject", scenario.subject), ("expect", scenario.expect.rawValue), ("file", scenario.file)]
        properties += scenario.configuration.sorted { $0.key < $1.key }.map { ("config." + $0.key, $0.value) }
        for (name, value) in properties {
            xml += "      <property name=\"\(attribute(name))\" value=\"\(attribute(value))\"/>\n"
        }
        xml += "    </properties>\n"
        xml += cases.joined()
        xml += "  </testsuite>\n"
        return (xml, tests, failures)
    }

    /// A vulnerability's test case: a `<failure>` when the scenario did not expect it.
    private static func vulnerabilityCase(_ vulnerability: VulnerabilityReport, className: String) -> (xml: String, failed: Bool) {
        let details = """
            cause: \(vulnerability.cause)
            invariant: \(vulnerability.invariant)
            persistence models: \(ReportFormat.models(vulnerability))
            crash states: \(vulnerability.states), seeds: \(ReportFormat.seeds(vulnerability.seeds))
            message: \(vulnerability.message)
            state: \(vulnerability.state)
            reproduce: \(vulnerability.reproduce)
            """
        var xml = "    <testcase classname=\"\(attribute(className))\" name=\"\(attribute("vulnerability: \(vulnerability.cause)"))\">\n"
        if vulnerability.expected {
            xml += "      <system-out>\(text("expected vulnerability\n" + details))</system-out>\n"
        } else {
            xml += "      <failure type=\"\(attribute(vulnerability.invariant))\" message=\"\(attribute(vulnerability.cause))\">\(text(details))</failure>\n"
        }
        return (xml + "    </testcase>\n", !vulnerability.expected)
    }

    private static func time(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "" }
        return " time=\"\(String(format: "%.3f", seconds))\""
    }

    private static func text(_ value: String) -> String { MarkupEscaping.escape(value) }

    /// Attribute values also escape newlines and tabs, which XML would otherwise normalize
    /// to spaces.
    private static func attribute(_ value: String) -> String {
        MarkupEscaping.escape(value)
            .replacingOccurrences(of: "\n", with: "&#10;")
            .replacingOccurrences(of: "\r", with: "&#13;")
            .replacingOccurrences(of: "\t", with: "&#9;")
    }
}
