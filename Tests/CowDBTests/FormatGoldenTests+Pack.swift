// Golden bytes of packed history (FORMAT.md, "Pack commit", "Index file", "Packed history
// tree"): the pack commit, the version table, the pack commit's index record and a record the
// index view serves for a packed version, the history tree's keys and values, and a small real
// database packed by compaction, read back from its files. The expected bytes were computed by
// an encoder written from FORMAT.md's tables (not from the Swift code), as for the other golden
// tests.

import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

extension FormatGoldenTests {
    // MARK: Pack commit, version table, packed index record

    /// A pack commit on page 11 holding versions 3, 5 and 7, its version table at page 10.
    static var packCommit: CommitRecord {
        var record = CommitRecord(version: 7, timestamp: 1_700_000_000_123_456_789, previousCommit: 0, firstPage: 1,
                                  catalogRoot: 9, defaultRoot: 0, defaultCount: 42, totalCount: 50,
                                  regionChecksum: 0xDEAD_BEEF, compacted: true)
        record.pack = CommitRecord.Pack(firstVersion: 3, versionCount: 3, versionTable: 10)
        return record
    }

    static let packCommitHex = """
        b23a4789 04 00 0000 01000000 00000000
        0700000000000000 15cd853dfe9c9717 0000000000000000 0100000000000000
        0900000000000000 0000000000000000 2a00000000000000 3200000000000000
        efbeadde 06000000 0000000000000000
        0300000000000000 0300000000000000 0a00000000000000
        """

    /// The version table of `packCommit`: versions 3, 5, 7 with their timestamps and counts.
    static let versionTable = [
        VersionTable.Entry(version: 3, timestamp: 1_700_000_000_000_000_000, totalCount: 40),
        VersionTable.Entry(version: 5, timestamp: 1_700_000_000_000_000_500, totalCount: 45),
        VersionTable.Entry(version: 7, timestamp: 1_700_000_000_123_456_789, totalCount: 50),
    ]

    static let versionTableHex = """
        0300000000000000 00002a36fe9c9717 2800000000000000
        0500000000000000 f4012a36fe9c9717 2d00000000000000
        0700000000000000 15cd853dfe9c9717 3200000000000000
        """

    func testPackCommitGolden() throws {
        let (page, checksum) = Self.commitPage(Self.packCommit, pageNumber: 11)
        XCTAssertEqual(hex(page[0 ..< 120]), compact(Self.packCommitHex))
        XCTAssertTrue(page[120...].allSatisfy { $0 == 0 })
        XCTAssertEqual(checksum, 0x8947_3AB2)
        try page.withUnsafeBytes { bytes in
            XCTAssertEqual(referenceChecksum(bytes, pageNumber: 11), checksum)
            XCTAssertEqual(try CommitRecord.decode(bytes, pageNumber: 11), Self.packCommit)
        }
    }

    /// A pack commit must be its file's first commit, written by compaction, with no default
    /// root, a table before it and a consistent range; the pack fields of any other commit are 0.
    func testPackCommitRulesGolden() {
        var bad: [(CommitRecord, Int?)] = []
        var record = Self.packCommit
        record.compacted = false; bad.append((record, 84))
        record = Self.packCommit; record.previousCommit = 4; bad.append((record, 84))
        record = Self.packCommit; record.firstPage = 2; bad.append((record, 84))
        record = Self.packCommit; record.defaultRoot = 5; bad.append((record, 84))
        record = Self.packCommit; record.rolledBackFrom = 2; bad.append((record, 84))
        record = Self.packCommit; record.pack?.versionCount = 0; bad.append((record, 96))
        record = Self.packCommit; record.pack?.versionCount = 6; bad.append((record, 96))
        record = Self.packCommit; record.pack?.firstVersion = 8; bad.append((record, 96))
        record = Self.packCommit; record.pack?.versionTable = 11; bad.append((record, 112))
        record = Self.packCommit; record.pack?.versionTable = 0; bad.append((record, 112))
        for (record, offset) in bad {
            let (page, _) = Self.commitPage(record, pageNumber: 11)
            page.withUnsafeBytes { bytes in expectCorrupt(page: 11, offset: offset) { _ = try CommitRecord.decode(bytes, pageNumber: 11) } }
        }
        var (page, _) = Self.commitPage(Self.commit)
        page.withUnsafeMutableBytes { $0.setU64(10, 112) } // a table page without the flag
        page.withUnsafeBytes { bytes in expectCorrupt(page: 12, offset: 96) { _ = try CommitRecord.decode(bytes, pageNumber: 12) } }
    }

