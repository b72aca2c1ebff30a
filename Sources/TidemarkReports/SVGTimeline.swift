import Foundation

/// The timeline picture of one failing run, and the pending-write lanes under each crash.
///
/// Events sit in a horizontal lane, one cell each, wrapping into rows so a 200+ event run
/// stays readable; a short (shrunk) run gets wide cells with the labels written inside.
enum SVGTimeline {
    static let width = 1120.0
    static let margin = 12.0
    static let minCell = 16.0
    static let maxCell = 104.0
    /// Cells at least this wide carry their label as text.
    static let labelledCell = 54.0
    /// One line of annotations (crashes, the verdict's event) above the lane...
    static let annotationBand = 18.0
    static let boxHeight = 30.0
    static let axisBand = 16.0
    /// ...and one below the event numbers for annotations that would overlap above.
    static let lowerAnnotationBand = 16.0
    static let rowGap = 10.0
    static let characterWidth = 6.2

    static var rowHeight: Double { annotationBand + boxHeight + axisBand + lowerAnnotationBand + rowGap }

    struct Layout {
        var cell: Double
        var perRow: Int
        var rows: Int
        var height: Double

        init(eventCount: Int) {
            let usable = SVGTimeline.width - 2 * SVGTimeline.margin
            cell = min(SVGTimeline.maxCell, max(SVGTimeline.minCell, (usable / Double(max(1, eventCount))).rounded(.down)))
            perRow = max(1, Int(usable / cell))
            rows = max(1, (eventCount + perRow - 1) / perRow)
            height = Double(rows) * SVGTimeline.rowHeight + 2 * SVGTimeline.margin - SVGTimeline.rowGap
        }

        /// Left edge and top of row of the event at `position`.
        func origin(_ position: Int) -> (x: Double, rowTop: Double) {
            let column = position % perRow
            let row = position / perRow
            return (SVGTimeline.margin + Double(column) * cell, SVGTimeline.margin + Double(row) * SVGTimeline.rowHeight)
        }
    }

    /// The timeline SVG (class `timeline`) for one failure. `id` makes element ids unique on
    /// the page.
    static func picture(_ failure: FailureReport, id: String) -> String {
        let events = failure.timeline.events
        let layout = Layout(eventCount: events.count)
        let crashByEvent = Dictionary(failure.timeline.crashes.map { ($0.eventIndex, $0) }, uniquingKeysWith: { first, _ in first })
        var out = "<svg class=\"timeline\" viewBox=\"0 0 \(n(width)) \(n(layout.height))\" width=\"\(n(width))\" height=\"\(n(layout.height))\" role=\"img\" aria-labelledby=\"\(id)-title \(id)-desc\">\n"
        out += "<title id=\"\(id)-title\">Timeline of the run with seed \(failure.seed)</title>\n"
        out += "<desc id=\"\(id)-desc\">\(h(description(failure)))</desc>\n"

        // Lane backgrounds, one per row.
        for row in 0..<layout.rows {
            let count = min(layout.perRow, events.count - row * layout.perRow)
            guard count > 0 else { continue }
            let top = margin + Double(row) * rowHeight + annotationBand
            out += "<rect x=\"\(n(margin - 3))\" y=\"\(n(top - 4))\" width=\"\(n(Double(count) * layout.cell + 6))\" height=\"\(n(boxHeight + 8))\" rx=\"6\" fill=\"#f3f4f6\"/>\n"
        }

        var annotations: [Annotation] = []
        for (position, event) in events.enumerated() {
            let (x, rowTop) = layout.origin(position)
            out += cell(event, x: x, top: rowTop + annotationBand, width: layout.cell)
            if event.kind == .crash {
                let crash = crashByEvent[event.index]
                let kind = crash?.kind ?? event.label
                let at = crash.map { " at FS \($0.atFSCall)" } ?? ""
                annotations.append(Annotation(
                    x: x + layout.cell / 2, rowTop: rowTop, text: "⚡ \(kind)\(at)", color: ReportPalette.crash, bold: true))
            }
            if event.highlighted {
                annotations.append(Annotation(
                    x: x + layout.cell / 2, rowTop: rowTop, text: "▼ verdict: \(event.label)", color: ReportPalette.highlight, bold: true))
            }
        }
        out += axis(events, layout: layout)
        out += place(annotations)
        out += "</svg>\n"
        return out
    }

