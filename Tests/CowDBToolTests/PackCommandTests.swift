import Foundation
import XCTest
@testable import CowDB

/// `cowdb compact --keep-all` packs every version but the latest, and every reading command
/// gives the same output at a packed version as before (`get`, `scan`, `dump`, `diff`,
/// `versions`, `stat`, `check --all-versions`); `--unpacked` and `--no-pack`.
final class PackCommandTests: XCTestCase {
    static var readOnly: DatabaseOptions {
        var options = DatabaseOptions()
        options.readOnly = true
        return options
    }

    /// Six versions over two keyspaces, with an overwrite, a delete and a large value.
    private func makeDatabase(_ path: String) throws {
        let db = try openDatabase(path: path)
        try db.write { try $0.put(b("a"), b("1")); try $0.createKeyspace("users").put(b("ann"), b("admin")) }
        try db.write { try $0.put(b("a"), b("2")); try $0.put(b("b"), [UInt8](repeating: 7, count: 9_000)) }
        try db.write { _ = try $0.delete(b("b")); try $0.put(b("c"), b("3")) }
        try db.write { try $0.keyspace("users").put(b("bob"), b("user")) }
        try db.write { try $0.dropKeyspace("users") }
        try db.write { try $0.put(b("d"), b("4")) }
        try db.close()
    }

    /// What `cowdb arguments` prints; it must succeed.
    private func run(_ arguments: [String]) throws -> String {
        let result = try ToolRunner.cowdb(arguments)
        XCTAssertEqual(result.status, 0, "\(arguments): \(result.errors)")
        return result.text
    }

    /// What the reading commands print at every version, and across each pair of versions.
    private func outputs(_ path: String) throws -> [String] {
        var out: [String] = []
        for version in 1 ... 6 {
            let v = String(version)
            out.append(try run(["get", path, "a", "--version", v]))
            out.append(try run(["scan", path, "--version", v]))
            out.append(try run(["scan", path, "--version", v, "--reverse"]))
            out.append(try run(["dump", path, "--version", v, "--all"]))
            for other in version ... 6 { out.append(try run(["diff", path, v, String(other), "--json"])) }
        }
        out.append(try run(["diff", path, "2", "4", "-s", "users"]))
        return out
    }

    func testCompactKeepAllPacksAndEveryCommandReadsTheSame() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("db")
        try makeDatabase(path)
        let before = try outputs(path)
        let versionsBefore = try ToolRunner.cowdb(["versions", path, "--json"]).output
        let compacted = try ToolRunner.cowdb(["compact", path, "--keep-all"])
        assertSuccess(compacted)
        XCTAssertTrue(compacted.text.hasPrefix("kept 6 of 6 versions"), compacted.text)
        XCTAssertEqual(try outputs(path), before)
        let versionsAfter = try ToolRunner.cowdb(["versions", path, "--json"]).output
        let stamps = { (data: Data) in
            try (JSONSerialization.jsonObject(with: data) as? [[String: Any]] ?? []).map { "\($0["version"] ?? "")@\($0["timestamp"] ?? "")" }
        }
        XCTAssertEqual(try stamps(versionsAfter), try stamps(versionsBefore))
        assertSuccess(try ToolRunner.cowdb(["check", path, "--all-versions"]))
        let stat = try ToolRunner.cowdb(["stat", path, "--version", "2", "-a"])
        assertSuccess(stat)
        let db = try Database(path: path, options: Self.readOnly) // unchecked-open: read-only, checked by the tool above
        XCTAssertNotNil(try db.read(at: 2) { $0.source.packed }, "version 2 is packed")
        XCTAssertNil(try db.read(at: 6) { $0.source.packed }, "the latest stays a tree")
        try db.close()
    }

    func testUnpackedAndNoPack() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("db")
        try makeDatabase(path)
        assertSuccess(try ToolRunner.cowdb(["compact", path, "--keep-all", "--no-pack"]))
        var db = try Database(path: path, options: Self.readOnly) // unchecked-open: read-only

        XCTAssertNil(try db.read(at: 1) { $0.source.packed }, "--no-pack packs nothing")
        try db.close()
        assertSuccess(try ToolRunner.cowdb(["compact", path, "--keep-all", "--unpacked", "3"]))
        db = try Database(path: path, options: Self.readOnly) // unchecked-open: read-only
        XCTAssertEqual(try (1 ... 6).map { v in try db.read(at: v) { $0.source.packed != nil } }, [true, true, true, false, false, false])
        try db.close()
        let bad = try ToolRunner.cowdb(["compact", path, "--no-pack", "--unpacked", "2"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.errors.contains("--no-pack and --unpacked"), bad.errors)
    }
}