    func testVersionTableGolden() throws {
        let bytes = VersionTable.encode(Self.versionTable)
        XCTAssertEqual(hex(bytes), compact(Self.versionTableHex))
        XCTAssertEqual(try bytes.withUnsafeBytes { try VersionTable.decode($0, pack: Self.packCommit, page: 11) }, Self.versionTable)
        // As the value of a one-page overflow run at page 10: the header says 72 bytes.
        var run = [UInt8](repeating: 0, count: Self.pageSize)
        bytes.withUnsafeBytes { value in run.withUnsafeMutableBytes { OverflowPage.encode(value: value, runLength: 1, into: $0) } }
        _ = run.withUnsafeMutableBytes { PageHeader.seal($0, pageNumber: 10) }
        XCTAssertEqual(hex(run[0 ..< 16]), "5b0d8254" + "03" + "00" + "0000" + "01000000" + "48000000")

        // Checks: entries strictly increasing in version and timestamp, first = firstVersion,
        // last = the pack's version, timestamp and count, and exactly versionCount entries.
        var damaged: [[VersionTable.Entry]] = []
        var table = Self.versionTable
        table[1].version = 3; damaged.append(table)
        table = Self.versionTable; table[1].timestamp = table[0].timestamp; damaged.append(table)
        table = Self.versionTable; table[0].version = 2; damaged.append(table)
        table = Self.versionTable; table[2].totalCount = 49; damaged.append(table)
        table = Self.versionTable; table[2].timestamp += 1; damaged.append(table)
        damaged.append(Array(Self.versionTable.dropFirst()))
        for table in damaged {
            VersionTable.encode(table).withUnsafeBytes { bytes in
                expectCorrupt(page: 11, offset: nil) { _ = try VersionTable.decode(bytes, pack: Self.packCommit, page: 11) }
            }
        }
    }

    /// The index file's record of `packCommit` (page 11, synced): version 7's, flagged packed,
    /// with the pages of the pack's region (1 … 11).
    static let packIndexHex = """
        0700000000000000 15cd853dfe9c9717 0b00000000000000 0900000000000000
        0000000000000000 3200000000000000 0b000000 03000000 00000000 6ed74bcd
        """

    /// The record the index view serves for version 5, one the file does not hold.
    static let packedIndexHex = """
        0500000000000000 f4012a36fe9c9717 0b00000000000000 0900000000000000
        0000000000000000 2d00000000000000 00000000 03000000 00000000 21372f06
        """

    func testPackedIndexRecordGolden() {
        let own = IndexRecord(commit: Self.packCommit, page: 11, synced: true)
        XCTAssertTrue(own.isPacked && own.isSynced)
        XCTAssertEqual(hex(own.encoded), compact(Self.packIndexHex))
        XCTAssertEqual(own.encoded.withUnsafeBytes { IndexRecord.decode($0) }, own)
        XCTAssertEqual(referenceCRC(Array(own.encoded[0 ..< 60])), 0xCD4B_D76E)

        let record = IndexRecord(packed: Self.versionTable[1], pack: Self.packCommit, page: 11, synced: true)
        XCTAssertTrue(record.isPacked && record.isSynced)
        XCTAssertEqual(hex(record.encoded), compact(Self.packedIndexHex))
        XCTAssertEqual(record.encoded.withUnsafeBytes { IndexRecord.decode($0) }, record)
        XCTAssertEqual(referenceCRC(Array(record.encoded[0 ..< 60])), 0x062F_3721)
    }

