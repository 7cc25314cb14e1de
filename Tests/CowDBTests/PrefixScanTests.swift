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

