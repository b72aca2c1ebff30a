/// Fixed-width hexadecimal, the one way numbers are printed in names and hashes.
public enum Hex {
    /// `value` as 16 lowercase hex digits, zero-padded: fixed-width names (`wal-<LSN>.log`) sort
    /// in numeric order, and trace hashes print the same way everywhere.
    public static func digits16(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
