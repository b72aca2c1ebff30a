import Foundation
import Testing
import TidemarkReports

let chromiumExecutable: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/lib/chromium/chromium"]
    .first { FileManager.default.isExecutableFile(atPath: $0) }

/// The report page in a real browser: headless Chromium (the Debian package `chromium`, which
/// `make deps` installs) renders the fixture's page at 1,400 × 900.
@Suite(.enabled(if: chromiumExecutable != nil, "chromium is not installed (`make deps` installs it): the page was not checked in a browser"))
struct ChromiumRenderingTests {

    static func chromium(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: chromiumExecutable!)
        process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1400,900"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tidemark-chromium-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func theScreenshotRendersAndNoTableOverflowsAt1400Pixels() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let html = HTMLRenderer.render(try SampleReports.campaign())

        let page = directory.appendingPathComponent("index.html")
        try html.write(to: page, atomically: true, encoding: .utf8)
        let screenshot = directory.appendingPathComponent("index.png")
        _ = try Self.chromium(["--screenshot=\(screenshot.path)", page.absoluteString])
        let png = try Data(contentsOf: screenshot)
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 20_000, "a PNG of the page (\(png.count) bytes)")
        if let keep = ProcessInfo.processInfo.environment["TIDEMARK_SCREENSHOT"] {
            try png.write(to: URL(fileURLWithPath: keep))
        }

        // The page has no scripts. A copy of it gets one that measures, after layout, every
        // table container and the page itself, and writes what overflows into the DOM Chromium dumps.
        let probe = """
            <script>
            const over = [...document.querySelectorAll('.table-wrap')].filter(e => e.scrollWidth > e.clientWidth + 1)
              .map(e => (e.querySelector('table') || e).className);
            if (document.documentElement.scrollWidth > window.innerWidth) over.push('page');
            document.body.setAttribute('data-overflow', over.join(',') || 'none');
            document.body.setAttribute('data-width', String(window.innerWidth));
            </script>
            """
        let measured = directory.appendingPathComponent("measured.html")
        try html.replacingOccurrences(of: "</body>", with: probe + "</body>").write(to: measured, atomically: true, encoding: .utf8)
        let dom = try Self.chromium(["--dump-dom", measured.absoluteString])
        #expect(dom.contains("data-width=\"1400\""), "the page was laid out 1,400 px wide")
        let overflow = dom.components(separatedBy: "data-overflow=\"").dropFirst().first?.prefix { $0 != "\"" }
        #expect(overflow == "none", "overflowing: \(overflow ?? "no measurement")")
    }
}
