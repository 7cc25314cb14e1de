import CowDB
import Foundation
import XCTest

/// `stat` and `check`: figures of databases of every shape, clean checks, and corruption
/// planted at random pages found and located.
final class StatCheckTests: XCTestCase {
    /// Commits `writes` through the library with full durability (every commit synced).
    private func database(_ path: String, _ writes: [(WriteTransaction) throws -> Void]) throws {
        // Checked here, at close: some tests plant damage in it afterwards.
        let db = try Database(path: path) // unchecked-open: checked below (tests damage it later)
        for write in writes { try db.write(write) }
        try db.check(allVersions: true)
        try db.close()
    }

    /// `n` records with keys `prefix` + number.
    private func fill(_ keyspace: Keyspace, _ n: Int, prefix: String, valueSize: Int = 20) throws {
        for i in 0 ..< n { try keyspace.put(b(prefix + String(format: "%06d", i)), [UInt8](repeating: UInt8(i & 0xFF), count: valueSize)) }
    }

    // MARK: Clean databases

    /// Databases of every shape check clean (every version) and stat sensibly.
    func testCleanDatabasesOfEveryShape() throws {
        let dir = TemporaryDirectory()
        let long = String(repeating: "k", count: 100)
        let shapes: [(String, [(WriteTransaction) throws -> Void], String)] = [
            ("default-only", [{ try self.fill($0.defaultKeyspace, 50, prefix: "d") }], "Entries: 50"),
            ("named-only", [{ try self.fill(try $0.createKeyspace("n1"), 30, prefix: "x") }, { try self.fill(try $0.createKeyspace("n2"), 5, prefix: "y") }], "Entries: 0"),
            ("overflow", [{ try self.fill($0.defaultKeyspace, 12, prefix: "big", valueSize: 20_000) }], "Overflow pages: 60"),
            ("deep", [{ try self.fill($0.defaultKeyspace, 4000, prefix: long, valueSize: 0) }], "Tree depth: 3"),
            ("emptied", [{ try self.fill($0.defaultKeyspace, 300, prefix: "e") }, { txn in
                for i in 0 ..< 300 { try txn.delete(b("e" + String(format: "%06d", i))) }
            }], "Entries: 0"),
            ("history", (0 ..< 15).map { round in { txn in
                try self.fill(try txn.keyspaceCreatingIfMissing("k\(round % 3)"), 20, prefix: "r\(round)-")
                if round % 5 == 4 { try txn.dropKeyspace("k\(round % 3)") }
            } }, "Named keyspaces: 2"),
        ]
        for (name, writes, expected) in shapes {
            let path = dir.path(name)
            try database(path, writes)
            let check = try ToolRunner.cowdb(["check", path, "--all-versions"])
            assertSuccess(check, "check \(name)")
            XCTAssertTrue(check.text.hasPrefix("ok: "), "\(name): \(check.text)")
            assertSuccess(try ToolRunner.cowdb(["check", path]), "check latest \(name)")
            let stat = try ToolRunner.cowdb(["stat", path, "-a"])
            assertSuccess(stat, "stat \(name)")
            XCTAssertTrue(stat.text.contains(expected), "\(name) lacks \(expected):\n\(stat.text)")
            for line in ["Page size: 4096", "File size: ", "Live bytes: ", "Space amplification: ", "Branch pages: ", "Leaf pages: "] {
                XCTAssertTrue(stat.text.contains(line), "\(name) stat lacks \(line)")
            }
        }
        // An empty database (created by loading nothing) checks clean too.
        assertSuccess(try ToolRunner.cowdb(["load", dir.path("empty")], input: Data()))
        XCTAssertEqual(try ToolRunner.cowdb(["check", dir.path("empty"), "--all-versions"]).text, "ok: no versions (empty database): 0 pages verified, no problems\n")
        XCTAssertTrue(try ToolRunner.cowdb(["stat", dir.path("empty")]).text.contains("Versions: 0 (none committed)"))
    }

