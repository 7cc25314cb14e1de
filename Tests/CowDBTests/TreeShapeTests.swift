import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

/// Balance and fill: what splits and merges leave behind.
final class TreeShapeTests: XCTestCase {
    private func options() -> DatabaseOptions {
        var options = DatabaseOptions()
        options.durability = .none
        return options
    }

    /// Ascending inserts fill leaves ≥ 90% (splits at the right edge leave full pages).
    func testAscendingInsertsFillLeaves() throws {
        let directory = TemporaryDirectory()
        let db = try openDatabase(path: directory.path("asc"), options: options())
        let count = 60_000
        try db.write { txn in
            for i in 0 ..< count {
                try txn.put(b(String(format: "key%08d", i)), b(String(repeating: "v", count: 40)))
            }
        }
        let stats = try db.stats()
        let leaves = stats.keyspaces[0].leafPages
        let payload = count * LeafPage.entrySize(keyLength: 11, inlineValueLength: 40)
        let fill = Double(payload) / Double(leaves * (db.pageSize - PageHeader.size))
        print("ascending inserts: \(count) keys in \(leaves) leaves, fill \(String(format: "%.3f", fill)), depth \(stats.keyspaces[0].depth)")
        XCTAssertGreaterThanOrEqual(fill, 0.90)
        XCTAssertEqual(stats.keyspaces[0].entries, UInt64(count))
        try db.checkAndClose()
    }

    /// After deleting 90% of the keys at random, the tree uses ≤ 1.3× the pages of a fresh
    /// load of the remaining keys.
    func testDeletingNinetyPercentKeepsTreeCompact() throws {
        let seed = testSeed("delete-90")
        var random = SeededGenerator(seed: seed)
        let directory = TemporaryDirectory()
        let db = try openDatabase(path: directory.path("del"), options: options())
        var keys = (0 ..< 60_000).map { _ in random.bytes(16) }
        try db.write { txn in
            for key in keys { try txn.put(key, random.bytes(60)) }
        }
        keys.shuffle(using: &random)
        let doomed = keys[0 ..< 54_000]
        // Delete in several commits, as an application would.
        for chunk in stride(from: 0, to: doomed.count, by: 9_000) {
            try db.write { txn in
                for key in doomed[doomed.startIndex + chunk ..< doomed.startIndex + min(chunk + 9_000, doomed.count)] {
                    XCTAssertTrue(try txn.delete(key))
                }
            }
        }
        let after = try db.stats().keyspaces[0]
        let remaining = try db.read { txn in Array(try txn.scan()) }
        XCTAssertEqual(remaining.count, 6_000)

        let fresh = try openDatabase(path: directory.path("fresh"), options: options())
        try fresh.write { txn in
            for entry in remaining.shuffled(using: &random) { try txn.put(entry.key, entry.value) }
        }
        let reference = try fresh.stats().keyspaces[0]
        let pagesAfter = after.leafPages + after.branchPages
        let pagesFresh = reference.leafPages + reference.branchPages
        print("after deleting 90%: \(pagesAfter) pages; fresh load of the remaining keys: \(pagesFresh) pages; ratio \(String(format: "%.2f", Double(pagesAfter) / Double(pagesFresh)))")
        XCTAssertLessThanOrEqual(Double(pagesAfter), 1.3 * Double(pagesFresh))
        try fresh.checkAndClose()
        try db.checkAndClose()
    }

    /// Deleting everything leaves an empty tree, and old versions keep their entries.
    func testDeleteAllThenOldVersionsStillRead() throws {
        let directory = TemporaryDirectory()
        let db = try openDatabase(path: directory.path("all"), options: options())
        try db.write { txn in for i in 0 ..< 5_000 { try txn.put(b("k\(i)"), b("v\(i)")) } }
        try db.write { txn in for i in 0 ..< 5_000 { XCTAssertTrue(try txn.delete(b("k\(i)"))) } }
        XCTAssertEqual(try db.read { try $0.count }, 0)
        XCTAssertEqual(try db.stats().keyspaces[0].leafPages, 0)
        XCTAssertEqual(try db.read(at: 1) { try $0.get(b("k4999")) }, b("v4999"))
        XCTAssertEqual(try db.read(at: 1) { Array(try $0.scan()).count }, 5_000)
        try db.checkAndClose()
    }

    /// Leaves spilled early and emptied (or thinned) later in the same transaction are still
    /// merged at commit: no empty leaf stays under a branch (found by the LMDB differential test).
    func testSpilledLeavesAreRebalancedAtCommit() throws {
        let directory = TemporaryDirectory()
        var options = options()
        options.dirtyPageBudget = 64 << 10
        let db = try openDatabase(path: directory.path("spilled"), options: options)
        func key(_ i: Int) -> [UInt8] { b(String(format: "key%06d", i)) }
        try db.write { txn in for i in 0 ..< 2_000 { try txn.put(key(i), [UInt8](repeating: 7, count: 100)) } }
        try db.write { txn in
            for i in 0 ..< 200 { try txn.delete(key(i)) }
            for i in stride(from: 200, to: 2_000, by: 50) { try txn.put(key(i), [1]) }
        }
        try db.write { txn in for i in 200 ..< 2_000 { try txn.delete(key(i)) } }
        XCTAssertEqual(try db.stats().keyspaces[0].leafPages, 0)
        try db.checkAndClose()
    }

    /// A transaction far larger than the dirty budget runs in bounded memory (it spills) and
    /// commits correctly.
    func testLargeTransactionSpills() throws {
        let directory = TemporaryDirectory()
        var options = options()
        options.dirtyPageBudget = 64 * 4096
        let db = try openDatabase(path: directory.path("spill"), options: options)
        var random = SeededGenerator(seed: 42)
        var model: [[UInt8]: [UInt8]] = [:]
        try db.write { txn in
            for _ in 0 ..< 40_000 {
                let key = random.bytes(Int.random(in: 4 ... 20, using: &random)), value = random.bytes(50)
                try txn.put(key, value)
                model[key] = value
            }
            // A seeded sample in a stable order (a Dictionary's own order changes from run to run).
            for (key, value) in sortedEntries(model).shuffled(using: &random).prefix(500) { XCTAssertEqual(try txn.get(key), value) }
        }
        let entries = try db.read { Array(try $0.scan()) }
        XCTAssertTrue(entries.elementsEqual(sortedEntries(model), by: { $0.key == $1.key && $0.value == $1.value }))
        try db.checkAndClose()
    }
}
