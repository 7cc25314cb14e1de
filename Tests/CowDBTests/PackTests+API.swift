import CowDBTestSupport
import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

/// Packed versions through the public API (docs/PACKED-HISTORY.md): reads, diffs (packed to
/// packed, packed to tree), repacking, retention that drops packed versions, rollback and copy
/// give what the same versions gave as trees.
extension PackTests {
    typealias States = [UInt64: [String?: [(key: [UInt8], value: [UInt8])]]]

    /// Asserts that `db` reads every version of `states` as recorded.
    private func assertStates(_ db: Database, _ states: States, _ context: String) throws {
        let now = try RandomHistory.states(of: db)
        XCTAssertEqual(Set(now.keys), Set(states.keys), context)
        for (version, state) in states {
            for name in RandomHistory.names {
                let got = now[version]?[name] ?? [], want = state[name] ?? []
                XCTAssertEqual(got.map(\.key), want.map(\.key), "\(context): version \(version) keyspace \(name ?? "default") keys")
                XCTAssertEqual(got.map(\.value), want.map(\.value), "\(context): version \(version) keyspace \(name ?? "default") values")
            }
        }
    }

    /// Diffs between the pairs of versions `pairs`, every keyspace, and the default one alone.
    private func diffs(_ db: Database, _ pairs: [(UInt64, UInt64)]) throws -> [[DiffEntry]] {
        try pairs.flatMap { from, to in
            [try db.diffAllKeyspaces(from: from, to: to) { Array($0) }, try db.diff(from: from, to: to) { Array($0) },
             try db.diff(from: from, to: to, keyspace: "ks") { Array($0) }]
        }
    }

    func testPackedVersionsWorkLikeTreesThroughTheAPI() throws {
        let seed = testSeed("pack-api")
        var random = SeededGenerator(seed: seed)
        let directory = TemporaryDirectory()
        let db = try openDatabase(path: directory.path("db"))
        try db.write { _ = try $0.createKeyspace("ks"); try $0.put([9], [9]) } // the base has a key: diffs from 0 need it
        for _ in 0 ..< Int.random(in: 40 ... 70, using: &random) { try db.write { try RandomHistory.commit($0, &random) } }
        var states = try RandomHistory.states(of: db)
        let versions = states.keys.sorted()
        let pairs = (0 ..< 12).map { _ in (versions.randomElement(using: &random)!, versions.randomElement(using: &random)!) }
            + [(versions[0], versions.last!), (versions.last!, versions[1]), (UInt64(0), versions[0]), (versions[2], UInt64(0))] // 0: the empty database
        let before = try diffs(db, pairs)

        try db.compact(keeping: RetentionPolicy(keepAll: true), packing: .all)
        try assertStates(db, states, "seed \(seed): after packing")
        XCTAssertEqual(try diffs(db, pairs), before, "seed \(seed): diffs after packing")

        // A backup of the packed database, then an incremental one after a commit.
        try db.backup(to: directory.path("backup"))
        try db.write { try RandomHistory.commit($0, &random) }
        let report = try db.backup(to: directory.path("backup"))
        XCTAssertNotNil(report.previousVersion, "seed \(seed): the second backup appends")
        let backup = try openDatabase(path: directory.path("backup"))
        let withCommit = try RandomHistory.states(of: db)
        try assertStates(backup, withCommit, "seed \(seed): the backup")
        try backup.checkAndClose()

        // More commits, then a repack that keeps the newest 5 as trees.
        for _ in 0 ..< 20 { try db.write { try RandomHistory.commit($0, &random) } }
        states = try RandomHistory.states(of: db)
        let all = states.keys.sorted()
        let morePairs = pairs + (0 ..< 8).map { _ in (all.randomElement(using: &random)!, all.randomElement(using: &random)!) }
        let beforeRepack = try diffs(db, morePairs)
        try db.compact(keeping: RetentionPolicy(keepAll: true), packing: .allButNewest(5))
        XCTAssertEqual(try db.versions().filter { v in try db.read(at: v.version) { $0.source.packed == nil } }.count, 5, "seed \(seed)")
        try assertStates(db, states, "seed \(seed): after repacking")
        XCTAssertEqual(try diffs(db, morePairs), beforeRepack, "seed \(seed): diffs after repacking")

        // Retention dropping packed versions: the pack is rebuilt from the kept ones.
        let keep = Set(all.filter { _ in Bool.random(using: &random) } + [all.last!])
        try db.compact(keeping: RetentionPolicy(keepTags: false, keepVersions: keep), packing: .all)
        try assertStates(db, states.filter { keep.contains($0.key) }, "seed \(seed): after dropping versions")

        try checkRollbackAndCopy(db, to: keep.sorted().first!, states, directory, seed: seed)
        try db.checkAndClose()
    }

    /// Rollback to the packed version `target`, and a copy of it, hold its recorded state.
    private func checkRollbackAndCopy(_ db: Database, to target: UInt64, _ states: States, _ directory: TemporaryDirectory,
                                      seed: UInt64) throws {
        let rolled = try db.rollback(to: target)
        XCTAssertEqual(try db.rolledBackFrom(version: rolled), target)
        for name in RandomHistory.names {
            let got = try db.read { try RandomHistory.content($0, name) ?? [] }
            XCTAssertEqual(got.map(\.key), states[target]![name]!.map(\.key), "seed \(seed): rollback, keyspace \(name ?? "default")")
            XCTAssertEqual(got.map(\.value), states[target]![name]!.map(\.value), "seed \(seed): rollback values")
        }
        try db.copy(to: directory.path("copy"), version: target)
        let copy = try openDatabase(path: directory.path("copy"))
        for name in RandomHistory.names {
            XCTAssertEqual(try copy.read { try RandomHistory.content($0, name) ?? [] }.map(\.value), states[target]![name]!.map(\.value),
                           "seed \(seed): copy, keyspace \(name ?? "default")")
        }
        try copy.checkAndClose()
    }
}