    /// stat: per-keyspace figures, -s, --version, and live bytes against the file size.
    func testStatFigures() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("db")
        try database(path, [{ try self.fill($0.defaultKeyspace, 10, prefix: "a") },
                            { try self.fill(try $0.createKeyspace("users"), 7, prefix: "u") },
                            { try self.fill($0.defaultKeyspace, 10, prefix: "a", valueSize: 30) }])
        let all = try ToolRunner.cowdb(["stat", path, "-a"]).text
        XCTAssertTrue(all.contains("Versions: 3 (latest 3"), all)
        XCTAssertTrue(all.contains("Status of the default keyspace\n  Tree depth: 1\n  Branch pages: 0\n  Leaf pages: 1\n  Overflow pages: 0\n  Entries: 10\n"), all)
        XCTAssertTrue(all.contains("Status of keyspace \"users\"\n  Tree depth: 1\n"), all)
        XCTAssertTrue(all.contains("  Entries: 7\n"), all)
        let one = try ToolRunner.cowdb(["stat", path, "-s", "users", "--version", "2"]).text
        XCTAssertTrue(one.contains("Version shown: 2") && one.contains("Entries: 7") && !one.contains("default keyspace"), one)
        let old = try ToolRunner.cowdb(["stat", path, "--version", "1", "-a"]).text
        XCTAssertFalse(old.contains("users"), old)
        let amplification = all.split(separator: "\n").first { $0.contains("Space amplification") }!
        XCTAssertGreaterThan(Double(amplification.split(separator: " ")[2]) ?? 0, 1.0)
        assertFailure(try ToolRunner.cowdb(["stat", path, "-s", "nobody"]), containing: ["unknown keyspace \"nobody\""])
    }

    // MARK: Corruption

    /// The runs of a data file: (first page, pages), from page 1 on.
    private func runs(_ data: Data, pageSize: Int) -> [(start: Int, length: Int)] {
        var result: [(Int, Int)] = []
        var page = 1
        while page < data.count / pageSize {
            let offset = page * pageSize + 8
            let length = Int(data[offset]) | Int(data[offset + 1]) << 8 | Int(data[offset + 2]) << 16 | Int(data[offset + 3]) << 24
            // Zero pages: the reserve past the last commit (FORMAT.md), no run.
            if length == 0, data[page * pageSize ..< (page + 1) * pageSize].allSatisfy({ $0 == 0 }) { break }
            result.append((page, max(1, length)))
            page += max(1, length)
        }
        return result
    }

    /// One byte flipped at a random page of a copy (tree pages, overflow runs, commit records
    /// of every version, the file header) is found by `check --all-versions`: exit code 2, and
    /// the report names the page (the first page of its run). The last commit record is left
    /// out: the engine's recovery reads a damaged last commit as a torn write (see
    /// `testDamagedLastCommitRecordIsWarnedAbout`).
    func testCheckFindsCorruptionAtRandomPages() throws {
        var rng = SeededGenerator(seed: testSeed("testCheckFindsCorruptionAtRandomPages"))
        let dir = TemporaryDirectory()
        let original = dir.path("db")
        let records = randomRecords(150, using: &rng)
        try database(original, [
            { txn in for record in records { try txn.put(record.key, record.value) } },
            { try self.fill(try $0.createKeyspace("users"), 60, prefix: "u") },
            { try self.fill($0.defaultKeyspace, 30, prefix: "later") },
            { txn in for record in records.prefix(20) { try txn.delete(record.key) } },
            { try self.fill(try $0.keyspace("users"), 10, prefix: "v", valueSize: 9000) },
        ])
        assertSuccess(try ToolRunner.cowdb(["check", original, "--all-versions"]), "clean original")
        let data = try Data(contentsOf: URL(fileURLWithPath: original + "/data"))
        let pageSize = 4096
        let candidates = runs(data, pageSize: pageSize).dropLast()
        for trial in 0 ..< 24 {
            let (page, runStart, offset): (Int, Int, Int)
            if trial % 8 == 7 {
                (page, runStart, offset) = (0, 0, Int.random(in: 8 ..< 64, using: &rng))
            } else {
                let run = candidates.randomElement(using: &rng)!
                let inRun = Int.random(in: 0 ..< run.length, using: &rng)
                (page, runStart, offset) = (run.start + inRun, run.start, Int.random(in: 0 ..< pageSize, using: &rng))
            }
            var damaged = data
            damaged[page * pageSize + offset] ^= UInt8.random(in: 1 ... 255, using: &rng)
            let copy = dir.path("copy\(trial)")
            try FileManager.default.copyItem(atPath: original, toPath: copy)
            try damaged.write(to: URL(fileURLWithPath: copy + "/data"))
            let result = try ToolRunner.cowdb(["check", copy, "--all-versions"])
            let report = result.text + result.errors
            XCTAssertEqual(result.status, 2, "byte \(offset) of page \(page) flipped: \(report)")
            XCTAssertTrue(report.contains("page \(runStart)"), "byte \(offset) of page \(page) (run at \(runStart)) flipped; report: \(report)")
            XCTAssertTrue(result.errors.hasPrefix("cowdb: error: "), result.errors)
            try FileManager.default.removeItem(atPath: copy)
        }
    }

    /// A damaged last commit record of a durable version: the engine refuses to open rather
    /// than truncate durable data, and `check` says where, in one line, with exit code 2.
    func testDamagedLastCommitRecordIsReported() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("db")
        try database(path, [{ try self.fill($0.defaultKeyspace, 10, prefix: "a") }, { try self.fill($0.defaultKeyspace, 10, prefix: "b") }])
        var data = try Data(contentsOf: URL(fileURLWithPath: path + "/data"))
        data[data.count - 4096 + 40] ^= 0x01
        try data.write(to: URL(fileURLWithPath: path + "/data"))
        let result = try ToolRunner.cowdb(["check", path, "--all-versions"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.errors.hasPrefix("cowdb: error: "), result.errors)
        XCTAssertTrue(result.errors.contains("commit record of durable version 2 is damaged"), result.errors)
    }

    /// Reading a damaged page is exit code 2 with one line, for dump and get as for check.
    func testReadingADamagedPageFails() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("db")
        try database(path, [{ try self.fill($0.defaultKeyspace, 10, prefix: "a") }, { try self.fill($0.defaultKeyspace, 1, prefix: "b") }])
        var data = try Data(contentsOf: URL(fileURLWithPath: path + "/data"))
        data[4096 + 200] ^= 0x20 // the first leaf (version 1), shared by version 2
        try data.write(to: URL(fileURLWithPath: path + "/data"))
        assertFailure(try ToolRunner.cowdb(["dump", path, "--version", "1"]), status: 2, containing: ["damaged", "page 1"])
        assertFailure(try ToolRunner.cowdb(["dump", path, "-f", dir.path("out.dump"), "--version", "1"]), status: 2, containing: ["damaged"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.path("out.dump")), "a failed dump left its file")
        assertFailure(try ToolRunner.cowdb(["get", path, "a000001", "--version", "1"]), status: 2, containing: ["damaged"])
        let check = try ToolRunner.cowdb(["check", path, "--version", "1"])
        XCTAssertEqual(check.status, 2)
        XCTAssertTrue(check.text.contains("page 1"), check.text)
    }
}
