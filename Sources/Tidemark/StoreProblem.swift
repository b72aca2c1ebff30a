/// A problem found in a file: what and where.
public struct StoreProblem: Sendable, Hashable, Codable, CustomStringConvertible {
    public var file: String
    public var offset: Int64
    public var message: String

    public init(file: String, offset: Int64, message: String) {
        self.file = file
        self.offset = offset
        self.message = message
    }

    public var description: String { "\(file) @ \(offset): \(message)" }
}
