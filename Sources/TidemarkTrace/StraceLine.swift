/// One completed system call as `strace -f -qq -y -xx` prints it: the thread, the call's name,
/// its top-level arguments (raw text) and its result.
///
/// With `-xx` every string, and every path strace decorates a descriptor with (`-y`), is
/// hex-escaped (`"\x61"`, `3<\x2f\x74>`), so quotes, commas and angle brackets inside names
/// never confuse the split.
struct StraceCall: Equatable {
    var pid: Int
    var name: String
    var arguments: [String]
    /// The number before any decoration ("3" of `3</path>`, "-1" of `-1 ENOENT (...)`), or nil
    /// for `?`.
    var result: Int64?
    /// The path decorating the result (`-y` on a returned descriptor).
    var resultPath: String?

    var succeeded: Bool { (result ?? -1) >= 0 }
}

/// Joins `<unfinished ...>` / `<... resumed>` halves and parses each completed call.
struct StraceLineReader {
    private var unfinished: [Int: String] = [:]

    /// The completed call on this line, or nil for signals, exits, and the first half of an
    /// interrupted call.
    mutating func call(from rawLine: Substring) throws -> StraceCall? {
        var line = rawLine
        guard let space = line.firstIndex(of: " "), let pid = Int(line[..<space]) else {
            throw TraceError("strace output: no thread id at the start of \"\(rawLine.prefix(80))\"")
        }
        line = line[line.index(after: space)...].drop { $0 == " " }
        if line.hasPrefix("+++") || line.hasPrefix("---") { return nil }
        if line.hasSuffix("<unfinished ...>") {
            unfinished[pid] = String(line.dropLast("<unfinished ...>".count))
            return nil
        }
        var text = String(line)
        if line.hasPrefix("<... ") {
            guard let close = line.range(of: " resumed>") else {
                throw TraceError("strace output: malformed resumed call \"\(rawLine.prefix(80))\"")
            }
            // A call whose first half was never seen (strace attached mid-call) is dropped by
            // strace itself too; it cannot touch the directory before the snapshot.
            guard let head = unfinished.removeValue(forKey: pid) else { return nil }
            text = head + line[close.upperBound...]
        }
        return try Self.parse(pid: pid, text)
    }

    static func parse(pid: Int, _ text: String) throws -> StraceCall? {
        let chars = Array(text.utf8)
        guard let open = chars.firstIndex(of: UInt8(ascii: "(")) else { return nil }
        let name = String(decoding: chars[..<open], as: UTF8.self)
        var arguments: [String] = []
        var depth = 0
        // Decorations (`3<…>`) nest apart: clone3's `=> {…}` has a lone `>`.
        var angles = 0
        var inString = false
        var start = open + 1
        var index = open + 1
        var closeIndex: Int?
        while index < chars.count {
            let c = chars[index]
            if inString {
                if c == UInt8(ascii: "\\") { index += 2; continue }
                if c == UInt8(ascii: "\"") { inString = false }
            } else {
                switch c {
                case UInt8(ascii: "\""): inString = true
                case UInt8(ascii: "("), UInt8(ascii: "["), UInt8(ascii: "{"): depth += 1
                case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
                case UInt8(ascii: "<") where index > 0 && (chars[index - 1].isASCIIAlphanumeric || chars[index - 1] == UInt8(ascii: "_")):
                    angles += 1
                case UInt8(ascii: ">") where angles > 0: angles -= 1
                case UInt8(ascii: ")"):
                    if depth == 0 && angles == 0 { closeIndex = index } else if angles == 0 { depth -= 1 }
                case UInt8(ascii: ","):
                    if depth == 0 && angles == 0 {
                        arguments.append(Self.trimmed(chars[start..<index]))
                        start = index + 1
                    }
                default: break
                }
            }
            if closeIndex != nil { break }
            index += 1
        }
        guard let close = closeIndex else {
            throw TraceError("strace output: unterminated call \"\(text.prefix(80))\"")
        }
        let last = Self.trimmed(chars[start..<close])
        if !(arguments.isEmpty && last.isEmpty) { arguments.append(last) }
        let rest = Self.trimmed(chars[(close + 1)...])
        guard rest.hasPrefix("=") else {
            throw TraceError("strace output: no result in \"\(text.prefix(80))\"")
        }
        let value = rest.dropFirst().drop { $0 == " " }
        let number = value.prefix { $0 == "-" || $0.isHexDigit || $0 == "x" }
        let result: Int64? = number.hasPrefix("0x")
            ? Int64(bitPattern: UInt64(number.dropFirst(2), radix: 16) ?? 0)
            : Int64(number)
        var resultPath: String?
        let after = value.dropFirst(number.count)
        if after.hasPrefix("<") { resultPath = try decodeDecoration(after) }
        return StraceCall(pid: pid, name: name, arguments: arguments, result: result, resultPath: resultPath)
    }