    // MARK: History keys and values

    /// FORMAT.md's worked examples of `esc`, `grp` and the three kinds of composite key.
    func testHistoryKeysGolden() throws {
        let examples: [(HistoryKey.Decoded, String)] = [
            (.init(kind: .pair, keyspace: [], key: b("apple"), version: 2),
             "01 0000 6170706c65000000f5 fffffffffffffffd"),
            (.init(kind: .pair, keyspace: [0x61, 0x00, 0x62], key: b("banana-split"), version: 3),
             "01 6100ff620000 62616e616e612d73ff 706c697400000000f4 fffffffffffffffc"),
            (.init(kind: .pair, keyspace: [], key: b("abcdefgh"), version: 1),
             "01 0000 6162636465666768f8 fffffffffffffffe"),
            (.init(kind: .catalog, keyspace: b("fruit"), key: [], version: 5),
             "02 66727569740000 fffffffffffffffa"),
            (.init(kind: .change, keyspace: b("fruit"), key: b("pear"), version: 5),
             "03 0000000000000005 66727569740000 7065617200000000f4"),
        ]
        for (decoded, expected) in examples {
            let out = HistoryKey.encode(decoded)
            XCTAssertEqual(hex(out), compact(expected))
            XCTAssertEqual(try out.withUnsafeBytes { try HistoryKey.decode($0, page: 1) }, decoded)
        }
        XCTAssertEqual(HistoryKey.groupedCount(5), 9)
        XCTAssertEqual(HistoryKey.groupedCount(8), 9)
        XCTAssertEqual(HistoryKey.groupedCount(9), 18)
        XCTAssertEqual(HistoryKey.groupedCount(24), 27)
        XCTAssertEqual(HistoryKey.groupedCount(0), 9)
        XCTAssertEqual(Self.layout.historyMaxEntrySize, 2040)
        XCTAssertEqual(Self.layout.historyMaxKeySize, 2012)
        XCTAssertEqual(1 + (2 * 255 + 2) + HistoryKey.groupedCount(Self.layout.maxKeySize) + 8, 1637)
    }

    /// Inline values carry a marker byte (0x01 value, 0x00 tombstone); overflow values none.
    func testHistoryValuesGolden() throws {
        XCTAssertEqual(hex(b("red").withUnsafeBytes { HistoryValue.inline($0) }), "01726564")
        XCTAssertEqual(hex(HistoryValue.inline(nil)), "00")
        XCTAssertEqual(hex([UInt8]().withUnsafeBytes { HistoryValue.inline($0) }), "01")
        for bad in [[UInt8](), [0x00, 0x01], [0x02]] {
            bad.withUnsafeBytes { bytes in expectCorrupt(page: 4, offset: nil) { _ = try HistoryValue.decode(.inline(bytes), page: 4) } }
        }
    }
}

extension FormatGoldenTests {
    // MARK: A small packed database, read from its files

    /// The history leaf of `testPackedDatabaseGolden` (page 1 of `data.2`, bytes [0, 401)):
    /// versions 1–3 of keys `a` (default keyspace) and `b` (keyspace `k`), and the change
    /// index of version 4, the first kept as a tree.
    static let historyLeafHex = """
        596d63da 02 00 0a00 01000000 00000000
        0100006100000000 0100006100000000 016b000062000000 016b000062000000 020000ffffffffff
        026b0000ffffffff 026b0000ffffffff 0300000000000000 0300000000000000 0300000000000000
        7400 9100 ae00 cb00 e900 0401 2001 3c01 5801 7501
        1400 00 02000000 0100006100000000000000f1fffffffffffffffd 0133
        1400 00 02000000 0100006100000000000000f1fffffffffffffffe 0131
        1500 00 01000000 016b00006200000000000000f1fffffffffffffffc 00
        1500 00 02000000 016b00006200000000000000f1fffffffffffffffe 0132
        0b00 00 09000000 020000fffffffffffffffe 010000000000000001
        0c00 00 09000000 026b0000fffffffffffffffc 010000000000000000
        0c00 00 09000000 026b0000fffffffffffffffe 010000000000000001
        1400 00 01000000 03000000000000000200006100000000000000f1 01
        1500 00 01000000 0300000000000000036b00006200000000000000f1 01
        1400 00 01000000 03000000000000000400006100000000000000f1 01
        """

