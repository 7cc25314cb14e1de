import CCowDBSupport
import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree
#if canImport(Glibc)
import Glibc
#endif

// Golden bytes: each on-disk structure encoded from fixed inputs and compared with literal bytes.
// The expected bytes were produced once by an encoder written independently from the tables in
// docs/FORMAT.md (not from the Swift code) and checked by hand against those tables; the
// worked examples in FORMAT.md are the same bytes. A failure here means the format changed:
// change FORMAT.md, the drawing at the top of the structure's file and these bytes together.

final class FormatGoldenTests: XCTestCase {
    static let pageSize = 4096
    static let layout = PageLayout(pageSize: pageSize)

    // MARK: CRC-32C and key heads

    /// The CRC-32C check value ("123456789" → 0xE3069283) on both C paths and the Swift wrapper.
    func testCRC32CKnownAnswer() {
        let input = Array("123456789".utf8)
        input.withUnsafeBytes { bytes in
            XCTAssertEqual(cowdb_crc32c(0, bytes.baseAddress, bytes.count), 0xE306_9283)
            XCTAssertEqual(cowdb_crc32c_portable(0, bytes.baseAddress, bytes.count), 0xE306_9283)
            XCTAssertEqual(crc32c(bytes), 0xE306_9283)
            // Chaining: the CRC of A then B, seeded with the CRC of A, is the CRC of A ++ B.
            let a = UnsafeRawBufferPointer(rebasing: bytes[0 ..< 4])
            let rest = UnsafeRawBufferPointer(rebasing: bytes[4...])
            XCTAssertEqual(crc32c(rest, seed: crc32c(a)), 0xE306_9283)
            XCTAssertEqual(cowdb_crc32c_portable(cowdb_crc32c_portable(0, a.baseAddress, a.count), rest.baseAddress, rest.count), 0xE306_9283)
        }
        XCTAssertEqual(crc32c(UnsafeRawBufferPointer(start: nil, count: 0)), 0)
        XCTAssertEqual(crc32c(UnsafeRawBufferPointer(start: nil, count: 0), seed: 0x1234), 0x1234)
    }

    /// The hardware and table paths agree on every length and alignment around the 8-byte stride.
    func testCRC32CHardwareMatchesPortable() {
        let data = (0 ..< 300).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        data.withUnsafeBytes { bytes in
            for start in 0 ..< 9 {
                for length in 0 ... 200 {
                    let slice = UnsafeRawBufferPointer(rebasing: bytes[start ..< start + length])
                    XCTAssertEqual(cowdb_crc32c(7, slice.baseAddress, length), cowdb_crc32c_portable(7, slice.baseAddress, length),
                                   "start \(start), length \(length)")
                }
            }
        }
    }

    /// Key heads: the first 8 bytes, zero-padded, ordered like memcmp when read big-endian.
    func testKeyHead() {
        XCTAssertEqual(Array("ab".utf8).withUnsafeBytes { keyHead($0) }, 0x6162_0000_0000_0000)
        XCTAssertEqual(Array("banana-split".utf8).withUnsafeBytes { keyHead($0) }, 0x6261_6E61_6E61_2D73)
        XCTAssertEqual([UInt8]().withUnsafeBytes { keyHead($0) }, 0)
        XCTAssertLessThan(Array("a".utf8).withUnsafeBytes { keyHead($0) }, Array("b".utf8).withUnsafeBytes { keyHead($0) })
    }

    // MARK: File header

    static let headerUUID = UUID(uuidString: "00112233-4455-6677-8899-AABBCCDDEEFF")!
    static let header = FileHeader(pageSize: 4096, uuid: headerUUID, generation: 1, createdAt: 1_700_000_000_000_000_000)
    static let headerHex = """
        436f774442000d0a 01000000 00100000 00112233445566778899aabbccddeeff
        0100000000000000 00002a36fe9c9717 000000000000000000000000 9c31e306
        """

    func testFileHeaderGolden() throws {
        let bytes = Self.encodedHeader()
        XCTAssertEqual(hex(bytes), compact(Self.headerHex))
        let decoded = try bytes.withUnsafeBytes { try FileHeader.decode($0, path: "golden") }
        XCTAssertEqual(decoded, Self.header)
        XCTAssertEqual(decoded.formatVersion, 1)
    }

    func testFileHeaderRejectsBadMagic() {
        var bytes = Self.encodedHeader()
        bytes[0] = 0x63 // "cowDB"
        expectError(try bytes.withUnsafeBytes { try FileHeader.decode($0, path: "golden") }) { error in
            guard case let .notADatabase(path, reason) = error else { return XCTFail("expected notADatabase, got \(error)") }
            XCTAssertEqual(path, "golden")
            XCTAssertEqual(reason, "bad magic number")
        }
        let short = Array(Self.encodedHeader()[0 ..< 63])
        expectError(try short.withUnsafeBytes { try FileHeader.decode($0, path: "golden") }) { error in
            guard case .notADatabase = error else { return XCTFail("expected notADatabase, got \(error)") }
        }
    }

