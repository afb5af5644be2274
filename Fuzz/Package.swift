// swift-tools-version: 6.1
import PackageDescription

// libFuzzer targets for the decoders hostile bytes reach: the configuration reader, both clouds'
// replies and the JPEG/PNG decoders. A package of its own so the main build never compiles them;
// build and run one with `scripts/fuzz TARGET SECONDS` (it adds `--sanitize fuzzer --sanitize address`).
let fuzzSettings: [SwiftSetting] = [
    // Each target defines LLVMFuzzerTestOneInput; libFuzzer brings main().
    .unsafeFlags(["-parse-as-library"])
]

let package = Package(
    name: "facegate-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "facegate", path: ".."),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "FuzzConfig",
            dependencies: [.product(name: "FacegateApp", package: "facegate")],
            swiftSettings: fuzzSettings
        ),
        .executableTarget(
            name: "FuzzNEC",
            dependencies: [
                .product(name: "FacegateIdentify", package: "facegate"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: fuzzSettings
        ),
        .executableTarget(
            name: "FuzzNeoCheck",
            dependencies: [
                .product(name: "FacegateIdentify", package: "facegate"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: fuzzSettings
        ),
        .executableTarget(
            name: "FuzzImage",
            dependencies: [.product(name: "FacegateImageCodec", package: "facegate")],
            swiftSettings: fuzzSettings
        ),
    ]
)
