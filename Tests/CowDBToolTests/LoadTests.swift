import CowDB
import Foundation
import XCTest

/// `cowdb load`: malformed input fails naming the line and commits nothing; batches; -N, -T, -s;
/// header keywords.
final class LoadTests: XCTestCase {
    /// A valid two-record block.
    private let good = "VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n 61\n 31\n 62\n 32\nDATA=END\n"

    /// A database at version 1 holding `before` = `kept`.
    private func existingDatabase(_ dir: TemporaryDirectory) throws -> String {
        let path = dir.path("db")
        assertSuccess(try ToolRunner.cowdb(["put", path, "before", "kept"]), "put")
        return path
    }

    /// The whole database as `dump -a` bytevalue text.
    private func dumpAll(_ path: String) throws -> String { try ToolRunner.cowdb(["dump", path, "-a"]).text }

    // MARK: Malformed input

    /// Each malformed input fails with exit 1, one error line naming the right line, and
    /// leaves an existing database as it was and no new database behind.
    func testMalformedInputNamesTheLineAndCommitsNothing() throws {
        let cases: [(String, String, Int)] = [
            ("odd hex", "VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n 61\n 31\n 616\n 32\nDATA=END\n", 7),
            ("bad hex digit", "VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n 61\n 3g\nDATA=END\n", 6),
            ("missing HEADER=END", "VERSION=3\nformat=bytevalue\ntype=btree\n 61\n 31\nDATA=END\n", 4),
            ("missing leading space", "VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n 61\n 31\n62\n 32\nDATA=END\n", 7),
            ("truncated mid-line", String(good.prefix(good.count - 14)), 7),
            ("truncated at a line end", "VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n 61\n 31\n 62\n", 8),
            ("truncated header", "VERSION=3\nformat=bytevalue\n", 3),
            ("key without value", "VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n 61\n 31\n 62\nDATA=END\n", 8),
            ("second block bad", good + "VERSION=3\nformat=print\ndatabase=x\ntype=btree\nHEADER=END\n a\n b\n\n", 17),
            ("unsupported format", "VERSION=3\nformat=hex\ntype=btree\nHEADER=END\nDATA=END\n", 2),
            ("unsupported VERSION", "VERSION=4\nformat=bytevalue\ntype=btree\nHEADER=END\nDATA=END\n", 1),
            ("unsupported type", "VERSION=3\ntype=hash\nHEADER=END\nDATA=END\n", 2),
            ("header line without =", "VERSION=3\nformat=bytevalue\nbogus\nHEADER=END\nDATA=END\n", 3),
            ("empty key", "VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n 61\n 31\n \n 32\nDATA=END\n", 7),
            ("key too large", "VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n " + String(repeating: "ab", count: 2000) + "\n 31\nDATA=END\n", 5),
        ] + ["dupsort", "dupfixed", "integerkey", "integerdup", "reversekey", "reversedup", "duplicates"].map { flag in
            ("flag \(flag)", "VERSION=3\nformat=bytevalue\ntype=btree\n\(flag)=1\nHEADER=END\n 61\n 31\nDATA=END\n", 4)
        }
        let dir = TemporaryDirectory()
        let existing = try existingDatabase(dir)
        let before = try dumpAll(existing)
        for (name, input, line) in cases {
            let result = try ToolRunner.cowdb(["load", existing], input: Data(input.utf8))
            assertFailure(result, containing: ["standard input, line \(line):", "nothing was committed"])
            XCTAssertEqual(try dumpAll(existing), before, "\(name): the database changed")
            XCTAssertEqual(try versionCount(existing), 1, name)
            let fresh = dir.path("fresh")
            assertFailure(try ToolRunner.cowdb(["load", fresh], input: Data(input.utf8)), containing: ["line \(line):"])
            XCTAssertFalse(FileManager.default.fileExists(atPath: fresh), "\(name): a failed load left a new database behind")
        }
        // The file name is named when reading a file.
        try Data(cases[0].1.utf8).write(to: URL(fileURLWithPath: dir.path("odd.dump")))
        assertFailure(try ToolRunner.cowdb(["load", existing, "-f", dir.path("odd.dump")]), containing: ["odd.dump, line 7: odd number of hex digits"])
    }

    /// Versions in the database.
    private func versionCount(_ path: String) throws -> Int {
        try ToolRunner.cowdb(["versions", path, "--json"]).text.components(separatedBy: "\"version\"").count - 1
    }

    // MARK: Batches

