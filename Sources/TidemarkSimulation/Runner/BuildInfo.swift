import Foundation
import TidemarkIO

/// Identifies the build that produced a failure file or a campaign state; replay warns when it
/// differs, and shards, resumptions and merges refuse to mix builds.
public enum BuildInfo {
    public static let version = "0.1.0"
    public static var identity: String {
        #if DEBUG
        "tidemark \(version) (debug)"
        #else
        "tidemark \(version) (release)"
        #endif
    }

    /// Size and CRC32C of the running executable: equal only for the very same build, where the
    /// version alone stays the same across code changes.
    public static let digest: String = {
        guard let data = FileManager.default.contents(atPath: "/proc/self/exe")
            ?? Bundle.main.executablePath.flatMap({ FileManager.default.contents(atPath: $0) }) else { return "unknown" }
        let checksum = data.withUnsafeBytes { CRC32C.checksum($0) }
        return "\(data.count)-\(String(checksum, radix: 16))"
    }()
}
