// swift-tools-version: 6.1
import PackageDescription

// Module map (see README "Architecture"):
//   CCRC32C            tiny C target: SSE4.2 CRC32C instruction
//   TidemarkIO         FileSystem protocol, PosixFileSystem, Clock, RandomSource, CRC32C, FNV1a
//   TidemarkSimulatedDisk
//                      the deterministic twin of PosixFileSystem: SimulatedFileSystem, its fault
//                      model (FaultConfiguration, FaultInjector), crash reports, the trace; depends
//                      only on TidemarkIO, so an engine's own tests can use it alone
//   CSQLite            system library: sqlite3 + the VFS file struct (shim.h)
//   TidemarkSQLite     an sqlite3_vfs over any FileSystem, and a connection/statement wrapper
//   Tidemark           the store: records, write-ahead log, checkpoints, recovery, search
//   TidemarkSimulation the verifier: scenarios, workloads, subjects, model, invariants, runs,
//                      campaigns, shrinking (on TidemarkSimulatedDisk)
//   TidemarkReports    campaign report data (Codable) + JSON, Markdown, HTML, JUnit renderers
//   TidemarkTrace      traces of any program (strace) on one directory: the trace format,
//                      replay into the simulated disk, crash states, checker runs
//   TidemarkFuzzing    one fuzz target per decoder of bytes from a disk or a user; `tidemark-fuzz`
//                      is its libFuzzer driver (`make fuzz`)
//   tidemark           the CLI: `tidemark db ...`, `tidemark run/explore/merge/replay/shrink/report`,
//                      `tidemark bench`, `tidemark trace ...`, `tidemark torture`
let package = Package(
    name: "Tidemark",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "TidemarkIO", targets: ["TidemarkIO"]),
        .library(name: "TidemarkSimulatedDisk", targets: ["TidemarkSimulatedDisk"]),
        .library(name: "TidemarkSQLite", targets: ["TidemarkSQLite"]),
        .library(name: "Tidemark", targets: ["Tidemark"]),
        .library(name: "TidemarkSimulation", targets: ["TidemarkSimulation"]),
        .library(name: "TidemarkReports", targets: ["TidemarkReports"]),
        .library(name: "TidemarkTrace", targets: ["TidemarkTrace"]),
        .executable(name: "tidemark", targets: ["tidemark"]),
    ],
    dependencies: [
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    ],
    targets: [
        // MARK: I/O foundation
        .target(name: "CCRC32C"),
        .target(name: "TidemarkIO", dependencies: ["CCRC32C"]),
        .testTarget(
            name: "TidemarkIOTests",
            dependencies: ["TidemarkIO", .product(name: "PropertyBased", package: "swift-property-based")]
        ),
        // MARK: The simulated disk (sibling of the real one; no verifier, no store)
        .target(name: "TidemarkSimulatedDisk", dependencies: ["TidemarkIO"]),
        .testTarget(
            name: "TidemarkSimulatedDiskTests",
            dependencies: [
                "TidemarkSimulatedDisk", "TidemarkIO",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        // MARK: SQLite through any FileSystem
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .target(name: "TidemarkSQLite", dependencies: ["CSQLite", "TidemarkIO"]),
        .testTarget(name: "TidemarkSQLiteTests", dependencies: ["TidemarkSQLite", "TidemarkIO", "CSQLite"]),
        // MARK: Store
        .target(name: "Tidemark", dependencies: ["TidemarkIO", "TidemarkSQLite"]),
        .testTarget(
            name: "TidemarkTests",
            dependencies: [
                "Tidemark", "TidemarkIO", "TidemarkSimulatedDisk",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        // MARK: Simulation and verifier
        .target(
            name: "TidemarkSimulation",
            dependencies: [
                "TidemarkIO", "TidemarkSimulatedDisk", "Tidemark", "TidemarkReports", "TidemarkSQLite",
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .testTarget(
            name: "TidemarkSimulationTests",
            dependencies: [
                "TidemarkSimulation", "TidemarkSimulatedDisk", "TidemarkIO", "TidemarkReports",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        // MARK: Reports
        .target(name: "TidemarkReports"),
        .testTarget(name: "TidemarkReportsTests", dependencies: ["TidemarkReports"], exclude: ["Fixtures"]),
        // MARK: Traces of real programs (strace), replayed into the simulated disk
        .target(name: "TidemarkTrace", dependencies: ["TidemarkIO", "TidemarkSimulatedDisk", "TidemarkReports"]),
        .testTarget(name: "TidemarkTraceTests", dependencies: ["TidemarkTrace", "TidemarkIO", "TidemarkSimulatedDisk", "TidemarkReports"]),
        // MARK: CLI
        .executableTarget(
            name: "tidemark",
            dependencies: [
                "Tidemark", "TidemarkIO", "TidemarkSimulatedDisk", "TidemarkSimulation", "TidemarkReports", "TidemarkTrace",
                "CSQLite",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "TidemarkCLITests", dependencies: ["Tidemark", "TidemarkIO", "TidemarkReports"]),
        // MARK: Fuzzing (libFuzzer under `make fuzz`; the corpus replays in `make test`)
        .target(name: "TidemarkFuzzing", dependencies: ["Tidemark", "TidemarkIO", "TidemarkSQLite", "TidemarkSimulation", "TidemarkTrace"]),
        .executableTarget(name: "tidemark-fuzz", dependencies: ["TidemarkFuzzing"]),
        .testTarget(name: "TidemarkFuzzingTests", dependencies: ["TidemarkFuzzing"]),
    ],
    swiftLanguageModes: [.v6]
)
