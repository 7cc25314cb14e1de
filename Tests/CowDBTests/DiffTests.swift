import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

/// `Database.diff` against a brute-force comparison of two full scans, and its cost: the pages
/// it reads grow with what changed, not with the size of the database.
final class DiffTests: XCTestCase {
    /// The keyspaces the random histories use (nil: the default one).
    private let names: [String?] = [nil, "a", "b", "c d"]

    // MARK: Brute force

    /// Every entry of keyspace `name` at `version` (empty when the keyspace is missing there).
    private func contents(_ db: Database, _ version: UInt64, _ name: String?) throws -> [[UInt8]: [UInt8]] {
        try db.read(at: version) { txn in
            guard let name else { return Dictionary(uniqueKeysWithValues: try txn.scan().map { ($0.key, $0.value) }) }
            guard try txn.keyspaces().contains(name) else { return [:] }
            return Dictionary(uniqueKeysWithValues: try txn.keyspace(name).scan().map { ($0.key, $0.value) })
        }
    }

    /// The differences of one keyspace from two full scans, in key order.
    private func bruteForce(_ db: Database, from: UInt64, to: UInt64, _ name: String?) throws -> [DiffEntry] {
        let old = try contents(db, from, name), new = try contents(db, to, name)
        let keys = Set(old.keys).union(new.keys).sorted { $0.lexicographicallyPrecedes($1) }
        return try keys.compactMap { key in
            old[key] == new[key] ? nil : try DiffEntry(keyspace: name, key: key, oldValue: old[key], newValue: new[key])
        }
    }

    /// Names of the named keyspaces at `version`.
    private func keyspaceNames(_ db: Database, _ version: UInt64) throws -> Set<String> {
        Set(try db.read(at: version) { try $0.keyspaces() })
    }

    // MARK: Random histories

