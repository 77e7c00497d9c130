// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "locktop",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "RecordStore", targets: ["RecordStore"]),
        .executable(name: "locktop-bench", targets: ["locktop-bench"]),
        .executable(name: "locktop-contender", targets: ["locktop-contender"]),
    ],
    targets: [
        .target(name: "RecordStore"),
        .executableTarget(name: "locktop-bench", dependencies: ["RecordStore"]),
        .executableTarget(name: "locktop-contender", dependencies: ["RecordStore"]),
        .target(name: "LocktopTestSupport", path: "Tests/Support"),
        .testTarget(name: "RecordStoreTests", dependencies: ["RecordStore", "LocktopTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
