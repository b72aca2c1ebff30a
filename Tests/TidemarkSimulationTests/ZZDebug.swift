import Foundation
import Testing
@testable import TidemarkSimulation

struct ZZDebug {
    @Test func scenarios() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Scenarios").standardized.path
        let only = ProcessInfo.processInfo.environment["ONLY"]
        for file in try FileManager.default.contentsOfDirectory(atPath: dir).sorted() where file.hasSuffix(".yaml") {
            if let only, !file.contains(only) { continue }
            let scenario = try ScenarioParser.load(file: dir + "/" + file)
            var failures: [String: Int] = [:]
            var first: [String] = []
            var stopped = 0, calls = 0
            let start = Date()
            let n = Int(ProcessInfo.processInfo.environment["SEEDS"] ?? "10")!
            for seed in 1...UInt64(n) {
                let r = SimulationRun(scenario: scenario, seed: seed).execute()
                calls += r.fsCalls
                if r.stoppedEarly != nil { stopped += 1 }
                if let v = r.violation {
                    failures[v.invariant.rawValue, default: 0] += 1
                    if first.count < 2 { first.append("seed \(seed): \(v)") }
                }
            }
            print("SCEN \(scenario.name) expect=\(scenario.expect) failures=\(failures) stopped=\(stopped) calls=\(calls) t=\(Date().timeIntervalSince(start))")
            for f in first { print("    \(f)") }
        }
    }
}
