import Foundation
import XCTest

/// Golden files: real `mdb_dump` output of LMDB 0.9.24 and 0.9.32 in
/// `../shared/fixtures/lmdb-dumps/`, with the records they were made from.
final class FixtureTests: XCTestCase {
    /// A database loaded from the fixture inputs: `main` (default keyspace) or `named` (users, blobs).
    private func database(_ kind: String, in dir: TemporaryDirectory) throws -> String {
        let path = dir.path(kind)
        let inputs = kind == "main" ? ["input.main.txt"] : ["input.users.txt", "input.blobs.txt"]
        for input in inputs {
            assertSuccess(try ToolRunner.cowdb(["load", path, "-f", fixture(input)]), "load \(input)")
        }
        return path
    }

    /// Reads a fixture.
    private func golden(_ name: String) throws -> String { try String(contentsOfFile: fixture(name), encoding: .utf8) }

    /// Dumps with `arguments` and compares with a golden file, environment lines aside.
    private func assertDump(_ arguments: [String], equals name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try ToolRunner.cowdb(["dump"] + arguments)
        assertSuccess(result, "dump \(arguments)", file: file, line: line)
        XCTAssertEqual(DumpText.withoutEnvironment(result.text), DumpText.withoutEnvironment(try golden(name)), "against \(name)", file: file, line: line)
    }

    // MARK: Writing

    /// bytevalue: identical to both LMDB versions' output.
    func testBytevalueGoldens() throws {
        let dir = TemporaryDirectory()
        let main = try database("main", in: dir), named = try database("named", in: dir)
        try assertDump([main], equals: "main.bytevalue.0.9.32.txt")
        try assertDump([main], equals: "main.bytevalue.0.9.24.txt")
        try assertDump([named, "-a"], equals: "named.all.bytevalue.0.9.24.txt")
    }

    /// print: identical to LMDB 0.9.32's output (backslashes written `\\`).
    func testPrintGoldens() throws {
        let dir = TemporaryDirectory()
        let main = try database("main", in: dir), named = try database("named", in: dir)
        try assertDump([main, "-p"], equals: "main.print.0.9.32.txt")
        try assertDump([named, "-a", "-p"], equals: "named.all.print.0.9.32.txt")
        try assertDump([named, "-s", "users", "-p"], equals: "users.print.0.9.32.txt")
    }

    /// print against Debian's 0.9.24: identical on every record without a backslash byte; the
    /// records with one differ only in that 0.9.24 leaves it bare.
    func testPrintAgainst0924WithoutBackslashes() throws {
        let dir = TemporaryDirectory()
        let main = try database("main", in: dir), named = try database("named", in: dir)
        for (arguments, goldenName, source) in [([main, "-p"], "main.print.0.9.24.txt", "input.main.txt"),
                                                ([named, "-s", "users", "-p"], "users.print.0.9.24.txt", "input.users.txt")] {
            let ours = DumpText.withoutEnvironment(try ToolRunner.cowdb(["dump"] + arguments).text).split(separator: "\n", omittingEmptySubsequences: false)
            let theirs = DumpText.withoutEnvironment(try golden(goldenName)).split(separator: "\n", omittingEmptySubsequences: false)
            XCTAssertEqual(ours.count, theirs.count)
            let records = DumpText.records(ofBytevalue: try golden(source))
            let headerLines = ours.firstIndex(of: "HEADER=END")! + 1
            XCTAssertEqual(ours[..<headerLines], theirs[..<headerLines])
            var compared = 0, skipped = 0
            for (i, record) in records.enumerated() {
                for (offset, bytes) in [(0, record.key), (1, record.value)] {
                    let index = headerLines + 2 * i + offset
                    if bytes.contains(0x5C) {
                        XCTAssertEqual(ours[index].replacingOccurrences(of: "\\\\", with: "\\"), String(theirs[index]), "0.9.24 differs only by bare backslashes")
                        skipped += 1
                    } else {
                        XCTAssertEqual(ours[index], theirs[index], "\(goldenName) line \(index + 1)")
                        compared += 1
                    }
                }
            }
            XCTAssertGreaterThan(compared, 0)
            XCTAssertGreaterThan(skipped, 0)
        }
    }

    // MARK: Reading

    /// Loading LMDB 0.9.32's print output (and bytevalue output of either version) gives the
    /// exact records.
    func testLoadReadsLMDBOutputExactly() throws {
        let dir = TemporaryDirectory()
        for (index, name) in ["main.print.0.9.32.txt", "main.bytevalue.0.9.24.txt", "main.bytevalue.0.9.32.txt"].enumerated() {
            let path = dir.path("main\(index)")
            assertSuccess(try ToolRunner.cowdb(["load", path, "-f", fixture(name)]), "load \(name)")
            try assertDump([path], equals: "main.bytevalue.0.9.32.txt")
        }
        let named = dir.path("named")
        assertSuccess(try ToolRunner.cowdb(["load", named, "-f", fixture("named.all.print.0.9.32.txt")]), "load named print")
        try assertDump([named, "-a"], equals: "named.all.bytevalue.0.9.24.txt")
        let users = dir.path("users")
        assertSuccess(try ToolRunner.cowdb(["load", users], inputFile: fixture("users.print.0.9.32.txt")), "load users print")
        try assertDump([users, "-a"], equals: "input.users.txt")
    }

    /// 0.9.24's print output: a bare backslash not followed by hex digits is read as itself, with
    /// one warning that points to bytevalue.
    func testLoadOf0924PrintWarnsAboutBareBackslashes() throws {
        let dir = TemporaryDirectory()
        let result = try ToolRunner.cowdb(["load", dir.path("users"), "-f", fixture("users.print.0.9.24.txt")])
        XCTAssertEqual(result.status, 0, result.errors)
        XCTAssertEqual(result.errorLines.count, 1)
        XCTAssertTrue(result.errors.contains("line 13") && result.errors.contains("bytevalue"), result.errors)
        try assertDump([dir.path("users"), "-a"], equals: "input.users.txt")
    }
}
