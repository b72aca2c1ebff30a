// swift-tools-version: 6.1
import PackageDescription

// Module map (see README "Architecture"):
//   CCRC32C            tiny C target: SSE4.2 CRC32C instruction
//   TidemarkIO         FileSystem protocol, PosixFileSystem, Clock, RandomSource, CRC32C
//   CSQLite            system library: sqlite3 + the VFS file struct and unimportable macros
//   TidemarkSQLite     SQLite VFS over any FileSystem, plus a connection/statement wrapper
let package = Package(
    name: "Tidemark",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "TidemarkIO", targets: ["TidemarkIO"]),
        .library(name: "TidemarkSQLite", targets: ["TidemarkSQLite"]),
    ],
    dependencies: [
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
    ],
    targets: [
        // MARK: I/O foundation
        .target(name: "CCRC32C"),
        .target(name: "TidemarkIO", dependencies: ["CCRC32C"]),
        .testTarget(
            name: "TidemarkIOTests",
            dependencies: ["TidemarkIO", .product(name: "PropertyBased", package: "swift-property-based")]
        ),

        // MARK: SQLite through any FileSystem
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .target(name: "TidemarkSQLite", dependencies: ["CSQLite", "TidemarkIO"]),
        .testTarget(name: "TidemarkSQLiteTests", dependencies: ["TidemarkSQLite", "TidemarkIO", "CSQLite"]),
    ],
    swiftLanguageModes: [.v6]
)