    /// One sentence for screen readers: counts by kind, crashes, the verdict's event.
    static func description(_ failure: FailureReport) -> String {
        let events = failure.timeline.events
        let kinds = TimelineEvent.Kind.allCases.compactMap { kind -> String? in
            let count = events.filter { $0.kind == kind }.count
            return count == 0 ? nil : "\(count) \(kind.rawValue)\(count == 1 ? "" : "s")"
        }
        var text = "\(events.count) events" + (kinds.isEmpty ? "" : ": " + kinds.joined(separator: ", ")) + "."
        for crash in failure.timeline.crashes {
            text += " Crash (\(crash.kind)) at event \(crash.eventIndex), FS call \(crash.atFSCall)."
        }
        for event in events where event.highlighted {
            text += " The verdict (\(failure.invariant)) names event \(event.index): \(event.label), \(event.outcome)."
        }
        return text
    }

    /// One event's cell: a box coloured by outcome for operations, checks and recoveries; a
    /// bar for syncs and checkpoints; a red line for a crash; a triangle for a fault.
    private static func cell(_ event: TimelineEvent, x: Double, top: Double, width: Double) -> String {
        let tooltip = "#\(event.index) \(event.kind.rawValue): \(event.label)"
            + (event.outcome == .note("") ? "" : " — \(event.outcome)")
            + " (\(ReportFormat.fsCalls(event.fsCallStart, event.fsCallEnd)))"
            + (event.highlighted ? " — named by the verdict" : "")
        var out = "<g><title>\(h(tooltip))</title>"
        let center = x + width / 2
        let inset = width >= 24 ? 2.0 : 1.0
        switch event.kind {
        case .operation, .check, .recovery:
            let swatch = event.kind == .recovery && ReportPalette.outcome(event.outcome) == ReportPalette.ok
                ? ReportPalette.recovery : ReportPalette.outcome(event.outcome)
            let radius = event.kind == .check ? min(10, (width - 2 * inset) / 2) : 3
            out += box(x: x + inset, y: top, width: width - 2 * inset, height: boxHeight, swatch: swatch, radius: radius)
            if event.kind == .recovery, swatch != ReportPalette.recovery {
                // A recovery that did not finish cleanly keeps the recovery stripe on top.
                out += "<rect x=\"\(n(x + inset))\" y=\"\(n(top))\" width=\"\(n(width - 2 * inset))\" height=\"4\" fill=\"\(ReportPalette.recovery.fill)\"/>"
            }
            if width >= labelledCell {
                out += wrappedLabel(event.label, x: center, top: top, width: width - 2 * inset, ink: swatch.ink)
            }
        case .sync, .checkpoint:
            let color = event.kind == .sync ? ReportPalette.sync : ReportPalette.checkpoint
            let bar = max(3, min(6, width * 0.3))
            // Wide cells keep the marker near the left so its label fits beside it.
            let center = width >= labelledCell ? x + 10 : center
            out += "<rect x=\"\(n(center - bar / 2))\" y=\"\(n(top - 2))\" width=\"\(n(bar))\" height=\"\(n(boxHeight + 4))\" rx=\"1\" fill=\"\(color)\"/>"
            if event.kind == .checkpoint {
                let size = min(width - 2, 10)
                out += "<rect x=\"\(n(center - size / 2))\" y=\"\(n(top - 2))\" width=\"\(n(size))\" height=\"\(n(size))\" fill=\"\(color)\" transform=\"rotate(45 \(n(center)) \(n(top - 2 + size / 2)))\"/>"
            }
            if width >= labelledCell {
                out += "<text x=\"\(n(center + 8))\" y=\"\(n(top + boxHeight / 2 + 4))\" class=\"marker-label\" fill=\"\(color)\">\(h(ReportFormat.truncated(event.label, to: Int((x + width - center - 12) / 6.0))))</text>"
            }
        case .crash:
            out += "<line x1=\"\(n(center))\" y1=\"\(n(top - 5))\" x2=\"\(n(center))\" y2=\"\(n(top + boxHeight + 5))\" stroke=\"\(ReportPalette.crash)\" stroke-width=\"3\"/>"
            let radius = min(8, width / 2 - 1)
            out += "<circle cx=\"\(n(center))\" cy=\"\(n(top + boxHeight / 2))\" r=\"\(n(radius))\" fill=\"\(ReportPalette.crash)\" stroke=\"#ffffff\" stroke-width=\"1.5\"/>"
        case .fault:
            let half = min(8, width / 2 - 1)
            let apex = top + boxHeight / 2 + half
            out += "<path d=\"M\(n(center - half)) \(n(apex - 2 * half))H\(n(center + half))L\(n(center)) \(n(apex))Z\" fill=\"\(ReportPalette.fault)\"/>"
        }
        if event.highlighted {
            out += "<rect x=\"\(n(x))\" y=\"\(n(top - 3))\" width=\"\(n(width))\" height=\"\(n(boxHeight + 6))\" rx=\"4\" fill=\"none\" stroke=\"\(ReportPalette.highlight)\" stroke-width=\"3\"/>"
        }
        return out + "</g>\n"
    }

