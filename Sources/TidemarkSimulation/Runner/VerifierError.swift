/// An error from the verifier's own inputs: scenario files, failure files, arguments.
public struct VerifierError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
