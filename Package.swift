// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "UVNet",
    products: [
        .library(name: "UVNet", targets: ["UVNet"]),
        .executable(name: "uvdemo", targets: ["uvdemo"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CUV",
            pkgConfig: "libuv",
            providers: [.apt(["libuv1-dev"])]
        ),
        .target(
            name: "UVNet",
            dependencies: ["CUV"]
        ),
        .executableTarget(
            name: "uvdemo",
            dependencies: [
                "UVNet",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "UVNetTests",
            dependencies: ["UVNet"]
        ),
        .testTarget(
            name: "uvdemoTests",
            dependencies: ["uvdemo"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
