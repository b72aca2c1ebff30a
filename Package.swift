// swift-tools-version: 6.1
import PackageDescription

// Module map (see README "Architecture"):
//   CCRC32C            tiny C target: SSE4.2 CRC32C instruction
//   TidemarkIO         FileSystem protocol, PosixFileSystem, Clock, RandomSource, CRC32C
//   TidemarkSimulation SimulatedFileSystem (fault model, crash states, trace)
let package = Package(
    name: "Tidemark",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "TidemarkIO", targets: ["TidemarkIO"]),
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
        // MARK: Simulation (SimulatedFileSystem; the verifier joins this module later)
        .target(name: "TidemarkSimulation", dependencies: ["TidemarkIO"]),
        .testTarget(
            name: "TidemarkSimulationTests",
            dependencies: [
                "TidemarkSimulation", "TidemarkIO",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
