// swift-tools-version: 6.1
import PackageDescription

// Who imports what: see README.md ("Modules"). The agent and the controller meet only in HerdProtocol.
// Dependencies are added by the module that first needs them, never ahead of use.

let package = Package(
    name: "herd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "herd-agent", targets: ["herd-agent"]),
        .executable(name: "herd-controller", targets: ["herd-controller"]),
        .executable(name: "herdctl", targets: ["herdctl"]),
        .executable(name: "herd-bench", targets: ["herd-bench"]),
        .executable(name: "herd-lab", targets: ["herd-lab"]),
        .library(name: "HerdProtocol", targets: ["HerdProtocol"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", exact: "4.5.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio.git", exact: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", exact: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log.git", exact: "1.16.2"),
        .package(url: "https://github.com/vapor/postgres-nio.git", exact: "1.33.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", exact: "1.37.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", exact: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", exact: "1.7.4"),
        .package(url: "https://github.com/groue/GRDB.swift.git", exact: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", exact: "2.28.1", traits: []),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", exact: "2.4.1"),
    ],
    targets: [
        // The language-neutral contract in Swift: wire types, limits, error codes, DSSE signing.
        .target(
            name: "HerdProtocol",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")]
        ),
        // mallopt(M_ARENA_MAX), which Swift's Glibc module does not export.
        .target(name: "CHerdMalloc"),
        .target(
            name: "HerdAgent",
            dependencies: [
                "HerdProtocol",
                "CHerdMalloc",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
            ]
        ),
        .target(
            name: "HerdController",
            dependencies: [
                "HerdProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .target(
            name: "HerdCLI",
            dependencies: [
                "HerdProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "HerdTestSupport",
            dependencies: [
                "HerdProtocol",
                // Test certificates with any validity window (expired ones too), which openssl's CLI cannot make.
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "HerdLab",
            dependencies: [
                "HerdProtocol",
                "HerdTestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "herd-lab", dependencies: ["HerdLab"]),
        .executableTarget(name: "herd-agent", dependencies: ["HerdAgent"]),
        .executableTarget(name: "herd-controller", dependencies: ["HerdController"]),
        .executableTarget(name: "herdctl", dependencies: ["HerdCLI"]),
        .executableTarget(
            name: "herd-bench",
            dependencies: [
                "HerdProtocol",
                "HerdAgent",
                "HerdController",
                "HerdTestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "HerdProtocolTests", dependencies: ["HerdProtocol", "HerdTestSupport"]),
        .testTarget(
            name: "HerdAgentTests",
            dependencies: [
                "HerdAgent", "HerdTestSupport",
                // Tests hold real connections open (to saturate a server) with the same client the check uses.
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            exclude: ["Fixtures"]),
        .testTarget(
            name: "HerdControllerTests",
            dependencies: [
                "HerdController", "HerdTestSupport",
                // The migration test writes a database as an older controller left it.
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Fixtures"]),
        .testTarget(name: "HerdCLITests", dependencies: ["HerdCLI", "HerdTestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "HerdLabTests", dependencies: ["HerdLab", "HerdProtocol", "HerdTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
