/// Where the simulated machine dies.
///
/// A call is *eligible* when its index is at least `afterCalls` (if set), its kind is
/// `operation` (if set) and one of its paths contains `pathContains` (if set). The
/// `occurrence`-th eligible call fires: it is **not** performed, it throws `.io` ("simulated
/// crash ...") and the file system halts until `crash(_:)`. So `KillPoint(afterCalls: 5)`
/// performs calls 0...4 and kills call 5 (the sixth). A kill point fires once, then disarms.
public struct KillPoint: Codable, Sendable, Hashable {
    public var afterCalls: Int?
    public var operation: FileOperation?
    public var pathContains: String?
    public var occurrence: Int

    public init(afterCalls: Int? = nil, operation: FileOperation? = nil, pathContains: String? = nil, occurrence: Int = 1) {
        self.afterCalls = afterCalls
        self.operation = operation
        self.pathContains = pathContains
        self.occurrence = occurrence
    }

    private enum CodingKeys: String, CodingKey { case afterCalls, operation, pathContains, occurrence }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        afterCalls = try c.decodeIfPresent(Int.self, forKey: .afterCalls)
        operation = try c.decodeIfPresent(FileOperation.self, forKey: .operation)
        pathContains = try c.decodeIfPresent(String.self, forKey: .pathContains)
        occurrence = try c.decodeIfPresent(Int.self, forKey: .occurrence) ?? 1
    }

    /// Whether a call with these properties is eligible (see the type's documentation).
    func isEligible(callIndex: Int, operation: FileOperation, paths: [String]) -> Bool {
        if let afterCalls, callIndex < afterCalls { return false }
        if let wanted = self.operation, wanted != operation { return false }
        if let pattern = pathContains, !paths.contains(where: { $0.contains(pattern) }) { return false }
        return true
    }
}