    /// A filled box in a swatch's colours (dashed outline for in-flight).
    static func box(x: Double, y: Double, width: Double, height: Double, swatch: ReportPalette.Swatch, radius: Double = 3, strokeWidth: Double = 1) -> String {
        "<rect x=\"\(n(x))\" y=\"\(n(y))\" width=\"\(n(max(1, width)))\" height=\"\(n(height))\" rx=\"\(n(radius))\" fill=\"\(swatch.fill)\" stroke=\"\(swatch.stroke)\" stroke-width=\"\(n(strokeWidth))\"\(swatch.dashed ? " stroke-dasharray=\"4 2\"" : "")/>"
    }

    /// Centred label text cut to the width it has.
    static func label(_ text: String, x: Double, y: Double, width: Double, ink: String) -> String {
        let fitting = ReportFormat.truncated(text, to: Int((width - 6) / characterWidth))
        return "<text x=\"\(n(x))\" y=\"\(n(y))\" text-anchor=\"middle\" class=\"cell-label\" fill=\"\(ink)\">\(h(fitting))</text>"
    }

    /// A label on one line, or on two when it does not fit one (cut at a space where
    /// possible, the rest truncated).
    static func wrappedLabel(_ text: String, x: Double, top: Double, width: Double, ink: String) -> String {
        let fit = Int((width - 6) / characterWidth)
        guard text.count > fit, fit > 3 else {
            return label(text, x: x, y: top + boxHeight / 2 + 4, width: width, ink: ink)
        }
        let head = text.prefix(fit)
        let cut = head.lastIndex(of: " ").map { text.distance(from: text.startIndex, to: $0) } ?? fit
        let first = String(text.prefix(cut > 0 ? cut : fit))
        let rest = String(text.dropFirst(first.count)).trimmingCharacters(in: .whitespaces)
        return label(first, x: x, y: top + 12.5, width: width, ink: ink)
            + label(rest, x: x, y: top + 24.5, width: width, ink: ink)
    }

    /// Event numbers under the lane: every cell when cells are wide, otherwise every 5th or
    /// 10th so the numbers never overlap.
    private static func axis(_ events: [TimelineEvent], layout: Layout) -> String {
        let step = layout.cell >= 40 ? 1 : layout.cell >= 20 ? 5 : 10
        var out = ""
        for (position, event) in events.enumerated() where position % step == 0 {
            let (x, rowTop) = layout.origin(position)
            let y = rowTop + annotationBand + boxHeight + 14
            if step > 1 {
                out += "<line x1=\"\(n(x + layout.cell / 2))\" y1=\"\(n(y - 11))\" x2=\"\(n(x + layout.cell / 2))\" y2=\"\(n(y - 8))\" stroke=\"#9ca3af\"/>"
            }
            out += "<text x=\"\(n(x + layout.cell / 2))\" y=\"\(n(y))\" text-anchor=\"middle\" class=\"axis-label\">\(event.index)</text>\n"
        }
        return out
    }

    struct Annotation {
        var x: Double
        var rowTop: Double
        var text: String
        var color: String
        var bold: Bool
    }

    /// Writes annotations above the lane, or below the event numbers when the line above is
    /// taken there, with a short leader to their event. When both lines are taken the text
    /// joins the annotation before it above, so nothing is hidden and nothing overlaps.
    /// Labels near the right edge end at their marker instead of starting there.
    private static func place(_ annotations: [Annotation]) -> String {
        struct Placed { var annotation: Annotation; var text: String; var left: Double; var endAnchored: Bool; var below: Bool }
        var placed: [Placed] = []
        for annotation in annotations.sorted(by: { ($0.rowTop, $0.x) < ($1.rowTop, $1.x) }) {
            let text = ReportFormat.truncated(annotation.text, to: 48)
            let textWidth = Double(text.count) * characterWidth + 4
            let endAnchored = annotation.x + textWidth > width - margin
            let left = endAnchored ? annotation.x - textWidth : annotation.x - 6
            let sameRow = placed.filter { $0.annotation.rowTop == annotation.rowTop }
            func free(below: Bool) -> Bool {
                sameRow.filter { $0.below == below }.allSatisfy { other in
                    let otherRight = other.left + Double(other.text.count) * characterWidth + 12
                    return otherRight < left || left + textWidth + 8 < other.left
                }
            }
            if free(below: false) {
                placed.append(Placed(annotation: annotation, text: text, left: left, endAnchored: endAnchored, below: false))
            } else if free(below: true) {
                placed.append(Placed(annotation: annotation, text: text, left: left, endAnchored: endAnchored, below: true))
            } else if let last = placed.lastIndex(where: { $0.annotation.rowTop == annotation.rowTop && !$0.below }) {
                placed[last].text += " · " + text
            }
        }
        var out = ""
        for item in placed {
            let annotation = item.annotation
            let laneTop = annotation.rowTop + annotationBand
            let y = item.below ? laneTop + boxHeight + axisBand + 12 : annotation.rowTop + 12
            let x = item.endAnchored ? annotation.x + 6 : annotation.x - 6
            if item.below {
                out += "<line x1=\"\(n(annotation.x))\" y1=\"\(n(laneTop + boxHeight + 3))\" x2=\"\(n(annotation.x))\" y2=\"\(n(y - 10))\" stroke=\"\(annotation.color)\" stroke-width=\"1.5\"/>"
            }
            out += "<text x=\"\(n(x))\" y=\"\(n(y))\"\(item.endAnchored ? " text-anchor=\"end\"" : "") class=\"annotation\" fill=\"\(annotation.color)\">\(h(item.text))</text>\n"
        }
        return out
    }

    // MARK: Pending writes at a crash

    /// The pending writes and directory operations at one crash: one lane per file (plus one
    /// for directory operations), each in FS-call order across all lanes so time reads left
    /// to right, ending at the red crash line. Writes the checker flagged have a thick
    /// outline and a marker.
    static func fates(_ crash: CrashFate, id: String) -> String {
        enum Item { case write(WriteFate), directory(DirectoryOpFate) }
        var items: [(fsCall: Int, order: Int, lane: String, item: Item)] = []
        for (order, write) in crash.writes.enumerated() {
            items.append((write.fsCall, order, write.path, .write(write)))
        }
        let directoryLane = "directory operations"
        for (order, operation) in crash.directoryOperations.enumerated() {
            items.append((operation.fsCall, crash.writes.count + order, directoryLane, .directory(operation)))
        }
        items.sort { ($0.fsCall, $0.order) < ($1.fsCall, $1.order) }
        var lanes: [String] = []
        for item in items where item.lane != directoryLane && !lanes.contains(item.lane) { lanes.append(item.lane) }
        if !crash.directoryOperations.isEmpty { lanes.append(directoryLane) }

        let labelWidth = 200.0
        let laneHeight = 30.0
        let top = 22.0
        let crashGap = 110.0  // room for the crash line and its label
        let usable = width - 2 * margin - labelWidth - crashGap
        let cell = items.isEmpty ? 0 : min(110, max(2, usable / Double(items.count)))
        let height = top + Double(max(1, lanes.count)) * laneHeight + 14
        let crashX = margin + labelWidth + Double(items.count) * cell + 16
        var out = "<svg class=\"fates\" viewBox=\"0 0 \(n(width)) \(n(height))\" width=\"\(n(width))\" height=\"\(n(height))\" role=\"img\" aria-labelledby=\"\(id)-title\">\n"
        let survivedCount = crash.writes.filter { ReportPalette.fate($0.fate) == ReportPalette.survived }.count
        out += "<title id=\"\(id)-title\">Pending writes at the \(h(crash.kind)) crash at FS call \(crash.atFSCall): \(crash.writes.count) writes, \(survivedCount) survived; \(crash.directoryOperations.count) directory operations</title>\n"
        out += "<text x=\"\(n(margin + labelWidth))\" y=\"13\" class=\"axis-label\">earlier FS calls →</text>\n"
        for (number, lane) in lanes.enumerated() {
            let y = top + Double(number) * laneHeight
            out += "<rect x=\"\(n(margin))\" y=\"\(n(y))\" width=\"\(n(crashX - margin))\" height=\"\(n(laneHeight - 4))\" rx=\"4\" fill=\"\(number % 2 == 0 ? "#f3f4f6" : "#f9fafb")\"/>"
            out += "<text x=\"\(n(margin + 8))\" y=\"\(n(y + 17))\" class=\"lane-label\"><title>\(h(lane))</title>\(h(ReportFormat.truncated(lane, to: Int((labelWidth - 16) / characterWidth))))</text>\n"
        }
        for (column, entry) in items.enumerated() {
            let lane = lanes.firstIndex(of: entry.lane) ?? 0
            let x = margin + labelWidth + Double(column) * cell
            let y = top + Double(lane) * laneHeight + 3
            let inset = cell >= 8 ? 1.5 : 0.3
            switch entry.item {
            case .write(let write):
                let swatch = ReportPalette.fate(write.fate)
                let tooltip = "\(write.path) @\(write.offset) +\(write.length) B, FS call \(write.fsCall): \(write.fate)\(write.mattered ? " — mattered to the verdict" : "")"
                out += "<g><title>\(h(tooltip))</title>"
                out += box(x: x + inset, y: y, width: cell - 2 * inset, height: laneHeight - 10, swatch: swatch, radius: 2,
                           strokeWidth: write.mattered ? 3 : 1)
                if write.mattered {
                    out += "<rect x=\"\(n(x + inset - 1.5))\" y=\"\(n(y - 1.5))\" width=\"\(n(cell - 2 * inset + 3))\" height=\"\(n(laneHeight - 7))\" rx=\"3\" fill=\"none\" stroke=\"\(ReportPalette.highlight)\" stroke-width=\"2.5\"/>"
                }
                if cell >= labelledCell {
                    out += label("+\(write.length) B", x: x + cell / 2, y: y + 14, width: cell - 2 * inset, ink: swatch.ink)
                }
                out += "</g>\n"
            case .directory(let operation):
                let swatch = ReportPalette.directoryOperation(survived: operation.survived)
                let tooltip = "\(operation.operation) \(operation.path), FS call \(operation.fsCall): \(operation.survived ? "survived" : "lost")"
                out += "<g><title>\(h(tooltip))</title>"
                out += box(x: x + inset, y: y, width: cell - 2 * inset, height: laneHeight - 10, swatch: swatch, radius: 9)
                if cell >= labelledCell {
                    out += label(operation.operation, x: x + cell / 2, y: y + 14, width: cell - 2 * inset, ink: swatch.ink)
                }
                out += "</g>\n"
            }
        }
        out += "<line x1=\"\(n(crashX))\" y1=\"\(n(top - 6))\" x2=\"\(n(crashX))\" y2=\"\(n(height - 6))\" stroke=\"\(ReportPalette.crash)\" stroke-width=\"3\"/>"
        out += "<text x=\"\(n(crashX + 6))\" y=\"\(n(top + 12))\" class=\"annotation\" fill=\"\(ReportPalette.crash)\">⚡ \(h(ReportFormat.truncated(crash.kind, to: 12)))</text>"
        out += "<text x=\"\(n(crashX + 6))\" y=\"\(n(top + 26))\" class=\"axis-label\">FS \(crash.atFSCall)</text>\n"
        out += "</svg>\n"
        return out
    }
}
