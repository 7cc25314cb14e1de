import CowDBTestSupport
import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

/// Round trips through the one codec of each page type's cells and pages (LeafPage, BranchPage)
/// and of the catalog value (CatalogValue), and damage to a catalog value on disk.
final class CodecTests: XCTestCase {
    /// A random leaf value: inline bytes, or (one time in four) an overflow reference.
    private func randomValue(_ random: inout SeededGenerator) -> TestLeafValue {
        Int.random(in: 0 ..< 4, using: &random) == 0
            ? .overflow(page: UInt64.random(in: 1 ... UInt64.max, using: &random), length: Int.random(in: 0 ... Int(UInt32.max), using: &random))
            : .inline(random.bytes(Int.random(in: 0 ... 50, using: &random)))
    }

    /// `body` with `value` as the engine's `StoredValue`.
    private func withStored<R>(_ value: TestLeafValue, _ body: (StoredValue) throws -> R) rethrows -> R {
        switch value {
        case let .inline(bytes): try bytes.withUnsafeBytes { try body(.inline($0)) }
        case let .overflow(page, length): try body(.overflow(page: page, length: length))
        }
    }

    /// `value` copied out of the page or cell it points into.
    private func copied(_ value: StoredValue) -> TestLeafValue {
        switch value {
        case let .inline(bytes): .inline(Array(bytes))
        case let .overflow(page, length): .overflow(page: page, length: length)
        }
    }

    func testLeafCellRoundTrip() {
        let seed = testSeed("leaf-cell")
        var random = SeededGenerator(seed: seed)
        for round in 0 ..< 500 {
            let key = random.bytes(Int.random(in: 0 ... 40, using: &random))
            let value = randomValue(&random)
            let context = "seed \(seed) round \(round)"
            withStored(value) { stored in
                let size = LeafPage.cellSize(keyLength: key.count, value: stored)
                var cell = [UInt8](repeating: 0xEE, count: size)
                cell.withUnsafeMutableBytes { bytes in key.withUnsafeBytes { LeafPage.writeCell(bytes.baseAddress!, key: $0, value: stored) } }
                cell.withUnsafeBytes { bytes in
                    let base = bytes.baseAddress!
                    XCTAssertEqual(LeafPage.cellSize(ofCell: base), size, context)
                    XCTAssertEqual(LeafPage.keyLength(ofCell: base), key.count, context)
                    XCTAssertEqual(Array(LeafPage.key(ofCell: base)), key, context)
                    XCTAssertEqual(copied(LeafPage.value(ofCell: base)), value, context)
                    XCTAssertEqual(LeafPage.entrySize(ofCell: base), LeafPage.tableEntrySize + size, context)
                }
            }
        }
    }

    func testLeafCellBytesAreTheDrawnLayout() {
        // FORMAT.md's example: "apple" → "red" inline, "banana-split" → 5000 bytes in the run at page 3.
        var cell = [UInt8](repeating: 0, count: 15)
        cell.withUnsafeMutableBytes { bytes in
            Array("apple".utf8).withUnsafeBytes { key in Array("red".utf8).withUnsafeBytes { LeafPage.writeCell(bytes.baseAddress!, key: key, value: .inline($0)) } }
        }
        XCTAssertEqual(cell, [5, 0, 0, 3, 0, 0, 0] + Array("applered".utf8))
        var overflow = [UInt8](repeating: 0, count: 27)
        overflow.withUnsafeMutableBytes { bytes in
            Array("banana-split".utf8).withUnsafeBytes { LeafPage.writeCell(bytes.baseAddress!, key: $0, value: .overflow(page: 3, length: 5000)) }
        }
        XCTAssertEqual(overflow, [12, 0, 1, 0x88, 0x13, 0, 0] + Array("banana-split".utf8) + [3, 0, 0, 0, 0, 0, 0, 0])
    }

    func testLeafPageRoundTrip() throws {
        let seed = testSeed("leaf-page")
        var random = SeededGenerator(seed: seed)
        for round in 0 ..< 50 {
            var entries: [[UInt8]: TestLeafValue] = [:]
            for _ in 0 ..< Int.random(in: 0 ... 40, using: &random) { entries[random.bytes(Int.random(in: 1 ... 20, using: &random))] = randomValue(&random) }
            let sorted = entries.sorted { $0.key.lexicographicallyPrecedes($1.key) }
            let node = makeLeafNode(sorted.map { ($0.key, $0.value) })
            var page = [UInt8](repeating: 0, count: 4096)
            try page.withUnsafeMutableBytes { bytes in
                node.encode(into: bytes)
                let view = try LeafPageView(UnsafeRawBufferPointer(bytes), number: 9)
                XCTAssertEqual(view.count, sorted.count, "seed \(seed) round \(round)")
                XCTAssertEqual(try view.storedSize(), node.size, "seed \(seed) round \(round)")
                for (i, entry) in sorted.enumerated() {
                    XCTAssertEqual(view.head(i), entry.key.withUnsafeBytes { keyHead($0) }, "seed \(seed) round \(round) entry \(i)")
                    let (key, value) = try view.entry(i)
                    XCTAssertEqual(Array(key), entry.key, "seed \(seed) round \(round) entry \(i)")
                    XCTAssertEqual(copied(value), entry.value, "seed \(seed) round \(round) entry \(i)")
                }
            }
        }
    }

