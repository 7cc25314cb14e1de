import Foundation
import XCTest
import CowDB

/// One rule for misuse: what a caller can recover from throws (`closed`, `busy`,
/// `invalidArgument`), changes nothing, and leaves the database usable with every commit kept.
final class MisuseTests: XCTestCase {
    /// Asserts that `body` throws `expected`.
    private func assertThrows<T>(_ expected: CowDBError, _ body: @autoclosure () throws -> T, _ what: String,
                                 file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), what, file: file, line: line) {
            XCTAssertEqual($0 as? CowDBError, expected, what, file: file, line: line)
        }
    }

    /// Asserts that `body` throws `busy`, whatever its reason.
    private func assertBusy<T>(_ body: @autoclosure () throws -> T, _ what: String, line: UInt = #line) {
        XCTAssertThrowsError(try body(), what, line: line) {
            guard case .busy? = $0 as? CowDBError else { return XCTFail("\(what): \($0)", line: line) }
        }
    }

    /// Reopens the database at `path` and checks that its default keyspace holds `expected`.
    private func assertReopened(_ path: String, holds expected: [String: String], line: UInt = #line) throws {
        let db = try openDatabase(path: path)
        let found = try db.read { txn in try txn.scan().decoded(as: String.self, String.self).map { "\($0.key)=\($0.value)" } }
        XCTAssertEqual(found, expected.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }, line: line)
        try db.checkAndClose()
    }

    /// A transaction, and the keyspaces, cursors and scans made from it, used after its closure
    /// returned throw `closed`; so does everything a write transaction would change.
    func testUseAfterTheClosureThrowsClosed() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        let db = try openDatabase(path: path)
        try db.write { txn in
            try txn.put("a", "1")
            _ = try txn.createKeyspace("ks")
        }
        let (txn, keyspace, scan) = try db.read { txn in (txn, try txn.keyspace("ks"), try txn.scan()) }
        var cursor = try db.read { try $0.cursor() }
        var iterator = scan.makeIterator()
        let reads: [(String, () throws -> Any)] = [
            ("get", { try txn.get("a") as Any }), ("get(as:)", { try txn.get("a", as: String.self) as Any }),
            ("withValue", { try txn.withValue(for: "a") { $0.count } as Any }), ("contains", { try txn.contains("a") }),
            ("scan", { try txn.scan() }), ("scan(prefix:)", { try txn.scan(prefix: "a") }),
            ("withEntries", { try txn.withEntries { _, _ in true } }), ("cursor", { try txn.cursor() }),
            ("count", { try txn.count }), ("defaultKeyspace", { try txn.defaultKeyspace }),
            ("keyspace", { try txn.keyspace("ks") }), ("keyspaces", { try txn.keyspaces() }),
            ("keyspace get", { try keyspace.get("a") as Any }), ("keyspace count", { try keyspace.count() }),
            ("keyspace scan", { try keyspace.scan() }), ("keyspace put", { try keyspace.put("b", "2") }),
            ("cursor first", { try cursor.first() as Any }), ("cursor seek", { try cursor.seek(to: "a") as Any }),
            ("cursor last", { try cursor.last() as Any }), ("scan nextOrThrow", { try iterator.nextOrThrow() as Any }),
        ]
        for (what, read) in reads { assertThrows(.closed, try read(), what) }
        let write = try db.write { $0 }
        let writes: [(String, () throws -> Any)] = [
            ("put", { try write.put("b", "2") }), ("insert", { try write.insert("b", "2") }), ("delete", { try write.delete("a") }),
            ("createKeyspace", { try write.createKeyspace("new") }), ("dropKeyspace", { try write.dropKeyspace("ks") }),
            ("keyspaceCreatingIfMissing", { try write.keyspaceCreatingIfMissing("new") }), ("get", { try write.get("a") as Any }),
        ]
        for (what, change) in writes { assertThrows(.closed, try change(), "write transaction \(what)") }
        try db.write { try $0.put("c", "3") }
        try db.close()
        try assertReopened(path, holds: ["a": "1", "c": "3"])
    }

    /// A nested `write` (or rollback, or tag) on the same thread throws `busy`; the outer
    /// transaction, which may catch it, goes on and commits.
    func testANestedWriteThrowsBusy() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        let db = try openDatabase(path: path)
        try db.write { try $0.put("a", "1") }
        try db.write { txn in
            try txn.put("b", "2")
            assertBusy(try db.write { try $0.put("c", "3") }, "nested write")
            assertBusy(try db.rollback(to: 0), "rollback inside write")
            assertBusy(try db.tag("t", version: 1), "tag inside write")
            try txn.put("d", "4")
        }
        XCTAssertEqual(db.latestVersion, 2)
        XCTAssertEqual(try db.tags(), [])
        try db.close()
        try assertReopened(path, holds: ["a": "1", "b": "2", "d": "4"])
    }

    /// A change inside `withValue` or `withEntries` (whose bytes may live in the node the change
    /// would move) throws `busy` and changes nothing; after the closure, changes go on.
    func testAChangeInsideAViewThrowsBusy() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        let db = try openDatabase(path: path)
        try db.write { txn in
            try txn.put("a", "1")
            _ = try txn.createKeyspace("ks")
        }
        try db.write { txn in
            try txn.put("a", String(repeating: "x", count: 100)) // "a" now lives in a changed node
            let keyspace = try txn.keyspace("ks")
            let changes: [(String, () throws -> Any)] = [
                ("put", { try txn.put("b", "2") }), ("insert", { try txn.insert("b", "2") }), ("delete", { try txn.delete("a") }),
                ("keyspace put", { try keyspace.put("b", "2") }), ("createKeyspace", { try txn.createKeyspace("new") }),
                ("dropKeyspace", { try txn.dropKeyspace("ks") }),
            ]
            for (what, change) in changes {
                let seen = try txn.withValue(for: "a") { bytes -> Int in
                    assertBusy(try change(), "\(what) inside withValue")
                    return bytes.count
                }
                XCTAssertEqual(seen, 100, what)
                try txn.withEntries { key, value in
                    assertBusy(try change(), "\(what) inside withEntries")
                    XCTAssertEqual(Array(key), b("a"))
                    XCTAssertEqual(value.count, 100)
                    return true
                }
            }
            XCTAssertEqual(try txn.count, 1, "nothing changed")
            XCTAssertEqual(try txn.keyspaces(), ["ks"])
            try txn.put("b", "2")
        }
        try db.close()
        try assertReopened(path, holds: ["a": String(repeating: "x", count: 100), "b": "2"])
    }

    /// Bad arguments throw `invalidArgument`: a negative `withEntries` limit, a `DiffEntry`
    /// with neither value.
    func testBadArgumentsThrowInvalidArgument() throws {
        let directory = TemporaryDirectory()
        let db = try openDatabase(path: directory.path("db"))
        try db.write { try $0.put("a", "1") }
        try db.read { txn in
            assertThrows(.invalidArgument("withEntries limit -1 is negative"), try txn.withEntries(limit: -1) { _, _ in true }, "limit")
            assertThrows(.invalidArgument("withEntries limit -5 is negative"),
                         try txn.defaultKeyspace.withEntries(limit: -5) { _, _ in true }, "keyspace limit")
        }
        XCTAssertThrowsError(try DiffEntry(keyspace: nil, key: b("k"), oldValue: nil, newValue: nil)) {
            guard case .invalidArgument? = $0 as? CowDBError else { return XCTFail("\($0)") }
        }
        XCTAssertEqual(try DiffEntry(keyspace: nil, key: b("k"), oldValue: nil, newValue: b("v")).change, .added)
        XCTAssertEqual(try db.read { try $0.get("a", as: String.self) }, "1", "still usable")
        try db.checkAndClose()
    }

    /// A diff used after its closure returned throws `closed`.
    func testADiffUsedAfterItsClosureThrowsClosed() throws {
        let directory = TemporaryDirectory()
        let db = try openDatabase(path: directory.path("db"))
        try db.write { try $0.put("a", "1") }
        try db.write { try $0.put("a", "2") }
        let diff = try db.diff(from: 1, to: 2) { $0 }
        var iterator = diff.makeIterator()
        assertThrows(.closed, try diff.pagesVisited, "pagesVisited")
        assertThrows(.closed, try iterator.nextOrThrow(), "nextOrThrow")
        assertThrows(.closed, try diff.forEachWithoutCopying { _ in }, "forEachWithoutCopying")
        XCTAssertEqual(try db.diff(from: 1, to: 2) { try $0.map { try $0.newValue(as: String.self) } }, ["2"])
        try db.checkAndClose()
    }
}
