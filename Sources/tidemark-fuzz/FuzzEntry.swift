import Foundation
import TidemarkFuzzing

#if FUZZING
/// libFuzzer's entry point (built by `make fuzz` with `-sanitize=fuzzer -DFUZZING`; libFuzzer
/// owns the command line, so the target comes from `TIDEMARK_FUZZ_TARGET`).
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

@_silgen_name("LLVMFuzzerRunDriver")
private func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

/// SwiftPM links an executable's entry point as `<module>_main` (aliased to `main`), so the
/// program starts here and hands the command line to libFuzzer's driver.
@_cdecl("tidemark_fuzz_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var argc = argc, argv = argv
    return runFuzzerDriver(&argc, &argv) { data, size in fuzzOneInput(data, size) }
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
