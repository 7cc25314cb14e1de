import Foundation
import XCTest
import CowDB

/// The README's API tour, compiled and run as written (so the README cannot drift from the API).
final class ReadmeTourTests: XCTestCase {
    func testReadmeTour() throws {
        let directory = TemporaryDirectory()
        let db = try openDatabase(path: directory.path("db.cowdb"))
        try db.write { txn in
            try txn.put(Array("k".utf8), Array("v".utf8))
            _ = try txn.delete(Array("old".utf8))
            _ = try txn.insert(Array("k2".utf8), [])
            let users = try txn.createKeyspace("users")
            try users.put(Array("ann".utf8), Array("admin".utf8))
        }
        let v = try db.read { txn in try txn.get(Array("k".utf8)) }
        let old = try db.read(at: 1) { txn in try txn.get(Array("k".utf8)) }
        let past = try db.read(asOf: Date(timeIntervalSinceNow: 3600)) { txn in txn.version }
        var scanned = 0
        var seeked: [UInt8]?
        var length: Int?
        var walked = 0
        var prefixed = 0
        try db.read { txn in
            for (key, value) in try txn.scan(from: Array("a".utf8), to: Array("m".utf8)) { _ = (key, value); scanned += 1 }
            for (key, value) in try txn.scan(prefix: Array("k".utf8)) { _ = (key, value); prefixed += 1 }
            var cursor = try txn.cursor()
            seeked = try cursor.seek(to: Array("k".utf8))?.key
            length = try txn.withValue(for: Array("k".utf8)) { bytes in bytes.count }
            try txn.withEntries(from: Array("a".utf8), limit: 10) { key, value in walked += 1; return true }
        }
        let snapshot = try db.snapshot(at: 1)
        snapshot.close()
        var changed: [DiffEntry] = []
        try db.diff(from: 1, to: db.latestVersion) { changes in
            for change in changes { _ = (change.change, change.key, change.oldValue, change.newValue); changed.append(change) }
        }
        try db.tag("before-migration", version: db.latestVersion)
        let tagged = try db.read(tag: "before-migration") { txn in txn.version }
        try db.rollback(to: 1)
        try db.compact(keeping: RetentionPolicy(keepLast: 100))
        try db.backup(to: directory.path("backups/db.cowdb"))
        XCTAssertEqual(tagged, 1)
        XCTAssertEqual(try openDatabase(path: directory.path("backups/db.cowdb"), options: { var o = DatabaseOptions(); o.readOnly = true; return o }()).latestVersion, 1)
        XCTAssertEqual(v, Array("v".utf8))
        XCTAssertEqual(old, Array("v".utf8))
        XCTAssertEqual(past, 1)
        XCTAssertEqual(scanned, 2)
        XCTAssertEqual(prefixed, 2, "\"k\" and \"k2\"")
        XCTAssertEqual(seeked, Array("k".utf8))
        XCTAssertEqual(length, 1)
        XCTAssertEqual(walked, 2)
        XCTAssertEqual(changed, [])
        XCTAssertEqual(try db.versions().count, 1)
        try db.check()
        XCTAssertGreaterThan(try db.stats().spaceAmplification, 0)
        try db.close()
    }
}
