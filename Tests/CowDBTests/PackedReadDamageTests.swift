import CowDBTestSupport
import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

/// Damaged packed history trees (docs/PACKED-HISTORY.md): keys out of order, malformed
/// catalog values, a missing default count, an undecodable key. Every read either answers or
/// throws `corrupt`; none traps or loops.
final class PackedReadDamageTests: XCTestCase {
    /// A pair entry's key.
    private func pair(_ keyspace: String, _ key: String, _ version: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        Array(keyspace.utf8).withUnsafeBytes { ks in
            Array(key.utf8).withUnsafeBytes { HistoryKey.pair(keyspace: ks, key: $0, version: version, into: &out) }
        }
        return out
    }

    /// A catalog entry's key.
    private func catalog(_ keyspace: String, _ version: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        Array(keyspace.utf8).withUnsafeBytes { HistoryKey.catalog(keyspace: $0, version: version, into: &out) }
        return out
    }

    /// A marked inline value.
    private func value(_ bytes: [UInt8]) -> TestLeafValue { .inline([HistoryValue.valueMarker] + bytes) }

    /// A count as a catalog entry holds it.
    private func count(_ count: UInt64) -> TestLeafValue { value(PackedHistoryModel.bigEndian(count)) }

    /// Appends `node` as one page.
    private func append(_ node: Node, _ sink: any PageSink) throws -> PageNumber {
        try sink.append(runLength: 1) { node.encode(into: $0) }
    }

    /// A read transaction on version 1 of the history tree `build` writes into a new database.
    private func packed(_ build: (any PageSink) throws -> PageNumber, in directory: TemporaryDirectory,
                        _ name: String) throws -> (Database, ReadTransaction) {
        let db = try openDatabase(path: directory.path(name))
        let root = try db.commitRawHistory(build)
        return (db, ReadTransaction(source: try db.packedSource(root: root, version: 1, totalCount: 0)))
    }

    /// Asserts that `body` throws `CowDBError.corrupt`.
    private func assertCorrupt<T>(_ body: @autoclosure () throws -> T, _ message: String, line: UInt = #line) {
        XCTAssertThrowsError(try body(), message, line: line) { error in
            guard case .corrupt? = error as? CowDBError else { return XCTFail("\(message): \(error), not corrupt", line: line) }
        }
    }

    /// Two leaves whose keys are out of order across them ("b" before "a", the branch routing
    /// "a" to the second): the backward walk steps onto a key it already passed and throws;
    /// the other reads answer without trapping.
    func testKeysOutOfOrderThrowWhereAWalkMeetsThem() throws {
        let directory = TemporaryDirectory()
        let (db, txn) = try packed({ sink in
            let first = try append(makeLeafNode([(pair("", "b", 1), value(Array("vb".utf8)))]), sink)
            let second = try append(makeLeafNode([(pair("", "a", 1), value(Array("va".utf8))), (catalog("", 1), count(2))]), sink)
            return try append(makeBranchNode([[], pair("", "a", .max)], children: [first, second]), sink)
        }, in: directory, "disorder")
        defer { txn.invalidate() }
        var cursor = try txn.cursor()
        XCTAssertEqual(try cursor.last()?.key, Array("a".utf8))
        assertCorrupt(try cursor.previous(), "stepping back onto a key passed")
        XCTAssertEqual(try txn.get(Array("a".utf8)), Array("va".utf8))
        XCTAssertEqual(try txn.count, 2)
        // A forward walk steps from "b" to its neighbour "a" in place (no seek past "b"), so it
        // meets the disorder too.
        assertCorrupt(try txn.withEntries { _, _ in true }, "a forward walk")
        _ = Array(try txn.scan())
        XCTAssertNotNil(txn.pendingError, "the forward scan met the disorder")
        txn.pendingError = nil
        _ = Array(try txn.scan(reverse: true))
        XCTAssertNotNil(txn.pendingError, "the reverse scan met the disorder")
        txn.pendingError = nil
        try db.close()
    }

