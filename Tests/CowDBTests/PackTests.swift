import CowDBTestSupport
import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

/// Packing end to end (docs/PACKED-HISTORY.md): a compaction that packs every version but
/// the latest keeps every version — numbers, times, counts — and each packed version's
/// history tree holds exactly that version's state; the pack survives reopening, and an index
/// lost or cut short is rebuilt from the pack commit's version table.
final class PackTests: XCTestCase {
    /// A database of 40–80 random commits, and every version's content before packing.
    private func randomDatabase(_ path: String, seed: UInt64) throws -> (Database, [UInt64: [String?: [(key: [UInt8], value: [UInt8])]]]) {
        var random = SeededGenerator(seed: seed)
        let db = try openDatabase(path: path)
        for _ in 0 ..< Int.random(in: 40 ... 80, using: &random) {
            try db.write { try RandomHistory.commit($0, &random) }
        }
        return (db, try RandomHistory.states(of: db))
    }

    /// Checks every packed version's history tree, keyspace by keyspace, against `states`.
    private func checkPackedVersions(_ db: Database, _ states: [UInt64: [String?: [(key: [UInt8], value: [UInt8])]]], seed: UInt64) throws {
        let latest = db.latestVersion
        for (version, state) in states {
            try db.read(at: version) { txn in
                guard let packed = txn.source.packed else {
                    return XCTAssertEqual(version, latest, "seed \(seed): version \(version) is not packed")
                }
                XCTAssertEqual(txn.version, version)
                for (name, entries) in state {
                    var cursor = HistoryCursor(rootPage: packed.historyRoot, pages: txn.pages, keyspace: Array((name ?? "").utf8), version: version)
                    let (forward, backward) = try scanBothWays(&cursor, pages: txn.pages)
                    let expected = entries
                    XCTAssertEqual(forward.map(\.0), expected.map(\.key), "seed \(seed): version \(version) keyspace \(name ?? "default")")
                    XCTAssertEqual(forward.map(\.1), expected.map(\.value), "seed \(seed): version \(version) keyspace \(name ?? "default")")
                    XCTAssertEqual(backward, expected.map(\.key).reversed(), "seed \(seed): version \(version) backward")
                }
            }
        }
    }

    func testPackingKeepsEveryVersionAndItsState() throws {
        let seed = testSeed("pack-every-version")
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        var (db, states) = try randomDatabase(path, seed: seed)
        let before = try db.versions()
        let report = try db.compact(keeping: RetentionPolicy(keepAll: true), packing: .all)
        XCTAssertLessThan(report.bytesAfter, report.bytesBefore, "seed \(seed)")
        let after = try db.versions()
        XCTAssertEqual(after.map(\.version), before.map(\.version), "seed \(seed)")
        XCTAssertEqual(after.map(\.timestampNanoseconds), before.map(\.timestampNanoseconds), "seed \(seed)")
        XCTAssertEqual(after.map(\.entryCount), before.map(\.entryCount), "seed \(seed)")
        try checkPackedVersions(db, states, seed: seed)

        // Reopened, then reopened without its index (rebuilt from the data file).
        try db.close()
        db = try openDatabase(path: path)
        XCTAssertEqual(try db.versions().map(\.version), before.map(\.version), "seed \(seed)")
        try checkPackedVersions(db, states, seed: seed)
        try db.close()
        let generation = try CurrentFile.read(in: path, backend: POSIXStorage())
        try FileManager.default.removeItem(atPath: path + "/" + CurrentFile.indexName(generation))
        db = try openDatabase(path: path)
        XCTAssertEqual(try db.versions().map(\.timestampNanoseconds), before.map(\.timestampNanoseconds), "seed \(seed)")
        try checkPackedVersions(db, states, seed: seed)

        // stats of a packed version: its counts, from the history.
        let middle = before[before.count / 2]
        let stats = try db.stats(version: middle.version)
        XCTAssertEqual(stats.keyspaces.reduce(0) { $0 + $1.entries }, middle.entryCount, "seed \(seed)")
        XCTAssertEqual(stats.keyspaces.map(\.name), [nil] + (try db.read(at: middle.version) { try $0.keyspaces() }), "seed \(seed)")
        XCTAssertEqual(stats.keyspaces.first?.entries, UInt64(states[middle.version]?[nil]?.count ?? -1), "seed \(seed)")

        // Writing goes on after the pack.
        try db.write { try $0.put([1], [2]) }
        XCTAssertEqual(try db.read { try $0.get([1]) }, [2])
        try db.close()
    }
}

extension PackTests {
    /// `check --all-versions` verifies the pack: a byte changed in any page of the pack commit's
    /// region (history tree, overflow runs, version table) is reported, naming a page of it.
    func testCheckFindsDamageAnywhereInThePack() throws {
        let seed = testSeed("pack-check-damage")
        var random = SeededGenerator(seed: seed)
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        let db = try Database(path: path) // unchecked-open: the test damages its pack
        for _ in 0 ..< 30 { try db.write { try RandomHistory.commit($0, &random) } }
        try db.compact(keeping: RetentionPolicy(keepAll: true), packing: .all)
        let packPage = try db.read(at: 1) { $0.source.commit!.page }
        XCTAssertTrue(try db.checkReport(allVersions: true).isClean, "seed \(seed)")
        let generation = try CurrentFile.read(in: path, backend: POSIXStorage())
        let file = path + "/" + CurrentFile.dataName(generation)
        for _ in 0 ..< 8 {
            let page = PageNumber.random(in: 1 ... packPage, using: &random)
            let offset = Int(page) * db.pageSize + Int.random(in: 16 ..< db.pageSize, using: &random)
            let original = try Self.byte(file, at: offset)
            try Self.write(file, at: offset, original ^ 0x40)
            let report = try db.checkReport(allVersions: true)
            XCTAssertFalse(report.isClean, "seed \(seed): damage in page \(page) of the pack went unseen")
            XCTAssertTrue(report.problems.contains { ($0.page ?? 0) <= packPage }, "seed \(seed): \(report.problems.prefix(3))")
            try Self.write(file, at: offset, original)
        }
        try db.close()
    }

    /// The byte at `offset` of `file`.
    static func byte(_ file: String, at offset: Int) throws -> UInt8 {
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: file))
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(offset))
        return try handle.read(upToCount: 1)?.first ?? 0
    }

    /// Overwrites the byte at `offset` of `file` in place (the same inode, which the database maps).
    static func write(_ file: String, at offset: Int, _ byte: UInt8) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(offset))
        try handle.write(contentsOf: Data([byte]))
    }
}
