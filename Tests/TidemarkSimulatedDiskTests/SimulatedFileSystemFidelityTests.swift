import Foundation
import Testing
import TidemarkIO
@testable import TidemarkSimulatedDisk

/// Runs the same random call sequences on `SimulatedFileSystem` (no faults) and on
/// `PosixFileSystem` in a temp directory, comparing every result and the final tree.
struct SimulatedFileSystemFidelityTests {
    /// What one call returned, in a form both file systems can be compared on.
    enum Outcome: Equatable, CustomStringConvertible {
        case ok(String)
        case failed(String)

        var description: String {
            switch self {
            case .ok(let value): "ok(\(value))"
            case .failed(let code): "error(\(code))"
            }
        }
    }

    static func outcome(_ body: () throws -> String) -> Outcome {
        do { return .ok(try body()) } catch let error as FileSystemError {
            return .failed(error.code.description)
        } catch {
            return .failed("foreign error \(error)")
        }
    }

    /// A file system under test plus how it spells paths and the handles it has opened.
    final class Side {
        let fileSystem: any FileSystem
        let base: String
        var handles: [any FileHandleProtocol] = []
        init(_ fileSystem: any FileSystem, base: String) {
            self.fileSystem = fileSystem
            self.base = base
        }
        func path(_ relative: String) -> String { relative.isEmpty ? (base.isEmpty ? "/" : base) : base + "/" + relative }
    }

    static let paths = ["", "a", "b", "c", "a/x", "a/y", "b/x", "c/x", "a/x/z", "a/y/z", "missing/q"]
    static let optionChoices: [OpenOptions] = [
        .read, .write, .readWrite, [.read, .write, .create], .createNew, [.write, .create, .truncate],
        [.read, .truncate], [.read, .exclusive], [.read, .write, .truncate], [], [.write, .create, .exclusive],
    ]

    /// One random step applied to both sides; returns a label and both outcomes.
    static func step(_ random: SeededRandom, _ sides: [Side]) -> (String, [Outcome]) {
        func pick<T>(_ values: [T]) -> T { random.element(of: values)! }
        let choice = random.next(below: 100)
        let path = pick(paths).isEmpty && choice < 60 ? "a" : pick(paths)
        switch choice {
        case 0..<14:
            let options = pick(optionChoices)
            return ("open \(path) \(options.rawValue)", sides.map { side in
                outcome {
                    let handle = try side.fileSystem.open(side.path(path), options: options)
                    side.handles.append(handle)
                    return "handle"
                }
            })
        case 14..<22:
            return ("mkdir \(path)", sides.map { side in outcome { try side.fileSystem.createDirectory(side.path(path)); return "" } })
        case 22..<27:
            return ("list \(path)", sides.map { side in outcome { try side.fileSystem.listDirectory(side.path(path)).joined(separator: ",") } })
        case 27..<33:
            let target = pick(paths.filter { !$0.isEmpty })
            return ("remove \(target)", sides.map { side in outcome { try side.fileSystem.remove(side.path(target)); return "" } })
        case 33..<40:
            let from = pick(paths.filter { !$0.isEmpty }), to = pick(paths.filter { !$0.isEmpty })
            return ("rename \(from) \(to)", sides.map { side in
                outcome { try side.fileSystem.rename(side.path(from), to: side.path(to)); return "" }
            })
        case 40..<45:
            return ("status \(path)", sides.map { side in
                outcome { let s = try side.fileSystem.status(side.path(path)); return "\(s.kind) \(s.kind == .file ? s.size : 0)" }
            })
        case 45..<48:
            return ("syncDirectory \(path)", sides.map { side in outcome { try side.fileSystem.syncDirectory(side.path(path)); return "" } })
        default:
            // A handle call; the slot may be closed, or name a removed file.
            guard !sides[0].handles.isEmpty else { return ("no handle", []) }
            let slot = Int(random.next(below: UInt64(sides[0].handles.count)))
            let offset = Int64(random.int(in: -2...300))
            let kind = random.next(below: 9)
            let bytes = random.bytes(random.int(in: 0...200))
            let count = random.int(in: -1...150)
            return ("handle \(slot) op \(kind) offset \(offset)", sides.map { side in
                let handle = side.handles[slot]
                return outcome {
                    switch kind {
                    case 0, 1: try handle.write(bytes, at: offset); return ""
                    case 2, 3: return try handle.read(at: offset, count: count).map(String.init).joined(separator: " ")
                    case 4: return String(try handle.size())
                    case 5: try handle.truncate(to: offset); return ""
                    case 6: try handle.sync(); return ""
                    case 7: try handle.syncData(); return ""
                    default: try handle.close(); return ""
                    }
                }
            })
        }
    }

    /// Every path, kind and content under `relative`, recursively.
    static func tree(_ side: Side, _ relative: String = "") throws -> [String] {
        var lines: [String] = []
        for name in try side.fileSystem.listDirectory(side.path(relative)) {
            let child = relative.isEmpty ? name : relative + "/" + name
            let status = try side.fileSystem.status(side.path(child))
            if status.kind == .directory {
                lines.append("dir \(child)")
                lines += try tree(side, child)
            } else {
                lines.append("file \(child) \(try side.fileSystem.readFile(side.path(child)))")
            }
        }
        return lines
    }

    static func removeTree(_ fileSystem: PosixFileSystem, _ path: String) throws {
        for name in try fileSystem.listDirectory(path) {
            let child = path + "/" + name
            if try fileSystem.status(child).kind == .directory { try removeTree(fileSystem, child) }
            try fileSystem.remove(child)
        }
    }

    @Test func randomCallSequencesMatchPosixCallByCall() throws {
        var template = Array("/tmp/tidemark-fidelity-XXXXXX".utf8CString)
        let base = try #require(template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }.map { String(cString: $0) })
        let posix = PosixFileSystem()
        defer { try? Self.removeTree(posix, base); try? posix.remove(base) }

        var comparedCalls = 0
        var seenErrors: Set<String> = []
        for seed in UInt64(0)..<600 {
            let random = SeededRandom(seed: seed)
            let simulated = Side(SimulatedFileSystem(seed: seed), base: "")
            let real = Side(posix, base: base)
            let sides = [simulated, real]
            var history: [String] = []
            for _ in 0..<30 {
                let (label, outcomes) = Self.step(random, sides)
                guard outcomes.count == 2 else { continue }
                history.append("\(label) -> \(outcomes[0])")
                comparedCalls += 1
                if case .failed(let code) = outcomes[0] { seenErrors.insert(code) }
                if outcomes[0] != outcomes[1] {
                    Issue.record("seed \(seed): \(label): simulated \(outcomes[0]) vs posix \(outcomes[1])\n\(history.joined(separator: "\n"))")
                    return
                }
            }
            let simulatedTree = try Self.tree(simulated), realTree = try Self.tree(real)
            #expect(simulatedTree == realTree, "seed \(seed): final trees differ\n\(history.joined(separator: "\n"))")
            for handle in real.handles { try? handle.close() }
            try Self.removeTree(posix, base)
        }
        #expect(comparedCalls > 10_000)
        // The sequences must reach every error path the comparison is meant to cover.
        let expectedErrors: Set<String> = [
            "notFound", "exists", "notDirectory", "isDirectory", "notEmpty", "closed", "invalidArgument",
        ]
        #expect(expectedErrors.isSubset(of: seenErrors), "unexercised: \(expectedErrors.subtracting(seenErrors))")
    }
}
