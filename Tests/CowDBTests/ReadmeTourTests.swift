import Foundation
import XCTest
import CowDB

/// The README's API tour, compiled and run as written (so the README cannot drift from the API).
final class ReadmeTourTests: XCTestCase {
    func testReadmeTour() async throws {
        let directory = TemporaryDirectory()
        let db = try openDatabase(path: directory.path("db.cowdb"))
        try await db.write { txn in
            try txn.put("user:1", "Ada")
            _ = try txn.delete("user:0")
            _ = try txn.insert("user:2", Data([0xFF]))
            let users = try txn.createKeyspace("users")
            try users.put("ann", "admin")
        }
        let name = try await db.read { txn in try txn.get("user:1", as: String.self) }
        let first = try await db.read(at: 1) { txn in try txn.count }
        let hourAgo = try? await db.read(asOf: Date(timeIntervalSinceNow: -3600)) { txn in txn.version }
        let names = try await db.read { txn in
            try txn.scan(prefix: "user:").decoded(as: String.self, [UInt8].self).map(\.key)
        }
        var diffed: [String] = []
        try db.diff(from: 1, to: db.latestVersion) { changes in
            for change in changes { let key = try change.key(as: String.self); print(change.change, key); diffed.append(key) }
        }
        try db.tag("before-migration", version: db.latestVersion)
        try db.rollback(to: 1)
        try await db.compact(keeping: RetentionPolicy(keepLast: 100))
        try await db.backup(to: directory.path("backups/db.cowdb"))
        var feed: [UInt64] = []
        for try await commit in db.changes(after: 0) {
            print(commit.version, commit.timestamp, commit.entries.count)
            feed.append(commit.version)
            if commit.version == db.latestVersion { break }
        }
        let walked = try blockingPart(db)
        XCTAssertEqual(name, "Ada")
        XCTAssertEqual(first, 2)
        XCTAssertNil(hourAgo, "nothing was committed an hour ago")
        XCTAssertEqual(names, ["user:1", "user:2"])
        XCTAssertEqual(diffed, [])
        XCTAssertEqual(feed, [1], "rolling back to the latest version commits nothing")
        XCTAssertEqual(walked, 2)
        XCTAssertEqual(try db.versions().count, 1)
        try db.close()
    }

    /// The tour's second block: the blocking API, from a thread that may block.
    private func blockingPart(_ db: Database) throws -> Int {
        let walked = try db.read { txn -> Int in
            var cursor = try txn.cursor()
            XCTAssertEqual(try cursor.seek(to: "k")?.key, Array("user:1".utf8))
            XCTAssertEqual(try txn.withValue(for: "user:1") { bytes in bytes.count }, 3)
            var walked = 0
            try txn.withEntries(from: "a", limit: 10) { key, value in walked += 1; return true }
            var entries = try txn.scan().makeIterator()
            while let (key, value) = try entries.nextOrThrow() { _ = (key, value) }
            return walked
        }
        let snapshot = try db.snapshot(at: 1)
        snapshot.close()
        try db.check()
        XCTAssertGreaterThan(try db.stats().spaceAmplification, 0)
        return walked
    }
}