    /// Four commits, packed by compaction (every version kept, all but the latest packed):
    /// the new generation's data file holds the history leaf (page 1), the version table
    /// (page 2), the pack commit (page 3), then version 4 as a compacted commit; its index
    /// file holds the pack commit's one record (version 3's, flagged packed), then version 4's,
    /// and `versions()` still lists all four, before and after reopening.
    func testPackedDatabaseGolden() throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/db"
        var options = DatabaseOptions()
        options.automaticCompaction = nil
        let db = try Database(path: path, options: options) // unchecked-open: the test removes its own directory; checked here, at close
        try db.write { txn in
            try txn.put(b("a"), b("1"))
            try txn.createKeyspace("k").put(b("b"), b("2"))
        }
        try db.write { try $0.put(b("a"), b("3")) }
        try db.write { _ = try $0.keyspace("k").delete(b("b")) }
        try db.write { try $0.put(b("a"), b("4")) }
        let versions = try db.versions()
        try db.compact(keeping: RetentionPolicy(keepAll: true), packing: .all)
        try checkPackedVersions(try db.versions(), before: versions)
        try db.checkAndClose()
        let reopened = try Database(path: path, options: options) // unchecked-open: checked at close
        try checkPackedVersions(try reopened.versions(), before: versions)
        try reopened.checkAndClose()

