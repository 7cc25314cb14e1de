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

    /// The reading commands compared between the intact database and damaged copies of it
    /// (`DEST` stands for a scratch destination, read back with `dump -a` after the command).
    private static let readings: [[String]] = [
        ["dump", "-a"], ["dump", "-a", "--version", "2"], ["dump", "-s", "names"], ["get", "k0005"], ["get", "big"],
        ["get", "k0100", "--version", "1"], ["get", "absent"], ["scan"], ["scan", "--reverse"], ["scan", "--version", "2"],
        ["diff", "1", "4", "-a"], ["diff", "4", "2"], ["versions"], ["stat", "-a"], ["stat", "--version", "3"],
        ["check", "--all-versions"], ["check"], ["backup", "DEST"], ["copy", "DEST", "--version", "3"],
    ]

    /// Runs reading command `command` on `path`: its exit status and output, and for `backup`
    /// and `copy` the `dump -a` of what they wrote.
    private func reading(_ command: [String], _ path: String, scratch: String) throws -> (ProcessResult, ProcessResult?) {
        try? FileManager.default.removeItem(atPath: scratch)
        let arguments = [command[0], path] + command.dropFirst().map { $0 == "DEST" ? scratch : $0 }
        let result = try ToolRunner.cowdb(arguments)
        guard command.contains("DEST"), result.status == 0 else { return (result, nil) }
        return (result, try ToolRunner.cowdb(["dump", "-a", scratch]))
    }

    func testEveryReadingCommandOnDamagedCopiesPrintsTheIntactAnswerOrReportsDamage() throws {
        let dir = TemporaryDirectory()
        let original = dir.path("original")
        try makeDatabase(original)
        let scratch = dir.path("scratch")
        let intact = try Self.readings.map { try reading($0, original, scratch: scratch) }
        for (command, (result, copied)) in zip(Self.readings, intact) {
            XCTAssertTrue([0, 3].contains(result.status), "intact: \(command) exited \(result.status): \(result.errors)")
            if let copied { XCTAssertEqual(copied.status, 0, "intact: dump of \(command)'s copy: \(copied.errors)") }
        }
        let data = Array(try Data(contentsOf: URL(fileURLWithPath: original + "/data")))
        let index = Array(try Data(contentsOf: URL(fileURLWithPath: original + "/index")))
        let damage = FileDamage(data: data, pageSize: 4096)
        let seed = testSeed("HostileFileToolTests.random")
        var random = SeededGenerator(seed: seed)
        var matched = 0, reported = 0
        for (copy, target) in (DamageTarget.allCases + DamageTarget.allCases).enumerated() {
            var bytes = data, indexBytes = index
            let what = damage.damage(target, data: &bytes, index: &indexBytes, using: &random)
            let path = dir.path("damaged-\(copy)")
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            try Data(bytes).write(to: URL(fileURLWithPath: path + "/data"))
            try Data(indexBytes).write(to: URL(fileURLWithPath: path + "/index"))
            let context = "seed \(seed), copy \(copy), \(target): \(what)"
            for (command, expected) in zip(Self.readings, intact) {
                let (result, copied) = try reading(command, path, scratch: scratch)
                if [0, 3].contains(result.status) {
                    // An answer: exactly the intact database's (status, output, and what a copy holds).
                    matched += 1
                    XCTAssertEqual(result.status, expected.0.status, "\(context): \(command) exit status")
                    XCTAssertEqual(result.text.replacingOccurrences(of: path, with: "DB"), expected.0.text.replacingOccurrences(of: original, with: "DB"),
                                   "\(context): \(command) printed something the intact database does not hold")
                    XCTAssertEqual(copied?.output, expected.1?.output, "\(context): what \(command) wrote differs from the intact database's")
                } else {
                    reported += 1
                    XCTAssertTrue([1, 2].contains(result.status), "\(context): \(command) exited \(result.status)")
                    let errors = result.errorLines.filter { !$0.hasPrefix("cowdb: warning: ") }
                    XCTAssertEqual(errors.count, 1, "\(context): \(command) wrote \(result.errorLines)")
                    XCTAssertTrue(errors.first?.hasPrefix("cowdb: error: ") ?? false, "\(context): \(command): \(result.errors)")
                }
            }
            try? FileManager.default.removeItem(atPath: path)
        }
        print("hostile tool: \(matched) commands printed the intact answer, \(reported) reported damage")
        XCTAssertGreaterThan(reported, 0)
        XCTAssertGreaterThan(matched, 0)
    }
}
