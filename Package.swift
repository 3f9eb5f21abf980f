// swift-tools-version: 6.1
import PackageDescription

// Release binaries link the Swift runtime and Foundation statically: a one-shot `kimera stats` then
// starts without loading and relocating a dozen shared libraries (issue 17, BENCHMARKS.md). Only the
// link step differs, so the modules' build is the same as without it; debug builds (the tests) link
// dynamically as before.
// The static Foundation's own dependencies are named after the package's objects (the static modules
// would list them, but the modules are compiled against the shared ones).
let staticSwiftRuntime: [LinkerSetting] = [
    .unsafeFlags(
        [
            "-static-stdlib", "-lFoundationInternationalization", "-lFoundation", "-lFoundationEssentials",
            "-lCoreFoundation", "-l_FoundationICU", "-l_FoundationCShims", "-l_FoundationCollections",
            "-lswiftSynchronization", "-lstdc++", "-lm",
            // Not position-independent: the loader then relocates nothing of the binary's own (a PIE
            // kimera spent about 6 ms of each start copying and relocating Swift metadata pages).
            "-Xclang-linker", "-no-pie",
            // The static runtime's link arguments export every symbol (`-export-dynamic`); nothing loads
            // kimera as a library, and the runtime's start-up `dladdr` walks that table linearly (80,000
            // entries once the generated contract was in: +1.2 ms per command). The profiler and the
            // thread dump read `.symtab`, which stays (BENCHMARKS.md "Issue 28").
            "-Xlinker", "--no-export-dynamic",
        ], .when(platforms: [.linux], configuration: .release))
]