    func testFileHeaderRejectsBadChecksum() {
        for offset in [8, 16, 40, 48, 59, 60] {
            var bytes = Self.encodedHeader()
            bytes[offset] ^= 0x01
            expectError(try bytes.withUnsafeBytes { try FileHeader.decode($0, path: "golden") }) { error in
                guard case let .corrupt(page, at, _) = error else { return XCTFail("expected corrupt, got \(error)") }
                XCTAssertEqual(page, 0)
                XCTAssertEqual(at, 60)
            }
        }
    }

    func testFileHeaderRejectsUnknownVersionAndBadPageSize() {
        var newer = Self.encodedHeader()
        newer.withUnsafeMutableBytes { $0.setU32(2, 8); reseal64($0) }
        expectError(try newer.withUnsafeBytes { try FileHeader.decode($0, path: "golden") }) { error in
            XCTAssertEqual(error, .unsupportedFormatVersion(2))
        }
        for pageSize: UInt32 in [2048, 5000, 131_072] {
            var odd = Self.encodedHeader()
            odd.withUnsafeMutableBytes { $0.setU32(pageSize, 12); reseal64($0) }
            expectError(try odd.withUnsafeBytes { try FileHeader.decode($0, path: "golden") }) { error in
                guard case let .corrupt(page, offset, _) = error else { return XCTFail("expected corrupt, got \(error)") }
                XCTAssertEqual(page, 0)
                XCTAssertEqual(offset, 12)
            }
        }
    }

    // MARK: Page header

    /// The checksum covers the page number and bytes [4, end): a page copied elsewhere fails.
    func testPageChecksumBindsPageNumberAndWholeRun() {
        var page = [UInt8](repeating: 0, count: Self.pageSize)
        page.withUnsafeMutableBytes { makeLeafNode([(Array("k".utf8), .inline([1, 2, 3]))]).encode(into: $0) }
        let stored = page.withUnsafeMutableBytes { PageHeader.seal($0, pageNumber: 5) }
        page.withUnsafeBytes { bytes in
            XCTAssertEqual(bytes.u32(0), stored)
            XCTAssertEqual(stored, referenceChecksum(bytes, pageNumber: 5))
            XCTAssertTrue(PageHeader.verify(bytes, pageNumber: 5))
            XCTAssertFalse(PageHeader.verify(bytes, pageNumber: 6))
        }
        for offset in [4, 8, 100, Self.pageSize - 1] { // header fields and the zero padding are covered
            var damaged = page
            damaged[offset] ^= 0x80
            XCTAssertFalse(damaged.withUnsafeBytes { PageHeader.verify($0, pageNumber: 5) }, "offset \(offset)")
        }
    }

    // MARK: Leaf page

    static let leafHex = """
        789195f3 02 00 0200 01000000 00000000
        6170706c65000000 62616e616e612d73
        2400 3300
        0500 00 03000000 6170706c65 726564
        0c00 01 88130000 62616e616e612d73706c6974 0300000000000000
        0000
        """

    /// Page 5: "apple" → "red" inline, "banana-split" → the 5000-byte run at page 3.
    static func leafPage() -> [UInt8] {
        var page = [UInt8](repeating: 0, count: pageSize)
        page.withUnsafeMutableBytes { bytes in
            makeLeafNode([(Array("apple".utf8), .inline(Array("red".utf8))),
                          (Array("banana-split".utf8), .overflow(page: 3, length: 5000))]).encode(into: bytes)
            PageHeader.seal(bytes, pageNumber: 5)
        }
        return page
    }

    func testLeafPageGolden() throws {
        let page = Self.leafPage()
        XCTAssertEqual(hex(page[0 ..< 80]), compact(Self.leafHex))
        XCTAssertTrue(page[80...].allSatisfy { $0 == 0 })
        try page.withUnsafeBytes { bytes in
            let view = try LeafPageView(bytes, number: 5)
            XCTAssertEqual(view.count, 2)
            XCTAssertEqual(Array(try view.key(0)), Array("apple".utf8))
            XCTAssertEqual(Array(try view.key(1)), Array("banana-split".utf8))
            XCTAssertEqual(view.head(1), 0x6261_6E61_6E61_2D73)
            guard case let .inline(value) = try view.value(0) else { return XCTFail("value 0 should be inline") }
            XCTAssertEqual(Array(value), Array("red".utf8))
            guard case let .overflow(run, length) = try view.value(1) else { return XCTFail("value 1 should be an overflow reference") }
            XCTAssertEqual(run, 3)
            XCTAssertEqual(length, 5000)
            for (key, expected) in [("apple", (0, true)), ("b", (1, false)), ("banana-split", (1, true)), ("c", (2, false))] {
                let found = try Array(key.utf8).withUnsafeBytes { try view.lowerBound($0, head: keyHead($0)) }
                XCTAssertEqual(found.index, expected.0, key)
                XCTAssertEqual(found.found, expected.1, key)
            }
        }
        // Node.load reads back what the writer held.
        let node = try page.withUnsafeBytes { try Node.load($0, number: 5) }
        XCTAssertEqual(node.testKeys, [Array("apple".utf8), Array("banana-split".utf8)])
        XCTAssertEqual(node.testValues, [.inline(Array("red".utf8)), .overflow(page: 3, length: 5000)])
        XCTAssertEqual(node.size, 16 + LeafPage.entrySize(keyLength: 5, inlineValueLength: 3) + LeafPage.entrySize(keyLength: 12, inlineValueLength: 8))
        XCTAssertEqual(node.size, 78) // the encoder packs the cells: the last one ends at byte 78
    }

