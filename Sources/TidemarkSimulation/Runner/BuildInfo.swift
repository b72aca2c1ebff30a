/// Identifies the build that produced a failure file; replay warns when it differs.
public enum BuildInfo {
    public static let version = "0.1.0"
    public static var identity: String {
        #if DEBUG
        "tidemark \(version) (debug)"
        #else
        "tidemark \(version) (release)"
        #endif
    }
}
