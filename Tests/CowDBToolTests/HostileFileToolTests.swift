import CowDB
import Foundation
import XCTest

/// Every reading command of `cowdb`, on files that are not databases, are cut short, or carry
/// damage at random places: never a crash (a signal fails `ToolRunner.run`), and every failure
/// is a non-zero exit with exactly one line of error (after any warnings).
final class HostileFileToolTests: XCTestCase {
    /// The reading commands, each run on every hostile directory.
    private static let commands: [[String]] = [
        ["check", "--all-versions"], ["stat", "-a"], ["versions"], ["dump", "-a"], ["scan"], ["get", "k0005"],
    ]

    /// Runs every reading command on `path` and checks the failure contract.
    private func assertContract(_ path: String, _ what: String, file: StaticString = #filePath, line: UInt = #line) throws -> Int {
        var failures = 0
        for command in Self.commands {
            let arguments = [command[0], path] + command.dropFirst()
            let result = try ToolRunner.cowdb(arguments, file: file, line: line)
            guard result.status != 0 else { continue }
            failures += 1
            XCTAssertTrue([1, 2, 3].contains(result.status), "\(what): \(arguments) exited \(result.status)", file: file, line: line)
            // One line of error; warnings (such as an unverified tail) may come before it.
            let errors = result.errorLines.filter { !$0.hasPrefix("cowdb: warning: ") }
            XCTAssertEqual(errors.count, 1, "\(what): \(arguments) wrote \(result.errorLines)", file: file, line: line)
            XCTAssertTrue(errors.first?.hasPrefix("cowdb: error: ") ?? false, "\(what): \(arguments): \(result.errors)", file: file, line: line)
        }
        return failures
    }

    /// A small real database with history, keyspaces and an overflow value.
    private func makeDatabase(_ path: String) throws {
        let db = try openDatabase(path: path)
        for round in 0 ..< 4 {
            try db.write { txn in
                for i in 0 ..< 150 { try txn.put(b(String(format: "k%04d", i)), [UInt8](repeating: UInt8(round), count: 30 + round)) }
                if round == 1 { try txn.put(b("big"), [UInt8](repeating: 7, count: 20_000)) }
                if round == 2 { try txn.createKeyspace("names").put(b("n"), b("v")) }
            }
        }
        try db.close()
    }

    func testNotADatabaseTruncatedAndEmptyFiles() throws {
        let dir = TemporaryDirectory()
        try makeDatabase(dir.path("original"))
        let original = try Data(contentsOf: URL(fileURLWithPath: dir.path("original") + "/data"))
        var random = SeededGenerator(seed: testSeed("HostileFileToolTests"))
        let garbage = Data((0 ..< 40_000).map { _ in UInt8.random(in: 0 ... 255, using: &random) })
        var wrongPageSize = original
        wrongPageSize[12] = 0x01
        let variants: [(String, Data)] = [
            ("garbage", garbage), ("empty", Data()), ("short-header", original.prefix(30)),
            ("header-only", original.prefix(4096)), ("half-page", original.prefix(4096 + 2048)),
            ("cut-mid-file", original.prefix(original.count / 2 + 100)), ("wrong-page-size", wrongPageSize),
            ("text", Data("VERSION=3\nformat=bytevalue\nHEADER=END\n".utf8)),
        ]
        var failures = 0
        for (name, bytes) in variants {
            let path = dir.path(name)
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            try bytes.write(to: URL(fileURLWithPath: path + "/data"))
            failures += try assertContract(path, name)
        }
        XCTAssertGreaterThan(failures, variants.count, "hostile files must make commands fail")
        // A directory where the data file should be, and a data file that is a symbolic link.
        try FileManager.default.createDirectory(atPath: dir.path("dir-as-data") + "/data", withIntermediateDirectories: true)
        XCTAssertEqual(try assertContract(dir.path("dir-as-data"), "dir-as-data"), Self.commands.count)
        try FileManager.default.createDirectory(atPath: dir.path("linked"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dir.path("linked") + "/data", withDestinationPath: dir.path("original") + "/data")
        XCTAssertEqual(try assertContract(dir.path("linked"), "linked"), Self.commands.count)
    }

    func testDamageAtRandomPlaces() throws {
        let dir = TemporaryDirectory()
        try makeDatabase(dir.path("original"))
        let original = try Data(contentsOf: URL(fileURLWithPath: dir.path("original") + "/data"))
        let index = try Data(contentsOf: URL(fileURLWithPath: dir.path("original") + "/index"))
        var random = SeededGenerator(seed: testSeed("HostileFileToolTests.random"))
        var failures = 0
        for copy in 0 ..< 12 {
            let path = dir.path("damaged-\(copy)")
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            var data = original, damagedIndex = index
            for _ in 0 ..< Int.random(in: 1 ... 8, using: &random) {
                data[Int.random(in: 0 ..< data.count, using: &random)] ^= UInt8.random(in: 1 ... 255, using: &random)
            }
            if copy % 3 == 0 { damagedIndex[Int.random(in: 0 ..< damagedIndex.count, using: &random)] ^= 0x10 }
            try data.write(to: URL(fileURLWithPath: path + "/data"))
            try damagedIndex.write(to: URL(fileURLWithPath: path + "/index"))
            failures += try assertContract(path, "damaged copy \(copy)")
        }
        XCTAssertGreaterThan(failures, 0)
    }
}