    func testBranchCellAndPageRoundTrip() throws {
        let seed = testSeed("branch-page")
        var random = SeededGenerator(seed: seed)
        for round in 0 ..< 50 {
            var keys = Set<[UInt8]>()
            for _ in 0 ..< Int.random(in: 0 ... 40, using: &random) { keys.insert(random.bytes(Int.random(in: 1 ... 20, using: &random))) }
            let separators = [[]] + keys.sorted { $0.lexicographicallyPrecedes($1) }
            let children = (0 ..< separators.count).map { PageNumber($0 + 1) }
            let node = makeBranchNode(separators, children: children)
            var page = [UInt8](repeating: 0, count: 4096)
            try page.withUnsafeMutableBytes { bytes in
                node.encode(into: bytes)
                let view = try BranchPageView(UnsafeRawBufferPointer(bytes), number: 1000)
                XCTAssertEqual(view.count, separators.count, "seed \(seed) round \(round)")
                for (i, separator) in separators.enumerated() {
                    XCTAssertEqual(Array(try view.key(i)), separator, "seed \(seed) round \(round) entry \(i)")
                    XCTAssertEqual(try view.child(i), children[i], "seed \(seed) round \(round) entry \(i)")
                    let cell = bytes.baseAddress! + Int(UnsafeRawBufferPointer(bytes).u16(BranchPage.cellOffsetOffset(i, count: view.count)))
                    XCTAssertEqual(BranchPage.cellSize(ofCell: cell), BranchPage.cellHeaderSize + separator.count)
                    XCTAssertEqual(BranchPage.entrySize(ofCell: cell), BranchPage.entrySize(keyLength: separator.count))
                }
            }
        }
    }

    func testCatalogValueRoundTripAndDamage() throws {
        let seed = testSeed("catalog-value")
        var random = SeededGenerator(seed: seed)
        for _ in 0 ..< 200 {
            let value = CatalogValue(root: UInt64.random(in: 0 ..< 1 << 40, using: &random), count: UInt64.random(in: 0 ... .max, using: &random))
            let decoded = try value.encoded().withUnsafeBytes { try CatalogValue.decode($0, keyspace: "ks", page: 7, limit: 1 << 40) }
            XCTAssertEqual(decoded, value, "seed \(seed)")
        }
        func assertCorrupt(_ bytes: [UInt8], limit: PageNumber, mentioning: String, line: UInt = #line) {
            XCTAssertThrowsError(try bytes.withUnsafeBytes { try CatalogValue.decode($0, keyspace: "ks", page: 7, limit: limit) }, line: line) { error in
                guard case let CowDBError.corrupt(page, _, reason) = error else { return XCTFail("\(error)", line: line) }
                XCTAssertEqual(page, 7, line: line)
                XCTAssertTrue(reason.contains("\"ks\"") && reason.contains(mentioning), reason, line: line)
            }
        }
        let good = CatalogValue(root: 17, count: 3).encoded()
        assertCorrupt(Array(good.prefix(15)), limit: 100, mentioning: "15 bytes")
        assertCorrupt(good + [0], limit: 100, mentioning: "17 bytes")
        assertCorrupt([], limit: 100, mentioning: "0 bytes")
        assertCorrupt(good, limit: 17, mentioning: "root page 17")
    }

    /// A catalog value whose root points past the file (checksum recomputed, so only the
    /// decoder can tell): opening the keyspace throws `corrupt` naming the catalog's leaf, and
    /// `check()` reports it.
    func testDamagedCatalogValueOnDiskThrowsCorrupt() throws {
        let directory = TemporaryDirectory()
        let intact = directory.path("intact"), path = directory.path("damaged")
        do {
            let db = try openDatabase(path: intact)
            try db.write { txn in try txn.keyspaceCreatingIfMissing("ks").put([1], [2]) }
            try db.close()
        }
        try FileManager.default.copyItem(atPath: intact, toPath: path)
        // The catalog holds one keyspace: its root is a leaf whose only value is 16 bytes.
        let data = directory.path("damaged/data")
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: data)))
        let pageSize = 4096
        let leaf = (1 ..< bytes.count / pageSize).last { number in
            bytes.withUnsafeBytes { file in
                let page = UnsafeRawBufferPointer(rebasing: file[number * pageSize ..< (number + 1) * pageSize])
                guard let view = try? LeafPageView(page, number: PageNumber(number)), view.count == 1,
                      let (key, value) = try? view.entry(0), Array(key) == Array("ks".utf8),
                      case let .inline(stored) = value else { return false }
                return stored.count == CatalogValue.size
            }
        }
        let number = try XCTUnwrap(leaf)
        bytes.withUnsafeMutableBytes { file in
            let page = UnsafeMutableRawBufferPointer(rebasing: file[number * pageSize ..< (number + 1) * pageSize])
            let cell = Int(UnsafeRawBufferPointer(page).u16(LeafPage.cellOffsetOffset(0, count: 1)))
            page.setU64(1 << 40, cell + LeafPage.cellHeaderSize + "ks".utf8.count + CatalogValue.rootOffset)
            PageHeader.seal(page, pageNumber: PageNumber(number))
        }
        try Data(bytes).write(to: URL(fileURLWithPath: data))
        let db = try Database(path: path) // unchecked-open: damaged on purpose
        defer { try? db.close() }
        XCTAssertThrowsError(try db.read { txn in try txn.keyspace("ks").get([1]) }) { error in
            guard case let CowDBError.corrupt(page, _, reason) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(page, PageNumber(number))
            XCTAssertTrue(reason.contains("root page \(1 << 40)"), reason)
        }
        let report = try db.checkReport()
        XCTAssertTrue(report.problems.contains { $0.page == PageNumber(number) && $0.message.contains("root page \(1 << 40)") }, "\(report.problems)")
    }
}
