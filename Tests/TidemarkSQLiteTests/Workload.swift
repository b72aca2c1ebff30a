import TidemarkIO
import TidemarkSQLite

/// A randomized SQL workload, a pure function of its seed, replayed identically against
/// several connections.
struct SQLWorkload {
    enum Step {
        case statement(String, [SQLiteValue])
        /// Compare every connection's contents here.
        case checkpoint
    }

    static let schema = """
        CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL, payload BLOB, grp INTEGER);
        CREATE INDEX items_by_group ON items(grp, score);
        CREATE TABLE tags(item INTEGER, tag TEXT, PRIMARY KEY(item, tag)) WITHOUT ROWID;
        """

    /// Queries whose results must agree between connections.
    static let probes = [
        "SELECT id, name, score, payload, grp FROM items ORDER BY id",
        "SELECT item, tag FROM tags ORDER BY item, tag",
        "SELECT grp, count(*), sum(length(payload)), max(score) FROM items GROUP BY grp ORDER BY grp",
        "SELECT id FROM items WHERE grp = 3 ORDER BY score, id",
    ]

    var steps: [Step] = []
    private let random: SeededRandom

    init(seed: UInt64, transactions: Int) {
        random = SeededRandom(seed: seed)
        for index in 0..<transactions {
            let kind = random.int(in: 0...9)
            let operations = random.int(in: 3...25)
            switch kind {
            case 0...5:
                steps.append(.statement("BEGIN", []))
                for _ in 0..<operations { appendOperation() }
                steps.append(.statement("COMMIT", []))
            case 6, 7:
                // Work that must vanish: a rolled-back transaction.
                steps.append(.statement("BEGIN", []))
                for _ in 0..<operations { appendOperation() }
                steps.append(.statement("ROLLBACK", []))
            case 8:
                // A savepoint rolled back inside a committed transaction.
                steps.append(.statement("BEGIN", []))
                appendOperation()
                steps.append(.statement("SAVEPOINT inner", []))
                for _ in 0..<operations { appendOperation() }
                steps.append(.statement("ROLLBACK TO inner", []))
                appendOperation()
                steps.append(.statement("COMMIT", []))
            default:
                // Autocommit statements.
                for _ in 0..<min(operations, 5) { appendOperation() }
            }
            if index % 8 == 7 { steps.append(.checkpoint) }
        }
        steps.append(.checkpoint)
    }

    private mutating func appendOperation() {
        switch random.int(in: 0...9) {
        case 0...4:
            let payloadSize = random.chance(0.2) ? random.int(in: 1500...6000) : random.int(in: 0...900)
            steps.append(.statement(
                "INSERT OR REPLACE INTO items(id, name, score, payload, grp) VALUES (?, ?, ?, ?, ?)",
                [
                    .integer(Int64(random.int(in: 1...4000))),
                    .text("item-\(random.next() % 100_000)"),
                    random.chance(0.1) ? .null : .real(Double(random.int(in: -1000...1000)) / 8),
                    .blob(random.bytes(payloadSize)),
                    .integer(Int64(random.int(in: 0...15))),
                ]))
        case 5:
            steps.append(.statement(
                "UPDATE items SET score = ?, name = name || '+' WHERE grp = ?",
                [.real(Double(random.int(in: 0...100))), .integer(Int64(random.int(in: 0...15)))]))
        case 6:
            let start = Int64(random.int(in: 1...4000))
            steps.append(.statement(
                "DELETE FROM items WHERE id BETWEEN ? AND ?", [.integer(start), .integer(start + Int64(random.int(in: 0...60)))]))
        case 7:
            steps.append(.statement(
                "INSERT OR IGNORE INTO tags(item, tag) VALUES (?, ?)",
                [.integer(Int64(random.int(in: 1...4000))), .text("tag-\(random.int(in: 0...40))")]))
        case 8:
            steps.append(.statement("DELETE FROM tags WHERE tag = ?", [.text("tag-\(random.int(in: 0...40))")]))
        default:
            steps.append(.statement(
                "UPDATE items SET payload = zeroblob(?) WHERE id % 97 = ?",
                [.integer(Int64(random.int(in: 0...3000))), .integer(Int64(random.int(in: 0...96)))]))
        }
    }

    /// The answers to every probe.
    static func snapshot(_ connection: SQLiteConnection) throws -> [[[SQLiteValue]]] {
        try probes.map { try connection.query($0) }
    }
}

extension SQLiteConnection {
    /// The single text value a PRAGMA (or any one-cell query) returns.
    func scalarText(_ sql: String) throws -> String? {
        guard let first = try query(sql).first?.first else { return nil }
        if case .text(let text) = first { return text }
        return first.description
    }
}
