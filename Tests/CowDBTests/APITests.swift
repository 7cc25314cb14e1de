import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

/// The public API's contract: results, typed errors for bad input, versions and keyspaces.
final class APITests: XCTestCase {
    func testBasicVersionsAndTimeTravel() throws {
        let directory = TemporaryDirectory()
        let db = try openDatabase(path: directory.path("nested/dirs/basic.cowdb"))
        XCTAssertEqual(db.latestVersion, 0)
        XCTAssertEqual(try db.read { try $0.get(b("a")) }, nil)
        for i in 1 ... 5 {
            try db.write { txn in try txn.put(b("a"), b("v\(i)")) }
            XCTAssertEqual(db.latestVersion, UInt64(i))
        }
        for i in 1 ... 5 {
            XCTAssertEqual(try db.read(at: UInt64(i)) { try $0.get(b("a")) }, b("v\(i)"))
        }
        let versions = try db.versions()
        XCTAssertEqual(versions.map(\.version), [1, 2, 3, 4, 5])
        XCTAssertTrue(zip(versions, versions.dropFirst()).allSatisfy { $0.timestampNanoseconds < $1.timestampNanoseconds })
        XCTAssertEqual(try db.read(asOf: versions[2].timestamp) { $0.version }, 3)
        XCTAssertEqual(try db.read(asOf: Date()) { $0.version }, 5)
        XCTAssertThrowsError(try db.read(asOf: Date(timeIntervalSince1970: 1)) { _ in }) {
            guard case CowDBError.noVersionAsOf = $0 else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try db.read(at: 6) { _ in }) { XCTAssertEqual($0 as? CowDBError, .versionNotFound(6)) }
        XCTAssertEqual(try db.read(at: 0) { try $0.get(b("a")) }, nil)
        // A transaction that changes nothing commits no version.
        try db.write { txn in _ = try txn.get(b("a")) }
        try db.write { txn in XCTAssertFalse(try txn.delete(b("absent"))) }
        XCTAssertEqual(db.latestVersion, 5)
        try db.checkAndClose()
    }

    func testWriteSemantics() throws {
        let directory = TemporaryDirectory()
        let db = try openDatabase(path: directory.path("w"))
        try db.write { txn in
            XCTAssertTrue(try txn.insert(b("k"), b("1")))
            XCTAssertFalse(try txn.insert(b("k"), b("2")))
            XCTAssertEqual(try txn.get(b("k")), b("1"))
            try txn.put(b("empty"), [])
            XCTAssertEqual(try txn.get(b("empty")), [])
            XCTAssertTrue(try txn.delete(b("k")))
            XCTAssertFalse(try txn.delete(b("k")))
            try txn.put(b("k"), b("3"))
        }
        XCTAssertEqual(try db.read { try $0.get(b("k")) }, b("3"))
        XCTAssertEqual(try db.read { try $0.get(b("empty")) }, [])
        // A throw rolls everything back.
        struct Boom: Error {}
        XCTAssertThrowsError(try db.write { txn in
            try txn.put(b("k"), b("lost"))
            _ = try txn.createKeyspace("lost")
            throw Boom()
        })
        XCTAssertEqual(try db.read { try $0.get(b("k")) }, b("3"))
        XCTAssertEqual(try db.read { try $0.keyspaces() }, [])
        XCTAssertEqual(db.latestVersion, 1)
        try db.write { txn in try txn.put(b("after"), b("rollback")) }
        XCTAssertEqual(db.latestVersion, 2)
        try db.checkAndClose()
    }

