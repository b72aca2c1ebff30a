import Foundation
import TidemarkFuzzing

#if FUZZING
/// libFuzzer's entry point (built by `make fuzz` with `-sanitize=fuzzer -DFUZZING`; libFuzzer
/// owns `main` and the command line, so the target comes from `TIDEMARK_FUZZ_TARGET`).
private let target: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["TIDEMARK_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        FileHandle.standardError.write(Data(
            "set TIDEMARK_FUZZ_TARGET to one of: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))\n".utf8))
        exit(2)
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    target.run(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}
#else
/// Without the sanitizer: `tidemark-fuzz TARGET FILE|DIR...` runs inputs through a target (to
/// reproduce a crash in a debugger), and `tidemark-fuzz seed-corpus DIR` writes the seed inputs.
@main
struct FuzzTool {
    static func main() throws {
        let arguments = Array(CommandLine.arguments.dropFirst())
        let usage = "usage: tidemark-fuzz TARGET FILE|DIR... | tidemark-fuzz seed-corpus DIR\n"
            + "targets: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))\n"
        if arguments.count == 2, arguments[0] == "seed-corpus" {
            try SeedCorpus.write(to: arguments[1])
            return
        }
        guard arguments.count >= 2, let target = FuzzTarget(rawValue: arguments[0]) else {
            FileHandle.standardError.write(Data(usage.utf8))
            exit(2)
        }
        for file in try FuzzCorpus.files(in: Array(arguments.dropFirst())) {
            let input = try FuzzCorpus.read(file)
            do {
                try target.decode(input)
                print("\(file): decoded")
            } catch {
                print("\(file): \(error)")
            }
        }
    }
}
#endif
