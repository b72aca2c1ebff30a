/// Horizontal bar charts (inline SVG) for "what was exercised": faults, crash points,
/// recovery paths, operations.
enum SVGBarChart {
    static let width = 520.0
    static let labelWidth = 172.0
    static let valueWidth = 64.0
    static let rowHeight = 22.0
    static let barHeight = 14.0
    /// More kinds than this fold into one "other" bar, so a chart stays scannable.
    static let maxBars = 12

    /// The chart as an HTML `<figure>`: a caption with the total, then the SVG; a short
    /// "none recorded" note when `counts` is empty.
    static func figure(title: String, counts: [String: Int], color: String, id: String) -> String {
        let bars = bars(counts)
        let total = counts.values.reduce(0, +)
        var out = "<figure class=\"chart\">\n<figcaption>\(h(title)) <span class=\"muted\">(\(ReportFormat.grouped(total)))</span></figcaption>\n"
        if bars.isEmpty {
            out += "<p class=\"empty-chart\">None recorded.</p>\n</figure>\n"
            return out
        }
        let height = Double(bars.count) * rowHeight + 4
        let largest = Double(max(1, bars.map(\.count).max() ?? 1))
        let barSpace = width - labelWidth - valueWidth
        let summary = bars.map { "\($0.name) \($0.count)" }.joined(separator: ", ")
        out += "<svg class=\"bar-chart\" viewBox=\"0 0 \(n(width)) \(n(height))\" width=\"\(n(width))\" height=\"\(n(height))\" role=\"img\" aria-labelledby=\"\(id)-title\">\n"
        out += "<title id=\"\(id)-title\">\(h(title)): \(h(summary))</title>\n"
        for (row, bar) in bars.enumerated() {
            let y = Double(row) * rowHeight + 2
            let barWidth = max(2, barSpace * Double(bar.count) / largest)
            let label = ReportFormat.truncated(bar.name, to: Int((labelWidth - 14) / 6.8))
            out += "<g><title>\(h(bar.name)): \(ReportFormat.grouped(bar.count))</title>"
            out += "<text x=\"\(n(labelWidth - 8))\" y=\"\(n(y + barHeight - 2))\" text-anchor=\"end\" class=\"chart-label\">\(h(label))</text>"
            out += "<rect x=\"\(n(labelWidth))\" y=\"\(n(y + 1))\" width=\"\(n(barWidth))\" height=\"\(n(barHeight))\" rx=\"2\" fill=\"\(color)\"/>"
            out += "<text x=\"\(n(labelWidth + barWidth + 6))\" y=\"\(n(y + barHeight - 2))\" class=\"chart-value\">\(ReportFormat.grouped(bar.count))</text></g>\n"
        }
        out += "</svg>\n</figure>\n"
        return out
    }

    /// Sorted bars, the tail folded into "other (k kinds)" past `maxBars`.
    static func bars(_ counts: [String: Int]) -> [(name: String, count: Int)] {
        let sorted = ReportFormat.sortedCounts(counts)
        guard sorted.count > maxBars else { return sorted }
        let kept = sorted.prefix(maxBars - 1)
        let rest = sorted.dropFirst(maxBars - 1)
        return Array(kept) + [(name: "other (\(rest.count) kinds)", count: rest.reduce(0) { $0 + $1.count })]
    }
}

/// HTML/SVG-escaped text.
func h(_ text: String) -> String { MarkupEscaping.escape(text) }

/// A coordinate for SVG markup: integral values without a fraction, others to 0.1.
func n(_ value: Double) -> String {
    guard value.isFinite else { return "0" }
    let rounded = (value * 10).rounded() / 10
    if rounded == rounded.rounded() { return String(Int(rounded)) }
    return String(rounded)
}