    func testBadInputGetsTypedErrors() throws {
        let directory = TemporaryDirectory()
        let db = try openDatabase(path: directory.path("bad"))
        let maxKey = db.maxKeySize
        XCTAssertGreaterThanOrEqual(maxKey, 511)
        try db.write { txn in
            XCTAssertThrowsError(try txn.put([], b("v"))) { XCTAssertEqual($0 as? CowDBError, .emptyKey) }
            XCTAssertThrowsError(try txn.get([])) { XCTAssertEqual($0 as? CowDBError, .emptyKey) }
            XCTAssertThrowsError(try txn.put([UInt8](repeating: 1, count: maxKey + 1), b("v"))) {
                XCTAssertEqual($0 as? CowDBError, .keyTooLarge(size: maxKey + 1, maximum: maxKey))
            }
            try txn.put([UInt8](repeating: 1, count: maxKey), [UInt8](repeating: 2, count: 10_000))
            for name in ["", "a\nb", "nul\0", String(repeating: "x", count: 256)] {
                XCTAssertThrowsError(try txn.createKeyspace(name)) { XCTAssertEqual($0 as? CowDBError, .invalidKeyspaceName(name)) }
            }
            XCTAssertThrowsError(try txn.keyspace("missing")) { XCTAssertEqual($0 as? CowDBError, .keyspaceNotFound("missing")) }
            _ = try txn.createKeyspace("users")
            XCTAssertThrowsError(try txn.createKeyspace("users")) { XCTAssertEqual($0 as? CowDBError, .keyspaceExists("users")) }
        }
        XCTAssertEqual(try db.read { try $0.get([UInt8](repeating: 1, count: maxKey)) }?.count, 10_000)
        try db.read { txn in
            XCTAssertThrowsError(try txn.keyspace("users").put(b("k"), b("v"))) { XCTAssertEqual($0 as? CowDBError, .readOnly) }
        }
        XCTAssertThrowsError(try openDatabase(path: directory.path("x"), options: { var o = DatabaseOptions(); o.pageSize = 5000; return o }())) {
            guard case CowDBError.invalidArgument = $0 else { return XCTFail("\($0)") }
        }
        let snapshot = try db.snapshot()
        XCTAssertThrowsError(try db.close()) { guard case CowDBError.busy = $0 else { return XCTFail("\($0)") } }
        snapshot.close()
        try db.checkAndClose()
        XCTAssertThrowsError(try db.read { _ in }) { XCTAssertEqual($0 as? CowDBError, .closed) }
        XCTAssertThrowsError(try db.write { _ in }) { XCTAssertEqual($0 as? CowDBError, .closed) }
        XCTAssertThrowsError(try openDatabase(path: directory.path("nothing"), options: { var o = DatabaseOptions(); o.readOnly = true; return o }())) {
            guard case CowDBError.notADatabase = $0 else { return XCTFail("\($0)") }
        }
    }

    func testLargeValuesAndZeroCopyRead() throws {
        let directory = TemporaryDirectory()
        let db = try openDatabase(path: directory.path("large"), options: { var o = DatabaseOptions(); o.durability = .none; return o }())
        var random = SeededGenerator(seed: 7)
        let big = random.bytes(64 << 20) // 64 MiB: one overflow run
        let medium = random.bytes(300_000)
        try db.write { txn in
            try txn.put(b("big"), big)
            try txn.put(b("medium"), medium)
            try txn.put(b("medium"), medium + [1]) // overwritten in the same transaction
        }
        try db.read { txn in
            let same = try txn.withValue(for: b("big")) { bytes -> Bool in
                big.withUnsafeBytes { expected in bytes.count == expected.count && memcmp(bytes.baseAddress!, expected.baseAddress!, bytes.count) == 0 }
            }
            XCTAssertEqual(same, true)
            XCTAssertEqual(try txn.get(b("medium")), medium + [1])
        }
        XCTAssertEqual(try db.stats().keyspaces[0].overflowPages, (16 + big.count + 4095) / 4096 + (16 + medium.count + 1 + 4095) / 4096)
        try db.checkAndClose()
    }

