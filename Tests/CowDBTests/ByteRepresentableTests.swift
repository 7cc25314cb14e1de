import Foundation
import XCTest
import CowDB

/// Keys and values of any `ByteRepresentable` type: the same bytes reach the same entry
/// whatever type spelled them; decoding never repairs bytes; a type of one's own works.
final class ByteRepresentableTests: XCTestCase {
    /// A key whose bytes are a UInt64 big-endian, so that numeric order is key order.
    struct OrderID: ByteRepresentable, Equatable {
        var value: UInt64
        init(_ value: UInt64) { self.value = value }
        func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
            try withUnsafeBytes(of: value.bigEndian, body)
        }
        init(bytes: UnsafeRawBufferPointer) throws {
            guard bytes.count == 8 else { throw CowDBError.typeMismatch("an OrderID is 8 bytes, not \(bytes.count)") }
            value = bytes.reduce(0) { $0 << 8 | UInt64($1) }
        }
    }

    func testStringDataAndBytesReachTheSameEntries() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        let db = try openDatabase(path: path)
        try db.write { txn in
            try txn.put("user:1", "Ada")
            try txn.put(Data("user:2".utf8), Data("Grace".utf8))
            try txn.put(Array("user:3".utf8), Array("Edsger".utf8))
            XCTAssertFalse(try txn.insert(Array("user:1".utf8), [0]), "the String key's entry is there")
            try txn.put("user:3"[...], "Dijkstra"[...]) // Substring key and value replace the [UInt8] entry
            let users = try txn.createKeyspace("users")
            try users.put("ann", Data("admin".utf8))
            XCTAssertEqual(try users.get(Array("ann".utf8)), b("admin"))
        }
        try db.read { txn in
            XCTAssertEqual(try txn.count, 3)
            XCTAssertEqual(try txn.get(Array("user:1".utf8)), b("Ada"))
            XCTAssertEqual(try txn.get(Data("user:1".utf8), as: String.self), "Ada")
            XCTAssertEqual(try txn.get("user:2", as: Data.self), Data("Grace".utf8))
            XCTAssertEqual(try txn.get(b("user:3")[...], as: String.self), "Dijkstra")
            XCTAssertEqual(try txn.get("user:3", as: Substring.self), "Dijkstra")
            XCTAssertTrue(try txn.contains(Data("user:2".utf8)))
            XCTAssertFalse(try txn.contains("user:4"))
            XCTAssertNil(try txn.get("user:4", as: String.self))
            XCTAssertEqual(try txn.withValue(for: "user:2") { $0.count }, 5)
            try checkRanges(txn)
            let users = try txn.keyspace("users")
            XCTAssertEqual(try users.get("ann", as: String.self), "admin")
            XCTAssertEqual(try users.scan(prefix: "a").decoded(as: String.self, String.self).map(\.value), ["admin"])
        }
        let snapshot = try db.snapshot()
        XCTAssertEqual(try snapshot.get("user:1"), b("Ada"))
        XCTAssertEqual(try snapshot.get("ann", keyspace: "users", as: String.self), "admin")
        XCTAssertEqual(try snapshot.scan(from: "user:3").count, 1)
        XCTAssertEqual(try snapshot.scan(prefix: "user:").count, 3)
        snapshot.close()
        try db.write { txn in
            XCTAssertTrue(try txn.delete(Data("user:1".utf8)))
            XCTAssertFalse(try txn.delete("user:1"))
            XCTAssertThrowsError(try txn.put("", "empty key")) { XCTAssertEqual($0 as? CowDBError, .emptyKey) }
        }
        try db.diff(from: 1, to: 2) { changes in
            let change = try XCTUnwrap(Array(changes).first)
            XCTAssertEqual(try change.key(as: String.self), "user:1")
            XCTAssertEqual(try change.oldValue(as: String.self), "Ada")
            XCTAssertNil(try change.newValue(as: String.self))
        }
        try db.close()
        let reopened = try openDatabase(path: path)
        XCTAssertEqual(try reopened.read { try $0.scan().decoded(as: String.self, String.self).map { "\($0.key)=\($0.value)" } },
                       ["user:2=Grace", "user:3=Dijkstra"])
        try reopened.checkAndClose()
    }

    /// Range reads of the three keys "user:1" … "user:3" with bounds of several types.
    private func checkRanges(_ txn: ReadTransaction) throws {
        // Bounds of different types in one call; the default bounds still work.
        XCTAssertEqual(try txn.scan(from: "user:2", to: Data("user:3".utf8)).map(\.key), [b("user:2")])
        XCTAssertEqual(try txn.scan().map(\.key), [b("user:1"), b("user:2"), b("user:3")])
        XCTAssertEqual(try txn.scan(to: "user:2", reverse: true).map(\.key), [b("user:1")])
        XCTAssertEqual(try txn.scan(prefix: Data("user:".utf8), reverse: true).map(\.key).first, b("user:3"))
        var seen: [[UInt8]] = []
        try txn.withEntries(from: "user:2") { key, _ in
            seen.append(Array(key))
            return true
        }
        XCTAssertEqual(seen, [b("user:2"), b("user:3")])
        var cursor = try txn.cursor()
        XCTAssertEqual(try cursor.seek(to: "user:15")?.key, b("user:2"))
    }

    /// Bytes that are not UTF-8 read as a `String` throw `typeMismatch`: from `get(_:as:)` at
    /// once, and from a typed scan as a damaged page does (a `for` loop ends and the closure
    /// rethrows; `nextOrThrow()` throws at once). Nothing is repaired.
    func testInvalidUTF8ReadAsAStringThrows() throws {
        let directory = TemporaryDirectory()
        let db = try openDatabase(path: directory.path("db"))
        let invalid: [UInt8] = [0x61, 0xFF, 0xFE]
        try db.write { txn in
            try txn.put("a", "fine")
            try txn.put("b", invalid)
            try txn.put("c", "fine too")
            try txn.put([0xFF, 0xFE], "a key that is not UTF-8 (sorting last)")
        }
        func isTypeMismatch(_ error: any Error) -> Bool {
            if case .typeMismatch? = error as? CowDBError { true } else { false }
        }
        try db.read { txn in
            XCTAssertThrowsError(try txn.get("b", as: String.self)) { XCTAssertTrue(isTypeMismatch($0), "\($0)") }
            XCTAssertEqual(try txn.get("b", as: Data.self), Data(invalid), "the bytes are intact")
            XCTAssertEqual(try txn.get("b"), invalid)
        }
        var looped: [String] = []
        XCTAssertThrowsError(try db.read { txn in
            for (key, _) in try txn.scan().decoded(as: String.self, String.self) { looped.append(key) }
        }) { XCTAssertTrue(isTypeMismatch($0), "\($0)") }
        XCTAssertEqual(looped, ["a"], "the loop ended at the value that does not decode")
        try db.read { txn in
            var entries = try txn.scan(from: "c").decoded(as: String.self, String.self).makeIterator()
            XCTAssertEqual(try entries.nextOrThrow()?.value, "fine too")
            XCTAssertThrowsError(try entries.nextOrThrow()) { XCTAssertTrue(isTypeMismatch($0), "the key [FF FE]: \($0)") }
            XCTAssertNil(try entries.nextOrThrow(), "done after the error")
            // Thrown to the caller, it is not rethrown when the closure returns.
        }
        try db.diff(from: 0, to: 1) { changes in
            let entry = try XCTUnwrap(Array(changes).first { $0.key == b("b") })
            XCTAssertThrowsError(try entry.newValue(as: String.self)) { XCTAssertTrue(isTypeMismatch($0), "\($0)") }
        }
        XCTAssertEqual(try String(bytes: UnsafeRawBufferPointer(start: nil, count: 0)), "", "empty bytes are the empty string")
        try db.checkAndClose()
    }

    /// A conformance of one's own: numbers stored big-endian scan in numeric order, and a key
    /// of the wrong length read as one throws the type's error.
    func testACustomConformanceOrdersByItsBytes() throws {
        let directory = TemporaryDirectory()
        let db = try openDatabase(path: directory.path("db"))
        let numbers: [UInt64] = [65_536, 2, 1 << 40, 1, 256, 0]
        try db.write { txn in
            for number in numbers { try txn.put(OrderID(number), "order \(number)") }
        }
        try db.read { txn in
            let decoded = Array(try txn.scan().decoded(as: OrderID.self, String.self))
            XCTAssertEqual(decoded.map(\.key.value), numbers.sorted())
            XCTAssertEqual(decoded.map(\.value), numbers.sorted().map { "order \($0)" })
            XCTAssertEqual(try txn.get(OrderID(256), as: String.self), "order 256")
            XCTAssertEqual(Array(try txn.scan(from: OrderID(2), to: OrderID(65_537))).count, 3)
            var cursor = try txn.cursor()
            XCTAssertEqual(try cursor.seek(to: OrderID(3))?.value, b("order 256"))
        }
        try db.write { try $0.put("short", "not an order") }
        XCTAssertThrowsError(try db.read { txn in Array(try txn.scan().decoded(as: OrderID.self, String.self)) }) {
            XCTAssertEqual($0 as? CowDBError, .typeMismatch("an OrderID is 8 bytes, not 5"))
        }
        try db.checkAndClose()
    }
}
