// swift-tools-version: 6.1
import PackageDescription

// One settings list for every Swift target, as the server-side Swift packages do.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

// dlib is unusable unoptimised (HOG takes over a second a frame), so the shim
// is always compiled with optimisation, in debug builds too.
// The pixel loops (conversion, scaling, thumbnails, the synthetic approaches the tests walk up to
// the door) cost ten times more unoptimised: the modules that hold them are optimised in debug
// builds too, so the tests spend their time deciding, not converting pixels.
let pixelModuleSettings: [SwiftSetting] = swiftSettings + [.unsafeFlags(["-O"], .when(configuration: .debug))]

let dlibShimSettings: [CXXSetting] = [
    .unsafeFlags(["-O2", "-DNDEBUG", "-fno-strict-aliasing"]),
    .define("DLIB_NO_GUI_SUPPORT"),
]

let package = Package(
    name: "facegate",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "facegate", targets: ["facegate"]),
        .executable(name: "facegate-emulator", targets: ["facegate-emulator"]),
        // For the fuzz targets in Fuzz/ (a separate package, built only by scripts/fuzz).
        .library(name: "FacegateApp", targets: ["FacegateApp"]),
        .library(name: "FacegateIdentify", targets: ["FacegateIdentify"]),
        .library(name: "FacegateImageCodec", targets: ["FacegateImageCodec"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        // Already in the graph through hummingbird: start-up, signals and graceful shutdown for `facegate run`.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        // /metrics: swift-metrics (already in the graph through hummingbird) and its Prometheus backend.
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // Domain values and the protocols each stage is seen through. No I/O (the clocks' readings aside).
        .target(name: "FacegateCore", dependencies: ["CTimex"], swiftSettings: pixelModuleSettings),
        // glibc's ntp_adjtime: whether a time daemon keeps the system clock synchronised (WallClockEvidence).
        .systemLibrary(name: "CTimex"),

        // Capture stage: face finding and quality (dlib behind a plain C header).
        .target(
            name: "CFacegateDlib",
            cxxSettings: dlibShimSettings,
            linkerSettings: [
                .linkedLibrary("dlib"), .linkedLibrary("blas"), .linkedLibrary("lapack"),
            ]
        ),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .target(
            name: "FacegateImageCodec",
            dependencies: ["FacegateCore", "CTurboJPEG", "CPNG"],
            swiftSettings: pixelModuleSettings
        ),
        .target(
            name: "FacegateQuality",
            dependencies: ["FacegateCore", "FacegateImageCodec", "CFacegateDlib", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: pixelModuleSettings
        ),

        // Liveness stage: presentation-attack detection. OpenCV's dnn module (Debian's, no
        // pkg-config file) runs the texture models behind a plain C header.
        .target(
            name: "CFacegatePAD",
            cxxSettings: [.unsafeFlags(["-I/usr/include/opencv4", "-O2"])],
            linkerSettings: [
                .linkedLibrary("opencv_dnn"), .linkedLibrary("opencv_imgproc"), .linkedLibrary("opencv_core"),
            ]
        ),
        .target(
            name: "FacegateLiveness",
            dependencies: ["FacegateCore", "CFacegatePAD", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),

        // Policy stage: the door's decision, pure.
        .target(name: "FacegatePolicy", dependencies: ["FacegateCore"], swiftSettings: swiftSettings),

        // Frame sources: V4L2 cameras and replays of image folders or video files.
        .target(name: "CFacegateV4L2", linkerSettings: [.linkedLibrary("v4l2")]),
        .target(
            name: "FacegateCapture",
            dependencies: [
                "FacegateCore", "FacegateImageCodec", "CFacegateV4L2",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: pixelModuleSettings
        ),

        // Door I/O: relay, contact and exit button over GPIO (libgpiod v1.6), or simulated.
        // glibc's mallopt: the daemon limits its malloc arenas (MallocArenas).
        .systemLibrary(name: "CMalloc"),
        .systemLibrary(name: "CGPIOD", pkgConfig: "libgpiod", providers: [.apt(["libgpiod-dev"])]),
        .target(
            name: "FacegateDoor",
            dependencies: [
                "FacegateCore", "CGPIOD",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // Identify stage: the two cloud face-search services.
        .target(
            name: "FacegateIdentify",
            dependencies: [
                "FacegateCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // Faithful stand-ins for the cloud services, for tests and the demo.
        // They verify signatures with their own code, never the client's.
        .target(
            name: "FacegateEmulators",
            dependencies: [
                "FacegateCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // Composition root: configuration, the gate pipeline, the service.
        .target(
            name: "FacegateApp",
            dependencies: [
                "FacegateCore", "FacegateImageCodec", "FacegateQuality", "FacegatePolicy", "FacegateIdentify",
                "FacegateJournal", "FacegateOfflineCache", "FacegateCapture", "FacegateDoor", "FacegateLiveness", "CMalloc",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),

        // The demo: the daemon's pipeline on bundled media with the NEC ID emulator and a simulated door.
        .target(
            name: "FacegateDemo",
            dependencies: [
                "FacegateCore", "FacegateImageCodec", "FacegateQuality", "FacegatePolicy", "FacegateIdentify",
                "FacegateEmulators", "FacegateDoor", "FacegateApp", "FacegateJournal", "FacegateOfflineCache",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Journal stage: the SQLite decision and door-event journal.
        .target(
            name: "FacegateJournal",
            dependencies: [
                "FacegateCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The encrypted offline face cache the door falls back to when the cloud is down.
        .target(
            name: "FacegateOfflineCache",
            dependencies: [
                "FacegateCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        .executableTarget(
            name: "facegate",
            dependencies: [
                "FacegateCore", "FacegateQuality", "FacegateIdentify", "FacegateApp", "FacegateCapture", "FacegateImageCodec",
                "FacegateDemo", "FacegateJournal", "FacegateOfflineCache", "FacegateDoor", "FacegateLiveness",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "facegate-emulator",
            dependencies: [
                "FacegateCore", "FacegateQuality", "FacegateEmulators",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        .executableTarget(
            name: "facegate-bench",
            dependencies: [
                "FacegateCore", "FacegateImageCodec", "FacegateQuality", "FacegateDemo", "FacegateJournal", "FacegateLiveness",
                "FacegateCapture",
            ],
            path: "Benchmarks/facegate-bench",
            swiftSettings: swiftSettings
        ),

        // What tests share (stand-ins, clocks, live emulators, the hostile server, process runner, test
        // data); test targets depend on it, product targets never do.
        .target(
            name: "FacegateTesting",
            dependencies: [
                "FacegateCore", "FacegateIdentify", "FacegateEmulators", "FacegateQuality", "FacegateImageCodec",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "FacegateCoreTests", dependencies: ["FacegateCore"], swiftSettings: swiftSettings),
        .testTarget(
            name: "FacegateLivenessTests",
            dependencies: [
                "FacegateLiveness", "FacegateCore", "FacegateCapture", "FacegateImageCodec", "FacegateQuality", "FacegateTesting",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "FacegatePolicyTests", dependencies: ["FacegatePolicy", "FacegateCore"], swiftSettings: swiftSettings),
        .testTarget(name: "FacegateCLITests", dependencies: ["facegate", "FacegateApp", "FacegateTesting"], swiftSettings: swiftSettings),
        .testTarget(
            name: "FacegateAppTests",
            dependencies: [
                "FacegateApp", "FacegateCapture", "FacegatePolicy", "FacegateDemo", "FacegateCore", "FacegateDoor", "FacegateIdentify",
                "FacegateImageCodec", "FacegateJournal", "FacegateOfflineCache", "FacegateQuality", "FacegateEmulators",
                "FacegateTesting",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Test-only: writes a burst of decisions until it is SIGKILLed (not a product).
        .executableTarget(
            name: "facegate-journal-crash-writer",
            dependencies: ["FacegateJournal", "FacegateCore"],
            path: "Tests/facegate-journal-crash-writer",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "FacegateJournalTests",
            dependencies: [
                "FacegateTesting",
                "FacegateJournal", "FacegateCore", "facegate-journal-crash-writer",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "FacegateOfflineCacheTests",
            dependencies: [
                "FacegateTesting",
                "FacegateOfflineCache", "FacegateCore",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "FacegateQualityTests",
            dependencies: ["FacegateCore", "FacegateImageCodec", "FacegateQuality", "FacegateTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "FacegateCaptureTests",
            dependencies: ["FacegateCapture", "FacegateCore", "FacegateImageCodec", "FacegateTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "FacegateDoorTests",
            dependencies: ["FacegateDoor", "FacegateCore", "FacegateTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "NeoCheckTests",
            dependencies: [
                "FacegateTesting",
                "FacegateCore", "FacegateQuality", "FacegateIdentify", "FacegateEmulators",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "NECIDTests",
            dependencies: [
                "FacegateTesting",
                "FacegateCore", "FacegateIdentify", "FacegateEmulators", "FacegateQuality", "FacegateImageCodec", "facegate",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ],
    cxxLanguageStandard: .cxx17
)