    func testKeyspacesAreIsolatedAndAtomic() throws {
        let directory = TemporaryDirectory()
        let db = try openDatabase(path: directory.path("ks"))
        try db.write { txn in
            let users = try txn.createKeyspace("users")
            let orders = try txn.createKeyspace("orders")
            try users.put(b("1"), b("ann"))
            try orders.put(b("1"), b("book"))
            try txn.put(b("1"), b("default"))
        }
        try db.write { txn in try txn.dropKeyspace("orders") }
        try db.read { txn in
            XCTAssertEqual(try txn.keyspaces(), ["users"])
            XCTAssertEqual(try txn.keyspace("users").get(b("1")), b("ann"))
            XCTAssertEqual(try txn.get(b("1")), b("default"))
            XCTAssertThrowsError(try txn.keyspace("orders"))
        }
        try db.read(at: 1) { txn in
            XCTAssertEqual(try txn.keyspaces(), ["orders", "users"])
            XCTAssertEqual(try txn.keyspace("orders").get(b("1")), b("book"))
        }
        try db.checkAndClose()
    }

    func testCursorMoves() throws {
        let directory = TemporaryDirectory()
        let db = try openDatabase(path: directory.path("cursor"))
        try db.write { txn in for i in stride(from: 0, to: 2_000, by: 2) { try txn.put(b(String(format: "%05d", i)), b("\(i)")) } }
        try db.read { txn in
            var cursor = try txn.cursor()
            XCTAssertEqual(try cursor.first()?.key, b("00000"))
            XCTAssertEqual(try cursor.last()?.key, b("01998"))
            XCTAssertNil(try cursor.next())
            XCTAssertEqual(try cursor.seek(to: b("00101"))?.key, b("00102"))
            XCTAssertEqual(try cursor.previous()?.key, b("00100"))
            XCTAssertEqual(try cursor.seek(to: b("00100"))?.key, b("00100"))
            XCTAssertNil(try cursor.seek(to: b("9")))
            var count = 0
            var entry = try cursor.first()
            while entry != nil { count += 1; entry = try cursor.next() }
            XCTAssertEqual(count, 1_000)
            let range = Array(try txn.scan(from: b("00010"), to: b("00020")))
            XCTAssertEqual(range.map(\.key), ["00010", "00012", "00014", "00016", "00018"].map(b))
            let backward = Array(try txn.scan(from: b("00010"), to: b("00020"), reverse: true))
            XCTAssertEqual(backward.map(\.key), ["00018", "00016", "00014", "00012", "00010"].map(b))
        }
        // A cursor in a write transaction survives deletes of its key.
        try db.write { txn in
            var cursor = try txn.cursor()
            XCTAssertEqual(try cursor.seek(to: b("00100"))?.key, b("00100"))
            try txn.delete(b("00100"))
            try txn.delete(b("00102"))
            XCTAssertEqual(try cursor.next()?.key, b("00104"))
            try txn.delete(b("00104"))
            XCTAssertEqual(try cursor.previous()?.key, b("00098"))
        }
        try db.checkAndClose()
    }

