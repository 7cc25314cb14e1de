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

    // MARK: Commit record

    static let commit = CommitRecord(version: 7, timestamp: 1_700_000_000_123_456_789, previousCommit: 8, firstPage: 9,
                                     catalogRoot: 11, defaultRoot: 10, defaultCount: 42, totalCount: 50, regionChecksum: 0xDEAD_BEEF)
    static let commitHex = """
        6daa83f2 04 00 0000 01000000 00000000
        0700000000000000 15cd853dfe9c9717 0800000000000000 0900000000000000
        0b00000000000000 0a00000000000000 2a00000000000000 3200000000000000
        efbeadde 00000000 0000000000000000
        """

    /// The record on page 12.
    static func commitPage(_ record: CommitRecord = commit) -> (page: [UInt8], checksum: UInt32) {
        var page = [UInt8](repeating: 0, count: pageSize)
        let checksum = page.withUnsafeMutableBytes { record.encode(into: $0, pageNumber: 12) }
        return (page, checksum)
    }

    func testCommitRecordGolden() throws {
        let (page, checksum) = Self.commitPage()
        XCTAssertEqual(hex(page[0 ..< 96]), compact(Self.commitHex))
        XCTAssertTrue(page[96...].allSatisfy { $0 == 0 })
        XCTAssertEqual(checksum, 0xF283_AA6D)
        try page.withUnsafeBytes { bytes in
            XCTAssertTrue(PageHeader.verify(bytes, pageNumber: 12))
            XCTAssertEqual(try CommitRecord.decode(bytes, pageNumber: 12), Self.commit)
        }
    }

    /// The rollback and compacted flags: bytes 84 and 88; unknown flags and a rollback field
    /// without its flag (or not below the version) are corruption.
    func testCommitRecordFlagsGolden() throws {
        var record = Self.commit
        record.rolledBackFrom = 3
        record.compacted = true
        let (page, _) = Self.commitPage(record)
        XCTAssertEqual(hex(page[84 ..< 96]), "03000000" + "0300000000000000")
        try page.withUnsafeBytes { XCTAssertEqual(try CommitRecord.decode($0, pageNumber: 12), record) }
        XCTAssertTrue(record.follows(2) && record.follows(6) && !record.follows(7))
        XCTAssertTrue(Self.commit.follows(6) && !Self.commit.follows(5))
        for (offset, value) in [(84, UInt32(4)), (84, UInt32(0))] {
            var bad = page
            bad.withUnsafeMutableBytes { $0.setU32(value, offset) } // unknown flag; a rollback field without its flag
            bad.withUnsafeBytes { bytes in expectCorrupt(page: 12, offset: nil) { _ = try CommitRecord.decode(bytes, pageNumber: 12) } }
        }
        record.rolledBackFrom = 7 // not below the version
        let (late, _) = Self.commitPage(record)
        late.withUnsafeBytes { bytes in expectCorrupt(page: 12, offset: nil) { _ = try CommitRecord.decode(bytes, pageNumber: 12) } }
    }

    // MARK: CURRENT and tags

    func testCurrentFileGolden() throws {
        let bytes = CurrentFile.encode(generation: 2)
        XCTAssertEqual(hex(bytes[...]), "436f774355525200" + "0200000000000000" + "0c768224")
        XCTAssertEqual(try CurrentFile.decode(bytes, path: "CURRENT"), 2)
        XCTAssertEqual(CurrentFile.dataName(1), "data")
        XCTAssertEqual(CurrentFile.indexName(1), "index")
        XCTAssertEqual(CurrentFile.dataName(3), "data.3")
        XCTAssertEqual(CurrentFile.indexName(3), "index.3")
        var damaged = bytes
        damaged[9] ^= 1
        XCTAssertThrowsError(try CurrentFile.decode(damaged, path: "CURRENT"))
        XCTAssertThrowsError(try CurrentFile.decode(Array(bytes.prefix(19)), path: "CURRENT"))
        XCTAssertThrowsError(try CurrentFile.decode(CurrentFile.encode(generation: 0), path: "CURRENT"))
    }

    func testTagsFileGolden() throws {
        let bytes = TagFile.encode([Tag(name: "v1", version: 5, createdAtNanoseconds: 7)])
        XCTAssertEqual(hex(bytes[...]), "436f775461677300" + "01000000" + "01000000" + "0200" + "7631"
                       + "0500000000000000" + "0700000000000000" + "fc4b7404")
        XCTAssertEqual(try TagFile.decode(bytes, path: "tags"), [Tag(name: "v1", version: 5, createdAtNanoseconds: 7)])
    }

    /// Links at or past the record's own page, and a page of another kind, are rejected.
    func testCommitRecordRejectsForwardLinks() {
        var forward: [CommitRecord] = []
        var record = Self.commit
        record.defaultRoot = 12; forward.append(record)
        record = Self.commit; record.catalogRoot = 13; forward.append(record)
        record = Self.commit; record.previousCommit = 12; forward.append(record)
        record = Self.commit; record.firstPage = 13; forward.append(record)
        record = Self.commit; record.firstPage = 0; forward.append(record)
        for record in forward {
            let (page, _) = Self.commitPage(record)
            page.withUnsafeBytes { bytes in expectCorrupt(page: 12, offset: nil) { _ = try CommitRecord.decode(bytes, pageNumber: 12) } }
        }
        Self.leafPage().withUnsafeBytes { bytes in
            expectCorrupt(page: 12, offset: 4) { _ = try CommitRecord.decode(bytes, pageNumber: 12) }
        }
    }

    // MARK: Index record

    static let indexHex = """
        0700000000000000 15cd853dfe9c9717 0c00000000000000 0b00000000000000
        0a00000000000000 3200000000000000 04000000 01000000 00000000 f9bff047
        """

    func testIndexRecordGolden() throws {
        let record = IndexRecord(commit: Self.commit, page: 12, synced: true)
        XCTAssertEqual(record, IndexRecord(version: 7, timestamp: 1_700_000_000_123_456_789, commitPage: 12, catalogRoot: 11,
                                           defaultRoot: 10, totalCount: 50, appendedPages: 4, flags: 1))
        XCTAssertTrue(record.isSynced)
        XCTAssertEqual(hex(record.encoded), compact(Self.indexHex))
        XCTAssertEqual(record.encoded.withUnsafeBytes { IndexRecord.decode($0) }, record)
        let unsynced = IndexRecord(commit: Self.commit, page: 12, synced: false)
        XCTAssertFalse(unsynced.isSynced)
        XCTAssertEqual(unsynced.encoded.withUnsafeBytes { IndexRecord.decode($0) }, unsynced)
    }

    /// Any damaged byte, or a short record, decodes to nil.
    func testIndexRecordDecodeRejectsDamage() {
        let encoded = IndexRecord(commit: Self.commit, page: 12, synced: true).encoded
        for offset in 0 ..< IndexRecord.size {
            var damaged = encoded
            damaged[offset] ^= 0xFF
            XCTAssertNil(damaged.withUnsafeBytes { IndexRecord.decode($0) }, "flipped byte \(offset)")
        }
        XCTAssertNil(Array(encoded[0 ..< 63]).withUnsafeBytes { IndexRecord.decode($0) })
        XCTAssertNil([UInt8](repeating: 0xFF, count: 64).withUnsafeBytes { IndexRecord.decode($0) })
    }

    // MARK: Catalog value and lock file

    func testCatalogValueGolden() {
        XCTAssertEqual(hex(CatalogValue(root: 17, count: 3).encoded()), "11000000000000000300000000000000")
        XCTAssertEqual(CatalogValue(root: 0, count: 0).encoded(), [UInt8](repeating: 0, count: 16))
    }

    /// The shared page after one and two publications (the seqlock counter ends even).
    func testLockFileSharedPageGolden() throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/lock"
        let lock = try LockFile(path: path, writable: true, fileMode: 0o644)
        XCTAssertNil(lock.published())
        lock.publish(version: 7, commitPage: 12, generation: 1, indexCount: 7)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(bytes.count, LockFile.size)
        XCTAssertEqual(hex(bytes[0 ..< 48]), compact("""
            436f7744424c636b 0200000000000000 0700000000000000 0c00000000000000
            0100000000000000 0700000000000000
            """))
        XCTAssertEqual(bytes.withUnsafeBytes { $0.u64(48) }, UInt64(getpid()))
        XCTAssertTrue(bytes[56...].allSatisfy { $0 == 0 })
        let published = try XCTUnwrap(lock.published())
        XCTAssertEqual(published.version, 7)
        XCTAssertEqual(published.commitPage, 12)
        XCTAssertEqual(published.generation, 1)
        XCTAssertEqual(published.indexCount, 7)

        lock.publish(version: 8, commitPage: 15, generation: 1, indexCount: 8)
        bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(bytes.withUnsafeBytes { $0.u64(8) }, 4)
        XCTAssertEqual(lock.published()?.version, 8)
    }

    // MARK: Limits

    func testLimits() {
        XCTAssertEqual(Self.layout.maxEntrySize, 1020)
        XCTAssertEqual(Self.layout.maxKeySize, 992)
        let large = PageLayout(pageSize: 65536)
        XCTAssertEqual(large.maxEntrySize, 16380)
        XCTAssertEqual(large.maxKeySize, 16352)
        // Inline iff 17 + k + L ≤ maxEntrySize.
        XCTAssertTrue(Self.layout.valueIsInline(keyLength: 5, valueLength: 998))
        XCTAssertFalse(Self.layout.valueIsInline(keyLength: 5, valueLength: 999))
        XCTAssertTrue(large.valueIsInline(keyLength: 8, valueLength: 16355))
        XCTAssertFalse(large.valueIsInline(keyLength: 8, valueLength: 16356))
        // The widest entries still fit four to a page.
        XCTAssertLessThanOrEqual(LeafPage.entrySize(keyLength: Self.layout.maxKeySize, inlineValueLength: 8), Self.layout.maxEntrySize)
        XCTAssertLessThanOrEqual(BranchPage.entrySize(keyLength: Self.layout.maxKeySize), Self.layout.maxEntrySize)
        // Overflow runs: ⌈(16 + L) / pageSize⌉ pages.
        XCTAssertEqual(Self.layout.overflowRunLength(valueLength: 4080), 1)
        XCTAssertEqual(Self.layout.overflowRunLength(valueLength: 4081), 2)
        XCTAssertEqual(Self.layout.overflowRunLength(valueLength: PageLayout.maxValueSize), 262_145)
        XCTAssertEqual(PageLayout.maxValueSize, 1 << 30)
        XCTAssertEqual(PageLayout.maxDepth, 48)
        XCTAssertEqual([2048, 4096, 6144, 8192, 65536, 131_072].map(PageLayout.isValidPageSize), [false, true, false, true, true, false])
    }

    // MARK: A real database, read by FORMAT.md's rules

    /// Writes two commits through the public API, then walks `data`, `index` and `lock` with
    /// nothing but the rules in FORMAT.md: header, every run's checksum, the region checksums,
    /// the commit chain, the index records and the published version.
    func testDatabaseFilesFollowTheFormat() throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/db"
        do {
            let db = try Database(path: path) // unchecked-open: the test removes its own directory; checked here, at close
            try db.write { txn in
                try txn.put(Array("apple".utf8), Array("red".utf8))
                try txn.put(Array("big".utf8), Self.overflowValue)
                try txn.createKeyspace("fruit").put(Array("pear".utf8), Array("green".utf8))
            }
            try db.write { txn in try txn.put(Array("banana".utf8), Array("yellow".utf8)) }
            try db.checkAndClose()
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + "/data.tmp"))
        let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path + "/data")))
        let index = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path + "/index")))
        let lock = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path + "/lock")))
        let pageSize = 4096

        try data.withUnsafeBytes { file in
            // Page 0.
            XCTAssertEqual(Array(file[0 ..< 8]), FileHeader.magic)
            XCTAssertEqual(file.u32(8), 1)
            XCTAssertEqual(file.u32(12), UInt32(pageSize))
            XCTAssertEqual(file.u64(32), 1)
            XCTAssertEqual(file.u32(60), referenceCRC(Array(file[0 ..< 60])))
            XCTAssertTrue(file[64 ..< pageSize].allSatisfy { $0 == 0 })
            XCTAssertEqual(file.count % pageSize, 0)

            // The runs, region by region.
            var commits: [(page: UInt64, record: CommitRecord)] = []
            var regionStart: UInt64 = 1
            var runChecksums: [UInt8] = []
            var page: UInt64 = 1
            let pages = UInt64(file.count / pageSize)
            while page < pages {
                let at = Int(page) * pageSize
                let kind = file[at + 4]
                let runLength = UInt64(file.u32(at + 8))
                XCTAssertTrue((1 ... 4).contains(kind), "page \(page) kind \(kind)")
                XCTAssertEqual(file[at + 5], 0, "page \(page) flags")
                let expectedRun = kind == 3 ? (16 + UInt64(file.u32(at + 12)) + UInt64(pageSize) - 1) / UInt64(pageSize) : 1
                XCTAssertEqual(runLength, expectedRun, "page \(page) run length")
                let run = UnsafeRawBufferPointer(rebasing: file[at ..< at + Int(runLength) * pageSize])
                XCTAssertEqual(run.u32(0), referenceChecksum(run, pageNumber: page), "page \(page) checksum")
                if kind == 4 {
                    let record = try CommitRecord.decode(run, pageNumber: page)
                    XCTAssertEqual(record.version, UInt64(commits.count + 1))
                    XCTAssertEqual(record.previousCommit, commits.last?.page ?? 0)
                    XCTAssertEqual(record.firstPage, regionStart)
                    XCTAssertEqual(record.regionChecksum, referenceCRC(runChecksums))
                    XCTAssertGreaterThan(record.timestamp, commits.last?.record.timestamp ?? 0)
                    XCTAssertTrue(run[84 ..< pageSize].allSatisfy { $0 == 0 })
                    commits.append((page, record))
                    regionStart = page + 1
                    runChecksums = []
                } else {
                    runChecksums += Array(run[0 ..< 4])
                }
                page += runLength
            }
            XCTAssertEqual(commits.count, 2)
            XCTAssertEqual(commits.last?.page, pages - 1, "the file ends with a commit record")
            XCTAssertEqual(commits.map(\.record.defaultCount), [2, 3])
            XCTAssertEqual(commits.map(\.record.totalCount), [3, 4])
            XCTAssertTrue(commits.allSatisfy { $0.record.catalogRoot != 0 && $0.record.defaultRoot != 0 })

            // The index: one synced record per commit, agreeing with the commit records.
            XCTAssertEqual(index.count, commits.count * 64)
            for (i, commit) in commits.enumerated() {
                let bytes = Array(index[64 * i ..< 64 * i + 64])
                try bytes.withUnsafeBytes { record in
                    XCTAssertEqual(record.u32(60), referenceCRC(Array(bytes[0 ..< 60])))
                    XCTAssertEqual(record.u64(0), commit.record.version)
                    XCTAssertEqual(record.u64(8), commit.record.timestamp)
                    XCTAssertEqual(record.u64(16), commit.page)
                    XCTAssertEqual(record.u64(24), commit.record.catalogRoot)
                    XCTAssertEqual(record.u64(32), commit.record.defaultRoot)
                    XCTAssertEqual(record.u64(40), commit.record.totalCount)
                    XCTAssertEqual(UInt64(record.u32(48)), commit.page - commit.record.firstPage + 1)
                    XCTAssertEqual(record.u32(52), 1, "synced")
                    XCTAssertEqual(record.u32(56), 0)
                    _ = try XCTUnwrap(IndexRecord.decode(record))
                }
            }

            // The lock file announces the latest commit.
            lock.withUnsafeBytes { shared in
                XCTAssertEqual(Array(shared[0 ..< 8]), Array("CowDBLck".utf8))
                XCTAssertEqual(shared.u64(8) % 2, 0)
                XCTAssertEqual(shared.u64(16), 2)
                XCTAssertEqual(shared.u64(24), commits.last?.page)
                XCTAssertEqual(shared.u64(32), 1)
                XCTAssertEqual(shared.u64(40), 2)
            }
        }
    }

    // MARK: Helpers

    static func encodedHeader() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 64)
        bytes.withUnsafeMutableBytes { header.encode(into: $0) }
        return bytes
    }

    /// A fresh directory under the system's temporary directory.
    static func temporaryDirectory() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cowdb-format-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

