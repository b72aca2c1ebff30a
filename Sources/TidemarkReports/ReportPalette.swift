/// The colours and shapes the HTML report draws with. Every picture and the legend read them
/// from here, so a colour means the same thing everywhere on the page.
enum ReportPalette {
    struct Swatch: Equatable {
        /// What the legend calls it.
        var name: String
        var fill: String
        var stroke: String
        var dashed: Bool = false
        /// Text colour that stays readable on `fill`.
        var ink: String = "#111827"
    }

    static let acknowledged = Swatch(name: "acknowledged", fill: "#34a866", stroke: "#1f7a45", ink: "#ffffff")
    static let ok = Swatch(name: "ok (read or check passed)", fill: "#bfe6cc", stroke: "#34a866")
    static let rejected = Swatch(name: "rejected (clean error)", fill: "#b4bcc7", stroke: "#6b7785")
    static let ambiguous = Swatch(name: "ambiguous (I/O error)", fill: "#f6bd41", stroke: "#b7791f")
    static let inFlight = Swatch(name: "in flight at the crash", fill: "#dbeafe", stroke: "#2563eb", dashed: true)
    static let violation = Swatch(name: "violation", fill: "#dc2626", stroke: "#991b1b", ink: "#ffffff")
    static let otherOutcome = Swatch(name: "other outcome", fill: "#e5e7eb", stroke: "#9ca3af")

    /// The outcome swatches in legend order.
    static let outcomes = [acknowledged, ok, rejected, ambiguous, inFlight, violation]

    /// The swatch for an event outcome. Reads, refusals and notes have no colour of their own.
    static func outcome(_ outcome: EventOutcome) -> Swatch {
        switch outcome {
        case .acknowledged: acknowledged
        case .ok, .note(""): ok
        case .rejected: rejected
        case .ambiguous: ambiguous
        case .inFlight: inFlight
        case .violation: violation
        case .absent, .found, .results, .refusedFailStopped, .corruptionDetected, .lossReported, .records, .untidy, .note:
            otherOutcome
        }
    }

    static let survived = Swatch(name: "survived", fill: "#22a35a", stroke: "#15703d", ink: "#ffffff")
    static let dropped = Swatch(name: "dropped", fill: "#c3c8cf", stroke: "#6b7280")
    static let torn = Swatch(name: "torn (some sectors)", fill: "#f28c28", stroke: "#b45309")
    static let garbage = Swatch(name: "garbage", fill: "#dc2626", stroke: "#991b1b", ink: "#ffffff")
    static let lostToFsyncError = Swatch(name: "lost to fsync error", fill: "#8b5cf6", stroke: "#5b21b6", ink: "#ffffff")
    static let otherFate = Swatch(name: "other fate", fill: "#e5e7eb", stroke: "#9ca3af")

    /// The fate swatches in legend order.
    static let fates = [survived, dropped, torn, garbage, lostToFsyncError]

    /// The swatch for a write fate string: "survived", "dropped", "torn (k of n sectors)",
    /// "garbage", "lost to fsync error".
    static func fate(_ fate: String) -> Swatch {
        let fate = fate.lowercased()
        if fate.hasPrefix("survived") { return survived }
        if fate.hasPrefix("dropped") { return dropped }
        if fate.hasPrefix("torn") { return torn }
        if fate.hasPrefix("garbage") { return garbage }
        if fate.contains("fsync") { return lostToFsyncError }
        return otherFate
    }

    /// A directory operation survives or is lost; lost reads like a dropped write.
    static func directoryOperation(survived isSurvived: Bool) -> Swatch {
        isSurvived ? survived : Swatch(name: "lost", fill: dropped.fill, stroke: dropped.stroke)
    }

    // Markers on the timeline lane.
    static let sync = "#2563eb"
    static let checkpoint = "#0d9488"
    static let crash = "#dc2626"
    static let recovery = Swatch(name: "recovery", fill: "#64748b", stroke: "#334155", ink: "#ffffff")
    static let fault = "#c2410c"
    static let highlight = "#111827"

    // Bar chart colours, one per chart.
    static let faultsChart = "#ea7a26"
    static let crashPointsChart = "#dc4a4a"
    static let recoveryPathsChart = "#0d9488"
    static let operationsChart = "#3b6fd8"
    static let violationsChart = "#b91c1c"
}