    /// `withEntries` returns what `scan` returns, for random bounds and limits, over written
    /// pages, over a write transaction's changed nodes, in named keyspaces and with overflow values.
    func testWithEntriesMatchesScan() throws {
        let seed = testSeed("testWithEntriesMatchesScan")
        var random = SeededGenerator(seed: seed)
        let directory = TemporaryDirectory()
        var options = DatabaseOptions()
        options.durability = .none
        let db = try openDatabase(path: directory.path("entries"), options: options)
        func entries(_ txn: ReadTransaction, _ keyspace: Keyspace?, from: [UInt8]?, to: [UInt8]?, limit: Int) throws -> [(key: [UInt8], value: [UInt8])] {
            var result: [(key: [UInt8], value: [UInt8])] = []
            let body = { (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> Bool in
                result.append((Array(key), Array(value)))
                return true
            }
            if let keyspace { try keyspace.withEntries(from: from, to: to, limit: limit, body) } else { try txn.withEntries(from: from, to: to, limit: limit, body) }
            return result
        }
        func check(_ txn: ReadTransaction, _ keyspace: Keyspace?) throws {
            for _ in 0 ..< 40 {
                let from: [UInt8]? = Int.random(in: 0 ..< 4, using: &random) == 0 ? nil : random.bytes(Int.random(in: 0 ... 3, using: &random))
                var to: [UInt8]? = Int.random(in: 0 ..< 4, using: &random) == 0 ? nil : random.bytes(Int.random(in: 0 ... 3, using: &random))
                if let f = from, let t = to, compareBytes(f, t) > 0 { to = f }
                let limit = [0, 1, 10, 500, Int.max][Int.random(in: 0 ..< 5, using: &random)]
                let expected = Array((try keyspace?.scan(from: from, to: to) ?? txn.scan(from: from, to: to)).prefix(limit))
                let got = try entries(txn, keyspace, from: from, to: to, limit: limit)
                XCTAssertEqual(got.map(\.key), expected.map(\.key), "seed \(seed)")
                XCTAssertEqual(got.map(\.value), expected.map(\.value), "seed \(seed)")
            }
        }
        func randomPairs(_ count: Int) -> [([UInt8], [UInt8])] {
            (0 ..< count).map { _ in
                let valueLength = Int.random(in: 0 ..< 50, using: &random) == 0 ? 5_000 : Int.random(in: 0 ... 40, using: &random)
                return (random.bytes(Int.random(in: 1 ... 12, using: &random)), random.bytes(valueLength))
            }
        }
        try db.write { txn in
            let named = try txn.createKeyspace("named")
            for (key, value) in randomPairs(3_000) { try txn.put(key, value) }
            for (key, value) in randomPairs(500) { try named.put(key, value) }
        }
        try db.read { txn in
            try check(txn, nil)
            try check(txn, try txn.keyspace("named"))
            // Stopping early: `body` returning false ends the walk after that entry.
            var seen = 0
            try txn.withEntries { _, _ in seen += 1; return seen < 7 }
            XCTAssertEqual(seen, 7)
        }
        try db.write { txn in
            // Changed nodes next to written pages.
            for (key, value) in randomPairs(300) { try txn.put(key, value) }
            let present = Array(try txn.scan().prefix(900)).map(\.key)
            for key in present where Int.random(in: 0 ..< 3, using: &random) == 0 { try txn.delete(key) }
            try check(txn, nil)
            try check(txn, try txn.keyspace("named"))
        }
        try db.checkAndClose()
    }

    /// A file that outgrows the map's reservation is remapped; old readers keep the old map.
    func testFileOutgrowingTheMapReservation() throws {
        let directory = TemporaryDirectory()
        var options = DatabaseOptions()
        options.mapReservation = 8192
        options.durability = .none
        let db = try openDatabase(path: directory.path("small-map"), options: options)
        try db.write { txn in for i in 0 ..< 200 { try txn.put(b("k\(i)"), [UInt8](repeating: 7, count: 200)) } }
        let snapshot = try db.snapshot()
        for round in 0 ..< 20 {
            try db.write { txn in for i in 0 ..< 200 { try txn.put(b("k\(i)"), [UInt8](repeating: UInt8(round), count: 200 + round)) } }
        }
        XCTAssertEqual(try snapshot.get(b("k5")), [UInt8](repeating: 7, count: 200))
        XCTAssertEqual(try db.read { try $0.get(b("k5")) }, [UInt8](repeating: 19, count: 219))
        snapshot.close()
        try db.checkAndClose()
    }

    func testSecondWriterInSameProcessIsLocked() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("locked")
        let db = try openDatabase(path: path)
        XCTAssertThrowsError(try openDatabase(path: path)) { XCTAssertEqual($0 as? CowDBError, .locked(path: path + "/lock")) }
        var options = DatabaseOptions()
        options.lockTimeout = 0.2
        let started = Date()
        XCTAssertThrowsError(try openDatabase(path: path, options: options))
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 0.19)
        // A read-only open works beside the writer.
        var readOnly = DatabaseOptions()
        readOnly.readOnly = true
        let reader = try openDatabase(path: path, options: readOnly)
        try db.write { try $0.put(b("k"), b("v")) }
        XCTAssertEqual(try reader.read { try $0.get(b("k")) }, b("v"))
        XCTAssertThrowsError(try reader.write { _ in }) { XCTAssertEqual($0 as? CowDBError, .readOnly) }
        try reader.close()
        try db.close()
        let again = try openDatabase(path: path)
        try again.checkAndClose()
    }
}
