// swift-tools-version:6.1
import PackageDescription

// Lockstep: an event-driven pipeline orchestrator.
// Modules, from the pure core outwards (each depends only on the ones above it; docs/architecture.md
// draws the same arrows, and scripts/check-module-map.py checks both against the sources' imports):
//   LockstepCore         specs parsed from text, cron, the engine, admission, ids — pure, no I/O, no clock
//   LockstepDrivers      SQLite and PostgreSQL connections, blocking-thread executors, HTTP client and delivery
//   LockstepBus          EventBus protocol, CloudEvents envelope, embedded SQLite log
//   LockstepKafka        EventBus on librdkafka
//   LockstepWire         the topics/ contract in code: topics, event types, codec, dead letters
//   LockstepOperators    the operator protocol, registry, packs, templates, the generic operators
//   LockstepNoblestride  the seed's domain operators, a pack a deployment loads by configuration
//   LockstepServices     scheduler, coordinator, workers, notifier, alerter, state store, ops, config files
//   LockstepHTTP         `lockstep api`: REST API, users and roles, Prometheus metrics, web UI (never imports Kafka)
//   LockstepCLI          the `lockstep` command line (the executable is a one-line main)
//   LockstepTestKit      for tests of code built on Lockstep: a test clock, the in-process Lockstep, bus fixtures

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "Lockstep",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "lockstep", targets: ["lockstep"]),
        .executable(name: "lockstep-bench", targets: ["lockstep-bench"]),
        .library(name: "LockstepCore", targets: ["LockstepCore"]),
        .library(name: "LockstepBus", targets: ["LockstepBus"]),
        .library(name: "LockstepKafka", targets: ["LockstepKafka"]),
        .library(name: "LockstepTestKit", targets: ["LockstepTestKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        // HMAC-SHA256 for bearer tokens and session ids; hummingbird-auth depends on it already.
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // C libraries, found through pkg-config so newer distributions use their own.
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3",
                       providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ", pkgConfig: "libpq",
                       providers: [.apt(["libpq-dev"])]),
        // glibc's <malloc.h>: part of the C library, nothing to link.
        .systemLibrary(name: "CMalloc", path: "Sources/CMalloc"),
        .systemLibrary(name: "CRdKafka", path: "Sources/CRdKafka", pkgConfig: "rdkafka",
                       providers: [.apt(["librdkafka-dev"])]),

        .target(name: "LockstepCore",
                dependencies: [.product(name: "Yams", package: "Yams")],
                swiftSettings: strict),
        .target(name: "LockstepDrivers",
                dependencies: ["LockstepCore", "CSQLite", "CLibPQ", .target(name: "CMalloc", condition: .when(platforms: [.linux])),
                               .product(name: "Logging", package: "swift-log")],
                swiftSettings: strict),
        .target(name: "LockstepBus",
                dependencies: ["LockstepCore", "LockstepDrivers", .product(name: "Logging", package: "swift-log")],
                swiftSettings: strict),
        .target(name: "LockstepKafka",
                dependencies: ["LockstepBus", "CRdKafka", .product(name: "Logging", package: "swift-log")],
                swiftSettings: strict,
                // librdkafka 2.8 lives under /usr/local when built by scripts/install-deps.sh; bake the
                // path in so the loader never picks the older system library sharing its soname.
                linkerSettings: [.unsafeFlags(["-Xlinker", "-rpath", "-Xlinker", "/usr/local/lib"])]),
        .target(name: "LockstepWire",
                dependencies: ["LockstepCore", "LockstepBus"],
                swiftSettings: strict),
        .target(name: "LockstepOperators",
                dependencies: ["LockstepCore", "LockstepDrivers", .product(name: "Logging", package: "swift-log")],
                swiftSettings: strict),
        .target(name: "LockstepNoblestride",
                dependencies: ["LockstepCore", "LockstepDrivers", "LockstepOperators"],
                swiftSettings: strict),
        .target(name: "LockstepServices",
                dependencies: ["LockstepCore", "LockstepDrivers", "LockstepBus", "LockstepWire", "LockstepOperators",
                               "LockstepNoblestride",
                               .product(name: "CoreMetrics", package: "swift-metrics"),
                               .product(name: "Logging", package: "swift-log"),
                               .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
                swiftSettings: strict),
        .target(name: "LockstepHTTP",
                dependencies: ["LockstepCore", "LockstepDrivers", "LockstepBus", "LockstepWire", "LockstepServices",
                               .product(name: "Hummingbird", package: "hummingbird"),
                               .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                               .product(name: "Crypto", package: "swift-crypto"),
                               .product(name: "Metrics", package: "swift-metrics"),
                               .product(name: "Prometheus", package: "swift-prometheus"),
                               .product(name: "Logging", package: "swift-log"),
                               .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
                // The web UI's script, style sheet and icon, compiled in: nothing to find or fetch at run time.
                resources: [.embedInCode("UI/Assets/lockstep.js"), .embedInCode("UI/Assets/lockstep.css"),
                            .embedInCode("UI/Assets/favicon.svg")],
                swiftSettings: strict),
        .target(name: "LockstepCLI",
                dependencies: ["LockstepCore", "LockstepBus", "LockstepWire", "LockstepKafka", "LockstepOperators", "LockstepServices",
                               "LockstepHTTP",
                               .product(name: "ArgumentParser", package: "swift-argument-parser"),
                               .product(name: "Logging", package: "swift-log")],
                swiftSettings: strict),
        .executableTarget(name: "lockstep", dependencies: ["LockstepCLI"], swiftSettings: strict),
        .executableTarget(name: "lockstep-bench",
                          dependencies: ["LockstepCore", "LockstepDrivers", "LockstepBus", "LockstepWire", "LockstepKafka", "LockstepOperators",
                                         "LockstepServices", "LockstepHTTP", "LockstepTestSupport", "CRdKafka"],
                          path: "Benchmarks/lockstep-bench", swiftSettings: strict),

        // Test helpers shared by the test targets: free ports, a throwaway PostgreSQL cluster, a Tansu
        // broker, the reference HTTP services. Never linked into the `lockstep` executable.
        .target(name: "LockstepTestSupport", dependencies: ["LockstepCore"], path: "Tests/LockstepTestSupport",
                swiftSettings: strict),
        // Beside the library, as ServiceLifecycleTestKit is beside ServiceLifecycle: a clock tests move,
        // every component in one process, one test body over both buses.
        .target(name: "LockstepTestKit",
                dependencies: ["LockstepCore", "LockstepBus", "LockstepKafka", "LockstepWire", "LockstepOperators",
                               "LockstepServices", "LockstepTestSupport",
                               .product(name: "Logging", package: "swift-log"),
                               .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
                swiftSettings: strict),

        .testTarget(name: "LockstepCoreTests", dependencies: ["LockstepCore", "LockstepTestSupport"], swiftSettings: strict),
        .testTarget(name: "LockstepBusTests",
                    dependencies: ["LockstepCore", "LockstepBus", "LockstepKafka", "LockstepTestSupport"], swiftSettings: strict),
        .testTarget(name: "LockstepOperatorsTests",
                    dependencies: ["LockstepCore", "LockstepOperators", "LockstepNoblestride", "LockstepTestSupport"],
                    swiftSettings: strict),
        .testTarget(name: "LockstepServicesTests",
                    dependencies: ["LockstepCore", "LockstepBus", "LockstepWire", "LockstepOperators", "LockstepServices",
                                   "LockstepKafka", "LockstepDrivers", "LockstepTestSupport", "LockstepTestKit", "CRdKafka"],
                    swiftSettings: strict),
        // Whole-system tests: separate `lockstep` processes on a real broker, PostgreSQL and HTTP services.
        .testTarget(name: "LockstepSystemTests",
                    dependencies: ["LockstepCore", "LockstepBus", "LockstepWire", "LockstepOperators", "LockstepServices",
                                   "LockstepKafka", "LockstepTestSupport"],
                    swiftSettings: strict),
        // The API over real loopback HTTP against the components running in-process (embedded and on Tansu + PostgreSQL).
        .testTarget(name: "LockstepHTTPTests",
                    dependencies: ["LockstepCore", "LockstepBus", "LockstepWire", "LockstepOperators", "LockstepServices",
                                   "LockstepHTTP", "LockstepKafka", "LockstepTestKit", "LockstepTestSupport"],
                    swiftSettings: strict),
        .testTarget(name: "LockstepCLITests",
                    dependencies: ["lockstep", "LockstepTestSupport"], swiftSettings: strict),
    ]
)