    /// A cell offset pointing past the page, or into the heads and offsets, throws `corrupt` at the offset slot.
    func testLeafCellOffsetOutOfBoundsThrows() throws {
        for badOffset: UInt16 in [4090, 0xFFFF, 20] {
            var page = Self.leafPage()
            page.withUnsafeMutableBytes { $0.setU16(badOffset, 34) } // cell offset of entry 1
            try page.withUnsafeBytes { bytes in
                let view = try LeafPageView(bytes, number: 5)
                XCTAssertEqual(Array(try view.key(0)), Array("apple".utf8))
                expectCorrupt(page: 5, offset: 34) { _ = try view.key(1) }
                expectCorrupt(page: 5, offset: 34) { _ = try view.value(1) }
            }
        }
    }

    /// Lengths that run past the page, and counts that do not fit it, throw `corrupt`.
    func testLeafLengthsOutOfBoundsThrow() throws {
        var longKey = Self.leafPage()
        longKey.withUnsafeMutableBytes { $0.setU16(4090, 36) } // keyLength of cell 0
        try longKey.withUnsafeBytes { bytes in
            let view = try LeafPageView(bytes, number: 5)
            expectCorrupt(page: 5, offset: 36) { _ = try view.key(0) }
        }
        var longValue = Self.leafPage()
        longValue.withUnsafeMutableBytes { $0.setU32(5000, 39) } // valueLength of cell 0 (inline)
        try longValue.withUnsafeBytes { bytes in
            let view = try LeafPageView(bytes, number: 5)
            expectCorrupt(page: 5, offset: 36) { _ = try view.value(0) }
        }
        var tooMany = Self.leafPage()
        tooMany.withUnsafeMutableBytes { $0.setU16(409, 6) } // 16 + 10·409 > 4096
        tooMany.withUnsafeBytes { bytes in
            expectCorrupt(page: 5, offset: 6) { _ = try LeafPageView(bytes, number: 5) }
        }
        let branch = Self.branchPage()
        branch.withUnsafeBytes { bytes in
            expectCorrupt(page: 5, offset: 4) { _ = try LeafPageView(bytes, number: 5) }
        }
    }

    // MARK: Branch page

    static let branchHex = """
        c4552e91 01 00 0300 01000000 00000000
        0000000000000000 6200000000000000 6361740000000000
        0200000000000000 0500000000000000 0700000000000000
        4600 4800 4b00
        0000 010062 0300636174
        """

    /// Page 10: separators "", "b", "cat" over children 2, 5, 7.
    static func branchPage(children: [PageNumber] = [2, 5, 7]) -> [UInt8] {
        var page = [UInt8](repeating: 0, count: pageSize)
        page.withUnsafeMutableBytes { bytes in
            makeBranchNode([[], Array("b".utf8), Array("cat".utf8)], children: children).encode(into: bytes)
            PageHeader.seal(bytes, pageNumber: 10)
        }
        return page
    }

