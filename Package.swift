// swift-tools-version:6.0
// locktop is Linux-only: it is built on inotify, fanotify, signalfd, prctl and /proc.
import PackageDescription

let package = Package(
    name: "locktop",
    products: [
        .executable(name: "locktop", targets: ["locktop"]),
        .library(name: "RecordStore", targets: ["RecordStore"]),
        .library(name: "LockMonitor", targets: ["LockMonitor"]),
        .library(name: "Dashboard", targets: ["Dashboard"]),
        .library(name: "RedisStore", targets: ["RedisStore"]),
        .executable(name: "locktop-bench", targets: ["locktop-bench"]),
        .executable(name: "locktop-contender", targets: ["locktop-contender"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // FileDescriptor, Errno and the open options for the directory handles' system calls.
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        // `locktop serve`: an HTTP server without SwiftNIO, and Prometheus's registry and exposition
        // (the two build clean in 16 s together, measured here; hummingbird takes minutes).
        .package(url: "https://github.com/swhitty/FlyingFox.git", from: "0.27.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        .target(name: "CLocktopSystem"),
        .target(
            name: "RecordStore",
            dependencies: ["CLocktopSystem", .product(name: "SystemPackage", package: "swift-system")]),
        // TLS for rediss:// from the system's OpenSSL (libssl-dev), through a small C shim.
        .target(name: "CLocktopTLS", linkerSettings: [.linkedLibrary("ssl"), .linkedLibrary("crypto")]),
        // prefect-redis locks: a RESP2 client on a socket, no package dependencies (see README, "Redis").
        .target(name: "RedisStore", dependencies: ["CLocktopTLS"]),
        .target(name: "LockMonitor", dependencies: ["CLocktopSystem", "RecordStore"]),
        .target(name: "RedisMonitor", dependencies: ["RedisStore", "LockMonitor", "RecordStore"]),
        // Text and JSON renderings for the front ends: the list table, reports, event lines.
        .target(name: "LockReports", dependencies: ["LockMonitor", "RecordStore"]),
        // The pure dashboard: state, reducer, renderer. It knows lock sources only through DashboardSource.
        .target(name: "Dashboard", dependencies: ["LockMonitor", "LockReports", "RecordStore"]),
        // The dashboard's sources: a directory's monitor and a Redis database's.
        .target(name: "DashboardSources", dependencies: ["Dashboard", "LockMonitor", "RedisMonitor", "RecordStore"]),
        // `locktop serve`: the dashboard's rows as Prometheus metrics, over HTTP.
        .target(
            name: "LocktopServe",
            dependencies: [
                "CLocktopTLS", "Dashboard", "LockMonitor", "LockReports",
                .product(name: "FlyingFox", package: "FlyingFox"),
                .product(name: "FlyingSocks", package: "FlyingFox"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            // FlyingFox brings FoundationNetworking, whose static build (scripts/install.sh) needs
            // libcurl (libcurl4-openssl-dev).
            linkerSettings: [.linkedLibrary("curl")]),
        // The journal of `--record`: the system's SQLite (libsqlite3-dev). GRDB 7.10 would add 24 s to
        // a clean debug build and 74 s to a release one (measured here) for a handful of statements.
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // History: the journal `--record` keeps, and `report`, `stats` and `replay` over it.
        .target(
            name: "LockJournal", dependencies: ["CSQLite", "Dashboard", "LockMonitor", "LockReports", "RecordStore"]),
        // Prefect's API, for the state of a lock's flow run: Foundation's URLSession (libcurl).
        .target(
            name: "PrefectAPI", dependencies: ["LockMonitor", "RecordStore"], linkerSettings: [.linkedLibrary("curl")]),
        .systemLibrary(name: "CNCurses", pkgConfig: "ncursesw", providers: [.apt(["libncurses-dev"])]),
        .target(name: "TerminalBackend", dependencies: ["CNCurses", "Dashboard"]),
        .executableTarget(
            name: "locktop",
            dependencies: [
                "CLocktopSystem", "RecordStore", "LockMonitor", "LockReports", "Dashboard", "DashboardSources",
                "TerminalBackend", "RedisStore", "RedisMonitor", "LocktopServe", "LockJournal", "PrefectAPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(
            name: "locktop-bench",
            dependencies: ["RecordStore", "LockMonitor", "Dashboard", "DashboardSources", "RedisStore"]),
        .executableTarget(name: "locktop-contender", dependencies: ["RecordStore"]),
        .target(name: "LocktopTestSupport", path: "Tests/Support"),
        .testTarget(
            name: "RecordStoreTests",
            dependencies: [
                "RecordStore", "LocktopTestSupport", .product(name: "SystemPackage", package: "swift-system"),
            ]),
        .testTarget(name: "RedisStoreTests", dependencies: ["RedisStore", "RecordStore", "LocktopTestSupport"]),
        .testTarget(
            name: "RedisMonitorTests",
            dependencies: ["RedisMonitor", "RedisStore", "LockMonitor", "RecordStore", "LocktopTestSupport"]),
        .testTarget(
            name: "DashboardTests", dependencies: ["Dashboard", "LockMonitor", "RecordStore", "LocktopTestSupport"],
            exclude: ["Snapshots"]),
        .testTarget(
            name: "DashboardSourcesTests",
            dependencies: [
                "DashboardSources", "Dashboard", "LockMonitor", "RecordStore", "RedisMonitor",
                "RedisStore", "LocktopTestSupport",
            ]),
        .testTarget(name: "DashboardEndToEndTests", dependencies: ["RecordStore", "LocktopTestSupport"]),
        .testTarget(
            name: "LocktopCLITests",
            dependencies: [
                "RecordStore", "LockMonitor", "Dashboard", "DashboardSources", "LockJournal", "LocktopTestSupport",
            ]),
        .testTarget(
            name: "LocktopServeTests",
            dependencies: ["LocktopServe", "Dashboard", .product(name: "Prometheus", package: "swift-prometheus")]),
        .testTarget(
            name: "LockJournalTests",
            dependencies: [
                "LockJournal", "Dashboard", "LockMonitor", "LockReports", "RecordStore", "LocktopTestSupport",
            ]),
        .testTarget(
            name: "LockMonitorTests", dependencies: ["LockMonitor", "LockReports", "RecordStore", "LocktopTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
