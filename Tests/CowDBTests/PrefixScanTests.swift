import Foundation
import XCTest
@testable import CowDB
import CowDBFormat

/// `scan(prefix:)` on transactions, keyspaces and snapshots, against a filter of the whole scan;
/// and `CowDBError` as a `LocalizedError`.
final class PrefixScanTests: XCTestCase {
    func testPrefixScansReturnExactlyTheKeysWithThePrefixBothWays() throws {
        var random = SeededGenerator(seed: testSeed("prefix-scan"))
        let alphabet: [UInt8] = [0x00, 0x01, 0x61, 0x62, 0xFE, 0xFF]
        func draw(_ count: ClosedRange<Int>) -> [UInt8] {
            (0 ..< Int.random(in: count, using: &random)).map { _ in alphabet.randomElement(using: &random)! }
        }
        let keys = Set((0 ..< 400).map { _ in draw(1 ... 4) })
        let directory = TemporaryDirectory()
        let db = try openDatabase(path: directory.path("db"))
        try db.write { txn in
            let named = try txn.createKeyspace("named")
            for key in keys {
                try txn.put(key, key + [1])
                try named.put(key, key + [2])
            }
        }
        let snapshot = try db.snapshot()
        let prefixes = [[], [0xFF], [0xFF, 0xFF], [0x00], [0x61, 0xFF], [0x62, 0x00, 0x01]] + (0 ..< 40).map { _ in draw(1 ... 3) }
        for prefix in prefixes {
            let expected = keys.filter { $0.starts(with: prefix) }.sorted { $0.lexicographicallyPrecedes($1) }
            try db.read { txn in
                XCTAssertEqual(try txn.scan(prefix: prefix).map(\.key), expected, "prefix \(prefix)")
                XCTAssertEqual(try txn.scan(prefix: prefix, reverse: true).map(\.key), expected.reversed(), "prefix \(prefix), reverse")
                XCTAssertTrue(try txn.scan(prefix: prefix).allSatisfy { $0.value == $0.key + [1] })
                let named = try txn.keyspace("named")
                XCTAssertEqual(try named.scan(prefix: prefix).map(\.key), expected, "prefix \(prefix) in a named keyspace")
                XCTAssertTrue(try named.scan(prefix: prefix, reverse: true).allSatisfy { $0.value == $0.key + [2] })
            }
            XCTAssertEqual(try snapshot.scan(prefix: prefix).map(\.key), expected, "prefix \(prefix) in a snapshot")
        }
        XCTAssertEqual(Database.end(ofPrefix: [0x61, 0xFF, 0xFF]), [0x62])
        XCTAssertNil(Database.end(ofPrefix: [0xFF, 0xFF]))
        XCTAssertNil(Database.end(ofPrefix: []))
        snapshot.close()
        try db.checkAndClose()
    }

    func testErrorsAreLocalizedWithTheToolsText() throws {
        let errors: [CowDBError] = [.readOnly, .versionNotFound(7), .keyTooLarge(size: 2000, maximum: 992),
                                    .corrupt(page: 3, offset: 8, reason: "bad"), .io(operation: "pwrite", path: "/x", errno: 5)]
        for error in errors {
            XCTAssertEqual((error as Error).localizedDescription, error.description)
            XCTAssertEqual((error as any LocalizedError).errorDescription, error.description)
            XCTAssertFalse(error.description.isEmpty)
        }
    }
}

/// A scan that meets a damaged page: a `for` loop ends early and the transaction rethrows the
/// error when its closure returns; `nextOrThrow()` throws it at once, and only there.
final class ThrowingScanTests: XCTestCase {
    func testNextOrThrowStopsALoopWithTheErrorWhereAForLoopEndsQuietly() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        do {
            let db = try Database(path: path) // unchecked-open: the test damages it below, on purpose
            try db.write { txn in for i in 0 ..< 3_000 { try txn.put(b(String(format: "key%05d", i)), b("value \(i)")) } }
            try db.checkAndClose()
        }
        var data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path + "/data")))
        let leaves = FileDamage(data: data, pageSize: 4096).pagesByKind[2] ?? []
        XCTAssertGreaterThan(leaves.count, 10)
        let page = leaves[leaves.count / 2]
        data[page * 4096 + 100] ^= 0x5A
        try Data(data).write(to: URL(fileURLWithPath: path + "/data"))
        let db = try Database(path: path) // unchecked-open: damaged on purpose
        defer { try? db.close() }
        var looped = 0
        XCTAssertThrowsError(try db.read { txn in for _ in try txn.scan() { looped += 1 } }) { error in
            guard case CowDBError.corrupt = error else { return XCTFail("\(error)") }
        }
        XCTAssertGreaterThan(looped, 0)
        XCTAssertLessThan(looped, 3_000, "the for loop ended early")
        var walked = 0
        var thrown: (any Error)?
        try db.read { txn in
            var entries = try txn.scan().makeIterator()
            do {
                while try entries.nextOrThrow() != nil { walked += 1 }
            } catch {
                thrown = error
            }
            XCTAssertNil(try entries.nextOrThrow(), "done after the error")
        }
        XCTAssertEqual(walked, looped, "both walks stop at the same page")
        guard case CowDBError.corrupt(let damaged?, _, _)? = thrown as? CowDBError else { return XCTFail("\(String(describing: thrown))") }
        XCTAssertEqual(Int(damaged), page)
    }
}