    /// --batch N: every N records are one version; a failure keeps the whole batches before it
    /// and says which version is the last committed.
    func testBatchesCommitEveryNRecords() throws {
        let dir = TemporaryDirectory()
        let records = (0 ..< 10).map { (key: b("k\($0)"), value: b("v\($0)")) }
        let input = DumpText.make([DumpBlock(name: nil, records: records)])
        assertSuccess(try ToolRunner.cowdb(["load", dir.path("ok"), "--batch", "3"], input: Data(input.utf8)), "load --batch")
        let versions = try ToolRunner.cowdb(["versions", dir.path("ok"), "--json"]).text
        XCTAssertEqual(versions.components(separatedBy: "\"entries\": ").dropFirst().map { $0.prefix { $0.isNumber } }, ["3", "6", "9", "10"])

        // Record 8 (line 5 + 2·7 = 19) is malformed: batches 1-3 and 4-6 stay (versions 1 and 2).
        var lines = input.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines[18] = " 7"
        let result = try ToolRunner.cowdb(["load", dir.path("failed"), "--batch", "3"], input: Data(lines.joined(separator: "\n").utf8))
        assertFailure(result, containing: ["line 19:", "last committed version is 2"])
        XCTAssertEqual(DumpText.records(ofBytevalue: try dumpAll(dir.path("failed"))).map(\.key), Array(records.prefix(6).map(\.key)))
    }

    // MARK: Options

    /// -N keeps existing values; -s sends every block to one keyspace.
    func testNoOverwriteAndKeyspaceOverride() throws {
        let dir = TemporaryDirectory()
        let path = try existingDatabase(dir)
        let input = DumpText.make([DumpBlock(name: nil, records: [(b("before"), b("new")), (b("other"), b("x"))])])
        assertSuccess(try ToolRunner.cowdb(["load", path, "-N"], input: Data(input.utf8)), "load -N")
        XCTAssertEqual(try ToolRunner.cowdb(["get", path, "before"]).text, "kept\n")
        XCTAssertEqual(try ToolRunner.cowdb(["get", path, "other"]).text, "x\n")
        assertSuccess(try ToolRunner.cowdb(["load", path], input: Data(input.utf8)), "load")
        XCTAssertEqual(try ToolRunner.cowdb(["get", path, "before"]).text, "new\n")

        let named = DumpText.make([DumpBlock(name: "a", records: [(b("k1"), b("1"))]), DumpBlock(name: "b", records: [(b("k2"), b("2"))])])
        assertSuccess(try ToolRunner.cowdb(["load", path, "-s", "together"], input: Data(named.utf8)), "load -s")
        XCTAssertEqual(try ToolRunner.cowdb(["scan", path, "-s", "together"]).text, "k1\t1\nk2\t2\n")
        assertFailure(try ToolRunner.cowdb(["scan", path, "-s", "a"]), containing: ["unknown keyspace \"a\""])
    }

    /// -T: plain text, a key line then a value line, print escapes, no header.
    func testPlainText() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("db")
        assertSuccess(try ToolRunner.cowdb(["load", path, "-T"], input: Data("alpha\none\\0atwo\nback\\\\slash\n\nbin\\00\\ff\n\\7f".utf8)), "load -T")
        XCTAssertEqual(try ToolRunner.cowdb(["scan", path]).text, "alpha\tone\\0atwo\nback\\\\slash\t\nbin\\00\\ff\t\\7f\n")
        assertFailure(try ToolRunner.cowdb(["load", path, "-T"], input: Data("k1\nv1\nk2\n".utf8)), containing: ["line 4:", "no value line"])
    }

    /// Unknown header keywords are ignored with a warning, as mdb_load does; environment
    /// keywords are read silently; several blocks load in order.
    func testHeaderKeywords() throws {
        let dir = TemporaryDirectory()
        let input = "VERSION=3\nformat=bytevalue\ntype=btree\nmapsize=1048576\nmapaddr=0x7f00\nmaxreaders=126\ndb_pagesize=4096\nfrobnicate=yes\ndupsort=0\nHEADER=END\n 61\n 31\nDATA=END\n"
            + "VERSION=3\nformat=print\ndatabase=named\ntype=btree\nHEADER=END\n b\n 2\nDATA=END\n"
        let result = try ToolRunner.cowdb(["load", dir.path("db")], input: Data(input.utf8))
        XCTAssertEqual(result.status, 0, result.errors)
        XCTAssertEqual(result.errorLines, ["cowdb: warning: standard input, line 8: unrecognized keyword ignored: frobnicate"])
        XCTAssertEqual(try ToolRunner.cowdb(["scan", dir.path("db")]).text, "a\t1\n")
        XCTAssertEqual(try ToolRunner.cowdb(["scan", dir.path("db"), "-s", "named"]).text, "b\t2\n")
        // An empty input loads nothing and is no error.
        assertSuccess(try ToolRunner.cowdb(["load", dir.path("db")], input: Data()), "empty load")
        XCTAssertEqual(try versionCount(dir.path("db")), 1)
    }

    /// Loading into a database another process is writing fails with "locked" and commits nothing.
    func testLoadIntoLockedDatabase() throws {
        let dir = TemporaryDirectory()
        let path = try existingDatabase(dir)
        let writer = try openDatabase(path: path)
        defer { try? writer.close() }
        assertFailure(try ToolRunner.cowdb(["load", path], input: Data(good.utf8)), containing: ["locked", path])
        XCTAssertEqual(writer.latestVersion, 1)
    }
}
