import CowDB
import Foundation
import XCTest

/// `cowdb rollback`, `tag`, `tags`, `untag`, and `--tag NAME` on the reading commands.
final class HistoryCommandTests: XCTestCase {
    /// Three versions: a=1; a=2 b=2; b deleted, c=3.
    private func makeDatabase(_ path: String) throws {
        let db = try openDatabase(path: path)
        try db.write { try $0.put(b("a"), b("1")) }
        try db.write { try $0.put(b("a"), b("2")); try $0.put(b("b"), b("2")) }
        try db.write { _ = try $0.delete(b("b")); try $0.put(b("c"), b("3")) }
        try db.close()
    }

    func testTagTagsUntagAndTagSelection() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("db")
        try makeDatabase(path)
        XCTAssertEqual(try ToolRunner.cowdb(["tags", path]).text, "no tags\n")
        let tagged = try ToolRunner.cowdb(["tag", path, "first", "1"])
        assertSuccess(tagged)
        XCTAssertEqual(tagged.text, "tag \"first\" names version 1\n")
        assertSuccess(try ToolRunner.cowdb(["tag", path, "head"]))
        let listing = try ToolRunner.cowdb(["tags", path])
        assertSuccess(listing)
        let lines = listing.text.split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        XCTAssertTrue(lines[0].hasPrefix("\"first\"  1  "), String(lines[0]))
        XCTAssertTrue(lines[1].hasPrefix("\"head\"   3  "), String(lines[1]))
        let json = try ToolRunner.cowdb(["tags", path, "--json"])
        let objects = try XCTUnwrap(try JSONSerialization.jsonObject(with: json.output) as? [[String: Any]])
        XCTAssertEqual(objects.map { $0["name"] as? String }, ["first", "head"])
        XCTAssertEqual(objects.map { $0["version"] as? Int }, [1, 3])
        // --tag selects the version on reading commands.
        XCTAssertEqual(try ToolRunner.cowdb(["get", path, "a", "--tag", "first"]).text, "1\n")
        XCTAssertEqual(try ToolRunner.cowdb(["get", path, "a", "--tag", "head"]).text, "2\n")
        XCTAssertEqual(try ToolRunner.cowdb(["scan", path, "--tag", "first"]).text, try ToolRunner.cowdb(["scan", path, "--version", "1"]).text)
        XCTAssertEqual(try ToolRunner.cowdb(["dump", path, "--tag", "first"]).output, try ToolRunner.cowdb(["dump", path, "--version", "1"]).output)
        assertSuccess(try ToolRunner.cowdb(["check", path, "--tag", "first"]))
        assertSuccess(try ToolRunner.cowdb(["stat", path, "--tag", "first"]))
        // Tags as positional versions of diff.
        let diff = try ToolRunner.cowdb(["diff", path, "first", "head", "--stat"])
        assertSuccess(diff)
        XCTAssertTrue(diff.text.contains("added 1"), diff.text)
        // Moving, errors, removal.
        XCTAssertEqual(try ToolRunner.cowdb(["tag", path, "first", "2"]).text, "tag \"first\" moved from version 1 to 2\n")
        assertFailure(try ToolRunner.cowdb(["tag", path, "later", "9"]), status: 1, containing: ["unknown version 9"])
        assertFailure(try ToolRunner.cowdb(["tag", path, "bad\rname", "1"]), status: 1, containing: ["invalid tag name"])
        assertFailure(try ToolRunner.cowdb(["get", path, "a", "--tag", "nope"]), status: 1, containing: ["unknown tag \"nope\"", "first"])
        let both = try ToolRunner.cowdb(["get", path, "a", "--tag", "first", "--version", "1"])
        XCTAssertEqual(both.status, 64)
        XCTAssertTrue(both.errors.hasPrefix("cowdb: error: give one of --version, --as-of and --tag"), both.errors)
        assertSuccess(try ToolRunner.cowdb(["untag", path, "first"]))
        assertFailure(try ToolRunner.cowdb(["untag", path, "first"]), status: 3, containing: ["no tag \"first\""])
        XCTAssertEqual(try ToolRunner.cowdb(["tags", path, "--json"]).text.components(separatedBy: "\"name\"").count, 2)
    }

    func testRollback() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("db")
        try makeDatabase(path)
        let rolled = try ToolRunner.cowdb(["rollback", path, "1"])
        assertSuccess(rolled)
        XCTAssertEqual(rolled.text, "version 4: the content of version 1\n")
        XCTAssertEqual(try ToolRunner.cowdb(["scan", path]).text, try ToolRunner.cowdb(["scan", path, "--version", "1"]).text)
        XCTAssertEqual(try ToolRunner.cowdb(["get", path, "a", "--version", "3"]).text, "2\n", "history in between stays readable")
        assertSuccess(try ToolRunner.cowdb(["tag", path, "two", "2"]))
        XCTAssertEqual(try ToolRunner.cowdb(["rollback", path, "--tag", "two"]).text, "version 5: the content of version 2\n")
        XCTAssertEqual(try ToolRunner.cowdb(["get", path, "b"]).text, "2\n")
        XCTAssertEqual(try ToolRunner.cowdb(["rollback", path, "5"]).text, "version 5 is already the latest: nothing to do\n")
        XCTAssertEqual(try ToolRunner.cowdb(["rollback", path, "0"]).text, "version 6: the content of version 0\n")
        XCTAssertEqual(try ToolRunner.cowdb(["scan", path]).text, "")
        assertFailure(try ToolRunner.cowdb(["rollback", path, "99"]), status: 1, containing: ["unknown version 99"])
        let none = try ToolRunner.cowdb(["rollback", path])
        XCTAssertEqual(none.status, 64)
        XCTAssertTrue(none.errors.hasPrefix("cowdb: error: name one version"), none.errors)
        assertFailure(try ToolRunner.cowdb(["rollback", dir.path("missing"), "1"]), status: 1, containing: ["no such database"])
        let check = try ToolRunner.cowdb(["check", path, "--all-versions"])
        assertSuccess(check)
        XCTAssertTrue(check.text.hasPrefix("ok: "), check.text)
    }
}

