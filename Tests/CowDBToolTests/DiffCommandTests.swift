import CowDB
import Foundation
import XCTest

/// `cowdb diff`: text, JSON parsed back, counts, and errors, against the library's own diff
/// and against full scans.
final class DiffCommandTests: XCTestCase {
    /// A small history through the tool: versions 1–6 touch the default keyspace, "users" and
    /// binary bytes.
    private func history(_ dir: TemporaryDirectory) throws -> String {
        let path = dir.path("db")
        assertSuccess(try ToolRunner.cowdb(["put", path, "a", "1"]))                 // 1
        assertSuccess(try ToolRunner.cowdb(["put", path, "b", "2"]))                 // 2
        assertSuccess(try ToolRunner.cowdb(["put", path, "-s", "users", "ann", "admin"]))  // 3
        assertSuccess(try ToolRunner.cowdb(["put", path, "a", "11"]))                // 4
        assertSuccess(try ToolRunner.cowdb(["delete", path, "b"]))                   // 5
        assertSuccess(try ToolRunner.cowdb(["put", path, "--hex", "00ff", "0a5c"]))  // 6
        return path
    }

    /// The text form: marks, escaping, --hex, one keyspace, every keyspace, identical versions.
    func testTextOutput() throws {
        let dir = TemporaryDirectory()
        let path = try history(dir)
        XCTAssertEqual(try ToolRunner.cowdb(["diff", path, "2", "6"]).text, "+ \\00\\ff\t\\0a\\\\\n~ a\t1\t11\n- b\t2\n")
        XCTAssertEqual(try ToolRunner.cowdb(["diff", path, "6", "2", "--hex"]).text, "- 00ff\t0a5c\n~ 61\t3131\t31\n+ 62\t32\n")
        XCTAssertEqual(try ToolRunner.cowdb(["diff", path, "2", "latest", "-s", "users"]).text, "+ ann\tadmin\n")
        XCTAssertEqual(try ToolRunner.cowdb(["diff", path, "2", "6", "--all-keyspaces"]).text,
                       "# default keyspace\n+ \\00\\ff\t\\0a\\\\\n~ a\t1\t11\n- b\t2\n# keyspace \"users\"\n+ ann\tadmin\n")
        XCTAssertEqual(try ToolRunner.cowdb(["diff", path, "4", "4", "-a"]).text, "")
        XCTAssertEqual(try ToolRunner.cowdb(["diff", path, "0", "now"]).text, "+ \\00\\ff\t\\0a\\\\\n+ a\t11\n")
    }

    /// --stat prints only counts, as text or one JSON object.
    func testStatCounts() throws {
        let dir = TemporaryDirectory()
        let path = try history(dir)
        XCTAssertEqual(try ToolRunner.cowdb(["diff", path, "2", "6", "--stat"]).text, "added 1\nremoved 1\nchanged 1\n")
        XCTAssertEqual(try ToolRunner.cowdb(["diff", path, "2", "6", "-a", "--stat"]).text, "added 2\nremoved 1\nchanged 1\n")
        XCTAssertEqual(try ToolRunner.cowdb(["diff", path, "2", "6", "-a", "--stat", "--json"]).text, "{\"added\": 2, \"removed\": 1, \"changed\": 1}\n")
    }

    /// Unknown versions and keyspaces, usage errors and missing databases: one line and the usual exit codes.
    func testErrors() throws {
        let dir = TemporaryDirectory()
        let path = try history(dir)
        assertFailure(try ToolRunner.cowdb(["diff", path, "2", "9"]), status: 1, containing: ["unknown version 9 (the latest is 6)"])
        assertFailure(try ToolRunner.cowdb(["diff", path, "9", "2", "--json"]), status: 1, containing: ["unknown version 9"])
        assertFailure(try ToolRunner.cowdb(["diff", path, "1", "2", "-s", "nobody"]), status: 1, containing: ["unknown keyspace \"nobody\""])
        // Usage errors keep ArgumentParser's usage text under the first line, with code 64.
        let both = try ToolRunner.cowdb(["diff", path, "1", "2", "-s", "users", "-a"])
        XCTAssertEqual(both.status, 64)
        XCTAssertTrue(both.errors.hasPrefix("cowdb: error: give -s KEYSPACE or --all-keyspaces, not both"), both.errors)
        XCTAssertEqual(try ToolRunner.cowdb(["diff", path, "1"]).status, 64)
        assertFailure(try ToolRunner.cowdb(["diff", dir.path("missing"), "1", "2"]), status: 1, containing: ["no such database"])
    }