// MARK: - Reference definitions, written from FORMAT.md

/// CRC-32C computed bit by bit (reflected polynomial 0x82F63B78), independent of the C code.
private func referenceCRC(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0 ..< 8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
    }
    return ~crc
}

/// A run's checksum as FORMAT.md defines it: CRC-32C of the page number (u64 LE), then bytes [4, end).
private func referenceChecksum(_ run: UnsafeRawBufferPointer, pageNumber: UInt64) -> UInt32 {
    var bytes = (0 ..< 8).map { UInt8(truncatingIfNeeded: pageNumber >> (8 * UInt64($0))) }
    bytes += run[4...]
    return referenceCRC(bytes)
}

/// Recomputes the file header's checksum after a test changed a field.
private func reseal64(_ bytes: UnsafeMutableRawBufferPointer) {
    bytes.setU32(crc32c(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[0 ..< 60])), 60)
}

/// Lowercase hex of some bytes.
private func hex(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

/// A hex literal with its spaces and line breaks removed.
private func compact(_ literal: String) -> String {
    literal.filter { !$0.isWhitespace }
}

/// Asserts that `body` throws a `CowDBError` and hands it to `check`.
private func expectError<T>(_ body: @autoclosure () throws -> T, file: StaticString = #filePath, line: UInt = #line,
                            _ check: (CowDBError) -> Void) {
    do {
        _ = try body()
        XCTFail("expected an error", file: file, line: line)
    } catch let error as CowDBError {
        check(error)
    } catch {
        XCTFail("expected a CowDBError, got \(error)", file: file, line: line)
    }
}

/// Asserts that `body` throws `corrupt` naming `page` and (when given) `offset`.
private func expectCorrupt(page: UInt64, offset: Int?, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("expected corrupt(page: \(page))", file: file, line: line)
    } catch let CowDBError.corrupt(actualPage, actualOffset, reason) {
        XCTAssertEqual(actualPage, page, reason, file: file, line: line)
        if let offset { XCTAssertEqual(actualOffset, offset, reason, file: file, line: line) }
    } catch {
        XCTFail("expected corrupt, got \(error)", file: file, line: line)
    }
}
