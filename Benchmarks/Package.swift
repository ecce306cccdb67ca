// swift-tools-version:6.1
// UVNet's micro-benchmarks (ordo-one/package-benchmark), the Swift side of the timer comparison, and
// SwiftNIO's echo servers (plain and over swift-nio-ssl) for comparison: a package of their own, so that
// nobody who depends on UVNet resolves or builds them.
// Run: swift package --package-path Benchmarks benchmark   (see Benchmarks/micro)
import PackageDescription

let package = Package(
    name: "UVNetBenchmarks",
    dependencies: [
        .package(name: "UVNet", path: ".."),
        // MallocInterposer counts every malloc, which is what the allocation targets are stated in.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        // Only for Benchmarks/compare --nio: SwiftNIO's echo server, measured beside UVNet's.
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // Only for Benchmarks/tls-compare --nio: swift-nio-ssl's TLS echo server, measured beside UVNet's.
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        .executableTarget(
            name: "UVNetBenchmarks",
            dependencies: [
                .product(name: "UVNet", package: "UVNet"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "UVNetBenchmarks",
            swiftSettings: [.enableUpcomingFeature("NonisolatedNonsendingByDefault")],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // Programs measured beside others, not package-benchmark targets: those are the directories
        // directly under Benchmarks/, so these live in Compared/.
        .executableTarget(
            name: "TimerChurn",
            dependencies: [.product(name: "UVNet", package: "UVNet")],
            path: "Compared/TimerChurn"
        ),
        .executableTarget(
            name: "NIOEchoServer",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Compared/NIOEchoServer"
        ),
        .executableTarget(
            name: "NIOSSLEchoServer",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Compared/NIOSSLEchoServer"
        ),
    ],
    swiftLanguageModes: [.v6]
)