    /// Catalog values that are not a marked BE64 count or a bare tombstone throw `corrupt` from
    /// every read that needs the keyspace (the default keyspace's `count`, which cannot throw,
    /// defers its error to the end of the transaction).
    func testMalformedCatalogValuesThrow() throws {
        let directory = TemporaryDirectory()
        let malformed: [(String, TestLeafValue)] = [
            ("short count", value([0, 0, 0, 1])),
            ("long count", value([UInt8](repeating: 0, count: 9))),
            ("unknown marker", .inline([0x02] + PackedHistoryModel.bigEndian(1))),
            ("tombstone with bytes", .inline([HistoryValue.tombstoneMarker, 0])),
            ("no marker", .inline([])),
            ("overflow", .overflow(page: 1, length: 8)),
        ]
        for (index, (label, bad)) in malformed.enumerated() {
            for named in [false, true] {
                let entries = [(pair("", "k", 1), value([1])), (catalog("", 1), named ? count(1) : bad), (catalog("a", 1), named ? bad : count(0))]
                let (db, txn) = try packed({ try append(makeLeafNode(entries), $0) }, in: directory, "catalog\(index)\(named)")
                if named {
                    assertCorrupt(try txn.keyspace("a"), "\(label): keyspace")
                    assertCorrupt(try txn.keyspaces(), "\(label): keyspaces")
                    XCTAssertEqual(try txn.get(Array("k".utf8)), [1], label)
                } else {
                    assertCorrupt(try txn.count, "\(label): count")
                    assertCorrupt(try txn.defaultKeyspace.count(), "\(label): default count")
                    assertCorrupt(try txn.get(Array("k".utf8)), "\(label): get")
                    assertCorrupt(try txn.cursor(), "\(label): cursor")
                    assertCorrupt(try txn.scan(), "\(label): scan")
                }
                txn.invalidate()
                try db.close()
            }
        }
    }

    /// A tree with pairs but no catalog entry for the default keyspace, and one whose key
    /// cannot be decoded, throw `corrupt`.
    func testMissingDefaultCountAndUndecodableKeysThrow() throws {
        let directory = TemporaryDirectory()
        let (db, txn) = try packed({ try append(makeLeafNode([(pair("", "k", 1), value([1]))]), $0) }, in: directory, "nodefault")
        assertCorrupt(try txn.defaultKeyspace.count(), "no default count")
        txn.invalidate()
        try db.close()
        // Each lies where a read lands: a catalog key with a short version, a bad escape, an
        // unknown kind, a pair key ending inside a key group.
        let undecodable: [[UInt8]] = [[0x02, 0x00, 0x00, 0x01], [0x02, 0x61, 0x00, 0x05, 0x00, 0x00], [0x09, 0x00, 0x00],
                                      [0x01, 0x00, 0x00, 0x6B]]
        for (index, key) in undecodable.enumerated() {
            let entries = [(pair("", "k", 1), value([1])), (key, value([1])), (catalog("", 1), count(1))]
                .sorted { compareBytes($0.0, $1.0) < 0 }
            let (db, txn) = try packed({ try append(makeLeafNode(entries), $0) }, in: directory, "key\(index)")
            assertCorrupt(try readAll(txn), "key \(key)")
            txn.invalidate()
            try db.close()
        }
    }

    /// An empty history tree (root 0) is an empty version: no keys, no named keyspaces.
    func testAnEmptyHistoryTreeReadsAsAnEmptyVersion() throws {
        let directory = TemporaryDirectory()
        let (db, txn) = try packed({ _ in 0 }, in: directory, "empty")
        XCTAssertEqual(try txn.count, 0)
        XCTAssertEqual(try txn.keyspaces(), [])
        XCTAssertNil(try txn.get([1]))
        XCTAssertTrue(Array(try txn.scan(reverse: true)).isEmpty)
        XCTAssertThrowsError(try txn.keyspace("a")) { XCTAssertEqual($0 as? CowDBError, .keyspaceNotFound("a")) }
        var cursor = try txn.cursor()
        XCTAssertNil(try cursor.last())
        txn.invalidate()
        XCTAssertNil(txn.pendingError)
        try db.close()
    }

    /// Lists the keyspaces and walks the default keyspace forward.
    private func readAll(_ txn: ReadTransaction) throws {
        _ = try txn.keyspaces()
        var cursor = try txn.cursor()
        var entry = try cursor.first()
        while entry != nil { entry = try cursor.next() }
    }
}
