import CowDB
import Foundation
import XCTest

/// `--version N`, `--as-of TIME` and `cowdb versions` on a database with many versions, against
/// a model of what each version held.
final class VersionTests: XCTestCase {
    /// What every version held: keyspace name (nil: default) → sorted records.
    private typealias Model = [String?: [[UInt8]: [UInt8]]]

    /// Commits `count` versions of random puts, deletes, keyspace creations and drops through the
    /// library; returns the path and the model of every version (index 0: version 0, empty).
    private func historyDatabase(_ dir: TemporaryDirectory, versions count: Int, seed: UInt64) throws -> (String, [Model]) {
        var rng = SeededGenerator(seed: seed)
        let path = dir.path("db")
        var options = DatabaseOptions()
        options.durability = .none
        let db = try openDatabase(path: path, options: options)
        var model: Model = [nil: [:]]
        var history: [Model] = [model]
        for _ in 1 ... count {
            try db.write { txn in
                for _ in 0 ..< Int.random(in: 1 ... 12, using: &rng) {
                    let names: [String?] = [nil, "a", "b", "c d"]
                    let name = names[Int.random(in: 0 ..< names.count, using: &rng)]
                    let keyspace = try name.map { try txn.keyspaceCreatingIfMissing($0) } ?? txn.defaultKeyspace
                    if model[name] == nil { model[name] = [:] }
                    let key = b("k\(Int.random(in: 0 ..< 40, using: &rng))") + rng.bytes(Int.random(in: 0 ... 2, using: &rng))
                    switch Int.random(in: 0 ..< 10, using: &rng) {
                    case 0 ..< 6:
                        let value = rng.bytes(Int.random(in: 0 ... 2, using: &rng) == 0 ? 5000 : Int.random(in: 0 ... 40, using: &rng))
                        try keyspace.put(key, value)
                        model[name]![key] = value
                    case 6 ..< 9:
                        let existing = model[name]!.keys.sorted { $0.lexicographicallyPrecedes($1) }
                        guard let victim = existing.isEmpty ? nil : existing[Int.random(in: 0 ..< existing.count, using: &rng)] else { continue }
                        XCTAssertTrue(try keyspace.delete(victim))
                        model[name]![victim] = nil
                    default:
                        guard let name, name != "a" else { continue }
                        try txn.dropKeyspace(name)
                        model[name] = nil
                        try txn.defaultKeyspace.put(b("dropped"), b(name))
                        model[nil]![b("dropped")] = b(name)
                    }
                }
                try txn.defaultKeyspace.put(b("counter"), b("\(history.count)"))
                model[nil]![b("counter")] = b("\(history.count)")
            }
            history.append(model)
        }
        XCTAssertEqual(db.latestVersion, UInt64(count))
        try db.close()
        return (path, history)
    }

