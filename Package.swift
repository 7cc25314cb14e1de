// swift-tools-version:6.1
import PackageDescription

// Built and tested on Linux only (README "Platforms"); SwiftPM's `platforms:` lists only Apple
// systems, so it lists none. A port implements Sources/CowDBStorage/OS*.swift.
let package = Package(
    name: "CowDB",
    products: [
        .library(name: "CowDB", targets: ["CowDB"]),
        .executable(name: "cowdb", targets: ["cowdb"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // The library's only dependency: file descriptors and errno (CowDBStorage/OS*.swift).
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        // A command plugin only (`swift package generate-documentation`), no target depends on it.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
        // Replication only (CowDBReplication): HTTP and HMAC-SHA256 for S3. No CowDB library
        // target depends on them.
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        // Only to tell a connection error (worth a retry) from others, in CowDBReplication.
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // CRC-32C (SSE4.2 when the CPU has it) and atomic loads/stores on shared mapped memory.
        .target(
            name: "CCowDBSupport",
            path: "Sources/CCowDBSupport"
        ),
        // The layers, one module each, so that an upward use does not compile (docs/DESIGN.md):
        // every on-disk structure's encoder and decoder, and the error type.
        .target(
            name: "CowDBFormat",
            dependencies: ["CCowDBSupport", .product(name: "SystemPackage", package: "swift-system")],
            path: "Sources/CowDBFormat",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // Files, pages, the index, recovery, the lock file; a database generation's life; and
        // every call to the operating system (OS*.swift).
        .target(
            name: "CowDBStorage",
            dependencies: ["CowDBFormat", "CCowDBSupport", .product(name: "SystemPackage", package: "swift-system")],
            path: "Sources/CowDBStorage",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // The copy-on-write B+tree over a page reader and a page sink.
        .target(
            name: "CowDBTree",
            dependencies: ["CowDBFormat", "CowDBStorage"],
            path: "Sources/CowDBTree",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // The public API.
        .target(
            name: "CowDB",
            dependencies: ["CowDBFormat", "CowDBStorage", "CowDBTree"],
            path: "Sources/CowDB",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // Shipping commits to S3-compatible object storage and back (docs/REPLICATION.md): SigV4
        // signing and an S3 client. Kept out of the CowDB library, which depends on swift-system only.
        .target(
            name: "CowDBReplication",
            dependencies: [
                "CowDB",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Sources/CowDBReplication",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // LMDB, the reference for snapshot semantics in tests, and a benchmark engine.
        .systemLibrary(
            name: "CLMDB",
            path: "Sources/CLMDB",
            pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"])]
        ),
        .executableTarget(
            name: "cowdb",
            dependencies: [
                "CowDB",
                "CowDBReplication",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tools/cowdb",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // SQLite, the benchmark's third engine.
        .systemLibrary(
            name: "CSQLite",
            path: "Sources/CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        // CowDB next to LMDB and SQLite on the same data in the same run.
        .executableTarget(
            name: "cowdb-bench",
            dependencies: [
                "CowDB", "CLMDB", "CSQLite",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tools/cowdb-bench",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // A second process for the multi-process tests.
        .executableTarget(
            name: "cowdb-test-helper",
            dependencies: ["CowDB", "CowDBTestSupport"],
            path: "Tools/cowdb-test-helper",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // Seeded randomness and temporary directories, shared by the test targets and the helper.
        .target(
            name: "CowDBTestSupport",
            path: "Tests/CowDBTestSupport",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // No LeakSanitizer in the test process under --sanitize=address (XCTest's own objects
        // show as leaks at exit); the tools the tests start keep it.
        .target(
            name: "CSanitizerOptions",
            path: "Tests/CSanitizerOptions"
        ),
        // `openDatabase(path:)`: every test database is checked at the end of its test.
        .target(
            name: "CowDBTestHarness",
            dependencies: ["CowDB", "CowDBTestSupport", "CSanitizerOptions"],
            path: "Tests/CowDBTestHarness",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .testTarget(
            name: "CowDBTests",
            dependencies: [
                "CowDB", "CowDBFormat", "CowDBStorage", "CowDBTree",
                "CLMDB", "cowdb-test-helper", "CowDBTestSupport", "CowDBTestHarness",
            ],
            path: "Tests/CowDBTests",
            exclude: ["Fixtures"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // The cowdb tool, run as a subprocess (the built binary) next to LMDB's mdb_dump/mdb_load;
        // and a smoke run of cowdb-bench.
        .testTarget(
            name: "CowDBToolTests",
            dependencies: [
                "CowDB", "CowDBFormat", "CowDBStorage", "CowDBTree",
                "cowdb", "cowdb-bench", "CowDBTestSupport", "CowDBTestHarness",
            ],
            path: "Tests/CowDBToolTests",
            exclude: ["Fixtures"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // SigV4 against AWS's published example; the S3 client against a local moto_server.
        .testTarget(
            name: "CowDBReplicationTests",
            dependencies: ["CowDBReplication", "CowDBTestSupport", "CowDBTestHarness", "cowdb"],
            path: "Tests/CowDBReplicationTests",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)