/// `cowdb backup` and `cowdb copy`.
final class BackupCommandTests: XCTestCase {
    func testBackupIsIncrementalAndCopyHoldsOneVersion() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("db")
        let db = try openDatabase(path: path)
        for i in 0 ..< 5 { try db.write { try $0.put(b("k\(i)"), b("v\(i)")) } }
        try db.tag("three", version: 3)
        try db.close()
        let backup = dir.path("backup")
        let first = try ToolRunner.cowdb(["backup", path, backup])
        assertSuccess(first)
        XCTAssertTrue(first.text.hasPrefix("full backup: 5 versions, "), first.text)
        XCTAssertEqual(try ToolRunner.cowdb(["backup", path, backup]).text, "backup is up to date at version 5: nothing to copy\n")
        let writer = try openDatabase(path: path)
        try writer.write { try $0.put(b("k9"), b("v9")) }
        try writer.close()
        let second = try ToolRunner.cowdb(["backup", path, backup])
        assertSuccess(second)
        XCTAssertTrue(second.text.hasPrefix("incremental backup: versions 6-6, 8192 bytes appended"), second.text)
        XCTAssertEqual(try ToolRunner.cowdb(["dump", backup, "-a"]).output, try ToolRunner.cowdb(["dump", path, "-a"]).output)
        XCTAssertEqual(try ToolRunner.cowdb(["get", backup, "k2", "--tag", "three"]).text, "v2\n")
        assertSuccess(try ToolRunner.cowdb(["check", backup, "--all-versions"]))
        // Another database is refused, --full replaces it.
        let other = dir.path("other")
        assertSuccess(try ToolRunner.cowdb(["put", other, "x", "y"]))
        assertFailure(try ToolRunner.cowdb(["backup", path, other]), status: 1, containing: ["another database"])
        assertSuccess(try ToolRunner.cowdb(["backup", path, other, "--full"]))
        XCTAssertEqual(try ToolRunner.cowdb(["scan", other]).text, try ToolRunner.cowdb(["scan", path]).text)

        let copied = try ToolRunner.cowdb(["copy", path, dir.path("copy"), "--tag", "three"])
        assertSuccess(copied)
        XCTAssertEqual(copied.text, "copied version 3 to \(dir.path("copy"))\n")
        XCTAssertEqual(try ToolRunner.cowdb(["scan", dir.path("copy")]).text, try ToolRunner.cowdb(["scan", path, "--version", "3"]).text)
        XCTAssertTrue(try ToolRunner.cowdb(["versions", dir.path("copy")]).text.contains("\n      1  "))
        assertFailure(try ToolRunner.cowdb(["copy", path, dir.path("copy")]), status: 1, containing: ["already exists"])
    }
}

/// `cowdb compact`.
final class CompactCommandTests: XCTestCase {
    func testCompactKeepsTheLatestAndTaggedVersions() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("db")
        let db = try openDatabase(path: path)
        for i in 0 ..< 8 { try db.write { try $0.put(b("k\(i % 3)"), b("v\(i)")) } }
        try db.tag("four", version: 4)
        try db.close()
        let backup = dir.path("backup")
        assertSuccess(try ToolRunner.cowdb(["backup", path, backup]))
        let compacted = try ToolRunner.cowdb(["compact", path])
        assertSuccess(compacted)
        XCTAssertTrue(compacted.text.hasPrefix("kept 2 of 8 versions; data file "), compacted.text)
        XCTAssertTrue(compacted.text.hasSuffix("generation 2\n"), compacted.text)
        let versions = try ToolRunner.cowdb(["versions", path, "--json"])
        let objects = try XCTUnwrap(try JSONSerialization.jsonObject(with: versions.output) as? [[String: Any]])
        XCTAssertEqual(objects.map { $0["version"] as? Int }, [4, 8])
        XCTAssertEqual(try ToolRunner.cowdb(["get", path, "k1", "--tag", "four"]).text, "v1\n")
        assertFailure(try ToolRunner.cowdb(["get", path, "k1", "--version", "5"]), status: 1, containing: ["unknown version 5"])
        assertSuccess(try ToolRunner.cowdb(["check", path, "--all-versions"]))
        // The next backup after a compaction is a full one.
        let again = try ToolRunner.cowdb(["backup", path, backup])
        assertSuccess(again)
        XCTAssertTrue(again.text.hasPrefix("full backup: "), again.text)
        XCTAssertEqual(try ToolRunner.cowdb(["dump", backup, "-a"]).output, try ToolRunner.cowdb(["dump", path, "-a"]).output)
        // --keep-last, and the write lock.
        let more = try openDatabase(path: path)
        for i in 0 ..< 5 { try more.write { try $0.put(b("n\(i)"), b("x")) } }
        assertFailure(try ToolRunner.cowdb(["compact", path, "--keep-last", "2"]), status: 1, containing: ["locked"])
        try more.close()
        let kept = try ToolRunner.cowdb(["compact", path, "--keep-last", "2"])
        assertSuccess(kept)
        XCTAssertTrue(kept.text.hasPrefix("kept 2 of 7 versions"), kept.text)
        let all = try ToolRunner.cowdb(["compact", path, "--keep-all"])
        XCTAssertTrue(all.text.hasPrefix("kept 2 of 2 versions"), all.text)
        XCTAssertTrue(all.text.hasSuffix("generation 4\n"), all.text)
    }
}
