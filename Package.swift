// swift-tools-version:6.1
import PackageDescription

/// Nonisolated async functions run on their caller's executor (SE-0461) instead of hopping to the
/// global one at every call: a task on a loop's thread stays there through UVNet's async API.
/// Measured: about ten fewer executor switches, each taking a lock, per echoed message.
let asyncRunsWhereCalled: [SwiftSetting] = [.enableUpcomingFeature("NonisolatedNonsendingByDefault")]

let package = Package(
    name: "UVNet",
    products: [
        .library(name: "UVNet", targets: ["UVNet"]),
        .library(name: "UVNetTLS", targets: ["UVNetTLS"]),
        // What tests of code built on UVNet share: the loop harness, small peers, throwaway certificates.
        .library(name: "UVNetTestSupport", targets: ["UVNetTestSupport"]),
        .executable(name: "uvdemo", targets: ["uvdemo"]),
    ],
    traits: [
        .trait(
            name: "ServiceLifecycle",
            description: "TCPServerService: a UVNet server as a swift-service-lifecycle Service (graceful shutdown, drain deadline)"
        ),
    ],
    dependencies: [
        // Only with the ServiceLifecycle trait: a package that does not enable it builds none of it.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // For scripts/docs alone (`swift package generate-documentation`): a command plugin, nothing
        // a dependent builds.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CUV",
            pkgConfig: "libuv",
            providers: [.apt(["libuv1-dev"])]
        ),
        .target(
            name: "UVNet",
            dependencies: [
                "CUV",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle", condition: .when(traits: ["ServiceLifecycle"])),
            ],
            swiftSettings: asyncRunsWhereCalled
        ),
        // OpenSSL 3 from the system, for UVNetTLS alone: a service without TLS links libuv only.
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        .target(
            name: "UVNetTLS",
            dependencies: ["UVNet", "COpenSSL"],
            swiftSettings: asyncRunsWhereCalled
        ),
        .target(
            name: "UVNetTestSupport",
            dependencies: ["UVNet", "UVNetTLS", "COpenSSL"],
            swiftSettings: asyncRunsWhereCalled
        ),
        .executableTarget(
            name: "uvdemo",
            dependencies: [
                "UVNet",
                "UVNetTLS",
                // The tour's certificates come from the test support's throwaway CA: no key ships.
                "UVNetTestSupport",
                // The demos' digest, MAC and random challenges come from libcrypto, linked for TLS already.
                "COpenSSL",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: asyncRunsWhereCalled
        ),
        .testTarget(
            name: "UVNetTests",
            dependencies: [
                "UVNet",
                "UVNetTestSupport",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle", condition: .when(traits: ["ServiceLifecycle"])),
            ]
        ),
        .testTarget(
            name: "UVNetTLSTests",
            dependencies: ["UVNetTLS", "UVNetTestSupport"]
        ),
        .testTarget(
            name: "uvdemoTests",
            // The test support makes the certificates the TLS tests serve, at run time.
            dependencies: ["uvdemo", "UVNetTLS", "UVNetTestSupport"],
            // The libFuzzer entry and its seed corpus are built only by scripts/fuzz.
            exclude: ["Fuzz"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