    static func trimmed(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes, as: UTF8.self).trimmingSpaces
    }

    /// The path in `<\x2f...>` at the start of `text` (" (deleted)" removed).
    static func decodeDecoration(_ text: Substring) throws -> String? {
        guard text.hasPrefix("<"), let end = text.firstIndex(of: ">") else { return nil }
        let path = String(decoding: try decodeEscapes(text[text.index(after: text.startIndex)..<end]), as: UTF8.self)
        return path.hasSuffix(" (deleted)") ? String(path.dropLast(" (deleted)".count)) : path
    }

    /// Bytes of strace's escaped text: `\xNN`, `\n`, `\t`, `\\`, `\"`, `\NNN`, or literal.
    static func decodeEscapes(_ text: Substring) throws -> [UInt8] {
        var out: [UInt8] = []
        let chars = Array(text.utf8)
        var index = 0
        while index < chars.count {
            let c = chars[index]
            guard c == UInt8(ascii: "\\"), index + 1 < chars.count else {
                out.append(c)
                index += 1
                continue
            }
            let next = chars[index + 1]
            switch next {
            case UInt8(ascii: "x"):
                guard index + 4 <= chars.count,
                    let byte = UInt8(String(decoding: chars[(index + 2)..<(index + 4)], as: UTF8.self), radix: 16)
                else { throw TraceError("strace output: bad escape in \"\(text.prefix(40))\"") }
                out.append(byte)
                index += 4
            case UInt8(ascii: "n"): out.append(0x0A); index += 2
            case UInt8(ascii: "t"): out.append(0x09); index += 2
            case UInt8(ascii: "r"): out.append(0x0D); index += 2
            case UInt8(ascii: "v"): out.append(0x0B); index += 2
            case UInt8(ascii: "f"): out.append(0x0C); index += 2
            case UInt8(ascii: "0")...UInt8(ascii: "7"):
                var value = 0
                var length = 0
                while length < 3, index + 1 + length < chars.count,
                    (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(chars[index + 1 + length])
                {
                    value = value * 8 + Int(chars[index + 1 + length] - UInt8(ascii: "0"))
                    length += 1
                }
                out.append(UInt8(truncatingIfNeeded: value))
                index += 1 + length
            default: out.append(next); index += 2
            }
        }
        return out
    }
}

/// Readers of one argument's text.
enum StraceArgument {
    /// `3</path>` → (3, "/path"); `AT_FDCWD</cwd>` → (AT_FDCWD, "/cwd"); `3` → (3, nil).
    static func descriptor(_ text: String) throws -> (fd: Int?, path: String?) {
        let head = text.prefix { $0 != "<" }
        let path = try StraceLineReader.decodeDecoration(text.dropFirst(head.count))
        return (head == "AT_FDCWD" ? atCurrentDirectory : Int(head), path)
    }

    static let atCurrentDirectory = -100

    /// A quoted string's bytes and whether strace cut it (`"..."...`).
    static func string(_ text: String) throws -> (bytes: [UInt8], truncated: Bool) {
        guard text.hasPrefix("\"") else { throw TraceError("strace output: expected a string, got \"\(text.prefix(40))\"") }
        let body = text.dropFirst()
        guard let close = body.lastIndex(of: "\"") else { throw TraceError("strace output: unterminated string") }
        let bytes = try StraceLineReader.decodeEscapes(body[..<close])
        return (bytes, body[body.index(after: close)...].hasPrefix("..."))
    }

    static func integer(_ text: String) -> Int64? {
        if text.hasPrefix("0x") { return Int64(bitPattern: UInt64(text.dropFirst(2), radix: 16) ?? 0) }
        return Int64(text)
    }

    /// `O_WRONLY|O_CREAT` → ["O_WRONLY", "O_CREAT"].
    static func flags(_ text: String) -> Set<String> {
        Set(text.split(separator: "|").map { String($0).trimmingSpaces })
    }

    /// The bytes of `[{iov_base="..", iov_len=3}, …]`, in order.
    static func ioVector(_ text: String) throws -> (bytes: [UInt8], truncated: Bool) {
        var bytes: [UInt8] = []
        var truncated = false
        var rest = Substring(text)
        while let base = rest.range(of: "iov_base=\"") {
            var index = base.upperBound
            while index < rest.endIndex, rest[index] != "\"" {
                index = rest[index] == "\\" ? rest.index(index, offsetBy: 2) : rest.index(after: index)
            }
            bytes += try StraceLineReader.decodeEscapes(rest[base.upperBound..<index])
            let after = rest.index(after: index)
            if rest[after...].hasPrefix("...") { truncated = true }
            rest = rest[after...]
        }
        return (bytes, truncated)
    }
}

extension UInt8 {
    var isASCIIAlphanumeric: Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self)
            || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self)
    }
}

extension String {
    var trimmingSpaces: String {
        var slice = Substring(self)
        while slice.first == " " { slice = slice.dropFirst() }
        while slice.last == " " { slice = slice.dropLast() }
        return String(slice)
    }
}
