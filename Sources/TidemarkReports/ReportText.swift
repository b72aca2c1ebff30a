import Foundation

// Small text helpers every renderer shares, so a number or a dictionary reads the same in
// Markdown, HTML and JUnit.

/// Escaping for HTML, SVG and XML text and attribute values.
enum MarkupEscaping {
    /// Escapes `& < > " '` and replaces characters XML 1.0 forbids (C0 controls other than
    /// tab, LF, CR; U+FFFE/U+FFFF) with U+FFFD, because even `&#1;` is not well-formed XML.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
            default:
                if scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF {
                    out += "\u{FFFD}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}

/// POSIX shell quoting for commands shown to copy and paste.
public enum ShellQuoting {
    /// Leaves plain paths alone and single-quotes anything else (`'` becomes `'\''`).
    public static func quote(_ word: String) -> String {
        let plain = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=:,@%")
        if !word.isEmpty, word.allSatisfy({ plain.contains($0) }) { return word }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

/// Number and collection formatting, locale-independent so output is byte-for-byte stable.
enum ReportFormat {
    /// A rate with precision that suits its size; "n/a" for NaN or infinity.
    static func rate(_ value: Double) -> String {
        guard value.isFinite else { return "n/a" }
        let magnitude = abs(value)
        if magnitude >= 100 { return grouped(Int(value.rounded())) }
        if magnitude >= 10 { return String(format: "%.1f", value) }
        return String(format: "%.2f", value)
    }

    /// An integer with comma grouping: 1234567 -> "1,234,567".
    static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (position, character) in digits.enumerated() {
            if position > 0, (digits.count - position) % 3 == 0 { out.append(",") }
            out.append(character)
        }
        return value < 0 ? "-" + out : out
    }

    /// A duration: "850 ms", "12.3 s", "4 min 05 s", "2 h 03 min".
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "n/a" }
        if seconds < 1 { return "\(Int((seconds * 1000).rounded())) ms" }
        if seconds < 60 { return String(format: "%.1f s", seconds) }
        let whole = Int(seconds.rounded())
        if whole < 3600 { return String(format: "%d min %02d s", whole / 60, whole % 60) }
        return String(format: "%d h %02d min", whole / 3600, (whole % 3600) / 60)
    }

    /// "key=value" pairs sorted by key, comma separated; "default" when empty.
    static func configuration(_ configuration: [String: String]) -> String {
        if configuration.isEmpty { return "default" }
        return configuration.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            .joined(separator: ", ")
    }

    /// The fault knobs that fired, by name, with the runs they fired in; "—" for a report
    /// that predates the count, "none" when no knob fired.
    static func knobs(_ knobs: [String: Int]?) -> String {
        guard let knobs else { return "—" }
        if knobs.isEmpty { return "none" }
        return knobs.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }

    /// Counts sorted for display: largest first, ties by name, so output never depends on
    /// dictionary order.
    static func sortedCounts(_ counts: [String: Int]) -> [(name: String, count: Int)] {
        counts.map { (name: $0.key, count: $0.value) }
            .sorted { $0.count != $1.count ? $0.count > $1.count : $0.name < $1.name }
    }

    /// Shortens text to at most `limit` characters, ending with "…" when cut.
    static func truncated(_ text: String, to limit: Int) -> String {
        guard limit > 0 else { return "" }
        guard text.count > limit else { return text }
        return String(text.prefix(max(0, limit - 1))) + "…"
    }

    /// The FS call range of an event: "FS 12" or "FS 12–40".
    static func fsCalls(_ start: Int, _ end: Int) -> String {
        end > start ? "FS \(start)–\(end)" : "FS \(start)"
    }

    /// Totals over all scenarios, for headers: failing runs split into the violations scenarios
    /// expect (canaries doing their job) and the failures they do not (regressions).
    static func totals(_ report: CampaignReport) -> (runs: Int, unexpectedFailures: Int, expectedViolations: Int, distinctViolations: Int) {
        report.scenarios.reduce(into: (0, 0, 0, 0)) { sum, scenario in
            sum.0 += scenario.runs
            sum.1 += scenario.unexpectedFailures
            sum.2 += scenario.expectedViolations
            sum.3 += scenario.distinctViolations
        }
    }

    /// A link to `path` from a page in `directory`: relative when the path lies inside it.
    static func link(_ path: String, from directory: String) -> String {
        let prefix = directory.hasSuffix("/") ? directory : directory + "/"
        return !directory.isEmpty && path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
    }
}
