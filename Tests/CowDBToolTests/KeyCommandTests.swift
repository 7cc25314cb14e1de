import Foundation
import XCTest

/// `get`, `put`, `delete`, `scan`: text and hex keys, keyspaces, escaped output, ranges.
final class KeyCommandTests: XCTestCase {
    /// put, get and delete in the default keyspace and a named one, each a new version.
    func testPutGetDelete() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("db")
        assertSuccess(try ToolRunner.cowdb(["put", path, "greeting", "hello, world"]))
        assertSuccess(try ToolRunner.cowdb(["put", path, "-s", "users", "ann", "admin"]))
        XCTAssertEqual(try ToolRunner.cowdb(["get", path, "greeting"]).text, "hello, world\n")
        XCTAssertEqual(try ToolRunner.cowdb(["get", path, "-s", "users", "ann"]).text, "admin\n")
        assertFailure(try ToolRunner.cowdb(["get", path, "ann"]), status: 3, containing: ["key \"ann\" not found in the default keyspace at version 2"])
        assertFailure(try ToolRunner.cowdb(["get", path, "-s", "nobody", "ann"]), containing: ["unknown keyspace \"nobody\" at version 2", "\"users\""])

        assertFailure(try ToolRunner.cowdb(["put", path, "greeting", "other", "-N"]), containing: ["already exists"])
        assertSuccess(try ToolRunner.cowdb(["delete", path, "greeting"]))
        assertFailure(try ToolRunner.cowdb(["get", path, "greeting"]), status: 3, containing: ["not found"])
        XCTAssertEqual(try ToolRunner.cowdb(["get", path, "greeting", "--version", "2"]).text, "hello, world\n")
        assertFailure(try ToolRunner.cowdb(["delete", path, "greeting"]), status: 3, containing: ["not found"])
        assertFailure(try ToolRunner.cowdb(["delete", dir.path("missing"), "k"]), containing: ["no such database"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.path("missing")))
        XCTAssertEqual(try ToolRunner.cowdb(["versions", path, "--json"]).text.components(separatedBy: "\"version\"").count - 1, 3)
        assertFailure(try ToolRunner.cowdb(["put", path, "", "v"]), containing: ["empty key"])
    }

    /// Binary bytes: given as hex, shown escaped (never raw on the terminal), as hex, or raw.
    func testBinaryKeysAndValuesAreEscaped() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("db")
        assertSuccess(try ToolRunner.cowdb(["put", path, "--hex", "00ff1b5b", "5c0a09e282ac41"]))
        XCTAssertEqual(try ToolRunner.cowdb(["get", path, "--hex", "00ff1b5b"]).text, "5c0a09e282ac41\n")
        XCTAssertEqual(try ToolRunner.cowdb(["get", path, "--hex", "00ff1b5b", "--raw"]).output, Data([0x5C, 0x0A, 0x09, 0xE2, 0x82, 0xAC, 0x41]))
        XCTAssertEqual(try ToolRunner.cowdb(["scan", path]).text, "\\00\\ff\\1b[\t\\\\\\0a\\09\\e2\\82\\acA\n")
        XCTAssertEqual(try ToolRunner.cowdb(["scan", path, "--hex"]).text, "00ff1b5b\t5c0a09e282ac41\n")
        assertFailure(try ToolRunner.cowdb(["get", path, "--hex", "0g"]), containing: ["is not hex"])
        assertFailure(try ToolRunner.cowdb(["get", path, "--hex", "abc"]), containing: ["is not hex"])
    }

    /// scan: --prefix, --from (inclusive), --to (exclusive), --reverse, --limit, -s, --version.
    func testScanRanges() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("db")
        let keys = ["a1", "a2", "a3", "b1", "b2", "c1"]
        let input = DumpText.make([DumpBlock(name: "s", records: keys.map { (key: b($0), value: b($0.uppercased())) })])
        assertSuccess(try ToolRunner.cowdb(["load", path], input: Data(input.utf8)))
        /// The keys `scan` prints with `arguments`.
        func scan(_ arguments: [String]) throws -> [String] {
            let result = try ToolRunner.cowdb(["scan", path, "-s", "s"] + arguments)
            assertSuccess(result, "scan \(arguments)")
            return result.text.split(separator: "\n").map { String($0.split(separator: "\t")[0]) }
        }
        XCTAssertEqual(try scan([]), keys)
        XCTAssertEqual(try scan(["--prefix", "a"]), ["a1", "a2", "a3"])
        XCTAssertEqual(try scan(["--from", "a2", "--to", "b2"]), ["a2", "a3", "b1"])
        XCTAssertEqual(try scan(["--reverse", "--limit", "2"]), ["c1", "b2"])
        XCTAssertEqual(try scan(["--prefix", "b", "--reverse"]), ["b2", "b1"])
        XCTAssertEqual(try scan(["--prefix", "a", "--from", "a2", "--limit", "1"]), ["a2"])
        XCTAssertEqual(try scan(["--from", "z"]), [])
        XCTAssertEqual(try scan(["--from", "b", "--to", "a"]), [])
        XCTAssertEqual(try scan(["--hex", "--prefix", "63"]), ["6331"])
        XCTAssertEqual(try ToolRunner.cowdb(["scan", path, "-s", "s", "--limit", "1"]).text, "a1\tA1\n")
        assertSuccess(try ToolRunner.cowdb(["delete", path, "-s", "s", "a1"]))
        XCTAssertEqual(try scan(["--version", "1", "--limit", "1"]), ["a1"])
        XCTAssertEqual(try scan(["--limit", "1"]), ["a2"])
    }
}
