// Golden bytes of the commit record, CURRENT, tags, index record, catalog value and lock file, and the limits.

import CCowDBSupport
import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree
import Glibc

extension FormatGoldenTests {
    // MARK: Commit record

    static let commit = CommitRecord(version: 7, timestamp: 1_700_000_000_123_456_789, previousCommit: 8, firstPage: 9,
                                     catalogRoot: 11, defaultRoot: 10, defaultCount: 42, totalCount: 50, regionChecksum: 0xDEAD_BEEF)
    static let commitHex = """
        6daa83f2 04 00 0000 01000000 00000000
        0700000000000000 15cd853dfe9c9717 0800000000000000 0900000000000000
        0b00000000000000 0a00000000000000 2a00000000000000 3200000000000000
        efbeadde 00000000 0000000000000000
        """

    /// The record on page 12 (or `pageNumber`).
    static func commitPage(_ record: CommitRecord = commit, pageNumber: UInt64 = 12) -> (page: [UInt8], checksum: UInt32) {
        var page = [UInt8](repeating: 0, count: pageSize)
        let checksum = page.withUnsafeMutableBytes { record.encode(into: $0, pageNumber: pageNumber) }
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
}