    /// A random history with several keyspaces and large values: `--all-keyspaces --json`
    /// parsed back equals the library's diff, which equals two full scans.
    func testJSONMatchesLibraryAndScans() throws {
        let seed = testSeed("diff-tool")
        var rng = SeededGenerator(seed: seed)
        let dir = TemporaryDirectory()
        let path = dir.path("db")
        var options = DatabaseOptions()
        options.durability = .none
        let db = try openDatabase(path: path, options: options)
        let names: [String?] = [nil, "users", "quote\"d\\name", "z"]
        for _ in 0 ..< 25 {
            try db.write { txn in
                for _ in 0 ..< Int.random(in: 1 ... 60, using: &rng) {
                    let name = names[Int.random(in: 0 ..< names.count, using: &rng)]
                    let keyspace = try name.map { try txn.keyspaceCreatingIfMissing($0) } ?? txn.defaultKeyspace
                    let key = rng.bytes(Int.random(in: 1 ... 2, using: &rng))
                    if Bool.random(using: &rng) {
                        try keyspace.delete(key)
                    } else {
                        try keyspace.put(key, rng.bytes(Int.random(in: 0 ..< 10, using: &rng) == 0 ? 6000 : Int.random(in: 0 ... 20, using: &rng)))
                    }
                }
                if Int.random(in: 0 ..< 8, using: &rng) == 0, try txn.keyspaces().contains("z") { try txn.dropKeyspace("z") }
            }
        }
        let latest = db.latestVersion  // a transaction that changed nothing made no version
        XCTAssertGreaterThan(latest, 17)
        try db.close()
        for (from, to) in [(UInt64(0), latest), (latest, 0), (3, 17), (17, 3), (10, 11), (12, 12)] {
            let result = try ToolRunner.cowdb(["diff", path, "\(from)", "\(to)", "--all-keyspaces", "--json"])
            assertSuccess(result)
            let parsed = try result.text.split(separator: "\n").map { line -> DiffEntry in
                let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], String(line))
                let entry = try DiffEntry(keyspace: object["keyspace"] as? String, key: DumpText.hexBytes(object["key"] as! String),
                                      oldValue: (object["old"] as? String).map(DumpText.hexBytes), newValue: (object["new"] as? String).map(DumpText.hexBytes))
                XCTAssertEqual(object["op"] as? String, entry.change.rawValue)
                return entry
            }
            let reader = try openDatabase(path: path, options: { var o = DatabaseOptions(); o.readOnly = true; return o }())
            let library = try reader.diffAllKeyspaces(from: from, to: to) { Array($0) }
            XCTAssertEqual(parsed, library, "\(from) → \(to), seed \(seed)")
            XCTAssertEqual(try scanDiff(reader, from, to), library, "\(from) → \(to), seed \(seed)")
            let stat = try ToolRunner.cowdb(["diff", path, "\(from)", "\(to)", "-a", "--stat"]).text
            let counts = [DiffEntry.Change.added, .removed, .changed].map { change in library.filter { $0.change == change }.count }
            XCTAssertEqual(stat, "added \(counts[0])\nremoved \(counts[1])\nchanged \(counts[2])\n")
            try reader.close()
        }
    }

    /// Every keyspace's differences from full scans of both versions: the default keyspace,
    /// then named ones in byte order.
    private func scanDiff(_ db: Database, _ from: UInt64, _ to: UInt64) throws -> [DiffEntry] {
        /// Keyspace name → its entries, at one version.
        func everything(_ version: UInt64) throws -> [String?: [[UInt8]: [UInt8]]] {
            try db.read(at: version) { txn in
                var all: [String?: [[UInt8]: [UInt8]]] = [nil: Dictionary(uniqueKeysWithValues: try txn.scan().map { ($0.key, $0.value) })]
                for name in try txn.keyspaces() {
                    all[name] = Dictionary(uniqueKeysWithValues: try txn.keyspace(name).scan().map { ($0.key, $0.value) })
                }
                return all
            }
        }
        let old = try everything(from), new = try everything(to)
        let named = Set(old.keys.compactMap { $0 }).union(new.keys.compactMap { $0 }).sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        var result: [DiffEntry] = []
        for name in [nil] + named.map(Optional.some) {
            let a = old[name] ?? [:], b = new[name] ?? [:]
            for key in Set(a.keys).union(b.keys).sorted(by: { $0.lexicographicallyPrecedes($1) }) where a[key] != b[key] {
                result.append(try DiffEntry(keyspace: name, key: key, oldValue: a[key], newValue: b[key]))
            }
        }
        return result
    }
}
