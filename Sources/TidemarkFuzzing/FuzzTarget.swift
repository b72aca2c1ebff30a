import Foundation
import Tidemark
import TidemarkSQLite
import TidemarkSimulation
import TidemarkTrace

/// One fuzz target per decoder that reads bytes a disk or a user hands Tidemark. `run` feeds it
/// one input; a decoder may throw (bad input must be a clear error) but must never trap, hang or
/// allocate without bound. The same code runs under libFuzzer (`tidemark-fuzz`, `make fuzz`) and
/// in `make test`, which replays every file of `Fuzz/corpus/<target>/` and `Fuzz/crashes/<target>/`.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// A log segment file: header, frames, commit payloads, the torn-tail/corruption verdict.
    case logSegment = "log-segment"
    /// A commit payload, the bytes behind a frame's checksum (operations and records).
    case logPayload = "log-payload"
    case checkpoint
    case manifest
    /// `SYNCED`, the two-slot record of the highest synced LSN.
    case syncedRecord = "synced-record"
    /// A cold-tier row: the input is the row id, a 0 byte, then the body; the harness stores the
    /// body's right checksum beside it, so mutations reach the record decoding behind the check.
    case coldRow = "cold-row"
    /// Scenario YAML (`ScenarioParser`).
    case scenario
    /// A failure file (JSON) as `replay` and `shrink` read it.
    case failureFile = "failure-file"
    /// A recorded trace (`tidemark trace record`), as `trace show` and `trace explore` read it.
    case trace

    /// Decodes `input`; errors are the expected outcome for most inputs and are discarded.
    public func run(_ input: [UInt8]) {
        _ = try? decode(input)
    }

    /// Decodes `input`, throwing the decoder's error.
    public func decode(_ input: [UInt8]) throws {
        switch self {
        case .logSegment: try StoreFileDecoding.segment(input)
        case .logPayload: try StoreFileDecoding.commitPayload(input)
        case .checkpoint: try StoreFileDecoding.checkpoint(input)
        case .manifest: try StoreFileDecoding.manifest(input)
        case .syncedRecord: try StoreFileDecoding.syncedRecord(input)
        case .coldRow:
            let split = input.firstIndex(of: 0) ?? input.endIndex
            let id = String(decoding: input[..<split], as: UTF8.self)
            let body = Array(input[min(split + 1, input.endIndex)...])
            let checksum = StoreFileDecoding.coldRowChecksum(id: id, body: body)
            try StoreFileDecoding.coldRow(id: id, body: .blob(body), checksum: .integer(Int64(checksum)))
        case .scenario: _ = try ScenarioParser.parse(String(decoding: input, as: UTF8.self), file: "fuzz.yaml")
        case .failureFile: _ = try FailureFile.decode(Data(input), path: "fuzz.json")
        case .trace: _ = try TraceFile.decode(Data(input), name: "fuzz.trace")
        }
    }

    /// The cold-row input for a row holding `record`.
    public static func coldRowInput(_ record: Record) -> [UInt8] {
        Array(record.id.utf8) + [0] + StoreFileDecoding.coldRowColumns(record).body
    }
}