    /// The `dump -a` text (environment lines aside) of a model.
    private func expectedDump(_ model: Model) -> String {
        var blocks: [DumpBlock] = []
        if let main = model[nil], !main.isEmpty { blocks.append(DumpBlock(name: nil, records: sorted(main))) }
        for name in model.keys.compactMap({ $0 }).sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) {
            blocks.append(DumpBlock(name: name, records: sorted(model[name]!)))
        }
        return DumpText.make(blocks)
    }

    /// Records in key order.
    private func sorted(_ records: [[UInt8]: [UInt8]]) -> [(key: [UInt8], value: [UInt8])] {
        records.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map { (key: $0.key, value: $0.value) }
    }

    // MARK: Tests

    /// `dump -a --version N` is what the database held at version N, for every N.
    func testDumpAtEveryVersionEqualsTheModel() throws {
        let dir = TemporaryDirectory()
        let (path, history) = try historyDatabase(dir, versions: 30, seed: testSeed("testDumpAtEveryVersionEqualsTheModel"))
        for (version, model) in history.enumerated() {
            let result = try ToolRunner.cowdb(["dump", path, "-a", "--version", "\(version)"])
            assertSuccess(result, "dump --version \(version)")
            XCTAssertEqual(DumpText.withoutEnvironment(result.text), expectedDump(model), "version \(version)")
        }
        // The latest without --version; the default keyspace alone at an old version.
        XCTAssertEqual(DumpText.withoutEnvironment(try ToolRunner.cowdb(["dump", path, "-a"]).text), expectedDump(history.last!))
        let old = try ToolRunner.cowdb(["dump", path, "--version", "3"])
        XCTAssertEqual(DumpText.withoutEnvironment(old.text), DumpText.make([DumpBlock(name: nil, records: sorted(history[3][nil]!))]))
        assertFailure(try ToolRunner.cowdb(["dump", path, "--version", "31"]), containing: ["unknown version 31", "latest is 30"])
    }

    /// `--as-of` with a time `versions` printed selects exactly that version; `versions` lists
    /// them with --json, --since and --limit.
    func testAsOfAndVersionsListing() throws {
        let dir = TemporaryDirectory()
        let (path, history) = try historyDatabase(dir, versions: 12, seed: testSeed("testAsOfAndVersionsListing"))
        let json = try ToolRunner.cowdb(["versions", path, "--json"])
        assertSuccess(json, "versions --json")
        let objects = try XCTUnwrap(JSONSerialization.jsonObject(with: json.output) as? [[String: Any]])
        XCTAssertEqual(objects.map { $0["version"] as? Int }, Array(1 ... 12))
        for object in objects {
            let version = object["version"] as! Int
            XCTAssertEqual(object["entries"] as? Int, history[version].values.reduce(0) { $0 + $1.count })
            XCTAssertGreaterThan(object["bytes"] as? Int ?? 0, 0)
            let timestamp = try XCTUnwrap(object["timestamp"] as? String)
            XCTAssertTrue(timestamp.hasSuffix("Z") && timestamp.contains("T"), timestamp)
            if version % 4 == 1 {
                let asOf = try ToolRunner.cowdb(["dump", path, "-a", "--as-of", timestamp])
                XCTAssertEqual(DumpText.withoutEnvironment(asOf.text), expectedDump(history[version]), "--as-of \(timestamp)")
            }
        }
        XCTAssertEqual(DumpText.withoutEnvironment(try ToolRunner.cowdb(["dump", path, "-a", "--as-of", "now"]).text), expectedDump(history[12]))
        assertFailure(try ToolRunner.cowdb(["dump", path, "--as-of", "2001-01-01T00:00:00Z"]), containing: ["no version was committed at or before 2001-01-01"])
        assertFailure(try ToolRunner.cowdb(["dump", path, "--as-of", "yesterday-ish"]), containing: ["cannot read the time"])

        let fifth = objects[4]["timestamp"] as! String
        let since = try ToolRunner.cowdb(["versions", path, "--since", fifth, "--limit", "3"])
        let lines = since.text.split(separator: "\n")
        XCTAssertEqual(lines.first?.split(separator: " ", omittingEmptySubsequences: true), ["VERSION", "TIMESTAMP", "ENTRIES", "BYTES"])
        XCTAssertEqual(lines.dropFirst().map { $0.split(separator: " ").first.map(String.init) }, ["10", "11", "12"])
        let all = try ToolRunner.cowdb(["versions", path, "--since", fifth]).text.split(separator: "\n")
        XCTAssertEqual(all.count, 1 + 8)
        XCTAssertEqual(try ToolRunner.cowdb(["versions", path, "--since", "-1h", "--json"]).output.count, json.output.count)
    }

    /// Reading commands read a version while another process holds the write lock, and `--version`
    /// pins what they see while new versions land.
    func testReadersWorkWhileAWriterIsOpen() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("db")
        let writer = try openDatabase(path: path)
        defer { try? writer.close() }
        try writer.write { try $0.put(b("k"), b("one")) }
        XCTAssertEqual(try ToolRunner.cowdb(["get", path, "k"]).text, "one\n")
        try writer.write { try $0.put(b("k"), b("two")) }
        XCTAssertEqual(try ToolRunner.cowdb(["get", path, "k"]).text, "two\n")
        XCTAssertEqual(try ToolRunner.cowdb(["get", path, "k", "--version", "1"]).text, "one\n")
        assertSuccess(try ToolRunner.cowdb(["check", path, "--all-versions"]))
        XCTAssertTrue(try ToolRunner.cowdb(["stat", path]).text.contains("Versions: 2"))
    }
}
