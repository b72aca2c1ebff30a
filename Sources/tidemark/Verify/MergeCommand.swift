import ArgumentParser
import Foundation
import TidemarkIO
import TidemarkSimulation

/// `tidemark merge`: the shards of one campaign, combined into its report.
struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Combine the --out directories of a sharded campaign into one report.",
        discussion: """
            Takes the directories that `tidemark run --shard K/N` (or --shard-from-env N) wrote, one \
            per shard, and writes the report the unsharded campaign would have written (timing \
            aside): report.json, summary.md, index.html, junit.xml and the failure files, re-running \
            each kept violation for its timeline. Refuses shards of different builds, scenarios or \
            seeds, a shard given twice, a missing shard and a shard that did not finish. Exit \
            status: 0 when every scenario met its expectation, 1 when one did not, 2 on bad input.
            """)

    @Argument(help: "The shards' --out directories (each holds campaign-state.json).")
    var shards: [String]

    @Option(help: "Where to write the merged report.")
    var out: String

    @OptionGroup var report: ReportOptions

    func run() throws {
        func refuse(_ message: String) -> ExitCode {
            printError("cannot merge: \(message)")
            return ExitCode(CLIExit.badInput.rawValue)
        }
        var states: [(directory: String, state: CampaignState)] = []
        for directory in shards {
            do {
                states.append((directory, try CampaignState.load(from: FilePaths.join(directory, CampaignState.fileName))))
            } catch {
                throw refuse("\(error)")
            }
        }
        guard let (firstDirectory, first) = states.first else { throw refuse("no shard directories given") }
        for (directory, state) in states.dropFirst() {
            if let problem = first.mismatch(state) { throw refuse("\(firstDirectory) and \(directory) are not shards of one campaign: \(problem)") }
        }
        if first.buildDigest != BuildInfo.digest {
            throw refuse("the shards were run by another build (\(first.build) \(first.buildDigest), this is \(BuildInfo.identity) \(BuildInfo.digest)); merge with the build that ran them")
        }
        let count = first.shard.count
        let byIndex = Dictionary(grouping: states, by: \.state.shard.index)
        if let (index, twice) = byIndex.first(where: { $0.value.count > 1 }) {
            throw refuse("shard \(index)/\(count) given more than once (\(twice.map(\.directory).joined(separator: ", ")))")
        }
        let missing = (1...count).filter { byIndex[$0] == nil }
        if !missing.isEmpty {
            throw refuse("missing shard\(missing.count == 1 ? "" : "s") \(missing.map { "\($0)/\(count)" }.joined(separator: ", ")) (got \(states.map { "\($0.state.shard) in \($0.directory)" }.joined(separator: ", ")))")
        }
        if let unfinished = states.first(where: { !$0.state.finished }) {
            throw refuse("shard \(unfinished.state.shard) in \(unfinished.directory) did not finish; continue it with `tidemark run … --resume`")
        }

        try report.output(in: out).finish(CampaignState.merging(states.map(\.state)), report)
    }
}
