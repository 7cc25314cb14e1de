import CowDB
import Foundation
import XCTest

/// What every command shares: help with examples, one-line errors with exit codes, and a
/// progress bar only on a terminal.
final class CommandLineTests: XCTestCase {
    /// Every subcommand.
    static let commands = ["dump", "load", "versions", "get", "put", "delete", "scan", "diff", "stat", "check", "rollback", "tag", "tags", "untag", "compact", "backup", "copy", "demo"]

    /// Every command's --help has examples.
    func testHelpHasExamples() throws {
        for command in [[]] + CommandLineTests.commands.map({ [$0] }) {
            let result = try ToolRunner.cowdb(command + ["--help"])
            XCTAssertEqual(result.status, 0, "\(command) --help")
            let examples = result.text.components(separatedBy: "Examples:\n").dropFirst().first ?? ""
            XCTAssertTrue(examples.hasPrefix("  ") && examples.contains("cowdb \(command.first ?? "")"), "\(command) --help lacks examples:\n\(result.text)")
        }
    }

    /// The failures users meet: one `cowdb: error:` line and a non-zero exit code each.
    func testErrorsAreOneLine() throws {
        let dir = TemporaryDirectory()
        let missing = dir.path("missing")
        for arguments in [["dump", missing], ["load", missing, "-f", dir.path("no-such-input")], ["versions", missing], ["get", missing, "k"],
                          ["scan", missing], ["stat", missing], ["check", missing], ["delete", missing, "k"]] {
            let result = try ToolRunner.cowdb(arguments)
            assertFailure(result, containing: [arguments[0] == "load" ? "cannot open" : "no such database: \(missing)"])
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: missing))

        // Not a database: an empty directory, a file, a directory with a foreign data file.
        try FileManager.default.createDirectory(atPath: dir.path("empty"), withIntermediateDirectories: true)
        try Data("hello".utf8).write(to: URL(fileURLWithPath: dir.path("file")))
        try FileManager.default.createDirectory(atPath: dir.path("foreign"), withIntermediateDirectories: true)
        try Data(repeating: 7, count: 8192).write(to: URL(fileURLWithPath: dir.path("foreign") + "/data"))
        for name in ["empty", "file", "foreign"] {
            for command in ["dump", "stat", "check", "versions"] {
                assertFailure(try ToolRunner.cowdb([command, dir.path(name)]), containing: ["not a CowDB database: \(dir.path(name))"])
            }
            // Writing creates a database in an empty directory (as the library does), never in a file.
            if name != "empty" {
                assertFailure(try ToolRunner.cowdb(["put", dir.path(name), "k", "v"]), containing: ["not a CowDB database"])
            }
        }

        // Unknown version and keyspace.
        let path = dir.path("db")
        assertSuccess(try ToolRunner.cowdb(["put", path, "k", "v"]))
        for command in [["dump", path], ["get", path, "k"], ["scan", path], ["stat", path], ["check", path]] {
            assertFailure(try ToolRunner.cowdb(command + ["--version", "5"]), containing: ["unknown version 5 (the latest is 1)"])
        }
        for command in [["dump", path], ["get", path, "k"], ["scan", path], ["stat", path], ["delete", path, "k"]] {
            assertFailure(try ToolRunner.cowdb(command + ["-s", "ghost"]), containing: ["unknown keyspace \"ghost\""])
        }

        // Locked: another process holds the write lock.
        let writer = try openDatabase(path: path)
        assertFailure(try ToolRunner.cowdb(["put", path, "k", "w"]), containing: ["database is locked", path])
        assertFailure(try ToolRunner.cowdb(["delete", path, "k"]), containing: ["database is locked"])
        try writer.close()

        // Usage errors keep ArgumentParser's usage text under the tool's prefix, with code 64.
        let usage = try ToolRunner.cowdb(["dump", path, "-s", "x", "-a"])
        XCTAssertEqual(usage.status, 64)
        XCTAssertTrue(usage.errors.hasPrefix("cowdb: error: give -s KEYSPACE or -a, not both"), usage.errors)
        XCTAssertEqual(try ToolRunner.cowdb(["dump"]).status, 64)
        XCTAssertEqual(try ToolRunner.cowdb(["frobnicate"]).status, 64)
        XCTAssertEqual(try ToolRunner.cowdb(["load", path, "--batch", "0"]).status, 64)
    }

    /// `demo` runs and ends with a dump of its database.
    func testDemo() throws {
        let dir = TemporaryDirectory()
        let result = try ToolRunner.cowdb(["demo", dir.path("demo")])
        assertSuccess(result, "demo")
        XCTAssertTrue(result.text.contains("read at version 1: apple=red"), result.text)
        XCTAssertTrue(result.text.contains("VERSION=3\nformat=print\ntype=btree\n"), result.text)
        XCTAssertTrue(result.text.contains("database=stock\n"), result.text)
        XCTAssertTrue(result.text.contains("  added ") && result.text.contains("  changed apple: red → green"), result.text)
        XCTAssertTrue(result.text.contains("version 5: rollback to version 1") && result.text.contains("version 6: rollback to version 4"), result.text)
        assertSuccess(try ToolRunner.cowdb(["check", dir.path("demo"), "--all-versions"]))
    }

    /// The progress bar shows on a terminal (run under `script`, which gives the tool a pseudo
    /// terminal) and never when --quiet is given or standard error is a file.
    func testProgressOnlyOnATerminal() throws {
        let script = "/usr/bin/script"
        guard FileManager.default.isExecutableFile(atPath: script) else { throw XCTSkip("util-linux script is not installed") }
        var rng = SeededGenerator(seed: 1)
        let dir = TemporaryDirectory()
        let records = (0 ..< 20_000).map { i in (key: b(String(format: "key%08d", i)), value: rng.bytes(40)) }
        try DumpText.make([DumpBlock(name: nil, records: records)]).write(toFile: dir.path("in.dump"), atomically: false, encoding: .utf8)
        /// Runs cowdb under `script`, on a pseudo terminal; returns what the terminal showed.
        func underTerminal(_ arguments: [String]) throws -> String {
            let command = ([ToolRunner.cowdbPath] + arguments).map { "'\($0)'" }.joined(separator: " ")
            return try ToolRunner.run(script, ["-qec", command, "/dev/null"]).text
        }
        let shown = try underTerminal(["load", dir.path("a"), "-f", dir.path("in.dump")])
        XCTAssertTrue(shown.contains("load  [") && shown.contains("records") && shown.contains("loaded 20000 records"), shown)
        let quiet = try underTerminal(["load", dir.path("b"), "-f", dir.path("in.dump"), "--quiet"])
        XCTAssertEqual(quiet, "")
        assertSuccess(try ToolRunner.cowdb(["load", dir.path("c"), "-f", dir.path("in.dump")]), "load to a pipe")
        assertSuccess(try ToolRunner.cowdb(["dump", dir.path("c"), "-f", dir.path("out.dump")]), "dump to a file, not on a terminal")
        XCTAssertEqual(DumpText.withoutEnvironment(try String(contentsOfFile: dir.path("out.dump"), encoding: .utf8)),
                       DumpText.withoutEnvironment(try String(contentsOfFile: dir.path("in.dump"), encoding: .utf8)))
    }
}
