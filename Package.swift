// swift-tools-version: 6.1
import PackageDescription

// Module map (see README "Architecture"):
//   CCRC32C            tiny C target: SSE4.2 CRC32C instruction
//   TidemarkIO         FileSystem protocol, PosixFileSystem, Clock, RandomSource, CRC32C
//   Tidemark           the store: records, write-ahead log, checkpoints, recovery, search
//   tidemark           the CLI (`tidemark db ...`)
let package = Package(
    name: "Tidemark",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "TidemarkIO", targets: ["TidemarkIO"]),
        .library(name: "Tidemark", targets: ["Tidemark"]),
        .executable(name: "tidemark", targets: ["tidemark"]),
    ],
    dependencies: [
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    ],
    targets: [
        // MARK: I/O foundation
        .target(name: "CCRC32C"),
        .target(name: "TidemarkIO", dependencies: ["CCRC32C"]),
        .testTarget(
            name: "TidemarkIOTests",
            dependencies: ["TidemarkIO", .product(name: "PropertyBased", package: "swift-property-based")]
        ),
        // MARK: Store (branch store)
        .target(name: "Tidemark", dependencies: ["TidemarkIO"]),
        .testTarget(
            name: "TidemarkTests",
            dependencies: ["Tidemark", "TidemarkIO", .product(name: "PropertyBased", package: "swift-property-based")]
        ),
        .executableTarget(
            name: "tidemark",
            dependencies: ["Tidemark", "TidemarkIO", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(name: "TidemarkCLITests", dependencies: ["Tidemark", "TidemarkIO"]),
    ],
    swiftLanguageModes: [.v6]
)
