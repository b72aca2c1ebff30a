/// Why a violating crash state broke its subject, in words that group one mistake across
/// crash points, seeds and recorded runs. The one grouping both explorers use: the in-process
/// explorer (`CrashExplorer`, a subject recovered on the simulated disk) and trace exploration
/// (`TidemarkTrace.Explorer`, the user's checker on a recorded program's states). Two states
/// belong to one vulnerability when their causes (and invariants) are equal.
///
/// A cause names changes without offsets, lengths or sequence numbers (`generic`):
/// - `durability: <change> was still pending`: the program relied on a change being durable
///   (an acknowledged or synced operation, or a line it printed): when the invariant says so,
///   the first change the state lost; when only a checker judges (a trace), the change the
///   longest breaking prefix lacks, so every state that lost it, whatever else it lost, groups;
/// - `ordering: <A> must persist before <B>`, the pair found by asking the bounded family's
///   states (`violates`) about the changes the state lost, latest first, until one pair is one
///   the state shows (A lost, B kept): the shortest prefix that breaks the subject (its last
///   change persisted without the next), else the first later change whose persistence without
///   the lost one breaks it (a pair of whole changes, so it explains the state even when some
///   other write in it landed in part);
/// - else `atomicity: <change> torn across sectors | grew the file without its data | left
///   garbage in unlanded sectors`, the first change the state kept in part;
/// - `page cache: nothing lost already breaks it`: what a process kill leaves breaks the
///   subject; one cause wherever it happens (the reproducer's state names the point).
public struct CauseFinder {
    /// One pending change's fate in a state (nil in `fates`: its fate cannot show, e.g. data of
    /// a file no name reaches).
    public enum Fate: Sendable, Hashable {
        case kept, lost
        /// Landed in part: "torn across sectors", "grew the file without its data", ….
        case partial(String)
    }

    /// The pending changes at the point, in issue order, named generically.
    public let changes: [String]
    /// Whether the state keeping changes `0..<length` except `dropping` (made legal by losing
    /// what depended on a lost change) breaks the subject; nil when unknown.
    private let violates: (_ length: Int, _ dropping: Int?) -> Bool?
    private var prefixVerdicts: [Int: Bool] = [:]
    private var pairs: [Int: (lost: Int, kept: Int)?] = [:]

    public init(changes: [String], violates: @escaping (_ length: Int, _ dropping: Int?) -> Bool?) {
        self.changes = changes
        self.violates = violates
    }

    /// The cause of a violating state with these `fates` (aligned with `changes`).
    /// `durabilityInvariant`: whether the broken invariant is a durability promise; nil when no
    /// invariant is known (a checker's verdict), then the prefixes decide.
    public mutating func cause(fates: [Fate?], durabilityInvariant: Bool?) -> String {
        let indices = fates.indices.filter { fates[$0] != nil }
        let lost = indices.filter { fates[$0] != .kept }
        if let first = lost.first, let needed = durablyNeeded(firstLost: first, durabilityInvariant: durabilityInvariant) {
            return "durability: \(changes[needed]) was still pending"
        }
        guard let firstLost = lost.first else { return "page cache: nothing lost already breaks it (so does a process kill)" }
        // The latest lost change with a witness this state shows (it lost the one and kept the
        // other): a change lost only because an earlier one was (a rename with its create) then
        // names the same pair as the states that lost it alone.
        for candidate in lost.reversed() {
            if let pair = pair(firstLost: candidate), fates[pair.lost] != .kept, fates[pair.kept] == .kept {
                return "ordering: \(changes[pair.lost]) must persist before \(changes[pair.kept])"
            }
        }
        // No whole-change witness explains the state: a change that landed in part is the suspect.
        for index in indices {
            if case .partial(let how) = fates[index] { return "atomicity: \(changes[index]) \(how)" }
        }
        guard let kept = indices.last(where: { fates[$0] == .kept }) else {
            return "loss: \(changes[firstLost]) and everything after it lost"
        }
        return "ordering: \(changes[firstLost]) must persist before \(changes[kept])"
    }

    /// With a durability invariant, the first lost change. Without one, when losing everything
    /// pending already breaks the subject: the first change whose prefix no longer breaks it,
    /// less one (the change the output relied on), if the state lost it.
    private mutating func durablyNeeded(firstLost: Int, durabilityInvariant: Bool?) -> Int? {
        if let durabilityInvariant { return durabilityInvariant ? firstLost : nil }
        guard prefixBreaks(0) else { return nil }
        let length = (1...changes.count).first { prefixVerdict($0) == false } ?? changes.count
        return firstLost <= length - 1 ? length - 1 : nil
    }

    private mutating func prefixVerdict(_ length: Int) -> Bool? {
        if let known = prefixVerdicts[length] { return known }
        let verdict = violates(length, nil)
        if let verdict { prefixVerdicts[length] = verdict }
        return verdict
    }

    private mutating func prefixBreaks(_ length: Int) -> Bool { prefixVerdict(length) ?? false }

    private mutating func pair(firstLost lost: Int) -> (lost: Int, kept: Int)? {
        if let known = pairs[lost] { return known }
        var found: (lost: Int, kept: Int)?
        if prefixBreaks(lost) {
            // Nil when even the empty prefix breaks: no ordering, a loss.
            if let shortest = (0...lost).first(where: { prefixBreaks($0) }), shortest > 0 { found = (shortest, shortest - 1) }
        } else {
            for kept in (lost + 1)..<max(lost + 1, changes.count) where violates(kept + 1, lost) == true {
                found = (lost, kept)
                break
            }
        }
        pairs[lost] = found
        return found
    }

    /// How a change that landed in part landed, as causes word it.
    public static func partialLanding(garbage: Bool, grewWithoutData: Bool) -> String {
        garbage ? "left garbage in unlanded sectors" : grewWithoutData ? "grew the file without its data" : "torn across sectors"
    }

    /// Sequence numbers become "…": runs of decimal digits, and runs of eight or more hex
    /// digits ("/store/wal-000000000000000c.log" → "/store/wal-….log", "000005.log" → "….log").
    public static func generic(_ text: String) -> String {
        var result = ""
        var run = ""
        func flush() {
            let isNumber = !run.isEmpty && (run.count >= 8 || run.allSatisfy(\.isNumber)) && run.contains(where: \.isNumber)
            result += isNumber ? "…" : run
            run = ""
        }
        for character in text {
            if character.isHexDigit {
                run.append(character)
            } else {
                flush()
                result.append(character)
            }
        }
        flush()
        return result
    }
}
