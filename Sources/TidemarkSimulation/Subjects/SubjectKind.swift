import TidemarkIO

/// The subjects a scenario can name, with the options each accepts.
public enum SubjectKind: String, Codable, Sendable, Hashable, CaseIterable {
    /// The Tidemark store.
    case tidemark
    /// SQLite through the Tidemark VFS (`journal` × `synchronous`).
    case sqlite

    /// One option a subject accepts, with its validation.
    public struct OptionSpec: Sendable {
        public var name: String
        public var summary: String
        public var validate: @Sendable (String) -> String?

        public static func choice(_ name: String, _ values: [String], _ summary: String) -> OptionSpec {
            OptionSpec(name: name, summary: "\(summary) (\(values.joined(separator: "|")))") { text in
                values.contains(text) ? nil : "must be one of \(values.joined(separator: ", ")), got \"\(text)\""
            }
        }

        public static func integer(_ name: String, _ range: ClosedRange<Int>, _ summary: String) -> OptionSpec {
            OptionSpec(name: name, summary: "\(summary) (\(range.lowerBound)...\(range.upperBound))") { text in
                guard let value = Int(text) else { return "must be an integer, got \"\(text)\"" }
                return range.contains(value) ? nil : "must be within \(range.lowerBound)...\(range.upperBound), got \(value)"
            }
        }
    }

    public var optionSpecs: [OptionSpec] {
        switch self {
        case .tidemark: TidemarkStoreSubject.optionSpecs
        case .sqlite: SQLiteSubject.optionSpecs
        }
    }

    /// Builds a subject for one run.
    public func makeSubject(
        options: [String: String], fileSystem: any FileSystem, clock: any Clock, random: any RandomSource
    ) throws -> any Subject {
        for spec in optionSpecs {
            if let value = options[spec.name], let problem = spec.validate(value) {
                throw VerifierError("subject option \(spec.name): \(problem)")
            }
        }
        switch self {
        case .tidemark:
            return try TidemarkStoreSubject(options: options, fileSystem: fileSystem, clock: clock, random: random)
        case .sqlite:
            return try SQLiteSubject(options: options, fileSystem: fileSystem, clock: clock, random: random)
        }
    }
}