    /// Commits `count` versions of random puts (some values in overflow runs), deletes, bulk
    /// loads that deepen trees, deletes of everything that empty them, and keyspace drops.
    private func randomHistory(_ db: Database, versions count: Int, rng: inout SeededGenerator) throws {
        var known: [String?: Set<[UInt8]>] = [:]
        for _ in 0 ..< count {
            try db.write { txn in
                let name = names[Int.random(in: 0 ..< names.count, using: &rng)]
                let keyspace = try name.map { try txn.keyspaceCreatingIfMissing($0) } ?? txn.defaultKeyspace
                var keys = known[name] ?? []
                switch Int.random(in: 0 ..< 20, using: &rng) {
                case 0:
                    // A bulk load: the tree gains levels.
                    for _ in 0 ..< Int.random(in: 500 ... 3000, using: &rng) {
                        let key = b("bulk") + rng.bytes(Int.random(in: 1 ... 12, using: &rng))
                        try keyspace.put(key, rng.bytes(Int.random(in: 0 ... 120, using: &rng)))
                        keys.insert(key)
                    }
                case 1:
                    // Delete everything: the tree empties (and later regrows).
                    for key in keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) { try keyspace.delete(key) } // a Set's order changes from run to run
                    keys.removeAll()
                case 2 where name != nil:
                    try txn.dropKeyspace(name!)
                    keys.removeAll()
                default:
                    for _ in 0 ..< Int.random(in: 1 ... 40, using: &rng) {
                        if Int.random(in: 0 ..< 3, using: &rng) == 0, let victim = keys.sorted(by: { $0.lexicographicallyPrecedes($1) }).randomElement(using: &rng) {
                            try keyspace.delete(victim)
                            keys.remove(victim)
                        } else {
                            let key = b("k") + rng.bytes(Int.random(in: 1 ... 3, using: &rng))
                            let large = Int.random(in: 0 ..< 8, using: &rng) == 0
                            try keyspace.put(key, rng.bytes(large ? Int.random(in: 3000 ... 20000, using: &rng) : Int.random(in: 0 ... 60, using: &rng)))
                            keys.insert(key)
                        }
                    }
                }
                known[name] = keys
            }
        }
    }

    /// Random histories over four keyspaces: every diff, forward, backward and of a version with itself, equals two full scans.
    func testRandomHistoriesMatchBruteForce() throws {
        let seed = testSeed("diff")
        var rng = SeededGenerator(seed: seed)
        let directory = TemporaryDirectory()
        var options = DatabaseOptions()
        options.durability = .none
        let db = try openDatabase(path: directory.path("db"), options: options)
        try randomHistory(db, versions: 60, rng: &rng)
        let latest = db.latestVersion
        var pairs: [(UInt64, UInt64)] = [(0, latest), (latest, 0), (latest, latest), (latest - 1, latest)]
        for _ in 0 ..< 40 {
            pairs.append((UInt64.random(in: 0 ... latest, using: &rng), UInt64.random(in: 0 ... latest, using: &rng)))
        }
        for (from, to) in pairs {
            var all: [DiffEntry] = []
            for name in names {
                let inEither = try name.map { try keyspaceNames(db, from).contains($0) || keyspaceNames(db, to).contains($0) } ?? true
                guard inEither else {
                    XCTAssertThrowsError(try db.diff(from: from, to: to, keyspace: name) { Array($0) }) { error in
                        XCTAssertEqual(error as? CowDBError, .keyspaceNotFound(name!))
                    }
                    continue
                }
                let expected = try bruteForce(db, from: from, to: to, name)
                let (found, pages) = try db.diff(from: from, to: to, keyspace: name) { diff in (Array(diff), try diff.pagesVisited) }
                XCTAssertEqual(found, expected, "keyspace \(name ?? "default"), \(from) → \(to), seed \(seed)")
                if from == to { XCTAssertEqual(pages, 0, "identical versions read nothing") }
                all += expected
            }
            // Every keyspace: the default one, then named ones in byte order of their names.
            var expectedAll = all.filter { $0.keyspace == nil }
            let named = try keyspaceNames(db, from).union(keyspaceNames(db, to)).sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
            for name in named { expectedAll += all.filter { $0.keyspace == name } }
            let foundAll = try db.diffAllKeyspaces(from: from, to: to) { Array($0) }
            XCTAssertEqual(foundAll, expectedAll, "all keyspaces, \(from) → \(to), seed \(seed)")
            // The zero-copy variant sees the same changes.
            var viewed: [DiffEntry] = []
            try db.diffAllKeyspaces(from: from, to: to) { diff in
                try diff.forEachWithoutCopying { view in
                    viewed.append(try DiffEntry(keyspace: view.keyspace, key: Array(view.key), oldValue: view.oldValue.map { Array($0) },
                                            newValue: view.newValue.map { Array($0) }))
                    XCTAssertEqual(view.change, viewed.last?.change)
                }
            }
            XCTAssertEqual(viewed, expectedAll, "all keyspaces without copying, \(from) → \(to), seed \(seed)")
        }
        try db.checkAndClose(allVersions: false)
    }

    // MARK: Shapes

    /// Versions whose trees have different heights (one leaf, three levels, shrunk, empty), every pair.
    func testTreeHeightChangesAndReverse() throws {
        let directory = TemporaryDirectory()
        var options = DatabaseOptions()
        options.durability = .none
        let db = try openDatabase(path: directory.path("db"), options: options)
        // 1: one leaf. 2: three levels. 3: most keys deleted (the tree shrinks). 4: everything deleted.
        try db.write { txn in for i in 0 ..< 10 { try txn.put(b("key\(i)"), b("v\(i)")) } }
        try db.write { txn in for i in 0 ..< 20_000 { try txn.put(b("key\(i)"), b("value \(i)")) } }
        try db.write { txn in for i in 0 ..< 20_000 where i % 1000 != 7 { try txn.delete(b("key\(i)")) } }
        try db.write { txn in for i in 0 ..< 20_000 { try txn.delete(b("key\(i)")) } }
        let depths = try (UInt64(1) ... 4).map { version in try db.stats(version: version).keyspaces.first { $0.name == nil }?.depth ?? 0 }
        XCTAssertEqual(depths[0], 1)
        XCTAssertGreaterThanOrEqual(depths[1], 3)
        for from in UInt64(0) ... 4 {
            for to in UInt64(0) ... 4 {
                let found = try db.diff(from: from, to: to) { Array($0) }
                XCTAssertEqual(found, try bruteForce(db, from: from, to: to, nil), "\(from) → \(to)")
            }
        }
        // A reverse diff is the forward one with old and new swapped.
        let forward = try db.diff(from: 1, to: 3) { Array($0) }
        let backward = try db.diff(from: 3, to: 1) { Array($0) }
        XCTAssertEqual(backward, try forward.map { try DiffEntry(keyspace: $0.keyspace, key: $0.key, oldValue: $0.newValue, newValue: $0.oldValue) })
        try db.checkAndClose(allVersions: false)
    }

    /// Identical versions and unchanged keyspaces read no page; a keyspace created since is all added.
    func testIdenticalAndUntouchedKeyspacesReadNothing() throws {
        let directory = TemporaryDirectory()
        let db = try openDatabase(path: directory.path("db"), options: { var o = DatabaseOptions(); o.durability = .none; return o }())
        try db.write { txn in
            for i in 0 ..< 5000 { try txn.put(b("key\(i)"), b("value \(i)")) }
            for i in 0 ..< 5000 { try txn.keyspaceCreatingIfMissing("other").put(b("key\(i)"), b("value \(i)")) }
        }
        try db.write { txn in try txn.keyspace("other").put(b("key42"), b("new")) }
        try db.diff(from: 1, to: 1) { diff in
            XCTAssertNil(Array(diff).first)
            XCTAssertEqual(try diff.pagesVisited, 0)
        }
        // Version 2 changed only "other": the default keyspace has the same root, read nothing.
        try db.diff(from: 1, to: 2) { diff in
            XCTAssertNil(Array(diff).first)
            XCTAssertEqual(try diff.pagesVisited, 0)
        }
        try db.diffAllKeyspaces(from: 1, to: 2) { diff in
            XCTAssertEqual(Array(diff), [try DiffEntry(keyspace: "other", key: b("key42"), oldValue: b("value 42"), newValue: b("new"))])
        }
        // A keyspace created since: all its keys added; missing in both: an error.
        try db.diff(from: 0, to: 2, keyspace: "other") { diff in XCTAssertEqual(diff.reduce(0) { n, e in n + (e.change == .added ? 1 : 0) }, 5000) }
        XCTAssertThrowsError(try db.diff(from: 1, to: 2, keyspace: "nope") { Array($0) }) { error in
            XCTAssertEqual(error as? CowDBError, .keyspaceNotFound("nope"))
        }
        try db.checkAndClose()
    }

    /// A version the database does not have is a typed error.
    func testUnknownVersionThrows() throws {
        let directory = TemporaryDirectory()
        let db = try openDatabase(path: directory.path("db"))
        try db.write { try $0.put(b("k"), b("v")) }
        XCTAssertThrowsError(try db.diff(from: 1, to: 9) { Array($0) }) { error in
            XCTAssertEqual(error as? CowDBError, .versionNotFound(9))
        }
        XCTAssertThrowsError(try db.diffAllKeyspaces(from: 7, to: 1) { Array($0) }) { error in
            XCTAssertEqual(error as? CowDBError, .versionNotFound(7))
        }
        try db.checkAndClose()
    }

    /// A damaged page in the newer version: a typed error, never a crash or a hang (with
    /// either verification mode the page checksum catches it).
    func testDamagedPageThrows() throws {
        let seed = testSeed("diff-damage")
        var rng = SeededGenerator(seed: seed)
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        let db = try Database(path: path) // unchecked-open: the test damages a page of it
        try db.write { txn in for i in 0 ..< 3000 { try txn.put(b("key\(i)"), b("value \(i)")) } }
        try db.write { txn in for i in stride(from: 0, to: 3000, by: 97) { try txn.put(b("key\(i)"), b("changed")) } }
        let info = try db.versions()[1]
        let pageSize = db.pageSize
        try db.close()
        // The default keyspace's new root is the last page written before version 2's commit record.
        let root = Int(info.fileLength) / pageSize - 2
        let original = try Data(contentsOf: URL(fileURLWithPath: path + "/data"))
        for trial in 0 ..< 20 {
            var damaged = original
            let start = root * pageSize + (trial < 10 ? 0 : 16)
            for i in start ..< start + Int.random(in: 1 ... 64, using: &rng) { damaged[i] = UInt8.random(in: 0 ... 255, using: &rng) }
            try damaged.write(to: URL(fileURLWithPath: path + "/data"))
            for verify in [true, false] {
                var options = DatabaseOptions()
                options.readOnly = true
                options.verifyOnRead = verify
                let reader = try Database(path: path, options: options) // unchecked-open: a damaged copy
                do {
                    _ = try reader.diffAllKeyspaces(from: 1, to: 2) { Array($0) }
                    XCTAssertFalse(verify, "a checksum mismatch must be reported, seed \(seed)")
                } catch let error as CowDBError {
                    guard case .corrupt = error else { return XCTFail("unexpected \(error), seed \(seed)") }
                }
                // The zero-copy variant throws at once; the error ends the sequence and is
                // thrown again when the closure returns.
                var first: (any Error)?
                do {
                    try reader.diff(from: 1, to: 2) { diff in
                        do { try diff.forEachWithoutCopying { _ in } } catch { first = error }
                        guard let first else { return }
                        XCTAssertThrowsError(try diff.forEachWithoutCopying { _ in }) { XCTAssertEqual($0 as? CowDBError, first as? CowDBError) }
                        var iterator = diff.makeIterator()
                        XCTAssertNil(iterator.next())
                    }
                    XCTAssertFalse(verify, "a checksum mismatch must be reported, seed \(seed)")
                } catch {
                    XCTAssertNotNil(first)
                    XCTAssertEqual(error as? CowDBError, first as? CowDBError)
                }
                try reader.close()
            }
        }
    }

    // MARK: Cost

    /// A large database, k = 100 keys changed in one commit: the diff reads at most
    /// 2 × depth × k pages. `COWDB_DIFF_KEYS` sets the size (200,000 by default; 1,000,000 for the figure in the docs).
    func testPagesVisitedGrowWithChangesNotSize() throws {
        let size = ProcessInfo.processInfo.environment["COWDB_DIFF_KEYS"].flatMap { Int($0) } ?? 200_000
        let changes = 100
        let seed = testSeed("diff-cost")
        var rng = SeededGenerator(seed: seed)
        let directory = TemporaryDirectory()
        var options = DatabaseOptions()
        options.durability = .none
        let db = try openDatabase(path: directory.path("db"), options: options)
        /// Key `i`: fixed width, so that keys are spread over the whole tree.
        func key(_ i: Int) -> [UInt8] { b(String(format: "key%09d", i)) }
        let loadStart = Date()
        try db.write { txn in
            for i in 0 ..< size { try txn.put(key(i), b("value \(i)")) }
        }
        let loadSeconds = Date().timeIntervalSince(loadStart)
        // k changes spread at random: a third changed, a third deleted, a third added.
        var expected: [[UInt8]: DiffEntry] = [:]
        try db.write { txn in
            while expected.count < changes {
                let i = Int.random(in: 0 ..< size, using: &rng)
                guard expected[key(i)] == nil else { continue }
                switch expected.count % 3 {
                case 0:
                    try txn.put(key(i), b("changed \(i)"))
                    expected[key(i)] = try DiffEntry(keyspace: nil, key: key(i), oldValue: b("value \(i)"), newValue: b("changed \(i)"))
                case 1:
                    try txn.delete(key(i))
                    expected[key(i)] = try DiffEntry(keyspace: nil, key: key(i), oldValue: b("value \(i)"), newValue: nil)
                default:
                    let added = key(i) + b("+")
                    try txn.put(added, b("added"))
                    expected[added] = try DiffEntry(keyspace: nil, key: added, oldValue: nil, newValue: b("added"))
                }
            }
        }
        let depth = try db.stats().keyspaces.first { $0.name == nil }?.depth ?? 0
        for (from, to) in [(UInt64(1), UInt64(2)), (2, 1)] {
            let start = DispatchTime.now().uptimeNanoseconds
            let (found, pages) = try db.diff(from: from, to: to) { diff in (Array(diff), try diff.pagesVisited) }
            let milliseconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
            let want = expected.values.sorted { $0.key.lexicographicallyPrecedes($1.key) }
            XCTAssertEqual(found, from == 1 ? want : try want.map { try DiffEntry(keyspace: nil, key: $0.key, oldValue: $0.newValue, newValue: $0.oldValue) })
            print("diff \(from) → \(to) on \(size) keys (depth \(depth), loaded in \(String(format: "%.1f", loadSeconds)) s): "
                + "\(found.count) changes, \(pages) pages visited (bound 2 × \(depth) × \(changes) = \(2 * depth * changes)), "
                + String(format: "%.2f ms", milliseconds))
            XCTAssertLessThanOrEqual(pages, 2 * depth * changes)
        }
        // The same k keys written by k commits of one key each: the bound still holds.
        for i in 0 ..< changes { try db.write { txn in try txn.put(key(i * (size / changes)), b("one by one")) } }
        let start = DispatchTime.now().uptimeNanoseconds
        let (count, pages) = try db.diff(from: 2, to: db.latestVersion) { diff in (diff.reduce(0) { n, _ in n + 1 }, try diff.pagesVisited) }
        print("diff across \(changes) single-key commits: \(count) changes, \(pages) pages visited, "
            + String(format: "%.2f ms", Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6))
        XCTAssertEqual(count, changes)
        XCTAssertLessThanOrEqual(pages, 2 * depth * changes)
        try db.close()
    }
}