    func testBranchPageGolden() throws {
        let page = Self.branchPage()
        XCTAssertEqual(hex(page[0 ..< 80]), compact(Self.branchHex))
        XCTAssertTrue(page[80...].allSatisfy { $0 == 0 })
        // Removing child 0 makes separator 1 the new separator 0, which is written empty.
        let shrunk = makeBranchNode([[], Array("a".utf8), Array("b".utf8), Array("cat".utf8)], children: [1, 2, 5, 7])
        shrunk.remove(at: 0)
        XCTAssertEqual(shrunk.size, 80)
        var rewritten = [UInt8](repeating: 0, count: Self.pageSize)
        rewritten.withUnsafeMutableBytes { shrunk.encode(into: $0); PageHeader.seal($0, pageNumber: 10) }
        XCTAssertEqual(rewritten, page, "separator 0 is always written empty")
        try page.withUnsafeBytes { bytes in
            let view = try BranchPageView(bytes, number: 10)
            XCTAssertEqual(view.count, 3)
            XCTAssertEqual(try (0 ..< 3).map { try view.child($0) }, [2, 5, 7])
            XCTAssertEqual(try (0 ..< 3).map { Array(try view.key($0)) }, [[], Array("b".utf8), Array("cat".utf8)])
            for (key, child) in [("a", 0), ("b", 1), ("ba", 1), ("cas", 1), ("cat", 2), ("catalog", 2), ("z", 2)] {
                let index = try Array(key.utf8).withUnsafeBytes { try view.childIndex($0, head: keyHead($0)) }
                XCTAssertEqual(index, child, key)
            }
        }
        let node = try page.withUnsafeBytes { try Node.load($0, number: 10) }
        XCTAssertEqual(node.testKeys, [[], Array("b".utf8), Array("cat".utf8)])
        XCTAssertEqual(node.size, 80) // header + 3 × 20 + 0 + 1 + 3
    }

    /// A child whose page number is not below its parent's throws `corrupt` at the child field.
    func testBranchChildNotBelowParentThrows() throws {
        for bad: PageNumber in [10, 11, .max, 0] {
            let page = Self.branchPage(children: [2, bad, 7])
            try page.withUnsafeBytes { bytes in
                let view = try BranchPageView(bytes, number: 10)
                XCTAssertEqual(try view.child(0), 2)
                expectCorrupt(page: 10, offset: 16 + 8 * 3 + 8) { _ = try view.child(1) }
                XCTAssertEqual(try view.child(2), 7)
            }
        }
        var empty = Self.branchPage()
        empty.withUnsafeMutableBytes { $0.setU16(0, 6) }
        empty.withUnsafeBytes { bytes in
            expectCorrupt(page: 10, offset: 6) { _ = try BranchPageView(bytes, number: 10) }
        }
        var badCell = Self.branchPage()
        badCell.withUnsafeMutableBytes { $0.setU16(4095, 16 + 16 * 3 + 2) }
        try badCell.withUnsafeBytes { bytes in
            let view = try BranchPageView(bytes, number: 10)
            expectCorrupt(page: 10, offset: 16 + 16 * 3 + 2) { _ = try view.key(1) }
        }
    }

    // MARK: Overflow run

    static let overflowHex = "1d25d0b6 03 00 0000 02000000 88130000 000102030405060708090a0b0c0d0e0f"
    static let overflowValue: [UInt8] = (0 ..< 5000).map { UInt8($0 % 251) }

    /// The 5000-byte value as a 2-page run at page 3.
    static func overflowRun() -> [UInt8] {
        let runLength = layout.overflowRunLength(valueLength: overflowValue.count)
        var run = [UInt8](repeating: 0, count: runLength * pageSize)
        run.withUnsafeMutableBytes { bytes in
            overflowValue.withUnsafeBytes { OverflowPage.encode(value: $0, runLength: runLength, into: bytes) }
            PageHeader.seal(bytes, pageNumber: 3)
        }
        return run
    }

    func testOverflowRunGolden() throws {
        XCTAssertEqual(Self.layout.overflowRunLength(valueLength: 5000), 2)
        let run = Self.overflowRun()
        XCTAssertEqual(run.count, 2 * Self.pageSize)
        XCTAssertEqual(hex(run[0 ..< 32]), compact(Self.overflowHex))
        XCTAssertEqual(Array(run[16 ..< 5016]), Self.overflowValue)
        XCTAssertTrue(run[5016...].allSatisfy { $0 == 0 })

        // Read back through a PageReader over pages 0–5 (run at 3–4, its leaf at 5), checksums on.
        var file = [UInt8](repeating: 0, count: 6 * Self.pageSize)
        file.replaceSubrange(3 * Self.pageSize ..< 5 * Self.pageSize, with: run)
        try file.withUnsafeBytes { bytes in
            let reader = PageReader(base: bytes.baseAddress!, limit: 6, layout: Self.layout, verification: .everyRead)
            let value = try reader.overflowValue(page: 3, length: 5000, below: 5)
            XCTAssertEqual(Array(value), Self.overflowValue)
            expectCorrupt(page: 3, offset: nil) { _ = try reader.overflowValue(page: 3, length: 4999, below: 5) }
            expectCorrupt(page: 3, offset: nil) { _ = try reader.overflowValue(page: 3, length: 5000, below: 4) }
        }
        file[3 * Self.pageSize + 6000] ^= 1
        file.withUnsafeBytes { bytes in
            let reader = PageReader(base: bytes.baseAddress!, limit: 6, layout: Self.layout, verification: .everyRead)
            expectCorrupt(page: 3, offset: nil) { _ = try reader.overflowValue(page: 3, length: 5000, below: 5) }
        }
    }
}