let package = Package(
    name: "kimera",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "kimera", targets: ["kimera"]),
        .executable(name: "kimera-baseline", targets: ["kimera-baseline"]),
        .library(name: "KimeraModels", targets: ["KimeraModels"]),
        .library(name: "KimeraCore", targets: ["KimeraCore"]),
        .library(name: "KimeraObservability", targets: ["KimeraObservability"]),
        .library(name: "KimeraServer", targets: ["KimeraServer"]),
        .library(name: "KimeraVaultPostgres", targets: ["KimeraVaultPostgres"]),
        .library(name: "KimeraClient", targets: ["KimeraClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(
            url: "https://github.com/apple/swift-configuration", from: "1.4.0",
            traits: [.defaults, "Reloading"]),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-openapi-runtime", from: "1.13.4"),
    ],
    targets: [
        // The wire contract and its vocabulary; depends on nothing.
        // ThreadSanitizer's view of the standard library's Mutex (`Mutex.locked`, docs/OPERATIONS.md "Sanitizers").
        .target(name: "CKimeraSanitizer"),
        .target(name: "KimeraModels", dependencies: ["CKimeraSanitizer"]),
        // The HTTP contract as openapi.json states it: swift-openapi-generator's Types, Client and Server,
        // generated ahead of time by scripts/gen-openapi and committed (docs/ARCHITECTURE.md "The contract").
        .target(
            name: "KimeraAPI",
            dependencies: [
                "KimeraModels",
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            exclude: ["openapi-generator-config.yaml"],
            // The generator marks its imports public; where a file ends up not needing one, Swift 6.3 warns
            // and the generated file cannot say otherwise (its `@diagnose` is for compilers from 6.4).
            swiftSettings: [.unsafeFlags(["-suppress-warnings"])]),
        // The domain and the VaultStore port: no HTTP, no SQL (docs/ARCHITECTURE.md).
        .target(name: "KimeraCore", dependencies: ["KimeraModels", "CKimeraAllocations"]),
        // The embedded adapter of the port.
        .target(
            name: "KimeraVaultSQLite",
            dependencies: ["KimeraCore", .product(name: "GRDB", package: "GRDB.swift")]),
        // The CPU sampler's signal handler and its ring (C: async-signal-safe by construction), and zlib's
        // gzip for the pprof files it ends in.
        .target(
            name: "CKimeraProfiler", dependencies: ["CKimeraAllocations"],
            cSettings: [.unsafeFlags(["-fno-omit-frame-pointer"])], linkerSettings: [.linkedLibrary("z")]),
        // The allocator's interposer: allocation counts per profiled operation and the allocation sampler's
        // hook (kimera_allocations.h). Frame pointers: the sampler walks through these frames.
        // In the micro-benchmark build the harness's own interposer counts mallocs: ours keeps its functions
        // under their own names there and leaves `malloc` and its siblings alone.
        .target(
            name: "CKimeraAllocations",
            cSettings: [.unsafeFlags(["-fno-omit-frame-pointer"])]
                + (Context.environment["KIMERA_BENCHMARKS"] != nil ? [.define("KIMERA_ALLOC_NAMES_ONLY")] : []),
            linkerSettings: [.linkedLibrary("m")]),
        // Logs, traces, profiles, response cache: no Hummingbird, no routes.
        .target(
            name: "KimeraObservability",
            dependencies: [
                "KimeraModels", "KimeraAPI", "CKimeraProfiler", "CKimeraAllocations",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]),
        // OpenTelemetry export (OTLP/HTTP): an additional sink beside the in-memory rings.
        .target(
            name: "KimeraTelemetry",
            dependencies: [
                "KimeraObservability", "KimeraModels", "KimeraAPI", "CZlib",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]),
        // The HTTP assembly: configuration, middleware, routes, the application.
        .target(
            name: "KimeraServer",
            dependencies: [
                "KimeraModels", "KimeraAPI", "KimeraCore", "KimeraVaultSQLite", "KimeraObservability",
                "KimeraTelemetry",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]),
        .target(
            name: "KimeraVaultPostgres",
            dependencies: [
                "KimeraCore", "KimeraModels",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]),
        .target(
            name: "KimeraClient",
            dependencies: [
                "KimeraModels", "KimeraAPI",
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]),
        .systemLibrary(name: "CLibEdit", providers: [.apt(["libedit-dev"])]),
        // gzip of OTLP export bodies (OTEL_EXPORTER_OTLP_COMPRESSION=gzip).
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        .executableTarget(
            name: "kimera",
            dependencies: [
                "KimeraServer", "KimeraVaultPostgres", "KimeraClient", "KimeraModels", "CLibEdit", "KimeraTelemetry",
                "KimeraObservability",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            linkerSettings: staticSwiftRuntime),
        .executableTarget(
            name: "kimera-baseline",
            dependencies: [.product(name: "Hummingbird", package: "hummingbird")],
            linkerSettings: staticSwiftRuntime),
        .testTarget(name: "KimeraModelsTests", dependencies: ["KimeraModels"]),
        .testTarget(name: "KimeraCoreTests", dependencies: ["KimeraCore", "KimeraModels"]),
        .testTarget(
            name: "KimeraVaultSQLiteTests",
            dependencies: [
                "KimeraVaultSQLite", "KimeraCore", "KimeraModels", .product(name: "GRDB", package: "GRDB.swift"),
            ]),
        .testTarget(
            name: "KimeraObservabilityTests",
            dependencies: [
                "KimeraObservability", "KimeraModels", "KimeraAPI", "KimeraCore", "CKimeraAllocations",
                .product(name: "Logging", package: "swift-log"),
            ]),
        // A throw-away PostgreSQL server for the vault and end-to-end tests (not a product).
        .target(name: "PostgresTestServer", path: "Tests/PostgresTestServer"),
        .testTarget(
            name: "KimeraVaultPostgresTests",
            dependencies: [
                "KimeraVaultPostgres", "KimeraVaultSQLite", "KimeraCore", "KimeraModels", "PostgresTestServer",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]),
        .testTarget(
            name: "KimeraServerTests",
            dependencies: [
                "KimeraServer", "KimeraAPI", "KimeraObservability", "KimeraCore", "KimeraVaultSQLite", "KimeraModels",
                "KimeraTelemetry",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]),
        .testTarget(
            name: "KimeraEndToEndTests",
            dependencies: [
                // KimeraTelemetry: its OTLP encoding is decoded by the reference receiver the export tests run.
                "KimeraModels", "KimeraAPI", "KimeraClient", "PostgresTestServer", "KimeraTelemetry",
                "KimeraObservability",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]),
    ]
)

// Micro-benchmarks (ordo-one/benchmark) only when asked for: `scripts/bench --micro` sets
// KIMERA_BENCHMARKS=1, so ordinary builds and CI do not build the benchmark package.
if Context.environment["KIMERA_BENCHMARKS"] != nil {
    package.dependencies.append(
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]))
    package.targets.append(
        .executableTarget(
            name: "KimeraBenchmarks",
            dependencies: [
                "KimeraServer", "KimeraObservability", "KimeraCore", "KimeraTelemetry", "CKimeraAllocations",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            path: "Benchmarks/KimeraBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]))
}
