import Foundation
import Synchronization
import TidemarkIO

/// The campaign progress line on stderr: rewritten in place on a terminal, a plain line every
/// 10% otherwise. Colour only on a terminal and only without `NO_COLOR`.
final class ProgressLine: Sendable {
    private struct State {
        var lastDraw: Int64 = 0
        var lastDecile = -1
        /// The first update (`Campaign` sends one as a round starts): the rate counts from there,
        /// so runs a resumed campaign had done before do not inflate it.
        var first: (done: Int, time: Int64)?
    }
    private let state = Mutex(State())
    private let isTerminal = isatty(2) == 1
    private let clock = SystemClock()
    private let label: String
    let colors: Bool

    init(label: String) {
        self.label = label
        colors = isTerminal && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
    }

    func update(done: Int, total: Int, failed: Int, note: String = "") {
        let now = clock.monotonicNanoseconds()
        let first = state.withLock { state in
            if state.first == nil { state.first = (done, now) }
            return state.first!
        }
        let elapsed = Double(now - first.time) / 1e9
        let rate = elapsed > 0 ? Double(done - first.done) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let failures = failed == 0 ? "0 failed" : paint("\(failed) failed", code: "33")
        let text = "\(label)  \(done)/\(total) runs  \(failures)  \(String(format: "%.1f", rate)) runs/s  ETA \(formatSeconds(eta))\(note)"
        let shouldDraw: Bool = state.withLock { state in
            if isTerminal {
                guard done == total || now - state.lastDraw > 100_000_000 else { return false }
                state.lastDraw = now
                return true
            }
            let decile = total == 0 ? 10 : done * 10 / total
            guard decile != state.lastDecile else { return false }
            state.lastDecile = decile
            return true
        }
        guard shouldDraw else { return }
        let line = isTerminal ? "\r\u{1B}[2K" + text + (done == total ? "\n" : "") : text + "\n"
        FileHandle.standardError.write(Data(line.utf8))
    }

    func paint(_ text: String, code: String) -> String {
        colors ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }
}

func formatSeconds(_ seconds: Double) -> String {
    if seconds < 60 { return String(format: "%.0fs", seconds) }
    if seconds >= 3600 { return String(format: "%dh%02dm", Int(seconds) / 3600, Int(seconds) % 3600 / 60) }
    return String(format: "%dm%02ds", Int(seconds) / 60, Int(seconds) % 60)
}

func printWarning(_ message: String) {
    FileHandle.standardError.write(Data(("warning: " + message + "\n").utf8))
}