        let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path + "/data.2")))
        let index = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path + "/index.2")))
        try data.withUnsafeBytes { file in
            let page = { (n: Int) in UnsafeRawBufferPointer(rebasing: file[n * Self.pageSize ..< (n + 1) * Self.pageSize]) }
            // Page 1: the history tree, one leaf, to the byte.
            XCTAssertEqual(hex(page(1)[0 ..< 401]), compact(Self.historyLeafHex))
            XCTAssertTrue(page(1)[401...].allSatisfy { $0 == 0 })
            XCTAssertEqual(referenceChecksum(page(1), pageNumber: 1), 0xDA63_6D59)
            // Page 2: the version table, an overflow run of 3 × 24 bytes.
            XCTAssertEqual(hex(page(2)[4 ..< 16]), "03" + "00" + "0000" + "01000000" + "48000000")
            XCTAssertEqual(page(2).u32(0), referenceChecksum(page(2), pageNumber: 2))
            for (i, version) in versions.prefix(3).enumerated() {
                XCTAssertEqual([page(2).u64(16 + 24 * i), page(2).u64(24 + 24 * i), page(2).u64(32 + 24 * i)],
                               [version.version, version.timestampNanoseconds, version.entryCount])
            }
            XCTAssertEqual(versions.prefix(3).map(\.entryCount), [2, 2, 1])
            XCTAssertTrue(page(2)[88...].allSatisfy { $0 == 0 })
            try checkPackCommit(page(3), tableChecksum: page(2).u32(0), timestamp: versions[2].timestampNanoseconds)
            // Page 4 on: version 4, a compacted commit chained to the pack commit (region from page 4).
            let last = page(file.count / Self.pageSize - 1)
            XCTAssertEqual([last.u64(16), last.u64(32), last.u64(40), UInt64(last.u32(84))], [4, 3, 4, 2])
        }
        try checkPackedIndex(index, versions: versions)
    }

    /// `versions()` of the packed database lists every version as before packing; versions 1–3
    /// end at the pack commit (page 3), and only version 3's record counts the pack's 3 pages.
    private func checkPackedVersions(_ after: [VersionInfo], before: [VersionInfo]) throws {
        XCTAssertEqual(after.map(\.version), [1, 2, 3, 4])
        XCTAssertEqual(after.map(\.timestampNanoseconds), before.map(\.timestampNanoseconds))
        XCTAssertEqual(after.map(\.entryCount), before.map(\.entryCount))
        XCTAssertEqual(after.prefix(3).map(\.fileLength), [UInt64](repeating: UInt64(4 * Self.pageSize), count: 3))
        XCTAssertEqual(after.prefix(3).map(\.appendedBytes), [0, 0, UInt64(3 * Self.pageSize)])
    }

    /// The pack commit on page 3 of the packed database: every field but the timestamp is known.
    private func checkPackCommit(_ page: UnsafeRawBufferPointer, tableChecksum: UInt32, timestamp: UInt64) throws {
        XCTAssertEqual(page.u32(0), referenceChecksum(page, pageNumber: 3))
        XCTAssertEqual(hex(page[4 ..< 24]), "04" + "00" + "0000" + "01000000" + "00000000" + "0300000000000000")
        XCTAssertEqual(page.u64(24), timestamp)
        XCTAssertEqual(hex(page[32 ..< 80]), compact("""
            0000000000000000 0100000000000000 0100000000000000 0000000000000000 0100000000000000 0100000000000000
            """))
        let leafChecksum: [UInt8] = [0x59, 0x6D, 0x63, 0xDA]
        let table = (0 ..< 4).map { UInt8(truncatingIfNeeded: tableChecksum >> (8 * $0)) }
        XCTAssertEqual(page.u32(80), referenceCRC(leafChecksum + table), "region checksum")
        XCTAssertEqual(hex(page[84 ..< 120]), compact("06000000 0000000000000000 0100000000000000 0300000000000000 0200000000000000"))
        XCTAssertTrue(page[120...].allSatisfy { $0 == 0 })
        XCTAssertNotNil(try CommitRecord.decode(page, pageNumber: 3).pack)
    }

    /// The index file of the packed database: the pack commit's record (version 3, the last
    /// packed: versions 1 and 2 are in its version table only), then version 4's.
    private func checkPackedIndex(_ index: [UInt8], versions: [VersionInfo]) throws {
        XCTAssertEqual(versions.map(\.version), [1, 2, 3, 4])
        XCTAssertEqual(index.count, 2 * 64)
        index.withUnsafeBytes { bytes in
            for (i, version) in versions.suffix(2).enumerated() {
                let record = UnsafeRawBufferPointer(rebasing: bytes[64 * i ..< 64 * i + 64])
                XCTAssertEqual(record.u32(60), referenceCRC(Array(record[0 ..< 60])))
                XCTAssertEqual([record.u64(0), record.u64(8), record.u64(40)],
                               [version.version, version.timestampNanoseconds, version.entryCount])
                if i == 0 {
                    // commitPage 3, catalogRoot 1 (the history leaf), defaultRoot 0; the pack's pages 1 … 3.
                    XCTAssertEqual(hex(record[16 ..< 40]), "0300000000000000" + "0100000000000000" + "0000000000000000")
                    XCTAssertEqual(record.u32(48), 3, "appendedPages")
                    XCTAssertEqual(record.u32(52) & 2, 2, "packed")
                } else {
                    XCTAssertGreaterThan(record.u64(16), 3)
                    XCTAssertEqual(UInt64(record.u32(48)), record.u64(16) - 3, "appendedPages: pages 4 … commitPage")
                    XCTAssertEqual(record.u32(52) & 2, 0, "not packed")
                }
                XCTAssertEqual(record.u32(56), 0)
            }
        }
    }
}
