import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage

/// `Database.changes(after:keyspace:)`: one element per commit, in order, each the diff from the
/// version before; then each new commit as it lands; across rollbacks and compactions.
final class ChangeFeedTests: XCTestCase {
    /// Seeded commits of puts and deletes (some values on overflow pages) in the default keyspace
    /// and in "named" (created at the third commit).
    private func writeCommits(_ db: Database, count: Int, seed: UInt64) throws {
        var random = SeededGenerator(seed: seed)
        for _ in 0 ..< count {
            try db.write { txn in
                let named = txn.version >= 2 ? try txn.keyspaceCreatingIfMissing("named") : nil
                try txn.put(b("n"), b("\(txn.version + 1)")) // every transaction commits a version
                for _ in 0 ..< Int.random(in: 1 ... 6, using: &random) {
                    let key = b("k\(Int.random(in: 0 ..< 40, using: &random))")
                    let target = Bool.random(using: &random) ? named : nil
                    if Int.random(in: 0 ..< 4, using: &random) == 0 {
                        _ = try target.map { try $0.delete(key) } ?? txn.delete(key)
                    } else {
                        let value = [UInt8](repeating: UInt8.random(in: 0 ... 255, using: &random), count: Int.random(in: 0 ... 1, using: &random) == 0 ? 20 : 5_000)
                        try target.map { try $0.put(key, value) } ?? txn.put(key, value)
                    }
                }
            }
        }
    }

    /// What `diff` says commit `version` changed in `keyspace` (empty where the keyspace does not exist).
    private func expected(_ db: Database, _ version: UInt64, keyspace: String?) throws -> [DiffEntry] {
        do {
            return try db.diff(from: version - 1, to: version, keyspace: keyspace) { Array($0) }
        } catch CowDBError.keyspaceNotFound {
            return []
        }
    }

    func testEveryCommitInOrderAsItsDiffThenNewOnes() async throws {
        let seed = testSeed("feed-order")
        let directory = TemporaryDirectory()
        let db = try openDatabase(path: directory.path("db"))
        try writeCommits(db, count: 150, seed: seed)
        for keyspace in [nil, "named"] as [String?] {
            let found = try await collect(db.changes(after: 0, keyspace: keyspace), count: 150)
            XCTAssertEqual(found.map(\.version), Array(1 ... 150))
            for commit in found {
                XCTAssertEqual(commit.entries, try expected(db, commit.version, keyspace: keyspace), "version \(commit.version), seed \(seed)")
                let timestamp = try await db.read(at: commit.version) { $0.timestamp }
                XCTAssertEqual(commit.timestamp, timestamp)
            }
            XCTAssertTrue(found.contains { !$0.entries.isEmpty })
        }
        // From the middle; then a commit that lands while the feed waits.
        let waiting = Task { try await collect(db.changes(after: 140), count: 11) }
        try await Task.sleep(nanoseconds: 50_000_000)
        try await db.write { try $0.put(b("late"), b("1")) }
        let tail = try await waiting.value
        XCTAssertEqual(tail.map(\.version), Array(141 ... 151))
        XCTAssertEqual(tail.last?.entries, [try DiffEntry(keyspace: nil, key: b("late"), oldValue: nil, newValue: b("1"))])
    }

    func testARollbackIsACommitThatRestores() async throws {
        let directory = TemporaryDirectory()
        let db = try openDatabase(path: directory.path("db"))
        try await db.write { try $0.put(b("a"), b("1")) }
        try await db.write { txn in
            try txn.put(b("a"), b("2"))
            try txn.put(b("b"), b("new"))
        }
        XCTAssertEqual(try db.rollback(to: 1), 3)
        let found = try await collect(db.changes(after: 2), count: 1)
        XCTAssertEqual(found.first?.version, 3)
        XCTAssertEqual(found.first?.entries, [
            try DiffEntry(keyspace: nil, key: b("a"), oldValue: b("2"), newValue: b("1")),
            try DiffEntry(keyspace: nil, key: b("b"), oldValue: b("new"), newValue: nil),
        ])
    }

    /// A feed waiting across a compaction that packs history goes on with the versions after it,
    /// and their changes are still the diffs; one that retention overtook throws versionNotFound.
    func testAcrossCompactions() async throws {
        let seed = testSeed("feed-compaction")
        let directory = TemporaryDirectory()
        let db = try openDatabase(path: directory.path("db"))
        try writeCommits(db, count: 40, seed: seed)
        let feed = db.changes(after: 0)
        var iterator = feed.makeAsyncIterator()
        for version in 1 ... 10 as ClosedRange<UInt64> {
            let commit = try await iterator.next()
            XCTAssertEqual(commit?.version, version)
        }
        try await db.compact(keeping: RetentionPolicy(keepAll: true), packing: .all)
        try writeCommits(db, count: 5, seed: seed &+ 1)
        var rest: [CommitChanges] = []
        while rest.count < 35, let commit = try await iterator.next() { rest.append(commit) }
        XCTAssertEqual(rest.map(\.version), Array(11 ... 45))
        for commit in rest { XCTAssertEqual(commit.entries, try expected(db, commit.version, keyspace: nil), "version \(commit.version), seed \(seed)") }
        XCTAssertEqual(iterator.delivered, 45)

        // Retention drops versions 2…44 before they are delivered.
        var behind = db.changes(after: 1).makeAsyncIterator()
        try await db.compact(keeping: RetentionPolicy(keepLast: 1))
        do {
            _ = try await behind.next()
            XCTFail("a feed behind retention delivered")
        } catch {
            XCTAssertEqual(error as? CowDBError, .versionNotFound(1))
        }
        // One that is up to date goes on.
        let next = Task { try await collect(db.changes(after: 45), count: 1) }
        try await db.write { try $0.put(b("after"), b("compaction")) }
        let found = try await next.value
        XCTAssertEqual(found.map(\.version), [46])
    }

    func testCancellationEndsAWaitingFeedAndClosingThrowsClosed() async throws {
        let directory = TemporaryDirectory()
        let db = try openDatabase(path: directory.path("db"))
        try await db.write { try $0.put(b("a"), b("1")) }
        let cancelled = Task { try await collect(db.changes(after: 1), count: 1) }
        try await Task.sleep(nanoseconds: 50_000_000)
        cancelled.cancel()
        let ended = try await cancelled.value
        XCTAssertEqual(ended, [])

        let waiting = Task { try await collect(db.changes(after: 1), count: 1) }
        try await Task.sleep(nanoseconds: 50_000_000)
        try db.close()
        do {
            _ = try await waiting.value
            XCTFail("a feed of a closed database delivered")
        } catch {
            XCTAssertEqual(error as? CowDBError, .closed)
        }
    }
}

/// The first `count` elements of a feed.
private func collect(_ feed: ChangeFeed, count: Int) async throws -> [CommitChanges] {
    var found: [CommitChanges] = []
    for try await commit in feed {
        found.append(commit)
        if found.count == count { break }
    }
    return found
}

