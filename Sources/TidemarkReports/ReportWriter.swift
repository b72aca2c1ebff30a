import Foundation

/// Why a report could not be written or read back. The description names the file, and for a
/// decoding failure the JSON coding path (e.g. `scenarios[0].failures[2].seed`).
public struct ReportError: Error, CustomStringConvertible, LocalizedError, Equatable {
    public enum Reason: Equatable, Sendable {
        /// The file does not exist.
        case missing
        /// The file exists but could not be read.
        case unreadable(String)
        /// The file is not valid JSON, or does not have a report's shape.
        case malformed(codingPath: String, detail: String)
        /// The file or directory could not be written.
        case unwritable(String)
    }

    /// The file the error is about.
    public var path: String
    public var reason: Reason

    public init(path: String, reason: Reason) {
        self.path = path
        self.reason = reason
    }

    public var description: String {
        switch reason {
        case .missing:
            return "\(path): no such report file (expected the report.json a campaign writes)"
        case .unreadable(let detail):
            return "\(path): cannot read report: \(detail)"
        case .malformed(let codingPath, let detail):
            let location = codingPath.isEmpty ? "" : " at \(codingPath)"
            return "\(path): malformed report\(location): \(detail)"
        case .unwritable(let detail):
            return "\(path): cannot write report: \(detail)"
        }
    }

    public var errorDescription: String? { description }
}

/// Stores a campaign report as a directory of files and reads it back.
///
/// Reports live outside the store, so this uses Foundation's file APIs directly.
public enum ReportWriter {
    /// The machine-readable report (pretty JSON, sorted keys): what `load` reads back.
    public static let jsonFileName = "report.json"
    /// The Markdown summary.
    public static let markdownFileName = "summary.md"
    /// The self-contained HTML page.
    public static let htmlFileName = "index.html"
    /// JUnit XML for CI systems.
    public static let junitFileName = "junit.xml"

    /// Writes report.json, summary.md, index.html and junit.xml into `directory`, creating it
    /// (and its parents) when missing. Each file is replaced atomically (temp file + rename).
    public static func write(_ report: CampaignReport, to directory: String) throws {
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw ReportError(path: directory, reason: .unwritable(describe(error)))
        }
        let files: [(String, Data)] = [
            (jsonFileName, try encode(report)),
            (markdownFileName, Data(MarkdownRenderer.render(report).utf8)),
            (htmlFileName, Data(HTMLRenderer.render(report).utf8)),
            (junitFileName, Data(JUnitRenderer.render(report).utf8)),
        ]
        for (name, data) in files {
            let path = join(directory, name)
            do {
                try data.write(to: URL(fileURLWithPath: path), options: .atomic)
            } catch {
                throw ReportError(path: path, reason: .unwritable(describe(error)))
            }
        }
    }

    /// Reads `directory`/report.json back (for `tidemark report <dir>` to re-render).
    /// Throws `ReportError` naming the file when it is missing, unreadable or malformed.
    public static func load(from directory: String) throws -> CampaignReport {
        let path = join(directory, jsonFileName)
        guard FileManager.default.fileExists(atPath: path) else {
            throw ReportError(path: path, reason: .missing)
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ReportError(path: path, reason: .unreadable(describe(error)))
        }
        return try decode(data, path: path)
    }

    /// The report as pretty JSON with sorted keys: stable bytes for the same report.
    /// NaN and infinite rates (a zero-length run) are stored as the strings "nan", "inf", "-inf".
    public static func encode(_ report: CampaignReport) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        var data = try encoder.encode(report)
        data.append(UInt8(ascii: "\n"))
        return data
    }

    /// Decodes report JSON; `path` only names the source in errors.
    public static func decode(_ data: Data, path: String) throws -> CampaignReport {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do {
            return try decoder.decode(CampaignReport.self, from: data)
        } catch let error as DecodingError {
            let (codingPath, detail) = explain(error)
            throw ReportError(path: path, reason: .malformed(codingPath: codingPath, detail: detail))
        } catch {
            throw ReportError(path: path, reason: .malformed(codingPath: "", detail: describe(error)))
        }
    }

    /// Splits a DecodingError into a readable coding path ("scenarios[0].runs") and a detail.
    static func explain(_ error: DecodingError) -> (codingPath: String, detail: String) {
        switch error {
        case .typeMismatch(let type, let context):
            return (render(context.codingPath), "expected \(type): \(context.debugDescription)")
        case .valueNotFound(let type, let context):
            return (render(context.codingPath), "missing \(type) value: \(context.debugDescription)")
        case .keyNotFound(let key, let context):
            return (render(context.codingPath + [key]), "missing key \"\(key.stringValue)\"")
        case .dataCorrupted(let context):
            var detail = context.debugDescription
            if let underlying = context.underlyingError {
                detail += " (\(describe(underlying)))"
            }
            return (render(context.codingPath), detail)
        @unknown default:
            return ("", String(describing: error))
        }
    }

    /// `[scenarios, Index 0, runs]` -> "scenarios[0].runs".
    static func render(_ codingPath: [any CodingKey]) -> String {
        var out = ""
        for key in codingPath {
            if let index = key.intValue {
                out += "[\(index)]"
            } else {
                out += (out.isEmpty ? "" : ".") + key.stringValue
            }
        }
        return out
    }

    private static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    private static func describe(_ error: any Error) -> String {
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError {
            return "\(nsError.localizedDescription) (\(underlying.localizedDescription))"
        }
        return nsError.localizedDescription
    }
}
